"""The comparison framework and its scenarios: every scenario runs at a small
size and its engines agree with the reference; failures stay in their row.
No timing assertions: only that the figures are there and make sense."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import dyngraph as dg
from comparisons import dynamic_net, per_op, tutorial
from comparisons.framework import Prepared, Variant, compare_rows
from comparisons.harness.instrument import count_ops, measure_memory
from comparisons.scenarios import _scenario_modules, all_scenarios, get
from shared_ops import REGISTRY

# Small sizes so the whole file runs in a few seconds.
TINY = {
    "tutorial": dict(N=8, D_in=30, H=12, D_out=4, steps=12),
    "dynamic_net": dict(batch=8, d_in=30, hidden=12, d_out=4, steps=16),
    "fusion": dict(n=4096, samples=3),
    "per_op": dict(inner=20, samples=3),
    "rnn": dict(steps=6, max_len=3),
    "lstm": dict(steps=6, max_len=3),
}


def run_tiny(name: str, **options) -> list[dict]:
    """The variant rows of a tiny run (the last row, the overhead, checked and dropped)."""
    options.setdefault("peers", False)
    rows = get(name).run(quick=True, **{**TINY.get(name, {}), **options})
    overhead = rows[-1]
    assert overhead["kind"] == "overhead"  # the wall time beyond the variants' own runs
    own = sum(r["total_s"] for r in rows if r["status"] == "ok")
    assert own + overhead["total_s"] == pytest.approx(overhead["wall_s"])
    return rows[:-1]


def assert_agree(rows: list[dict], rtol: float) -> None:
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok, rows
    for r in rows:
        assert r["status"] in ("ok", "skipped"), (r["variant"], r.get("traceback"))
    for r in ok:
        assert r["setup_s"] > 0 and r["total_s"] >= r["setup_s"]
        assert r["step_s"] > 0 and r["step_p25_s"] <= r["step_s"] <= r["step_p75_s"]
        if r["kind"] != "baseline":
            assert r["max_rel_err"] <= rtol, (r["variant"], r["max_rel_err"])
    assert sum(bool(r.get("reference")) for r in ok) == 1


def test_every_scenario_module_is_found():
    modules = set(_scenario_modules())
    assert {"tutorial", "dynamic_net", "fusion", "per_op", "rnn", "lstm"} <= modules
    names = list(all_scenarios())
    assert names[:1] == ["tutorial"]
    assert {"tutorial", "dynamic_net", "fusion", "per_op"} <= set(names)


@pytest.mark.parametrize("name", sorted(all_scenarios()))
def test_scenario_engines_agree_in_float64(name):
    rows = run_tiny(name)
    assert_agree(rows, rtol=1e-9)
    engines = {r["engine"] for r in rows if r["status"] == "ok"}
    assert {"numpy", "dyngraph"} - NO_NUMPY_REFERENCE.get(name, set()) <= engines


NO_NUMPY_REFERENCE = {"digits_cnn": {"numpy"}}  # the CNN's reference is eager dyngraph


@pytest.mark.parametrize("name", ["tutorial", "dynamic_net", "fusion"])
def test_scenario_engines_agree_in_float32(name):
    rows = run_tiny(name, dtype="float32")
    assert_agree(rows, rtol=1e-3)
    assert all(r["dtype"] == "float32" for r in rows)


def test_training_rows_carry_loss_curves_of_the_full_length():
    rows = run_tiny("dynamic_net")
    for r in rows:
        assert len(r["values"]) == TINY["dynamic_net"]["steps"]
    losses = rows[0]["values"]
    assert losses[-1] < losses[0]


def test_dyngraph_rows_count_kernels_and_tape_nodes():
    rows = {r["variant"]: r for r in run_tiny("per_op")}
    assert rows["dyngraph-grad"]["tape_nodes_per_step"] == 1
    assert "tape_nodes_per_step" not in rows["dyngraph"]
    assert rows["dyngraph"]["ops_per_step"] == 1
    assert rows["numpy"]["ops_method"] == "declared"
    tutorial = {r["variant"]: r for r in run_tiny("tutorial")}
    assert tutorial["dyngraph"]["tape_nodes_per_step"] == 6  # mm relu mm sub pow sum
    assert tutorial["dyngraph-function"]["tape_nodes_per_step"] == 6
    assert tutorial["dyngraph"]["ops_per_step"] > 6  # + backward rules and updates


def test_memory_is_measured_and_labelled():
    for r in run_tiny("fusion"):
        assert r["peak_mem_bytes"] >= 0 and r["mem_method"] == "tracemalloc"
    numpy_row = next(r for r in run_tiny("fusion") if r["variant"] == "numpy")
    assert numpy_row["peak_mem_bytes"] >= 4096 * 8  # at least one temporary


def test_fusion_reports_bandwidth_against_a_copy():
    rows = {r["variant"]: r for r in run_tiny("fusion")}
    assert rows["np.copyto"]["pct_of_copy"] == pytest.approx(100)
    assert all(r["gbps"] > 0 for r in rows.values())
    assert "max_rel_err" not in rows["np.copyto"]


def test_count_ops_counts_and_restores():
    before = {name: prim.impl for name, prim in REGISTRY.items()}
    x = dg.tensor(np.ones(3), requires_grad=True)
    with count_ops() as counts:
        (x * x).sum().backward()
    assert counts.tape_nodes == 2
    assert counts.kernels >= 2
    assert {name: prim.impl for name, prim in REGISTRY.items()} == before
    with count_ops() as idle:
        pass
    assert idle.kernels == 0 and idle.tape_nodes == 0


def test_measure_memory_tracemalloc_and_rss():
    with measure_memory() as mem:
        block = np.ones(1 << 16)
    assert mem.peak_bytes >= block.nbytes
    with measure_memory("rss") as rss:
        pass
    assert rss.method == "rss" and rss.peak_bytes >= 0


def _failing(problem) -> Prepared:
    raise RuntimeError("this engine is broken on purpose")


def _scenario_with(*extra: Variant):
    base = per_op.SCENARIO
    return dataclasses.replace(base, variants=list(base.variants) + list(extra))


def test_a_failing_variant_is_an_error_row_and_the_others_run():
    scenario = _scenario_with(
        Variant("broken", engine="dyngraph", setup=_failing),
        Variant("no-gpu", engine="staticgraph", backend="cuda", kind="static",
                setup=_failing, available=lambda: "no CUDA device"))
    rows = {r["variant"]: r for r in scenario.run(quick=True, peers=False, **TINY["per_op"])}
    rows.pop("(measurement overhead)")
    assert rows["broken"]["status"] == "error"
    assert "broken on purpose" in rows["broken"]["error"]
    assert "RuntimeError" in rows["broken"]["traceback"]
    assert rows["no-gpu"]["status"] == "skipped" and rows["no-gpu"]["reason"] == "no CUDA device"
    others = [r for name, r in rows.items() if name not in ("broken", "no-gpu")]
    assert others and all(r["status"] == "ok" for r in others)


def _fake_static_loop(problem, steps: int) -> dict:
    """A closed loop reporting build and compile phases, as static engines do."""
    from comparisons import tutorial
    size = dataclasses.replace(problem.size, steps=steps)
    return {"losses": tutorial.train_numpy(size, problem.data), "build_s": 0.001,
            "compile_s": {"passes": 0.002, "codegen": 0.003}, "ops_per_step": 3}


def test_a_static_loop_variant_reports_phases_and_break_even():
    scenario = dataclasses.replace(tutorial.SCENARIO, variants=[Variant(
        "staticgraph-fake", engine="staticgraph", backend="fake", kind="static",
        loop=_fake_static_loop)])
    rows = {r["variant"]: r for r in scenario.run(quick=True, peers=False, **TINY["tutorial"])}
    fake = rows["staticgraph-fake"]
    assert fake["status"] == "ok", fake.get("traceback")
    assert fake["build_s"] == 0.001 and fake["compile_s"] == {"passes": 0.002, "codegen": 0.003}
    assert {"build", "passes", "codegen", "first step"} <= set(fake["setup_phases"])
    assert fake["ops_per_step"] == 3 and fake["ops_method"] == "declared"
    assert "break_even_steps" in fake and fake["break_even_vs"] == "dyngraph"
    assert fake["max_rel_err"] == 0.0
    kept = scenario.run(quick=True, peers=False, backend=["numba"], **TINY["tutorial"])
    assert "staticgraph-fake" not in {r["variant"] for r in kept}
    assert "dyngraph" in {r["variant"] for r in kept}


def test_break_even_follows_cumulative_wall_time():
    rows = [
        {"status": "ok", "kind": "reference", "engine": "numpy", "variant": "numpy",
         "step_s": 1.0, "setup_s": 1.0, "steps_run": 10, "values": [1.0]},
        {"status": "ok", "kind": "eager", "engine": "dyngraph", "variant": "dyngraph",
         "step_s": 3.0, "setup_s": 3.0, "steps_run": 10, "values": [1.0]},
        {"status": "ok", "kind": "static", "engine": "staticgraph", "variant": "fast",
         "step_s": 1.0, "setup_s": 7.0, "steps_run": 10, "values": [1.0]},
        {"status": "ok", "kind": "static", "engine": "staticgraph", "variant": "slow",
         "step_s": 4.0, "setup_s": 4.0, "steps_run": 10, "values": [2.0]},
        {"status": "ok", "kind": "static", "engine": "staticgraph", "variant": "late",
         "step_s": 1.0, "setup_s": 100.0, "steps_run": 10, "values": [1.0]},
    ]
    compare_rows(rows)
    # fast: n + 6 vs 3n: behind (or level) up to step 3, ahead from step 4 on
    assert (rows[2]["break_even_steps"], rows[2]["break_even_basis"]) == (4, "measured")
    assert (rows[3]["break_even_steps"], rows[3]["break_even_basis"]) == (None, "never")
    # late: 100 + 9 = 109 vs 30 after 10 steps; 79 s to gain at 2 s a step -> 10 + 40
    assert (rows[4]["break_even_steps"], rows[4]["break_even_basis"]) == (50, "projected")
    assert rows[3]["max_rel_err"] == pytest.approx(1.0)
    assert "break_even_steps" not in rows[1]


def test_user_sizes_and_unknown_fields():
    rows = dynamic_net.run(batch=4, d_in=6, hidden=5, d_out=2, steps=5, peers=False)[:-1]
    assert rows[0]["size"]["batch"] == 4 and len(rows[0]["values"]) == 5
    with pytest.raises(TypeError, match="unknown size field"):
        dynamic_net.run(hidden_units=3)


def test_variant_needs_exactly_one_way_to_run():
    with pytest.raises(ValueError, match="exactly one"):
        Variant("x", engine="numpy")
    with pytest.raises(ValueError, match="kind"):
        Variant("x", engine="numpy", setup=_failing, kind="fast")


@pytest.mark.parametrize("name", sorted(all_scenarios()))
def test_peers_agree_when_installed(name):
    pytest.importorskip("torch")
    rows = run_tiny(name, peers=True)
    assert any(r["kind"] == "peer" and r["status"] == "ok" for r in rows)
    assert_agree(rows, rtol=1e-6)  # XLA's own tanh/exp differ in the last digits
