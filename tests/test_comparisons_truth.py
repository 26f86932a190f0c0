"""The comparison's timing model tells the truth: setup includes the first call
(and so the compile), recompiles are counted and kept out of the steady step,
the rows account for the run's wall time, break-even follows cumulative time,
results.json is strict and comparable, and bad input is a one-line error."""

from __future__ import annotations

import datetime
import importlib
import json

import numpy as np
import pytest

from comparisons import rnn, tutorial
from comparisons.__main__ import main
from comparisons.harness import accounting
from comparisons.harness.accounting import Sample
from comparisons.report import results
from comparisons.scenarios import all_scenarios

RNN_TINY = dict(steps=10, batch=2, d_in=2, hidden=4, min_len=2, max_len=5)


def test_step_figures_keep_recompiles_out_of_the_steady_step():
    samples = [Sample(0.010, units=2), Sample(1.0, units=3, recompiled=True),
               Sample(0.020, units=4), Sample(0.012, units=2), Sample(0.9, units=5,
                                                                         recompiled=True)]
    figures = accounting.step_figures(samples, "time step")
    assert figures["recompiles"] == 2
    assert figures["step_s"] == pytest.approx(0.012)
    assert figures["recompile_s"] == pytest.approx(1.0 + 0.9 - 2 * 0.012)
    assert figures["spread_basis"] == "per time step" and figures["steps_run"] == 6
    assert figures["unit_s"] == pytest.approx(0.005)  # per-time-step times 5, 5, 6 ms
    curve = accounting.measured_curve(2.0, samples)
    assert len(curve) == 6 and curve[0] == 2.0
    assert curve[-1] == pytest.approx(2.0 + sum(s.seconds for s in samples))
    thin = accounting.thin_curve(np.arange(1000.0))
    assert len(thin["steps"]) == accounting.MAX_CURVE_POINTS and thin["steps"][-1] == 1000


def _rnn_rows(monkeypatch, tmp_path, variants) -> dict[str, dict]:
    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(tmp_path / "cold-cache"))
    rows = rnn.run(quick=True, peers=False, only=variants, **RNN_TINY)
    return {r["variant"]: r for r in rows}


def test_rnn_rows_count_every_compile_and_account_for_the_wall_time(monkeypatch, tmp_path):
    rows = _rnn_rows(monkeypatch, tmp_path, ["numpy", "dyngraph", "staticgraph-scan-numba",
                                             "staticgraph-unrolled-interpret"])
    overhead = rows.pop("(measurement overhead)")
    assert all(r["status"] == "ok" for r in rows.values()), rows
    own = sum(r["total_s"] for r in rows.values())
    assert own + overhead["total_s"] == pytest.approx(overhead["wall_s"])
    assert overhead["parts"]["data, checks and comparison"] < 0.25 * overhead["wall_s"]
    scan = rows["staticgraph-scan-numba"]
    assert scan["cache"]["compiled"] > 0  # an empty cache: its kernels compiled here ...
    assert scan["setup_s"] > 10 * scan["step_s"]  # ... during the setup, in its first call
    phases = scan["setup_phases"]  # the first call split into the session's compile phases
    assert phases["first call: lower program"] > phases["build"]
    assert sum(phases.values()) == pytest.approx(scan["setup_s"], rel=0.05)
    assert scan["recompiles"] == 0 and scan["graphs_built"] == 1
    unrolled = rows["staticgraph-unrolled-interpret"]
    assert unrolled["recompiles"] == unrolled["graphs_built"] - 1 > 0  # one per new length
    assert unrolled["total_s"] >= unrolled["setup_s"] + unrolled["recompile_s"]
    for r in rows.values():
        curve = accounting.cumulative(r)
        assert len(curve) == RNN_TINY["steps"] and curve[-1] == pytest.approx(r["total_s"])
        assert r["spread_basis"] == "per time step"
    for r in (scan, unrolled):
        steps, basis = accounting.break_even(r, rows["dyngraph"])
        assert (r["break_even_steps"], r["break_even_basis"]) == (steps, basis)


def test_a_cuda_row_says_why_it_did_not_run(monkeypatch):
    from numba import cuda
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    rows = rnn.run(quick=True, peers=False, backend=["cuda"], only=["numpy",
                   "staticgraph-scan-cuda"], **RNN_TINY)
    row = next(r for r in rows if r["variant"] == "staticgraph-scan-cuda")
    assert row["status"] == "skipped" and "no CUDA GPU" in row["reason"]


def test_every_scenario_is_importable_under_its_cli_name():
    for name, scenario in all_scenarios().items():
        module = importlib.import_module(f"comparisons.{name}")
        assert callable(module.run) and module.SCENARIO is scenario, name
    rows = tutorial.run(quick=True, peers=False, only=["numpy"], steps=3, N=4, D_in=5, H=3)
    assert rows[0]["variant"] == "numpy" and rows[0]["status"] == "ok"


def test_the_api_pins_blas_threads_like_the_cli():
    from threadpoolctl import threadpool_info

    from comparisons.framework import Prepared, Variant
    seen = []

    def setup(problem):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return Prepared(lambda: None)
    scenario = all_scenarios()["per_op"]
    probe = Variant("probe", engine="numpy", kind="baseline", setup=setup)
    import dataclasses
    rows = dataclasses.replace(scenario, variants=[probe]).run(quick=True, inner=2, samples=2)
    assert rows[0]["status"] == "ok" and seen and set(seen) == {1}


# ---- results.json and compare ------------------------------------------------------------
def _document(step_s: float, variant: str = "staticgraph-numba") -> dict:
    doc = results.header({"cold": False})
    doc["scenarios"] = {"per_op": {"rows": [
        {"variant": "numpy", "status": "ok", "step_s": 1e-6, "setup_s": 1e-4,
         "spread_pct": 5.0, "samples": 20},
        {"variant": variant, "status": "ok", "step_s": step_s, "setup_s": 0.5,
         "spread_pct": 30.0, "samples": 20}]}}
    return doc


def test_compare_flags_a_three_times_slower_variant_by_name(tmp_path, capsys):
    old, new, same = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "same.json"
    old.write_text(results.dumps(_document(1e-3)))
    new.write_text(results.dumps(_document(3e-3)))
    same.write_text(results.dumps(_document(1.1e-3)))
    assert main(["compare", str(old), str(same)]) == 0
    assert main(["compare", str(old), str(new)]) == 1
    out, err = capsys.readouterr()
    assert "3.00x" in out and "REGRESSED (step)" in out
    assert "per_op/staticgraph-numba (step)" in err and "numpy" not in err


def test_results_json_is_strict_and_says_what_ran(tmp_path, capsys):
    code = main(["run", "per_op", "--quick", "--no-peers", "--quiet", "--set", "inner=5",
                 "--set", "samples=3", "--out", str(tmp_path)])
    assert code == 0
    doc = results.load(tmp_path / "results.json")  # strict: NaN would raise
    assert doc["schema_version"] == results.SCHEMA_VERSION
    assert doc["libraries"]["numpy"] == np.__version__ and "jax" in doc["libraries"]
    assert "git" in doc and "cpu" in doc["machine"]
    assert datetime.datetime.fromisoformat(doc["timestamp"]).tzinfo is not None
    rows = doc["scenarios"]["per_op"]["rows"]
    assert rows[-1]["kind"] == "overhead" and "cumulative" in rows[0]
    assert "kernel cache:" in capsys.readouterr().out
    json.dumps(doc, allow_nan=False)


# ---- command line -----------------------------------------------------------------------
def test_list_shows_size_fields_with_defaults(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "--set fields (default):" in out
    assert "steps=150 (quick 12)" in out and "cell='tanh'" in out


def test_run_cold_compiles_into_an_empty_temporary_cache_and_says_so(capsys, monkeypatch,
                                                                     tmp_path):
    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(tmp_path / "warm"))
    argv = ["run", "fusion", "--variant", "numpy,staticgraph-numba", "--set", "n=64",
            "--set", "samples=2", "--no-peers", "--quiet", "--json"]
    assert main(argv + ["--cold"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["options"]["cold"] is True and doc["options"]["cache_dir"] is None
    row = doc["scenarios"]["fusion"]["rows"][1]
    assert row["variant"] == "staticgraph-numba" and row["cache"]["compiled"] > 0
    assert not (tmp_path / "warm").exists()  # the user's cache was not touched
    assert main(argv) == 0 and main(argv) == 0  # fills the cache, then hits it
    doc = json.loads(capsys.readouterr().out.split("\n}\n")[-2] + "\n}")
    assert doc["options"]["cold"] is False and doc["options"]["cached_kernels_at_start"] > 0
    assert (doc["scenarios"]["fusion"]["rows"][1]["cache"] or {}).get("compiled", 0) == 0


def test_readme_cold_warm_table_pairs_the_rows():
    from comparisons.report.readme import cold_warm_table

    def doc(setup: float, hits: int, compiled: int) -> dict:
        return {"scenarios": {"rnn": {"rows": [
            {"variant": "dyngraph", "kind": "eager", "status": "ok", "setup_s": 0.001},
            {"variant": "staticgraph-scan-numba", "kind": "static", "status": "ok",
             "setup_s": setup, "cache": {"hits": hits, "compiled": compiled}}]}}}
    table = cold_warm_table(doc(0.05, 8, 0), doc(3.0, 0, 8))
    line = table.splitlines()[1]
    assert "staticgraph-scan-numba" in line and "3 s" in line and "50 ms" in line
    assert "miss / hit" in line and "dyngraph" not in table


def test_a_backend_a_scenario_lacks_is_a_row_saying_so():
    rows = all_scenarios()["fusion"].run(quick=True, peers=False, backend=["cuda"], n=64,
                                         samples=2)
    row = next(r for r in rows if r["variant"] == "staticgraph-cuda")
    assert row["status"] == "skipped" and "no variant on the cuda backend" in row["reason"]
