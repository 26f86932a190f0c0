"""The Python code blocks of README.md and docs/*.md, found and run as the reader would.

A block fenced as "```python" is a runnable example: it must be self-contained.
"```python listing" marks a listing (generated source, a signature) that is shown,
not run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    """One code block: where it is, its tags and its source."""

    path: str
    line: int
    tags: tuple[str, ...]
    source: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def examples(tag: str | None = None) -> list[Example]:
    """Python blocks: with `tag` None the runnable (untagged) ones, else those carrying `tag`."""
    found = []
    for path in doc_files():
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            tags = tuple(m.group(1).split())
            found.append(Example(str(path.relative_to(ROOT)), line, tags, m.group(2)))
    if tag is None:
        return [e for e in found if not e.tags]
    return [e for e in found if tag in e.tags]


def run_example(example: Example, workdir: Path) -> None:
    """Execute `example` in a fresh namespace with `workdir` as the current directory."""
    import staticgraph as sg

    sg.reset_default_graph()
    code = compile(example.source, example.name, "exec")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        exec(code, {"__name__": "__docs_example__"})
    finally:
        os.chdir(cwd)
        sg.reset_default_graph()
