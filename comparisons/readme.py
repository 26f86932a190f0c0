"""Regenerate the README's demo table and summary plot from a real run.

`python -m comparisons run --quick --readme README.md` (what `make demo`
runs) replaces the text between the markers below with the tables it just
printed and writes the summary plot next to the README, so the README shows
measured output, never hand-edited numbers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

START = "<!-- demo-output:start (written by `make demo`; do not edit) -->"
END = "<!-- demo-output:end -->"
IMAGE = Path("docs/img/comparison-summary.png")


def replace_section(text: str, body: str) -> str:
    """`text` with the fenced `body` between the markers (which must exist)."""
    if START not in text or END not in text:
        raise ValueError(f"README has no demo markers; add {START!r} and {END!r}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n```\n{body.rstrip()}\n```\n{END}{tail}"


def update(readme: Path, printed: str, summary_png: Path | None) -> list[Path]:
    """Rewrite the README section; copy the summary plot beside it if there is one."""
    readme.write_text(replace_section(readme.read_text(), printed))
    written = [readme]
    if summary_png is not None and summary_png.exists():
        target = readme.parent / IMAGE
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(summary_png, target)
        written.append(target)
    return written
