"""The package as a user installs it: versions, typing marker, cache admin, API docs."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import comparisons
import dyngraph as dg
import shared_ops
import staticgraph as sg
from staticgraph.compiler.cache_admin import cache_info, clear_cache

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_has_the_distribution_version():
    version = importlib.metadata.version("graphcompare")
    for pkg in (shared_ops, dg, sg, comparisons):
        assert pkg.__version__ == version


@pytest.mark.parametrize("pkg", [shared_ops, dg, sg, comparisons])
def test_packages_are_marked_typed(pkg):
    assert (Path(pkg.__file__).parent / "py.typed").is_file()


def test_numpy_ufunc_on_a_symbol_names_the_sg_function():
    x = sg.placeholder((3,), "float64")
    with pytest.raises(sg.SymbolicValueError, match=r"np\.exp .*use sg\.exp"):
        np.exp(x)
    with pytest.raises(sg.SymbolicValueError, match=r"np\.tanh .*use sg\.tanh"):
        np.tanh(x)
    with pytest.raises(TypeError):  # SymbolicValueError is a TypeError too
        np.cumsum(x)


def test_ndarray_operators_with_a_symbol_still_build_ops():
    x = sg.placeholder((3,), "float64")
    a = np.array([1.0, 2.0, 3.0])
    outs = [a + x, a - x, a * x, a / x, a ** x, a < x, np.eye(3) @ x]
    feed = np.array([0.5, 1.5, 2.5])
    with sg.Session() as sess:
        got = sess.run(outs, {x: feed})
    want = [a + feed, a - feed, a * feed, a / feed, a ** feed, a < feed, np.eye(3) @ feed]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_cache_info_and_clear_touch_only_the_library_folders(tmp_path):
    (tmp_path / "kernels" / "__pycache__").mkdir(parents=True)
    (tmp_path / "kernels" / "k_abc.py").write_text("x = 1\n")
    (tmp_path / "kernels" / "k_abc.ok").write_text("{}")
    (tmp_path / "kernels" / "__pycache__" / "k_abc.nbi").write_bytes(b"0" * 100)
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs" / "p_1.json").write_text("{}")
    (tmp_path / "mine.txt").write_text("keep me")
    info = cache_info(tmp_path)
    assert (info.kernels, info.programs, info.files) == (1, 1, 5)
    assert info.bytes > 100 and str(tmp_path) in info.lines()[0]
    assert clear_cache(tmp_path) == 4
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert cache_info(tmp_path).files == 1


def test_cache_info_of_a_missing_dir_is_empty(tmp_path):
    info = cache_info(tmp_path / "nothing")
    assert (info.kernels, info.programs, info.files, info.bytes) == (0, 0, 0, 0)
    assert clear_cache(tmp_path / "nothing") == 0


def test_api_reference_builds_without_warnings(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "the test extra installs mkdocs"
    proc = subprocess.run([mkdocs, "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "site" / "api" / "dyngraph" / "index.html").read_text()
    assert "backward" in page and "Tensor" in page


def test_cache_command_line(tmp_path, monkeypatch, capsys):
    from comparisons.__main__ import main

    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(tmp_path))
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "k_1.ok").write_text("{}")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"cache dir: {tmp_path} (from $GRAPHCOMPARE_CACHE_DIR)" in out
    assert "kernels:   1 " in out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 files" in capsys.readouterr().out
    assert not (tmp_path / "kernels").exists()


def test_importable_without_posix_only_modules():
    code = ("import sys; sys.modules['resource'] = None\n"
            "import dyngraph, staticgraph, benchmarks\n"
            "from comparisons.harness import instrument, workload\n"
            "assert instrument.current_rss() >= 0\n"
            "assert workload.minor_faults() == 0\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
