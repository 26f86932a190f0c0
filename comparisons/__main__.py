"""Command line: `python -m comparisons` or `graphcompare`.

    graphcompare list
    graphcompare run [NAMES...] [--quick] [--backend B] [--dtype float32|float64]
                     [--variant NAME] [--set FIELD=VALUE] [--no-peers] [--out DIR]
                     [--json] [--quiet]

Exit status 1 when any variant failed (its row says why); skipped variants
(a peer not installed, no GPU) are not failures.
"""

from __future__ import annotations

import os

# Every engine's matmuls are NumPy's BLAS: one thread keeps the comparison about
# the engines (the peers run on one thread too) and steady on a shared machine,
# where spinning BLAS/OpenMP workers made steps up to 100x slower. Set before
# NumPy loads; values already in the environment win.
for _var, _value in (("OPENBLAS_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"),
                     ("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")):
    os.environ.setdefault(_var, _value)

import argparse  # noqa: E402
import ast  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from . import report  # noqa: E402
from .scenarios import all_scenarios  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphcompare",
        description="Define-by-run (dyngraph) and define-then-run (staticgraph) side by side.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list scenarios and their variants")
    run = sub.add_parser("run", help="run scenarios (default: all)")
    run.add_argument("names", nargs="*", help="scenarios to run (see `list`)")
    run.add_argument("--quick", action="store_true",
                     help="small sizes, a few seconds each (what `make demo` runs)")
    run.add_argument("--backend", action="append", default=None, metavar="B",
                     help="keep only static variants on these backends (interpret, numba, "
                          "cuda); repeat or comma-separate")
    run.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    run.add_argument("--variant", action="append", default=None, metavar="NAME",
                     help="run only these variants (repeat or comma-separate)")
    run.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                     help="override a size field (e.g. steps=100, hidden=256) in every "
                          "selected scenario that has it")
    run.add_argument("--no-peers", action="store_true", help="leave out PyTorch/JAX rows")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="write results.json and PNG plots into DIR")
    run.add_argument("--json", action="store_true", help="print results as JSON")
    run.add_argument("--readme", type=Path, metavar="README",
                     help="rewrite README's demo section and summary plot from this run")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v for item in values for v in item.split(",") if v]


def _overrides(items: list[str], names: list[str], parser) -> dict[str, dict]:
    """Per scenario, the --set fields its size has (each field must fit one)."""
    pairs = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            parser.error(f"--set expects FIELD=VALUE, got {item!r}")
        try:
            pairs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pairs[key] = text
    scenarios = all_scenarios()
    fields = {n: {f.name for f in dataclasses.fields(scenarios[n].full)} for n in names}
    unused = [k for k in pairs if not any(k in f for f in fields.values())]
    if unused:
        parser.error(f"--set: no selected scenario has size field(s) {', '.join(unused)}")
    return {n: {k: v for k, v in pairs.items() if k in fields[n]} for n in names}


def cmd_list() -> int:
    for name, s in all_scenarios().items():
        print(f"{name:12s} {s.title}")
        variants = ", ".join(v.name + (" (peer)" if v.kind == "peer" else "")
                             for v in s.all_variants())
        print(f"{'':12s}   variants: {variants}")
    return 0


def run_all(names: list[str], args: argparse.Namespace,
            sizes: dict[str, dict]) -> dict[str, list[dict]]:
    """Run the named scenarios with the command line's options."""
    progress = report.Progress(enabled=not args.quiet)
    scenarios = all_scenarios()
    results = {}
    for name in names:
        results[name] = scenarios[name].run(
            quick=args.quick, dtype=args.dtype, only=_split(args.variant),
            backend=_split(args.backend), peers=not args.no_peers, progress=progress,
            **sizes[name])
    return results


def to_json(results: dict[str, list[dict]], args: argparse.Namespace) -> dict:
    scenarios = all_scenarios()
    return {"machine": report.machine(),
            "options": {"quick": args.quick, "dtype": args.dtype,
                        "backend": _split(args.backend), "peers": not args.no_peers},
            "scenarios": {name: {"title": scenarios[name].title,
                                 "rows": report.json_rows(rows, scenarios[name].curve)}
                          for name, rows in results.items()}}


def write_out(out: Path, results: dict[str, list[dict]], document: dict) -> list[Path]:
    """results.json plus every plot into `out` (created if needed)."""
    from . import plots
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(document, indent=1) + "\n")
    written = [out / "results.json"]
    scenarios = all_scenarios()
    for name, rows in results.items():
        s = scenarios[name]
        steps = rows[0].get("size", {}).get("steps", 100) if rows else 100
        written += plots.write_plots(name, s.title, rows, out, s.curve, steps)
        if s.extra_plots is not None:
            written += s.extra_plots(rows, out)
    if results:
        written.append(plots.plot_summary(results, out / "summary.png"))
    return written


def cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    known = all_scenarios()
    names = args.names or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; see `graphcompare list`")
    wanted = set(_split(args.variant) or ())
    unknown = wanted - {v.name for n in names for v in known[n].all_variants()}
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}; see `graphcompare list`")
    results = run_all(names, args, _overrides(args.set, names, parser))
    document = to_json(results, args)
    printed = []
    if args.json:
        print(json.dumps(document, indent=1))
    else:
        for name, rows in results.items():
            printed.append(f"\n== {name}: {known[name].title} ==")
            if known[name].summary:
                printed.append(textwrap.fill(known[name].summary, width=92))
            printed.append(report.format_table(rows, known[name].columns))
        printed.append("\n" + report.LEGEND)
        print("\n".join(printed))
    out = args.out
    if args.readme is not None and out is None:
        out = Path(tempfile.mkdtemp(prefix="graphcompare-demo-"))
    if out is not None:
        written = write_out(out, results, document)
        print(f"wrote {len(written)} files to {out}", file=sys.stderr)
    if args.readme is not None:
        from .readme import update
        update(args.readme, "\n".join(printed).strip("\n"), out / "summary.png")
        print(f"updated {args.readme}", file=sys.stderr)
    failed = any(r.get("status") == "error" for rows in results.values() for r in rows)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return cmd_list()
    return cmd_run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
