"""BENCHMARKS.md keeps one block of results per CPU model.

The machines this project runs on differ (AMD and Intel so far), and a
figure means little without the CPU it came from, so a run replaces only
the block of its own CPU model and keeps the others:

    # Benchmarks
    <intro>
    <!-- cpu: Intel(R) Xeon(R) Processor -->
    ## Intel(R) Xeon(R) Processor
    ...the run's page, its headings one level down...
    <!-- end cpu -->

A file written before the blocks existed (one page, `# Benchmarks` first)
becomes the block of the CPU its `**Machine:**` line names.
"""

from __future__ import annotations

import re

TITLE = "# Benchmarks"
INTRO = ("Results are kept per CPU model: a run of `python -m benchmarks` replaces the "
         "block of the CPU it ran on and keeps the others. Compare ratios within one "
         "block (one run), not across CPUs.")
_START = "<!-- cpu: {} -->"
_END = "<!-- end cpu -->"
_BLOCK = re.compile(r"<!-- cpu: (?P<cpu>.*?) -->\n(?P<body>.*?)\n<!-- end cpu -->", re.S)


def demote(page: str) -> str:
    """Every markdown heading one level down; the page's `# Benchmarks` title dropped."""
    lines = page.splitlines()
    if lines and lines[0].strip() == TITLE:
        lines = lines[1:]
    return "\n".join("#" + ln if ln.startswith("#") else ln for ln in lines).strip("\n")


def machine_cpu(page: str) -> str:
    """The CPU model a page's `**Machine:**` line names ('unknown CPU' if none)."""
    match = re.search(r"\*\*Machine:\*\* ([^,\n]+)", page)
    return match.group(1).strip() if match else "unknown CPU"


def blocks(text: str) -> dict[str, str]:
    """CPU model -> block body of an existing BENCHMARKS.md (in file order)."""
    found = {m.group("cpu"): m.group("body") for m in _BLOCK.finditer(text)}
    if found or not text.strip():
        return found
    return {machine_cpu(text): f"## {machine_cpu(text)}\n\n{demote(text)}"}


def merge_page(existing: str | None, page: str, cpu: str) -> str:
    """The file after a run on `cpu` whose rendered report is `page`."""
    kept = blocks(existing or "")
    kept[cpu] = f"## {cpu}\n\n{demote(page)}"
    parts = [TITLE, INTRO]
    parts += [f"{_START.format(name)}\n{body}\n{_END}" for name, body in kept.items()]
    return "\n\n".join(parts) + "\n"
