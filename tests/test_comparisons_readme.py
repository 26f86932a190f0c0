"""The README's demo block is regenerated from a run, never hand-edited."""

import re
from pathlib import Path

import pytest

from comparisons.report import readme


def test_replace_section_swaps_only_the_marked_block(tmp_path: Path):
    page = tmp_path / "README.md"
    page.write_text(f"intro\n{readme.START}\n```\nold\n```\n{readme.END}\noutro\n")
    png = tmp_path / "summary.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    written = readme.update(page, "== tutorial ==\nnew table", png)
    text = page.read_text()
    assert "old" not in text and "new table" in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert (tmp_path / readme.IMAGE).read_bytes() == png.read_bytes()
    assert len(written) == 2


def test_missing_markers_is_a_clear_error():
    with pytest.raises(ValueError, match="demo markers"):
        readme.replace_section("no markers here", "table")


def test_the_project_readme_has_the_markers():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert readme.START in text and readme.END in text


def _comparison_prose() -> str:
    """README's comparison section without the generated block and code blocks."""
    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split("## The comparison", 1)[1].split("\n## ", 1)[0]
    head, rest = section.split(readme.START, 1)
    prose = head + rest.split(readme.END, 1)[1]
    return re.sub(r"```.*?```", "", prose, flags=re.S)


def test_readme_prose_quotes_no_measured_figure():
    prose = _comparison_prose()
    measured = re.findall(r"\d[\d.,]*\s*(?:ms|µs|us|ns|s\b|%|x\b|steps|kernels|nodes|MB|KB)",
                          prose)
    assert measured == [], "figures belong in the generated block: " + ", ".join(measured)


def test_make_demo_writes_only_ignored_files_and_readme_has_its_own_target():
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "--readme" not in demo and "--out $(DEMO_DIR)" in demo and "report.html" in demo
    assert "DEMO_DIR := build/demo" in makefile
    assert "/build/" in (Path(__file__).parent.parent / ".gitignore").read_text().split()
    target = makefile.split("\nreadme:", 1)[1].split("\n\n", 1)[0]
    assert "rm -rf $(README_CACHE)" in target and "GRAPHCOMPARE_CACHE_DIR=$(README_CACHE)" in target
    assert "--readme README.md --cold-results" in target
