"""Command line: `python -m comparisons` or `graphcompare`.

    graphcompare list
    graphcompare run [NAMES...] [--quick] [--cold] [--backend B] [--dtype float32|float64]
                     [--variant NAME] [--set FIELD=VALUE] [--no-peers] [--out DIR]
                     [--json] [--quiet] [--readme README]
    graphcompare compare OLD.json NEW.json
    graphcompare cache info|clear

Exit status of `run`: 1 when any variant failed (its row says why); skipped
variants (a peer not installed, no GPU) are not failures. `compare`: 1 when a
variant regressed beyond noise. Usage errors: one line on stderr, status 2.
"""

from __future__ import annotations

from .harness.threads import pin_environment

pin_environment()  # before NumPy loads; values already in the environment win

import argparse  # noqa: E402
import ast  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from staticgraph.compiler.cache_admin import cache_info, clear_cache  # noqa: E402

from .report import output, results  # noqa: E402
from .report.tables import Progress  # noqa: E402
from .scenarios import all_scenarios  # noqa: E402

BACKENDS = ("interpret", "numba", "cuda")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (status 2), no usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> Parser:
    parser = Parser(prog="graphcompare", description="Define-by-run (dyngraph) and "
                    "define-then-run (staticgraph) side by side.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", help="list scenarios, their variants and size fields")
    run = sub.add_parser("run", help="run scenarios (default: all)")
    run.add_argument("names", nargs="*", help="scenarios to run (see `list`)")
    run.add_argument("--quick", action="store_true",
                     help="small sizes, a few seconds each (what `make demo` runs)")
    run.add_argument("--cold", action="store_true",
                     help="compile with an empty temporary kernel cache, as a first-time user")
    run.add_argument("--backend", action="append", default=None, metavar="B",
                     help=f"keep only static variants on these backends ({', '.join(BACKENDS)}); "
                          "repeat or comma-separate")
    run.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    run.add_argument("--variant", action="append", default=None, metavar="NAME",
                     help="run only these variants (repeat or comma-separate)")
    run.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                     help="override a size field (see `list`) in every selected scenario "
                          "that has it")
    run.add_argument("--no-peers", action="store_true", help="leave out PyTorch/JAX rows")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="write results.json, PNG plots and report.html into DIR")
    run.add_argument("--json", action="store_true", help="print results as JSON")
    run.add_argument("--readme", type=Path, metavar="README",
                     help="rewrite README's demo section and summary plot from this run")
    run.add_argument("--cold-results", type=Path, metavar="JSON",
                     help="with --readme: a `run --cold` results.json for the cold-setup table")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    compare = sub.add_parser("compare", help="compare two results.json, flag regressions")
    compare.add_argument("old", type=Path)
    compare.add_argument("new", type=Path)
    cache = sub.add_parser("cache", help="the on-disk kernel cache: where it is, or empty it")
    cache.add_argument("action", choices=["info", "clear"])
    return parser


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v for item in values for v in item.split(",") if v]


def _overrides(items: list[str], names: list[str], parser: Parser) -> dict[str, dict]:
    """Per scenario, the --set fields its size has, checked by the scenario."""
    pairs = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            parser.error(f"--set expects FIELD=VALUE, got {item!r}")
        try:
            pairs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pairs[key] = text
    scenarios = all_scenarios()
    fields = {n: {f.name for f in dataclasses.fields(scenarios[n].full)} for n in names}
    unused = [k for k in pairs if not any(k in f for f in fields.values())]
    if unused:
        valid = sorted(set().union(*fields.values()))
        parser.error(f"--set: no selected scenario has size field(s) {', '.join(unused)}; "
                     f"valid: {', '.join(valid)}")
    chosen = {n: {k: v for k, v in pairs.items() if k in fields[n]} for n in names}
    for name, values in chosen.items():
        for quick in (False, True):
            try:
                scenarios[name].size(quick, **values)
            except (TypeError, ValueError) as exc:
                parser.error(f"--set: {exc}")
    return chosen


def _sizes_line(scenario) -> str:
    full, quick = scenario.full, scenario.quick
    parts = []
    for f in dataclasses.fields(full):
        value, small = getattr(full, f.name), getattr(quick, f.name)
        parts.append(f"{f.name}={value!r}" + (f" (quick {small!r})" if small != value else ""))
    return ", ".join(parts)


def cmd_list() -> int:
    for name, s in all_scenarios().items():
        print(f"{name:12s} {s.title}")
        variants = ", ".join(v.name + (" (peer)" if v.kind == "peer" else "")
                             for v in s.all_variants())
        print(f"{'':12s}   variants: {variants}")
        print(f"{'':12s}   --set fields (default): {_sizes_line(s)}")
    return 0


def _check_choices(args: argparse.Namespace, names: list[str], parser: Parser) -> None:
    """Unknown scenarios, variants and backends are usage errors listing the valid ones."""
    known = all_scenarios()
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    variants = {v.name for n in names for v in known[n].all_variants()}
    unknown = sorted(set(_split(args.variant) or ()) - variants)
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; valid: "
                     f"{', '.join(sorted(variants))}")
    unknown = sorted(set(_split(args.backend) or ()) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; valid: {', '.join(BACKENDS)}")


def run_all(names: list[str], args: argparse.Namespace,
            sizes: dict[str, dict]) -> dict[str, list[dict]]:
    """Run the named scenarios with the command line's options."""
    progress = Progress(enabled=not args.quiet)
    scenarios = all_scenarios()
    return {name: scenarios[name].run(
        quick=args.quick, dtype=args.dtype, only=_split(args.variant),
        backend=_split(args.backend), peers=not args.no_peers, progress=progress,
        **sizes[name]) for name in names}


def cached_kernels(cache_dir: str) -> int:
    """Kernel modules in the cache dir before the run (0: a cold start)."""
    kernels = Path(cache_dir) / "kernels"
    return len(list(kernels.glob("k_*.py"))) if kernels.is_dir() else 0


def options_of(args: argparse.Namespace, cache_dir: str, cached: int) -> dict:
    """The run's options; `cold` when the kernel cache was empty at the start."""
    return {"quick": args.quick, "dtype": args.dtype, "backend": _split(args.backend),
            "variant": _split(args.variant), "set": args.set, "peers": not args.no_peers,
            "cold": args.cold or cached == 0, "cached_kernels_at_start": cached,
            "cache_dir": None if args.cold else cache_dir}


def cmd_run(args: argparse.Namespace, parser: Parser) -> int:
    begin = time.perf_counter()
    names = args.names or list(all_scenarios())
    _check_choices(args, names, parser)
    sizes = _overrides(args.set, names, parser)
    if args.cold_results is not None and args.readme is None:
        parser.error("--cold-results goes with --readme")
    try:
        cold = results.load(args.cold_results) if args.cold_results else None
    except results.ResultsError as exc:
        parser.error(f"--cold-results: {exc}")
    cold_dir = tempfile.mkdtemp(prefix="graphcompare-cold-") if args.cold else None
    saved = os.environ.get("GRAPHCOMPARE_CACHE_DIR")
    if cold_dir is not None:
        os.environ["GRAPHCOMPARE_CACHE_DIR"] = cold_dir
    try:
        from staticgraph.compiler import default_cache_dir
        cache_dir = str(default_cache_dir())
        cached = cached_kernels(cache_dir)
        started = time.perf_counter()
        results_by_name = run_all(names, args, sizes)
        finished = time.perf_counter()
    finally:
        if cold_dir is not None:
            _restore("GRAPHCOMPARE_CACHE_DIR", saved)
            shutil.rmtree(cold_dir, ignore_errors=True)
    document = output.document(results_by_name, options_of(args, cache_dir, cached))
    document["timing"] = {"command_s": started - begin, "scenarios_s": finished - started}
    printed = output.tables(results_by_name, document)
    print(results.dumps(document) if args.json else printed)
    out = args.out
    if args.readme is not None and out is None:
        out = Path(tempfile.mkdtemp(prefix="graphcompare-demo-"))
    if out is not None:
        written = output.write_out(out, results_by_name, document)
        print(f"wrote {len(written)} files to {out}; open {out / 'report.html'}",
              file=sys.stderr)
    if args.readme is not None:
        from .report.readme import update
        update(args.readme, printed, out / "summary.png", document, cold)
        print(f"updated {args.readme}", file=sys.stderr)
    end = time.perf_counter()
    print(f"this command took {end - begin:.1f} s: scenarios {finished - started:.1f} s "
          f"(accounted for in their rows), engine imports and checks {started - begin:.1f} s, "
          f"writing outputs {end - finished:.1f} s", file=sys.stderr)
    failed = any(r.get("status") == "error" for rows in results_by_name.values() for r in rows)
    return 1 if failed else 0


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def cmd_compare(args: argparse.Namespace, parser: Parser) -> int:
    try:
        old, new = results.load(args.old), results.load(args.new)
    except results.ResultsError as exc:
        parser.error(str(exc))
    changes = results.compare(old, new)
    if not changes:
        parser.error("no variant was measured in both files")
    print(results.format_changes(changes))
    regressed = [f"{c.scenario}/{c.variant} ({', '.join(c.regressed)})"
                 for c in changes if c.regressed]
    if regressed:
        print(f"regressed beyond noise: {', '.join(regressed)}", file=sys.stderr)
        return 1
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    info = cache_info()
    if args.action == "clear":
        removed = clear_cache()
        print(f"removed {removed} files from {info.root}")
    else:
        print("\n".join(info.lines()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return cmd_list()
    if args.command == "compare":
        return cmd_compare(args, parser)
    if args.command == "cache":
        return cmd_cache(args)
    return cmd_run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
