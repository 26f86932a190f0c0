"""The digits scenarios: real data, every engine trains the same model."""

from __future__ import annotations

import numpy as np
import pytest

from comparisons import digits, digits_cnn
from comparisons.digits.training import (
    Size,
    accuracy,
    load_digits_arrays,
    make_problem,
    numpy_setup,
)

TINY = dict(steps=4, batch=16, hidden=8, channels=2)


def test_the_data_ship_with_the_package():
    x, labels = load_digits_arrays()
    assert x.shape == (1797, 64) and 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_split_and_batches_are_seeded():
    a = make_problem(Size(**TINY), np.float64, "mlp")
    b = make_problem(Size(**TINY), np.float64, "mlp")
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(a.init["w1"], b.init["w1"])
    assert len(a.x_test) == 1797 // 5 and len(a.x_train) == 1797 - 1797 // 5


def _check(rows, names):
    ok = {r["variant"]: r for r in rows if r.get("kind") != "overhead"}
    for name in names:
        row = ok[name]
        assert row["status"] == "ok", row
        assert 0.0 <= row["test_acc"] <= 1.0
        assert row["max_rel_err"] < 1e-10
    accs = {ok[n]["test_acc"] for n in names}
    assert len(accs) == 1  # the same trained model in every engine


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_mlp_agrees_across_engines(backend):
    names = ["numpy", "dyngraph", f"staticgraph-{backend}"]
    rows = digits.run(only=names, peers=False, **TINY)
    _check(rows, names)


def test_cnn_agrees_across_engines():
    names = ["dyngraph", "staticgraph-interpret", "staticgraph-numba"]
    rows = digits_cnn.run(only=names, peers=False, **TINY)
    _check(rows, names)


def test_training_learns():
    problem = make_problem(Size(steps=200), np.float64, "mlp")
    before = accuracy(problem, problem.init)
    prep = numpy_setup(problem)
    for _ in range(200):
        prep.step()
    assert prep.values()[-1] < prep.values()[0] / 3
    assert prep.extra["test_acc"]() > max(0.8, before)
