"""Plain-text tables, JSON-ready rows and a progress line on stderr."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

import numpy as np

from ..framework import fixed_cost
from ..harness.accounting import thin_curve
from ..harness.timing import fmt_bytes, fmt_seconds

HEADER = ["variant", "setup", "recompiles", "per step", "vs ref", "total", "break-even",
          "cache", "peak mem", "kernels", "tape", "max rel err"]


def _label(row: dict) -> str:
    return row["variant"] + (" (peer)" if row["kind"] == "peer" else "")


def _setup(row: dict) -> str:
    total = fixed_cost(row)
    return fmt_seconds(total) if total > 0 else "-"


def _recompiles(row: dict) -> str:
    count = row.get("recompiles") or 0
    return f"{count} ({fmt_seconds(row.get('recompile_s'))})" if count else "-"


def _per_step(row: dict) -> str:
    basis = row.get("spread_basis", "per step")
    suffix = "" if basis == "per step" else f" {basis}"
    separator = " " if basis == "per step" else ", "
    return f"{fmt_seconds(row['step_s'])}{separator}±{row['spread_pct']:.0f}%{suffix}"


def _break_even(row: dict) -> str:
    if "break_even_steps" not in row:
        return "-"
    steps = row["break_even_steps"]
    if steps is None:
        return "never"
    return f"~{steps} steps" if row.get("break_even_basis") == "projected" else f"{steps} steps"


def cache_cell(row: dict) -> str:
    cache = row.get("cache")
    if not cache:
        return "-"
    hits, total = cache["hits"], cache["hits"] + cache["compiled"]
    return "hit" if hits == total else "miss" if hits == 0 else f"{hits}/{total} hit"


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


def row_cells(row: dict, ref_step: float | None, extras: list) -> list[str]:
    ratio = f"{row['step_s'] / ref_step:.2f}x" if ref_step else "-"
    cells = [_label(row), _setup(row), _recompiles(row), _per_step(row), ratio,
             fmt_seconds(row.get("total_s")), _break_even(row), cache_cell(row), _memory(row),
             _count(row, "ops_per_step"), _count(row, "tape_nodes_per_step"), _error(row)]
    for col in extras:
        value = row.get(col.key)
        cells.append("-" if value is None else col.fmt.format(value))
    return cells


def format_table(rows: list[dict], columns: list | None = None) -> str:
    """A plain-text table of one scenario's rows; failures, skips, setup phases and
    the wall-time account as notes below."""
    extras = list(columns or [])
    header = HEADER + [c.title for c in extras]
    ok = [r for r in rows if r.get("status") == "ok"]
    ref = next((r for r in ok if r.get("reference")), None)
    body = [row_cells(r, ref["step_s"] if ref else None, extras) for r in ok]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    lines = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(b) for b in body]
    for r in rows:
        if r.get("status") == "error":
            lines.append(f"{_label(r)}: FAILED: {r['error'][:200]}")
        elif r.get("status") == "skipped":
            lines.append(f"{_label(r)}: skipped: {r['reason']}")
    lines += phase_notes(ok)
    lines += wall_note(rows)
    return "\n".join(lines)


def phase_notes(rows: list[dict]) -> list[str]:
    """One line per row with a setup worth splitting: its phases."""
    notes = []
    for r in rows:
        phases = r.get("setup_phases") or {}
        if r["kind"] in ("static", "peer") and phases:
            parts = ", ".join(f"{k} {fmt_seconds(v)}" for k, v in phases.items())
            notes.append(f"  {r['variant']} setup {fmt_seconds(r['setup_s'])}: {parts}")
    return notes


def wall_note(rows: list[dict]) -> list[str]:
    """Where the run's wall time went: the variants' totals and the overhead row."""
    overhead = next((r for r in rows if r.get("kind") == "overhead"), None)
    if overhead is None:
        return []
    own = sum(r.get("total_s", 0.0) for r in rows if r.get("status") == "ok")
    parts = ", ".join(f"{k} {fmt_seconds(v)}" for k, v in overhead["parts"].items())
    return [f"  wall time {fmt_seconds(overhead['wall_s'])} = variants' totals "
            f"{fmt_seconds(own)} + measurement {fmt_seconds(overhead['total_s'])} ({parts})"]


def cache_line(options: dict) -> str:
    """Whether the kernel cache started empty, and where it is."""
    if options.get("cache_dir") is None:
        return "kernel cache: cold (an empty temporary directory, removed afterwards)"
    cached = options.get("cached_kernels_at_start", 0)
    state = "cold (empty at the start)" if not cached else f"warm ({cached} kernels at the start)"
    return f"kernel cache: {state}, {options['cache_dir']}"


def wall_summary(rows: list[dict]) -> str:
    """'wall 3.2 s, of which measurement 0.4 s' for a scenario's rows."""
    overhead = next((r for r in rows if r.get("kind") == "overhead"), None)
    if overhead is None:
        return ""
    return (f"wall {fmt_seconds(overhead['wall_s'])}, of which measurement "
            f"{fmt_seconds(overhead['total_s'])}")


LEGEND = """\
setup: everything before the second step: build, gradients, passes, codegen, compile and
  the first call (a JIT's compile included); its phases are listed below each table.
recompiles: steps during which something compiled again (a graph per new sequence length,
  a JIT retracing a new shape, new kernels), and the time they took beyond a steady step.
per step: median wall time of a steady step (recompiles left out), ± half the interquartile
  range (rnn scenarios: of the time per time step, as lengths vary).
vs ref: per-step time relative to the reference row (the first, 'ref').
total: wall time of setup, recompiles and every step, as run.
break-even: the step after which cumulative wall time (setup + recompiles + steps) stays
  below eager dyngraph's; '~' when projected past the run from the steady step times;
  'never' when the step is no faster.
cache: kernels loaded from the disk cache ('hit') or compiled ('miss') during the run.
peak mem: tracemalloc peak (NumPy buffers + Python objects) over setup and a few steps;
  'rss' = growth of resident memory (peers: their allocators are invisible to tracemalloc).
kernels: primitive kernels run per step, forward + backward + update (counted through
  the shared op registry; compiled backends: their optimised program's operations, fused
  loops and matmuls, views excluded; NumPy rows are counted from their source).
tape: dyngraph tape nodes recorded per step.
max rel err: largest relative difference from the reference's losses / outputs."""


def json_rows(rows: list[dict], curve: str | None) -> list[dict]:
    """Rows ready for strict JSON: curves kept as lists (the cumulative wall time
    thinned), big arrays and private fields dropped, non-finite numbers None."""
    out = []
    for r in rows:
        r = dict(r)
        values = r.pop("values", None)
        if curve and values is not None:
            r[curve] = [float(v) for v in np.asarray(values, dtype=float).ravel()]
        cumulative = r.get("_cumulative")
        if cumulative is not None:
            r["cumulative"] = thin_curve(np.asarray(cumulative, dtype=float))
        out.append({k: _plain(v) for k, v in r.items() if not k.startswith("_")})
    return out


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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
