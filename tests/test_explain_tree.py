"""explain()'s compile costs are a tree: nested phases are indented under the one
that contains them and never summed twice, so the total matches the measured
first run; `brief=True` is one screen."""

from __future__ import annotations

import time

import numpy as np
import pytest

from comparisons.rnn import models as rm
from comparisons.rnn import numpy_steps as rn
from staticgraph.compiler.stats import PhaseTree


def test_nested_phases_count_once_and_recorded_phases_adopt_what_ran_inside():
    tree = PhaseTree()
    with tree.timed("lower"):
        with tree.timed("codegen"):
            start = time.perf_counter()
            with tree.timed("subgraph"):
                time.sleep(0.02)
            tree.add("scan lowering", time.perf_counter() - start)  # contains "subgraph"
        with tree.timed("build"):
            time.sleep(0.01)
    tree.add("passes", 0.005)
    lower = tree.root.children["lower"]
    codegen = lower.children["codegen"]
    assert list(codegen.children) == ["scan lowering"]
    assert list(codegen.children["scan lowering"].children) == ["subgraph"]
    assert tree.total == pytest.approx(lower.seconds + 0.005)
    assert codegen.seconds >= codegen.children["scan lowering"].seconds
    lines = tree.format()
    assert lines[0].startswith("lower") and lines[1].startswith("  codegen")
    assert any(line.startswith("      subgraph") for line in lines)
    assert all(not line.startswith(" ") for line in tree.format(max_depth=1))


def _scan_rnn():
    rng = np.random.default_rng(0)
    params = rn.init_params("tanh", 2, 6, rng, np.dtype("float64"))
    model = rm.StaticRNN("tanh", params, 3, "scan", "numba", lr=0.1)
    tower = model.tower(4)
    feed = {tower["xs"]: rng.standard_normal((4, 3, 2)),
            tower["ys"]: rng.standard_normal((4, 3, 1))}
    return model, [tower["loss"], tower["update"]], feed


def test_explain_total_matches_the_measured_first_run(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(tmp_path))
    model, fetches, feed = _scan_rnn()
    start = time.perf_counter()
    model.session.run(fetches, feed)
    first = time.perf_counter() - start
    (plan,) = model.session._plans.values()
    total = plan.runner.compile_seconds
    assert abs(total - first) <= 0.15 * first, (total, first)
    text = model.session.explain(fetches, feed, file=open("/dev/null", "w"))
    costs = text.split("compile costs")[1].split("program cache")[0]
    assert "\n      opaque lowering: scan" in costs and "\n        scan lowering" in costs
    assert "opaque lowerings" not in costs  # the flat, overlapping phase of before


def test_brief_explain_fits_one_screen(monkeypatch, tmp_path):
    model, fetches, feed = _scan_rnn()
    model.session.run(fetches, feed)
    brief = model.session.explain(fetches, feed, file=open("/dev/null", "w"), brief=True)
    full = model.session.explain(fetches, feed, file=open("/dev/null", "w"))
    assert len(brief.splitlines()) <= 30 < len(full.splitlines())
    assert "compile costs (total" in brief and "generated source:" not in brief
    assert "generated source:" in full
