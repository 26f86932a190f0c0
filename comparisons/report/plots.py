"""PNG plots of results (matplotlib with the Agg backend, from the `plots` extra).

Per scenario: time per step per variant (a dot at the median, whiskers to
the quartiles; a log axis when the times span more than 20x, and never bars
on it), cumulative wall time vs steps as run (setup, recompiles and every
step: where the lines cross is the break-even), and overlaid loss curves
when the scenario trains. Plus one summary figure with a panel per scenario.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..harness.accounting import cumulative

COLORS = {"reference": "#4c72b0", "eager": "#dd8452", "static": "#55a868",
          "peer": "#8c8c8c", "baseline": "#c44e52"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _ok(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("status") == "ok"]


def _unit(seconds: float) -> tuple[str, float]:
    """A time unit that suits the largest value of a panel."""
    for unit, scale in (("s", 1.0), ("ms", 1e3)):
        if seconds * scale >= 1:
            return unit, scale
    return "µs", 1e6


def _patch(color: str, label: str):
    from matplotlib.patches import Patch
    return Patch(color=color, label=label)


def _readable_log_ticks(axis) -> None:
    """Ticks at 1, 2 and 5 times powers of ten, labelled as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _dots(ax, rows: list[dict], title: str) -> None:
    """Median step time per variant as a dot, quartiles as whiskers."""
    rows = _ok(rows)
    names = [r["variant"] + (" (peer)" if r["kind"] == "peer" else "") for r in rows]
    unit, scale = _unit(max(r["step_s"] for r in rows))
    med = np.array([r["step_s"] for r in rows]) * scale
    lo = med - np.array([r["step_p25_s"] for r in rows]) * scale
    hi = np.array([r["step_p75_s"] for r in rows]) * scale - med
    ypos = np.arange(len(rows))
    for y, m, low, high, r in zip(ypos, med, lo, hi, rows):
        ax.errorbar([m], [y], xerr=[[low], [high]], fmt="o", color=COLORS[r["kind"]],
                    capsize=3, markersize=5)
    ax.set_yticks(ypos, names, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(True, axis="x", alpha=0.3)
    if len(med) and med.min() > 0 and (med + hi).max() / med.min() > 20:
        ax.set_xscale("log")
        _readable_log_ticks(ax.xaxis)
    else:
        ax.set_xlim(0, (med + hi).max() * 1.1 if len(med) else 1)
    ax.set_xlabel(f"{unit} per step (median, quartiles)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)


def _kind_legend(fig, rows: list[dict]) -> None:
    kinds = [k for k in COLORS if any(r["kind"] == k for r in _ok(rows))]
    fig.legend(handles=[_patch(COLORS[k], k) for k in kinds], fontsize=7, ncol=len(kinds),
               loc="lower center", frameon=False)


def plot_step_times(rows: list[dict], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(_ok(rows)) + 1.5), dpi=90)
    _dots(ax, rows, title)
    _kind_legend(fig, rows)
    return _save(fig, plt, path, bottom=0.6)


def plot_cumulative(rows: list[dict], path: Path, title: str) -> Path:
    """Cumulative wall time after each step, as run (setup, recompiles, steps);
    measured break-evens marked, projected ones named in the legend."""
    plt = _pyplot()
    rows = [r for r in _ok(rows) if r["kind"] != "baseline"]
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=90)
    low = high = None
    for i, r in enumerate(rows):
        curve = cumulative(r)
        steps = np.arange(1, len(curve) + 1)
        label = r["variant"]
        if r.get("recompiles"):
            label += f" ({r['recompiles']} recompiles)"
        if r.get("break_even_basis") == "projected":
            label += f", break-even ~{r['break_even_steps']}"
        style = "--" if r["kind"] == "peer" else "-"
        ax.plot(steps, curve, style, label=label, color=f"C{i}", linewidth=1.2)
        e = r.get("break_even_steps")
        if e and r.get("break_even_basis") == "measured" and e <= len(curve):
            ax.plot([e], [curve[e - 1]], "o", color="black", markersize=4)
        low = curve[0] if low is None else min(low, curve[0])
        high = curve[-1] if high is None else max(high, curve[-1])
    if low and high and high / low > 100:
        ax.set_yscale("log")
        _readable_log_ticks(ax.yaxis)
    ax.set_xlabel("steps")
    ax.set_ylabel("cumulative wall seconds")
    ax.set_title(title + "\n(dots: break-even against eager dyngraph)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, plt, path)


def plot_curves(rows: list[dict], path: Path, title: str, label: str) -> Path:
    """Per-step curves (losses) of every variant, overlaid."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    styles = ["-", "--", ":", "-."]
    for i, r in enumerate(r for r in _ok(rows) if r.get("values") is not None):
        values = np.asarray(r["values"], dtype=float)
        ax.plot(np.arange(len(values)), values, styles[i % len(styles)], label=r["variant"],
                linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, plt, path)


def plot_summary(results: dict[str, list[dict]], path: Path) -> Path:
    """One panel of step-time bars per scenario."""
    plt = _pyplot()
    names = [n for n, rows in results.items() if _ok(rows)]
    heights = [0.3 * len(_ok(results[n])) + 0.9 for n in names]
    fig, axes = plt.subplots(len(names), 1, figsize=(6.4, sum(heights) + 0.6), dpi=80,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        _dots(ax, results[name], name)
    _kind_legend(fig, [r for rows in results.values() for r in rows])
    return _save(fig, plt, path, bottom=0.35)


def _save(fig, plt, path: Path, bottom: float = 0.0) -> Path:
    """Lay out (leaving `bottom` inches for a figure legend), write, close."""
    fig.tight_layout(rect=(0, bottom / fig.get_figheight(), 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(name: str, title: str, rows: list[dict], out: Path,
                curve: str | None) -> list[Path]:
    """Every plot for one scenario into `out`; returns the files written."""
    if not _ok(rows):
        return []
    paths = [plot_step_times(rows, out / f"{name}-time.png", title),
             plot_cumulative(rows, out / f"{name}-cumulative.png", title)]
    if curve:
        paths.append(plot_curves(rows, out / f"{name}-{curve}.png", title, curve))
    return paths
