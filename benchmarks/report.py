"""Markdown rendering: result tables with ratios, target verdicts, the report.

Every absolute time printed here sits in a row beside its ratios to the
baselines measured in the same run; ratio = competitor time / baseline time,
so below 1.00x is faster than the baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from comparisons.harness.workload import Measurement, RatioTarget, WorkloadResult

UNIT_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
DASH = "-"


@dataclass
class Section:
    """A titled part of a bench's report: intro text, result tables, notes."""

    title: str
    results: list[WorkloadResult] = field(default_factory=list)
    intro: str = ""
    notes: list[str] = field(default_factory=list)


def fmt_num(x: float | None, digits: int = 3) -> str:
    """A number to `digits` significant figures, or '-'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    if x == 0 or math.isinf(x):
        return str(x) if math.isinf(x) else "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def fmt_ratio(r: float | None) -> str:
    return DASH if r is None else f"{r:.2f}x"


def fmt_seconds(s: float | None) -> str:
    """A setup/compile time with a unit that keeps it readable."""
    if s is None:
        return DASH
    return f"{s:.2f} s" if s >= 1 else f"{s * 1e3:.3g} ms"


NOISY_SPREAD = 0.25  # a verdict resting on a sample this spread out is flagged


def verdict(target: RatioTarget, ratio: float | None) -> str:
    """'PASS' / 'MISS' for a measured ratio, 'n/a' when it could not be measured."""
    if ratio is None:
        return "n/a"
    return "PASS" if ratio <= target.max_ratio else "MISS"


def noise_flag(result: WorkloadResult, target: RatioTarget) -> str:
    """' (noisy: ±x%/±y%)' when either side's spread makes the verdict shaky."""
    spreads = [result.measurements[k].spread for k in (target.competitor, target.baseline)
               if k in result.measurements and result.measurements[k].ok]
    if not any(s > NOISY_SPREAD for s in spreads):
        return ""
    return " (noisy: " + "/".join(f"±{s * 100:.0f}%" for s in spreads) + ")"


def floor_flag(result: WorkloadResult, target: RatioTarget) -> str:
    """' (below the floor: ...)' when the target's floor alone is slower than the target."""
    if target.floor is None:
        return ""
    floor = result.ratio(target.floor, target.baseline)
    if floor is None or floor <= target.max_ratio:
        return ""
    return (f" (below the floor: {result.label(target.floor)} takes {fmt_ratio(floor)} "
            f"{result.label(target.baseline)} here)")


def target_text(result: WorkloadResult, target: RatioTarget, ratio: float | None) -> str:
    """'<= 1.00x PyTorch eager: PASS' for the target column."""
    return f"<= {target.max_ratio:.2f}x {result.label(target.baseline)}: " \
           f"**{verdict(target, ratio)}**{noise_flag(result, target)}{floor_flag(result, target)}"


def _baselines(results: list[WorkloadResult]) -> list[tuple[str, str]]:
    """(key, label) of every baseline used by these results, in first-seen order."""
    seen: dict[str, str] = {}
    for res in results:
        for key in res.workload.baselines:
            if key in res.measurements and key not in seen:
                seen[key] = res.label(key)
    return list(seen.items())


def _time_cell(res: WorkloadResult, m: Measurement) -> str:
    if m.competitor.make is None:
        return m.competitor.missing or "not available"
    if m.error is not None:
        return f"failed: {m.error[:80]}"
    scale = UNIT_SCALE[res.workload.unit] / res.workload.per
    return fmt_num(m.median * scale)


def _row(res: WorkloadResult, m: Measurement, baselines: list[tuple[str, str]]) -> list[str]:
    key = m.competitor.key
    label = m.competitor.label + (f" ({m.competitor.note})" if m.competitor.note else "")
    cells = [res.workload.name, label, _time_cell(res, m)]
    if not m.ok:
        return cells + [DASH] * (len(baselines) + 3) + [""]
    cells.append(f"±{m.spread * 100:.0f}%" if not math.isnan(m.spread) else DASH)
    for base, _ in baselines:
        cells.append(fmt_ratio(res.ratio(key, base)) if base in res.measurements else DASH)
    cells += [fmt_num(m.faults_per_call, 2), fmt_seconds(m.setup_s)]
    cells.append("; ".join(target_text(res, t, r) for t, r in res.verdicts()
                           if t.competitor == key))
    return cells


def results_table(results: list[WorkloadResult]) -> str:
    """One markdown table: a row per (workload, competitor)."""
    if not results:
        return ""
    baselines = _baselines(results)
    units = {(r.workload.unit, r.workload.per_label) for r in results}
    time_head = "time per " + " / ".join(f"{p} ({u})" for u, p in sorted(units))
    head = (["workload", "competitor", time_head, "spread"]
            + [f"vs {label}" for _, label in baselines]
            + ["minor faults/call", "setup (build + 1st call)", "target"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        for m in res.measurements.values():
            lines.append("| " + " | ".join(_row(res, m, baselines)) + " |")
    return "\n".join(lines)


def target_rows(results: list[WorkloadResult]) -> list[list[str]]:
    """[workload, 'A / B', measured ratio, target, verdict] for every target."""
    rows = []
    for res in results:
        for t, r in res.verdicts():
            rows.append([res.workload.name,
                         f"{res.label(t.competitor)} / {res.label(t.baseline)}",
                         fmt_ratio(r), f"<= {t.max_ratio:.2f}x",
                         f"**{verdict(t, r)}**{noise_flag(res, t)}{floor_flag(res, t)}"])
    return rows


def render_section(section: Section, level: int = 3) -> str:
    """A section: heading, intro, results table, notes."""
    parts = [f"{'#' * level} {section.title}"]
    if section.intro:
        parts.append(section.intro.strip())
    if section.results:
        parts.append(results_table(section.results))
    parts += [f"- {n}" for n in section.notes]
    return "\n\n".join(parts)


def targets_table(rows: list[list[str]]) -> str:
    """The summary of every target in the run."""
    head = ["bench", "workload", "ratio", "measured", "target", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
