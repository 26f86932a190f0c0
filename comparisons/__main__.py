"""Command line: `python -m comparisons list|run [NAMES...] [--quick] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys

from .scenarios import SCENARIOS

COLUMNS = [("variant", "engine / variant", "{}"), ("step_ms", "ms/step", "{:.3f}"),
           ("final_loss", "final loss", "{:.6g}"), ("max_rel_err", "max rel err vs first",
                                                    "{:.2e}")]


def format_table(rows: list[dict]) -> str:
    """A plain-text table of result rows (errors shown in place of numbers)."""
    header = [title for _, title, _ in COLUMNS]
    body = []
    for row in rows:
        if "error" in row:
            body.append([row["variant"], "FAILED: " + row["error"][:60], "", ""])
            continue
        body.append([fmt.format(row[key]) if key in row else "-" for key, _, fmt in COLUMNS])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="graphcompare",
                                     description="Compare define-by-run and define-then-run.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list scenarios")
    run = sub.add_parser("run", help="run scenarios")
    run.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    run.add_argument("--quick", action="store_true", help="small sizes, a few seconds each")
    run.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, (title, _) in SCENARIOS.items():
            print(f"{name:12s} {title}")
        return 0
    names = args.names or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; see `list`")
    results = {}
    for name in names:
        title, fn = SCENARIOS[name]
        rows = fn(quick=args.quick)
        results[name] = rows
        if not args.json:
            print(f"\n== {name}: {title} ==\n{format_table(rows)}")
    if args.json:
        slim = {k: [{f: v for f, v in r.items() if f not in ("losses", "traceback")}
                    for r in rows] for k, rows in results.items()}
        print(json.dumps(slim, indent=2))
    failed = any("error" in r for rows in results.values() for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
