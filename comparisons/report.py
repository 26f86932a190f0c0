"""Plain-text tables, JSON-ready results and a progress line on stderr."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from typing import TextIO

import numpy as np

from .framework import fixed_cost
from .timing import fmt_bytes, fmt_seconds

HEADER = ["variant", "setup", "per step", "vs ref", "break-even", "peak mem", "kernels",
          "tape", "max rel err"]


def _label(row: dict) -> str:
    return row["variant"] + (" (peer)" if row["kind"] == "peer" else "")


def _setup(row: dict) -> str:
    total = fixed_cost(row)
    return fmt_seconds(total) if total > 0 else "-"


def _per_step(row: dict) -> str:
    return f"{fmt_seconds(row['step_s'])} ±{row['spread_pct']:.0f}%"


def _break_even(row: dict) -> str:
    if "break_even_steps" not in row:
        return "-"
    steps = row["break_even_steps"]
    return "never" if steps is None else f"{math.ceil(steps)} steps"


def _memory(row: dict) -> str:
    if row.get("peak_mem_bytes") is None:
        return "-"
    prefix = "rss " if row.get("mem_method") == "rss" else ""
    return prefix + fmt_bytes(row["peak_mem_bytes"])


def _count(row: dict, key: str) -> str:
    value = row.get(key)
    return "-" if value is None else f"{value:.3g}"


def _error(row: dict) -> str:
    if row.get("reference"):
        return "ref"
    err = row.get("max_rel_err")
    return "-" if err is None else f"{err:.1e}"


def _cells(row: dict, ref_step: float | None, extras: list) -> list[str]:
    ratio = f"{row['step_s'] / ref_step:.2f}x" if ref_step else "-"
    cells = [_label(row), _setup(row), _per_step(row), ratio, _break_even(row), _memory(row),
             _count(row, "ops_per_step"), _count(row, "tape_nodes_per_step"), _error(row)]
    for col in extras:
        value = row.get(col.key)
        cells.append("-" if value is None else col.fmt.format(value))
    return cells


def format_table(rows: list[dict], columns: list | None = None) -> str:
    """A plain-text table of one scenario's rows; failures and skips as notes."""
    extras = list(columns or [])
    header = HEADER + [c.title for c in extras]
    ok = [r for r in rows if r.get("status") == "ok"]
    ref = next((r for r in ok if r.get("reference")), None)
    body = [_cells(r, ref["step_s"] if ref else None, extras) for r in ok]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    lines = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]
    for r in rows:
        if r.get("status") == "error":
            lines.append(f"{_label(r)}: FAILED: {r['error'][:200]}")
        elif r.get("status") == "skipped":
            lines.append(f"{_label(r)}: skipped: {r['reason']}")
    lines += _phase_notes(ok)
    return "\n".join(lines)


def _phase_notes(rows: list[dict]) -> list[str]:
    notes = []
    for r in rows:
        phases = dict(r.get("compile_s") or {})
        if r.get("build_s"):
            phases = {"build": r["build_s"], **phases}
        if phases:
            parts = ", ".join(f"{k} {fmt_seconds(v)}" for k, v in phases.items())
            notes.append(f"  {r['variant']} setup: {parts}")
    return notes


LEGEND = """\
setup: graph build + compile, paid once (eager engines have none).
per step: median wall time of one step, ± half the interquartile range.
vs ref: per-step time relative to the reference row (the first, 'ref').
break-even: steps after which the setup is repaid against eager dyngraph.
peak mem: tracemalloc peak (NumPy buffers + Python objects) over setup and a few steps;
  'rss' = growth of resident memory (peers: their allocators are invisible to tracemalloc).
kernels: primitive kernels run per step, forward + backward + update (counted through
  the shared op registry; compiled backends: their optimised program's operations, fused
  loops and matmuls, views excluded; NumPy rows are counted from their source).
tape: dyngraph tape nodes recorded per step.
max rel err: largest relative difference from the reference's losses / outputs."""


def json_rows(rows: list[dict], curve: str | None) -> list[dict]:
    """Rows ready for JSON: curves kept as lists, big arrays dropped."""
    out = []
    for r in rows:
        r = dict(r)
        values = r.pop("values", None)
        if curve and values is not None:
            r[curve] = [float(v) for v in np.asarray(values, dtype=float).ravel()]
        out.append({k: _plain(v) for k, v in r.items()})
    return out


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def machine() -> dict:
    """What ran the comparison (for the JSON header)."""
    return {"python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}


class Progress:
    """`[i/n] message (elapsed)` on stderr; one rewritten line on a terminal."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()

    def __call__(self, message: str, i: int, n: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        text = f"[{min(i + 1, n)}/{n}] {message} ({elapsed:.1f} s)"
        if self.tty:
            end = "\n" if i >= n else ""
            self.stream.write("\r\033[K" + text + end)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
