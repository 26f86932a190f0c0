"""The README's demo block is regenerated from a run, never hand-edited."""

from pathlib import Path

import pytest

from comparisons import readme


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
