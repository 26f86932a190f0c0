"""The real-GPU check: `python benchmarks/gpu_check.py [--tiny] [--skip-tests]`.

On a machine with an NVIDIA GPU (and the cuda extra installed) it
1. prints the device;
2. runs the CUDA tests without the simulator (`pytest tests/cuda`: the model
   list through backend="cuda" against the interpreter, plus the `gpu` tests);
3. benchmarks, medians after warm-up, device time measured around
   `cuda.synchronize()`:
   - the fused chain `tanh(x*a+b)*sigmoid(x) - exp(-x*x)` and `x*a+b` on 100M
     float32: effective bandwidth (bytes read + written / time) against a
     device-to-device copy of the same array (target: >= 60% of the copy);
   - matmul GFLOP/s (the tiled numba-cuda kernel; cuBLAS through CuPy too when
     CuPy is installed);
   - the tutorial training step (N=64, D_in=1000, H=100, D_out=10, float64)
     and an RNN BPTT training step (sg.scan), backend="cuda" against the CPU
     "numba" backend, with the losses compared (correctness within float
     tolerance of the CPU);
and exits non-zero if a test or a correctness check failed.

`--tiny` shrinks every size so the script runs under the Numba CUDA
simulator (NUMBA_ENABLE_CUDASIM=1; it opts in) in seconds: the tests in
tests/cuda run it that way. Times there mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FULL = {"chain_n": 100_000_000, "matmul": (1024, 2048, 4096), "repeats": 10,
        "tutorial": dict(N=64, D_in=1000, H=100, D_out=10), "rnn": dict(T=50, B=32, D=16, H=64),
        "steps": 20}
TINY = {"chain_n": 37, "matmul": (5,), "repeats": 1,
        "tutorial": dict(N=4, D_in=6, H=5, D_out=3), "rnn": dict(T=2, B=2, D=2, H=3), "steps": 1}


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """Median seconds of `fn` (synchronised before and after each call), after warm-up."""
    fn()
    sync()
    samples = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class Report:
    """Lines printed as they come; failures counted for the exit code."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def line(self, text: str = "") -> None:
        print(text, flush=True)

    def check(self, ok: bool, what: str) -> None:
        self.line(f"  {'ok' if ok else 'FAILED'}: {what}")
        if not ok:
            self.failures.append(what)

    def section(self, title: str, fn: Callable[[], None]) -> None:
        self.line(f"\n## {title}")
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - report and go on with the next section
            self.line(f"  FAILED: {type(exc).__name__}: {exc}")
            self.line("  " + traceback.format_exc().replace("\n", "\n  "))
            self.failures.append(f"{title}: {exc}")


def run_tests(report: Report, tiny: bool) -> None:
    env = dict(os.environ)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
            str(ROOT / "tests" / "cuda")]
    if tiny:
        args += ["-k", "launch_defaults or tiled_matmul"]  # a smoke subset
    report.line("  " + " ".join(args[2:]))
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
    for text in tail:
        report.line("    " + text)
    report.check(proc.returncode == 0, "the CUDA tests pass on this device")


def chain_bandwidth(report: Report, cfg: dict, sync: Callable[[], None]) -> None:
    from staticgraph.compiler import GroupBuilder, compile_group
    from staticgraph.compiler.cuda import CudaTarget
    from staticgraph.cuda_backend import arrays
    n, target = cfg["chain_n"], CudaTarget()
    rng = np.random.default_rng(0)
    host = rng.standard_normal(n, dtype=np.float32)
    x, y, copy = arrays.upload(host), arrays.empty((n,), np.float32), arrays.empty((n,), np.float32)
    b = GroupBuilder("axpb")
    xi, a = b.input(1, np.float32), b.scalar(float)
    axpb = compile_group(b.build(outputs=[b.op("add", b.op("mul", xi, a), 0.25)]), target)
    b = GroupBuilder("chain")
    xi, a = b.input(1, np.float32), b.scalar(float)
    out = b.op("sub", b.op("mul", b.op("tanh", b.op("add", b.op("mul", xi, a), 0.25)),
                           b.op("sigmoid", xi)), b.op("exp", b.op("neg", b.op("mul", xi, xi))))
    chain = compile_group(b.build(outputs=[out]), target)
    t_copy = timed(lambda: copy.copy_to_device(x), cfg["repeats"], sync)
    t_axpb = timed(lambda: axpb(x, 0.5, out=(y,)), cfg["repeats"], sync)
    t_chain = timed(lambda: chain(x, 0.5, out=(y,)), cfg["repeats"], sync)
    gb = 2 * 4 * n / 1e9
    report.line(f"  n = {n:,} float32, {target.threads} threads/block, "
                f"at most {target.max_blocks} blocks (grid-stride)")
    report.line(f"  {'kernel':<34} {'ms':>9} {'GB/s':>9} {'of copy':>8}")
    for name, t in [("device-to-device copy", t_copy), ("x*a+b (fused)", t_axpb),
                    ("tanh(x*a+b)*sigmoid(x)-exp(-x*x)", t_chain)]:
        report.line(f"  {name:<34} {t * 1e3:>9.3f} {gb / t:>9.1f} {t_copy / t:>7.0%}")
    sample = min(n, 1 << 20)
    got = arrays.download(y)[:sample]
    xs = host[:sample].astype(np.float64)
    want = np.tanh(xs * 0.5 + 0.25) / (1 + np.exp(-xs)) - np.exp(-xs * xs)
    report.check(np.allclose(got, want, rtol=1e-5, atol=1e-6), "fused chain equals NumPy")
    report.check(t_chain <= t_copy / 0.6 or cfg is TINY,
                 "fused chain >= 60% of the copy's bandwidth" + (" (not judged: --tiny)"
                                                                 if cfg is TINY else ""))


def matmul_rate(report: Report, cfg: dict, sync: Callable[[], None]) -> None:
    from staticgraph.cuda_backend import arrays
    from staticgraph.cuda_backend import matmul as mm
    rng = np.random.default_rng(1)
    report.line(f"  {'n':>6} {'path':>7} {'ms':>9} {'GFLOP/s':>9}")
    for n in cfg["matmul"]:
        a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        da, db, out = arrays.upload(a), arrays.upload(b), arrays.empty((n, n), np.float32)
        paths = [("tiled", "0")] + ([("cublas", "1")] if mm._cupy_importable() else [])
        for name, flag in paths:
            os.environ[mm.CUBLAS_ENV] = flag
            t = timed(lambda o=out, x=da, y=db: mm.matmul_into(o, x, y), cfg["repeats"], sync)
            report.line(f"  {n:>6} {name:>7} {t * 1e3:>9.3f} {2 * n ** 3 / t / 1e9:>9.1f}")
            got = arrays.download(out)
            report.check(np.allclose(got, a.astype(np.float64) @ b, rtol=1e-3, atol=1e-3 * n),
                         f"{name} matmul {n}x{n} equals NumPy")
        os.environ.pop(mm.CUBLAS_ENV, None)


CPU_BACKEND = ["numba"]


def _cpu_backend() -> str:
    """The CPU baseline (--cpu-backend; the interpreter where "numba" cannot load)."""
    import staticgraph as sg
    try:
        sg.get_backend(CPU_BACKEND[0])
        return CPU_BACKEND[0]
    except Exception:  # noqa: BLE001
        return "interpret"


def tutorial_step(report: Report, cfg: dict, sync: Callable[[], None]) -> None:
    import staticgraph as sg
    from comparisons import tutorial
    from comparisons.tutorial import static as tutorial_static
    size = dataclasses.replace(tutorial.TutorialSize(), **cfg["tutorial"], steps=cfg["steps"])
    data = tutorial.make_data(size)
    times, losses = {}, {}
    for backend in ("cuda", _cpu_backend()):
        built = tutorial_static.build(size, data)
        sess = sg.Session(built["graph"], backend=backend, tiered=False)
        feed = {built["x"]: data["x"], built["y"]: data["y"]}
        step = lambda s=sess, b=built, f=feed: s.run([b["loss"], b["updates"]], feed_dict=f)
        losses[backend] = [float(step()[0]) for _ in range(cfg["steps"])]
        times[backend] = timed(step, cfg["repeats"], sync)
    _compare(report, "tutorial step", size, times, losses)


def rnn_step(report: Report, cfg: dict, sync: Callable[[], None]) -> None:
    from comparisons.rnn import models as rm
    from comparisons.rnn import numpy_steps as rn
    T, B, D, H = (cfg["rnn"][k] for k in "TBDH")
    rng = np.random.default_rng(2)
    params = rn.init_params("tanh", D, H, rng)
    xs, ys = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, 1))
    times, losses = {}, {}
    for backend in ("cuda", _cpu_backend()):
        model = rm.StaticRNN("tanh", params, batch=B, backend=backend, lr=0.01)
        losses[backend] = [model.train_step(xs, ys) for _ in range(cfg["steps"])]
        times[backend] = timed(lambda m=model: m.train_step(xs, ys), cfg["repeats"], sync)
    _compare(report, f"RNN BPTT step (tanh, T={T}, B={B}, D={D}, H={H})", None, times, losses)


def _compare(report: Report, what: str, size, times: dict, losses: dict) -> None:
    cpu = [k for k in times if k != "cuda"][0]
    if size is not None:
        report.line(f"  sizes: N={size.N}, D_in={size.D_in}, H={size.H}, D_out={size.D_out}")
    for name, t in times.items():
        report.line(f"  {name:<10} {t * 1e3:>9.3f} ms per step")
    report.line(f"  cuda / {cpu}: {times['cuda'] / times[cpu]:.2f}x")
    report.check(np.allclose(losses["cuda"], losses[cpu], rtol=1e-9),
                 f"{what}: cuda losses equal {cpu}'s over {len(losses[cpu])} steps")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (simulator smoke run)")
    parser.add_argument("--skip-tests", action="store_true", help="benchmarks only")
    parser.add_argument("--cpu-backend", default="numba",
                        help="the CPU backend to compare with (default numba)")
    args = parser.parse_args(argv)
    CPU_BACKEND[0] = args.cpu_backend
    cfg = TINY if args.tiny else FULL
    report = Report()
    from staticgraph.cuda_backend import device
    if device.simulator_enabled():
        if not args.tiny:
            report.line("the CUDA simulator is active: use --tiny (times would mean nothing)")
            return 2
        device.allow_simulator()
    ok, reason = device.cuda_status()
    report.line(f"# gpu_check{' --tiny' if args.tiny else ''}: {reason}")
    if not ok:
        report.line("no usable GPU: nothing to check")
        return 2
    from numba import cuda
    report.line(f"device: {device.device_name()}")
    sync = cuda.synchronize
    if not args.skip_tests:
        report.section("CUDA tests without the simulator", lambda: run_tests(report, args.tiny))
    report.section("fused elementwise chain: effective bandwidth",
                   lambda: chain_bandwidth(report, cfg, sync))
    report.section("matmul", lambda: matmul_rate(report, cfg, sync))
    report.section("tutorial training step", lambda: tutorial_step(report, cfg, sync))
    report.section("RNN BPTT training step", lambda: rnn_step(report, cfg, sync))
    report.line(f"\n{len(report.failures)} failure(s)" + (": " + "; ".join(report.failures)
                                                         if report.failures else ""))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
