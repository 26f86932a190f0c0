"""report.html: one self-contained page a person can share.

Everything is inside the file: plots as PNG data URIs, no scripts, no
external styles or fonts, so it opens offline in any browser. It holds, per
scenario, its explanation, the table, the setup phases, failures and skips,
where the wall time went and its plots; then the machine, library versions,
commit and options of the run, and the legend.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..scenarios import all_scenarios
from . import tables as report

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; background: #fff; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em;
       border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { padding: 0.2em 0.6em; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.note { color: #555; font-size: 0.85em; }
.figures img { max-width: 100%; margin: 0.5em 0; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.8em; overflow-x: auto; }
"""


def _e(text) -> str:
    return html.escape(str(text))


def data_uri(path: Path) -> str:
    """A PNG file as a data: URI."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _table(rows: list[dict], columns: list) -> str:
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return "<p>No variant ran.</p>"
    ref = next((r for r in ok if r.get("reference")), None)
    header = report.HEADER + [c.title for c in columns]
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for r in ok:
        cells = report.row_cells(r, ref["step_s"] if ref else None, columns)
        body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _notes(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        if r.get("status") == "error":
            lines.append(f"{r['variant']}: FAILED: {r['error'][:300]}")
        elif r.get("status") == "skipped":
            lines.append(f"{r['variant']}: skipped: {r['reason']}")
    lines += [n.strip() for n in report.phase_notes([r for r in rows if r.get("status") == "ok"])]
    lines += [n.strip() for n in report.wall_note(rows)]
    return "".join(f"<li>{_e(line)}</li>" for line in lines)


def _scenario(name: str, rows: list[dict], figures: list[Path]) -> str:
    s = all_scenarios()[name]
    images = "".join(f'<img alt="{_e(p.stem)}" src="{data_uri(p)}">'
                     for p in figures if Path(p).suffix == ".png" and Path(p).exists())
    return (f'<section id="{_e(name)}"><h2>{_e(name)}: {_e(s.title)}</h2>'
            f"<p>{_e(s.summary)}</p>{_table(rows, s.columns)}"
            f'<ul class="note">{_notes(rows)}</ul>'
            f'<p class="note">{_e(report.wall_summary(rows))}</p>'
            f'<div class="figures">{images}</div></section>')


def _about(doc: dict) -> str:
    machine = doc.get("machine", {})
    libraries = ", ".join(f"{k} {v}" for k, v in doc.get("libraries", {}).items() if v)
    git = doc.get("git") or {}
    commit = git.get("commit", "not a git checkout") + (" (modified)" if git.get("dirty") else "")
    items = [("time", doc.get("timestamp")), ("python", machine.get("python")),
             ("platform", machine.get("platform")), ("cpu", machine.get("cpu")),
             ("cpus", machine.get("cpus")), ("libraries", libraries), ("commit", commit),
             ("options", ", ".join(f"{k}={v}" for k, v in doc.get("options", {}).items()))]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items)
    return f"<h2>Machine and versions</h2><table>{rows}</table>"


def render(doc: dict, results_by_name: dict[str, list[dict]],
           figures: dict[str, list[Path]], printed: str) -> str:
    """The whole page as a string."""
    toc = " · ".join(f'<a href="#{_e(n)}">{_e(n)}</a>' for n in results_by_name)
    sections = "".join(_scenario(n, rows, figures.get(n, []))
                       for n, rows in results_by_name.items())
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<link rel="icon" href="data:,">'
            "<title>graphcompare report</title>"
            f"<style>{STYLE}</style></head><body>"
            "<h1>graphcompare: dyngraph and staticgraph side by side</h1>"
            f'<p class="note">{_e(doc.get("timestamp"))} · {_e(report.cache_line(doc["options"]))}'
            f"</p><p>{toc}</p>{sections}{_about(doc)}"
            f"<h2>What the columns mean</h2><pre>{_e(report.LEGEND)}</pre>"
            f"<h2>The run as printed</h2><pre>{_e(printed)}</pre>"
            "</body></html>\n")


def write_report(path: Path, doc: dict, results_by_name: dict[str, list[dict]],
                 figures: dict[str, list[Path]], printed: str) -> Path:
    """Write report.html; returns its path."""
    Path(path).write_text(render(doc, results_by_name, figures, printed), encoding="utf-8")
    return Path(path)
