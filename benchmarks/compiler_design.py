"""Measurements behind docs/compiler.md: `python -m benchmarks.compiler_design`.

Sections (each prints a table; all times are medians of interleaved rounds
after warm-up, ratios are to baselines measured in the same run):
- `elementwise`: the fused chain `tanh(x*a+b)*sigmoid(x) - exp(-x*x)` and
  `x*a+b` on 10M elements against NumPy, a plain copy and JAX `jit`;
- `compile`: cold compile and warm (new process, disk cache) load of the
  chain kernel, in subprocesses;
- `tutorial` (compiler_design_tutorial.py): np.dot inside njit against np.matmul from
  Python, and one big njit step against small cached kernels orchestrated
  from Python.
Not part of the test run. `--quick` shrinks sizes (numbers then mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numba import njit, prange
from scipy.special import expit

from comparisons.harness.interleave import interleaved, medians
from staticgraph.compiler.compile import compile_group
from staticgraph.compiler.cpu import CpuTarget
from staticgraph.compiler.group import FusedGroup, GroupBuilder

from .compiler_design_tutorial import run_tutorial

ROOT = Path(__file__).resolve().parents[1]


def chain_group(dtype) -> FusedGroup:
    """tanh(x*a+b) * sigmoid(x) - exp(-x*x) with Python-scalar a, b."""
    b = GroupBuilder("chain")
    x, a, c = b.input(1, dtype), b.scalar(float), b.scalar(float)
    t = b.op("tanh", b.op("add", b.op("mul", x, a), c))
    e = b.op("exp", b.op("neg", b.op("mul", x, x)))
    return b.build(outputs=[b.op("sub", b.op("mul", t, b.op("sigmoid", x)), e)])


def axpb_group(dtype) -> FusedGroup:
    b = GroupBuilder("axpb")
    x, a, c = b.input(1, dtype), b.scalar(float), b.scalar(float)
    return b.build(outputs=[b.op("add", b.op("mul", x, a), c)])


@njit(parallel=True, nogil=True)
def parallel_copy(src, dst):
    """A plain copy on all cores: the bandwidth a parallel kernel can hope for."""
    for i in prange(src.size):
        dst[i] = src[i]


def jax_fns(x: np.ndarray, a: float, b: float) -> dict[str, Callable]:
    """JAX jit of the chain and of x*a+b, or {} when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    chain = jax.jit(lambda x, a, b: jnp.tanh(x * a + b) * jax.nn.sigmoid(x) - jnp.exp(-x * x))
    axpb = jax.jit(lambda x, a, b: x * a + b)
    xj = jnp.asarray(x)
    aj, bj = x.dtype.type(a), x.dtype.type(b)
    return {"jax chain": lambda: chain(xj, aj, bj).block_until_ready(),
            "jax x*a+b": lambda: axpb(xj, aj, bj).block_until_ready()}


def elementwise_fns(dtype, n: int) -> dict[str, Callable]:
    """Competitors on `n` elements of `dtype` (all write into one planned buffer)."""
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    out = np.empty_like(x)
    a, b = 0.7, 0.1
    kc = compile_group(chain_group(dtype))
    kx = compile_group(axpb_group(dtype))
    kc_exact = compile_group(chain_group(dtype), CpuTarget(vector_math=False))
    ad, bd = dtype(a), dtype(b)
    fns = {
        "np.copyto": lambda: np.copyto(out, x),
        "parallel copy": lambda: parallel_copy(x, out),
        "numpy chain": lambda: np.tanh(x * ad + bd) * expit(x) - np.exp(-x * x),
        "numpy x*a+b (out=)": lambda: np.add(np.multiply(x, ad, out=out), bd, out=out),
        "fused chain": lambda: kc(x, a, b, out=(out,)),
        "fused chain 1 core": lambda: kc.launch("flat", [n, x, a, b, out]),
        "fused chain exact math": lambda: kc_exact(x, a, b, out=(out,)),
        "fused x*a+b": lambda: kx(x, a, b, out=(out,)),
        "fused x*a+b 1 core": lambda: kx.launch("flat", [n, x, a, b, out]),
    }
    fns.update(jax_fns(x, a, b))
    return fns


def elementwise(n: int, rounds: int) -> dict:
    """Chain and x*a+b: fused (parallel, serial, exact math) vs NumPy, copies and JAX.

    JAX runs in its own block (with the copies and the fused kernels again):
    its thread pool keeps spinning after a call and would slow whatever runs
    next on a 2-core machine.
    """
    results = {}
    for dtype in (np.float32, np.float64):
        fns = elementwise_fns(dtype, n)
        main = {k: f for k, f in fns.items() if not k.startswith("jax")}
        results[dtype.__name__] = interleaved(main, rounds)
        if len(main) < len(fns):
            keep = ("np.copyto", "parallel copy", "fused chain", "fused x*a+b")
            block = {k: f for k, f in fns.items() if k in keep or k.startswith("jax")}
            results[f"{dtype.__name__}, JAX block"] = interleaved(block, rounds)
    return results


def print_elementwise(results: dict) -> None:
    for block, samples in results.items():
        times, best = medians(samples), {k: min(v) for k, v in samples.items()}
        copy, par_copy = times["np.copyto"], times["parallel copy"]
        ref = "numpy chain" if "numpy chain" in times else "jax chain"
        print(f"\n{block}: median ms (min) (ratios: vs np.copyto / parallel copy / {ref})")
        for name, t in times.items():
            print(f"  {name:24s} {t * 1e3:8.2f} ms ({best[name] * 1e3:7.2f}) {t / copy:6.2f} "
                  f"{t / par_copy:6.2f} {t / times[ref]:6.3f}")
        print(f"  x*a+b bandwidth: {copy / times['fused x*a+b']:.0%} of np.copyto, "
              f"{par_copy / times['fused x*a+b']:.0%} of the parallel copy")


COMPILE_SCRIPT = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    import numpy as np
    from staticgraph.compiler import compile_group, CpuTarget
    from benchmarks.compiler_design import chain_group
    from numba import njit
    imported = time.perf_counter()
    njit(lambda v: v + 1)(1.0)  # Numba's one-time start-up (LLVM, target context)
    numba_ready = time.perf_counter()
    dtype = np.dtype(sys.argv[1])
    kernel = compile_group(chain_group(dtype), CpuTarget(parallel_min=int(sys.argv[2])))
    x = np.linspace(-1, 1, 1000).astype(dtype)
    kernel(x, 0.7, 0.1, out=(np.empty_like(x),))
    done = time.perf_counter()
    rec = kernel.record
    spec = rec.specialisations[0]
    print(json.dumps({"import_s": imported - start, "numba_init_s": numba_ready - imported,
                      "codegen_s": rec.codegen_seconds,
                      "build_s": rec.build_seconds, "first_call_s": spec.seconds,
                      "llvm_s": spec.llvm_seconds, "from_cache": spec.from_cache,
                      "compile_to_result_s": done - numba_ready}))
""")


def _compile_run(cache_dir: str, dtype: str, parallel_min: int) -> dict:
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, "-c", COMPILE_SCRIPT, dtype, str(parallel_min)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_times(repeats: int) -> dict:
    """Cold (empty cache dir) then warm (same dir, new process), `repeats` times each."""
    out = {}
    for label, parallel_min in (("serial flat", 1 << 62), ("parallel flat", 0)):
        for dtype in ("float32", "float64"):
            cold, warm = [], []
            for _ in range(repeats):
                with tempfile.TemporaryDirectory() as d:
                    cold.append(_compile_run(d, dtype, parallel_min))
                    warm.append(_compile_run(d, dtype, parallel_min))
            assert all(w["from_cache"] for w in warm) and not any(c["from_cache"] for c in cold)
            med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
            out[f"{label} {dtype}"] = {
                "cold first call s": med(cold, "first_call_s"), "cold llvm s": med(cold, "llvm_s"),
                "cold compile-to-result s": med(cold, "compile_to_result_s"),
                "warm first call s": med(warm, "first_call_s"),
                "warm compile-to-result s": med(warm, "compile_to_result_s"),
                "codegen ms": med(cold, "codegen_s") * 1e3, "import s": med(warm, "import_s"),
                "numba init s": med(warm, "numba_init_s")}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["elementwise", "compile", "tutorial"])
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    if args.only in (None, "elementwise"):
        print_elementwise(elementwise(10_000 if args.quick else 10_000_000,
                                      3 if args.quick else 15))
    if args.only in (None, "compile"):
        print("\ncompile (medians over fresh processes)")
        for name, row in compile_times(1 if args.quick else 3).items():
            print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    if args.only in (None, "tutorial"):
        run_tutorial(quick=args.quick)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
