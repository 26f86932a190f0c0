"""`run --out DIR` writes DIR/report.html: one self-contained page (plots as data
URIs, the tables, setup phases, machine and versions) that renders in a real
browser, headless Chromium, with a non-blank screenshot and a silent console."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from comparisons.__main__ import main

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str | None:
    found = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    if found is None and os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: .ci/run installs Debian's chromium package")
    return found


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    argv = ["run", "rnn", "per_op", "--quick", "--no-peers", "--quiet", "--out", str(out),
            "--variant", "numpy,dyngraph,staticgraph-scan-interpret,"
                         "staticgraph-unrolled-interpret,dyngraph-grad",
            "--set", "steps=6", "--set", "inner=5", "--set", "samples=3"]
    assert main(argv) == 0
    return out


def test_report_is_self_contained_and_complete(report_dir: Path):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # nothing fetched from anywhere
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    for plot in ("rnn-time", "rnn-cumulative", "rnn-loss", "rnn-sweep", "per_op-time"):
        assert plot in images
    for text in ("<table>", "staticgraph-unrolled-interpret", "setup", "recompiles",
                 "Machine and versions", "numpy", "What the columns mean", "wall time",
                 "sequence length varies per step"):
        assert text in page
    assert "<script" not in page


def test_report_renders_in_headless_chromium(report_dir: Path, tmp_path: Path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium here (CI installs it; apt-get install chromium)")
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--window-size=1200,1600",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         (report_dir / "report.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=180)
    assert shot.exists(), result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    import matplotlib.image as mpimg
    pixels = mpimg.imread(shot)[..., :3]
    not_white = (pixels < 0.9).any(axis=-1).mean()
    assert 0.01 < not_white < 0.9 and pixels.std() > 0.05  # text, tables and plots drawn
