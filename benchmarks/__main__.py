"""`python -m benchmarks [--quick] [--only NAME] [--out BENCHMARKS.md]`.

Runs the registered benches and writes one markdown report: the date, the
machine line, a summary of every target (PASS/MISS), then each bench's
tables. A bench that raises becomes a note in the report; the others run.
In the --out file the report replaces the block of this CPU model only
(`pages.py`): the results of other CPUs are kept.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import traceback

from comparisons.harness import peers, threads
from comparisons.harness.workload import PRESETS

from .pages import merge_page
from .registry import IMPORT_ERRORS, Bench, BenchContext, discover
from .report import Section, render_section, target_rows, targets_table

NOISE_NOTE = """\
> The machine these figures come from is shared and noisy, so absolute times
> move from run to run. Read the ratios: each is one competitor's median time
> over a baseline's median time, both measured in this run, interleaved round
> robin (so noise hits every competitor alike), after warm-up. Below 1.00x is
> faster than the baseline."""

METHOD = """\
## Method

- Each workload's competitors are built, called once (the *setup* column: build plus
  first call, which is where a JIT compiles), warmed up (at least {warmup} calls and
  {warmup_s:g} s, so a step that adapts in its first calls, as the numba backend's
  kernels do when they time their serial and parallel variants, is sampled once it has
  settled), then sampled round robin with the order rotated every round. One sample is
  enough back-to-back calls to last about {min_ms:g} ms; figures are medians over
  {repeats} samples; *spread* is half the inter-quartile range over the median. A target
  whose two figures have a spread over 25% is marked *noisy*. A target whose *floor*
  (the part of the work no competitor can skip, such as a step's matmuls alone) is
  itself above the target says *below the floor*: no implementation calling the same
  library can meet it there.
- Workloads that call a multi-threaded BLAS pause 0.15 s before each sample: OpenBLAS's
  idle threads spin for about 0.1 s after a call and would otherwise take a core from
  whichever competitor runs next. One untimed call follows the pause: it wakes the
  competitor's own threads and refills its caches, as back-to-back steps find them.
  Objects alive before sampling are frozen out of the garbage collector (`gc.freeze`),
  so one library's heap does not slow another's collections; garbage is collected
  between samples, outside the timed region.
- *minor faults/call* is the process's `getrusage(RUSAGE_SELF).ru_minflt` delta per
  call (median over samples): allocation churn that the kernel has to back with fresh
  pages.
- Math libraries keep their default thread counts unless `--threads N` pins them all
  (`make bench BENCH_ARGS="--threads 1"`). With other processes loading a 2-core
  machine (see the load average in the machine line), a multi-threaded BLAS call can
  take many times longer; `--threads 1` gives steadier ratios when parallelism is not
  what is being compared.
- OpenBLAS picks its kernels for the CPU when it loads, unless `OPENBLAS_CORETYPE`
  forces them (the machine line says which it is, threadpoolctl which kernels run).
  Some machines set it for every process, to keep older OpenBLAS builds off kernels
  they get wrong; it then slows every BLAS user alike (NumPy, and the numba backend
  through SciPy's OpenBLAS) but not XLA. {coretype}
  To unset it for one run: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE make bench`.
- A peer that cannot be imported reads "not installed"; `make bench` tries to install
  the `bench` extra (PyTorch CPU, JAX, threadpoolctl) first.
- Adding a bench: a module `benchmarks/bench_<name>.py` with a function
  `(ctx: BenchContext) -> list[Section]` decorated by `@register(name, title)`;
  it builds `Workload`s of `Competitor`s (`torch_competitor`/`jax_competitor` give
  peers that read "not installed" when absent; `tutorial_steps` has the tutorial
  step for every baseline) and returns `Section`s of `ctx.measure(workload)` results.
  See the docstring of `benchmarks/__init__.py` for a worked example."""


def run_bench(bench: Bench, ctx: BenchContext) -> list[Section]:
    """Run one bench; an exception becomes a section saying what failed."""
    ctx.log(f"bench {bench.name}: {bench.title}")
    start = time.perf_counter()
    try:
        sections = bench.fn(ctx)
    except Exception as exc:  # a broken bench must not hide the others
        traceback.print_exc()
        return [Section("failed", notes=[f"`{type(exc).__name__}: {exc}`"])]
    ctx.log(f"bench {bench.name}: done in {time.perf_counter() - start:.1f} s")
    return sections


def render_page(runs: list[tuple[Bench, list[Section]]], mode: str, machine: str,
                method: str) -> str:
    """The whole report as markdown."""
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = ["# Benchmarks",
             f"Generated by `python -m benchmarks` (`make bench`), mode **{mode}**, on {date}.",
             NOISE_NOTE, f"**Machine:** {machine}"]
    rows = [[bench.name, *r] for bench, sections in runs for s in sections
            for r in target_rows(s.results)]
    if rows:
        parts += ["## Targets", targets_table(rows)]
    for bench, sections in runs:
        parts.append(f"## {bench.title}")
        parts += [render_section(s) for s in sections]
    if IMPORT_ERRORS:
        parts.append("## Benches that could not be loaded")
        parts += [f"- `{name}`: {err}" for name, err in IMPORT_ERRORS.items()]
    parts.append(method)
    return "\n\n".join(parts) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the registered benchmarks and write a markdown report.")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test: tiny sizes, two samples (numbers mean nothing)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this bench (repeatable, or comma-separated)")
    parser.add_argument("--out", default="BENCHMARKS.md", help="report path (- for stdout)")
    parser.add_argument("--without", default="", metavar="PEERS",
                        help="comma-separated peers to treat as not installed (torch,jax)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="pin BLAS/OpenMP/MKL/Numba/PyTorch/XLA to N threads "
                             "(default: each library's own default)")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    return parser.parse_args(argv)


def select(benches: dict[str, Bench], only: list[str]) -> list[Bench]:
    """The benches named by --only (all when empty); unknown names are an error."""
    names = [n for item in only for n in item.split(",") if n]
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise SystemExit(f"unknown bench(es): {', '.join(unknown)}; "
                         f"known: {', '.join(benches)}")
    return [benches[n] for n in names] if names else list(benches.values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    peers.disable(*[p for p in args.without.split(",") if p])
    if args.threads is not None:
        threads.pin(args.threads)  # before the benches import NumPy and friends
    from comparisons.harness.machine import cpu_model, load_average, machine_line
    load_at_start = load_average()
    benches = discover()
    if args.list:
        for b in benches.values():
            print(f"{b.name:16s} {b.title}")
        for name, err in IMPORT_ERRORS.items():
            print(f"{name:16s} (not loaded: {err})")
        return 0
    settings = PRESETS["tiny" if args.tiny else "quick" if args.quick else "full"]
    ctx = BenchContext(settings)
    runs = [(b, run_bench(b, ctx)) for b in select(benches, args.only)]
    core = os.environ.get("OPENBLAS_CORETYPE")
    coretype = (f"In this run it was set to {core}." if core else
                "In this run it was not set.")
    method = METHOD.format(min_ms=settings.min_sample_s * 1e3, repeats=settings.repeats,
                           warmup=settings.warmup, warmup_s=settings.warmup_s,
                           coretype=coretype)
    page = render_page(runs, settings.name, machine_line(load_at_start), method)
    if args.out == "-":
        sys.stdout.write(page)
    else:
        try:
            with open(args.out, encoding="utf-8") as f:
                existing = f.read()
        except FileNotFoundError:
            existing = None
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(merge_page(existing, page, cpu_model()))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
