"""`python -m comparisons` / `graphcompare`: list, run, --json, --out (JSON and
valid PNGs), filters, progress, and the exit status when a variant fails."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys

import pytest

from comparisons import scenarios
from comparisons.__main__ import main
from comparisons.framework import Variant
from comparisons.report.tables import Progress

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = ["--quick", "--no-peers", "--quiet"]
SMALL = {"per_op": ["--set", "inner=20", "--set", "samples=3"],
         "fusion": ["--set", "n=4096", "--set", "samples=3"],
         "dynamic_net": ["--set", "steps=8", "--set", "batch=8"],
         "tutorial": ["--set", "steps=8", "--set", "N=8"]}


def small(*names: str) -> list[str]:
    """The scenario names followed by --set options that keep them fast."""
    return list(names) + [arg for n in names for arg in SMALL[n]]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_scenario_and_its_variants(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ("tutorial", "dynamic_net", "fusion", "per_op"):
        assert name in out
    assert "dyngraph-function" in out


def test_run_prints_a_table_and_the_legend(capsys):
    code, out, _ = run_cli(capsys, "run", *small("per_op"), *FAST)
    assert code == 0
    assert "== per_op:" in out
    header = next(line for line in out.splitlines() if line.startswith("variant"))
    for title in ("setup", "per step", "break-even", "peak mem", "kernels", "max rel err"):
        assert title in header
    assert "dyngraph-grad" in out and "ref" in out
    assert "break-even:" in out  # the legend


def test_run_json_is_parseable_and_complete(capsys):
    code, out, _ = run_cli(capsys, "run", *small("dynamic_net", "per_op"), "--json", *FAST)
    assert code == 0
    doc = json.loads(out)
    assert set(doc["scenarios"]) == {"dynamic_net", "per_op"}
    assert doc["options"]["quick"] is True and doc["options"]["dtype"] == "float64"
    rows = doc["scenarios"]["dynamic_net"]["rows"][:-1]
    assert all(r["status"] == "ok" for r in rows)
    assert len(rows[0]["loss"]) == rows[0]["size"]["steps"]
    assert "values" not in doc["scenarios"]["per_op"]["rows"][0]


def test_run_out_writes_json_and_valid_pngs(capsys, tmp_path):
    import matplotlib.image as mpimg
    code, _, err = run_cli(capsys, "run", *small("tutorial", "per_op"), "--out", str(tmp_path),
                           *FAST)
    assert code == 0
    assert "wrote" in err
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc["scenarios"]) == {"tutorial", "per_op"}
    expected = {"tutorial-time.png", "tutorial-cumulative.png", "tutorial-loss.png",
                "per_op-time.png", "per_op-cumulative.png", "summary.png"}
    assert expected <= {p.name for p in tmp_path.glob("*.png")}
    for name in expected:
        path = tmp_path / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = mpimg.imread(path)
        assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50


def test_set_overrides_size_fields(capsys):
    code, out, _ = run_cli(capsys, "run", *small("dynamic_net"), "--json", "--set", "hidden=7",
                           *FAST)
    assert code == 0
    size = json.loads(out)["scenarios"]["dynamic_net"]["rows"][0]["size"]
    assert size["hidden"] == 7 and size["steps"] == 8
    with pytest.raises(SystemExit):
        main(["run", "per_op", "--set", "hidden=7"])
    assert "no selected scenario" in capsys.readouterr().err


def test_variant_dtype_and_backend_options(capsys):
    code, out, _ = run_cli(capsys, "run", *small("fusion"), "--variant", "numpy,dyngraph",
                           "--dtype", "float32", "--backend", "interpret", "--json", *FAST)
    assert code == 0
    rows = json.loads(out)["scenarios"]["fusion"]["rows"][:-1]
    assert [r["variant"] for r in rows] == ["numpy", "dyngraph"]
    assert all(r["dtype"] == "float32" for r in rows)


@pytest.mark.parametrize("argv, message", [
    (["run", "no_such_scenario"], "unknown scenario"),
    (["run", "per_op", "--variant", "no_such_variant"], "unknown variant"),
    (["run", "per_op", "--set", "inner"], "FIELD=VALUE"),
    (["run", "--dtype", "float16"], "invalid choice"),
])
def test_bad_arguments_are_usage_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def _broken(problem):
    raise RuntimeError("deliberately broken variant")


def test_a_failing_variant_shows_in_the_table_and_sets_the_exit_status(capsys, monkeypatch):
    base = scenarios.get("per_op")
    broken = dataclasses.replace(base, variants=list(base.variants) + [
        Variant("broken", engine="dyngraph", setup=_broken)])
    monkeypatch.setitem(scenarios._CACHE, "per_op", broken)
    code, out, _ = run_cli(capsys, "run", *small("per_op"), *FAST)
    assert code == 1
    assert "broken: FAILED: RuntimeError: deliberately broken variant" in out
    assert "dyngraph-grad" in out  # the others still ran


def test_progress_goes_to_stderr(capsys):
    code, _, err = run_cli(capsys, "run", "per_op", "--quick", "--no-peers", "--set", "inner=20")
    assert code == 0
    assert "[1/" in err and "per_op: setting up numpy" in err and "timing, round" in err
    stream = io.StringIO()
    Progress(stream)("x: y", 0, 2)
    assert stream.getvalue().startswith("[1/2] x: y")
    silent = io.StringIO()
    Progress(silent, enabled=False)("x", 0, 1)
    assert silent.getvalue() == ""


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "comparisons", "list"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "per_op" in result.stdout
