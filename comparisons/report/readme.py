"""Regenerate the README's demo block and summary plot from real runs.

`make readme` runs the quick comparison twice on a kernel cache of its own,
first empty, then warm with `--readme README.md --cold-results COLD.json`,
which replaces the text between the markers below with the
tables it printed plus a cold-vs-warm setup table, and copies the summary
plot beside the README. The README then shows measured output only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..harness.timing import fmt_seconds
from .tables import cache_cell

START = "<!-- demo-output:start (written by `make readme`; do not edit) -->"
END = "<!-- demo-output:end -->"
IMAGE = Path("docs/img/comparison-summary.png")


def replace_section(text: str, body: str) -> str:
    """`text` with the fenced `body` between the markers (which must exist)."""
    if START not in text or END not in text:
        raise ValueError(f"README has no demo markers; add {START!r} and {END!r}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n```\n{body.rstrip()}\n```\n{END}{tail}"


def cold_warm_table(warm: dict, cold: dict) -> str:
    """Setup of every static and peer row, with an empty and with a filled cache."""
    lines = [f"{'scenario':12s} {'variant':34s} {'cold setup':>11s} {'warm setup':>11s}  "
             "cache (cold / warm)"]
    for name, scenario in warm.get("scenarios", {}).items():
        before = {r["variant"]: r for r in cold.get("scenarios", {}).get(name, {}).get("rows", [])
                  if r.get("status") == "ok"}
        for row in scenario.get("rows", []):
            first = before.get(row["variant"])
            if row.get("status") != "ok" or row["kind"] not in ("static", "peer") or not first:
                continue
            setups = f"{fmt_seconds(first['setup_s']):>11s} {fmt_seconds(row['setup_s']):>11s}"
            lines.append(f"{name:12s} {row['variant']:34s} {setups}  "
                         f"{cache_cell(first)} / {cache_cell(row)}")
    return "\n".join(lines)


def update(readme: Path, printed: str, summary_png: Path | None, warm: dict | None = None,
           cold: dict | None = None) -> list[Path]:
    """Rewrite the README section (with the cold-vs-warm table when both result
    documents are given); copy the summary plot beside it if there is one."""
    body = printed
    if cold is not None and warm is not None:
        body += ("\n\nSetup with an empty kernel cache (`run --cold`, a first-time user) and "
                 "with the cache filled:\n" + cold_warm_table(warm, cold))
    readme.write_text(replace_section(readme.read_text(), body))
    written = [readme]
    if summary_png is not None and summary_png.exists():
        target = readme.parent / IMAGE
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(summary_png, target)
        written.append(target)
    return written
