"""What a run produces: the results document, the printed tables, and `--out DIR`
(results.json, PNG plots, report.html)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..scenarios import all_scenarios
from . import results
from . import tables as report


def document(results_by_name: dict[str, list[dict]], options: dict) -> dict:
    """The results.json document of a run (strict-JSON ready)."""
    scenarios = all_scenarios()
    doc = results.header(options)
    doc["scenarios"] = {name: {"title": scenarios[name].title,
                               "summary": scenarios[name].summary,
                               "rows": report.json_rows(rows, scenarios[name].curve)}
                        for name, rows in results_by_name.items()}
    return doc


def tables(results_by_name: dict[str, list[dict]], doc: dict) -> str:
    """Every scenario's table with its summary, then the cache state and legend."""
    scenarios = all_scenarios()
    printed = []
    for name, rows in results_by_name.items():
        printed.append(f"\n== {name}: {scenarios[name].title} ==")
        if scenarios[name].summary:
            printed.append(textwrap.fill(scenarios[name].summary, width=92))
        printed.append(report.format_table(rows, scenarios[name].columns))
    printed.append("\n" + report.cache_line(doc["options"]))
    printed.append(report.LEGEND)
    return "\n".join(printed).strip("\n")


def write_out(out: Path, results_by_name: dict[str, list[dict]], doc: dict) -> list[Path]:
    """results.json, every plot and report.html into `out` (created if needed)."""
    from . import html, plots
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(results.dumps(doc))
    written = [out / "results.json"]
    scenarios = all_scenarios()
    figures: dict[str, list[Path]] = {}
    for name, rows in results_by_name.items():
        s = scenarios[name]
        paths = plots.write_plots(name, s.title, rows, out, s.curve)
        if s.extra_plots is not None and any(r.get("status") == "ok" for r in rows):
            paths += s.extra_plots(rows, out)
        figures[name] = paths
        written += paths
    if any(figures.values()):
        written.append(plots.plot_summary(results_by_name, out / "summary.png"))
    written.append(html.write_report(out / "report.html", doc, results_by_name, figures,
                                     tables(results_by_name, doc)))
    return written
