"""The long differential fuzz: `make fuzz N=5000 [BACKENDS=interpret,numba]`, or
`PYTHONPATH=tests python -m fuzz --examples 5000 [--seed S] [--backends ...]`.

Runs N random programs (plus N/10 that start with a scan and N/10 with a
cond) through dyngraph and every registered staticgraph backend but cuda,
checks them against each other and against finite differences, then N/5
value-agreement programs (NaN, infinities, empty dims, every dtype:
`fuzz/agree.py`), and prints how many ran. A failure prints hypothesis'
shrunk program as code and exits 1. `make fuzz-cuda N=...` runs the cuda
backend under the Numba CUDA simulator (`NUMBA_ENABLE_CUDASIM=1
GRAPHCOMPARE_CUDA_SIMULATOR=1`, set before the process starts).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

from hypothesis import HealthCheck, given, note, seed, settings

from .agree import agreement_code, agreement_programs, check_agreement
from .check import STATS, check_program, static_backends
from .generate import programs, scan_available
from .printer import to_code


def run(examples: int, backends: list[str], seed_value: int, **strategy) -> None:
    """`examples` programs from `programs(**strategy)`; raises on the first failure."""
    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(programs(**strategy))
    def fuzz(program):
        note(to_code(program))
        check_program(program, backends)
        report_progress()
    fuzz()


def report_progress(every: int = 250) -> None:
    """A line every `every` programs, so a long run shows how far it got."""
    done = STATS["programs"] + STATS["agreement programs"]
    if done % every == 0:
        print(f"fuzz: {STATS['programs']} programs and {STATS['agreement programs']} "
              f"value-agreement programs passed so far", flush=True)


def run_agreement(examples: int, backends: list[str], seed_value: int) -> None:
    """`examples` value-agreement programs; raises on the first failure."""
    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(agreement_programs())
    def fuzz(program):
        note(agreement_code(program))
        check_agreement(program, backends)
        STATS["agreement programs"] += 1
        report_progress()
    fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("N", 1000)))
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    parser.add_argument("--backends", default=os.environ.get("BACKENDS", ""),
                        help="comma-separated staticgraph backends (default: all but cuda)")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b] or static_backends()
    scan_backends = backends if scan_available() else []
    print(f"fuzz: {args.examples} programs, seed {args.seed}, dyngraph vs staticgraph "
          f"backends {backends}" + ("" if scan_available() else
                                   " (sg.scan missing: scan programs in dyngraph only)"))
    start = time.perf_counter()
    run(args.examples, backends, args.seed)
    run(max(args.examples // 10, 1), scan_backends, args.seed + 1, allow_scan=True,
        require="scan", max_steps=4)
    run(max(args.examples // 10, 1), backends, args.seed + 2, require="cond", max_steps=6)
    run_agreement(max(args.examples // 5, 1), backends, args.seed + 3)
    elapsed = time.perf_counter() - start
    print(f"fuzz: {STATS['programs']} programs ran ({STATS['has cond']} with cond, "
          f"{STATS['has scan']} with scan); gradients checked against finite differences "
          f"on {STATS['fd checked']} ({STATS['fd skipped (near a kink)']} skipped near a "
          f"kink); {STATS['agreement programs']} value-agreement programs (NaN, empty dims, "
          f"every dtype); none failed ({elapsed:.1f} s, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
