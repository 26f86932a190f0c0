"""comparisons/static_models.py: the static models built on sg.train give the
same numbers as the other variants of their scenarios."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import staticgraph as sg
from comparisons import dynamic_net, static_models, tutorial


def test_tutorial_with_minimize_matches_numpy():
    size = dataclasses.replace(tutorial.TutorialSize(), D_in=100, H=50, lr=1e-5, steps=100)
    data = tutorial.make_data(size)
    losses = static_models.train_tutorial_minimize(size, data)
    np.testing.assert_allclose(losses, tutorial.train_numpy(size, data), rtol=1e-10)
    m = static_models.build_tutorial(size, data)
    assert [e.prim.name for e in m["graph"].eqns].count("assign") == 2


def test_dynamic_net_static_matches_dyngraph():
    size = dynamic_net.Size(batch=8, d_in=20, hidden=10, d_out=3, steps=40, lr=1e-3)
    problem = dynamic_net.make_problem(size, np.dtype(np.float64))
    runs = []
    for setup in (dynamic_net.dyngraph_variant, static_models.dynamic_net_setup):
        prepared = setup(problem)
        for _ in range(size.steps):
            prepared.step()
        runs.append(prepared.values())
    depths = problem.depths()
    assert 0 in {problem.draw(depths) for _ in range(size.steps)}  # the skip path ran
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-10)
    assert runs[0][-1] < runs[0][0]


def test_lstm_regressor_unrolled_trains():
    m = static_models.lstm_regressor(steps=4, batch=3, inputs=2, units=5)
    rng = np.random.default_rng(0)
    feed = {m["xs"]: rng.standard_normal((4, 3, 2)), m["target"]: rng.standard_normal((3, 1))}
    with sg.Session(m["graph"]) as sess:
        losses = [sess.run([m["loss"], m["train_op"]], feed)[0] for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    assert len(sg.trainable_variables(m["graph"])) == 5


@pytest.mark.skipif(not hasattr(sg, "scan"), reason="sg.scan is not available yet")
def test_lstm_regressor_scan_equals_unrolled():
    rng = np.random.default_rng(1)
    xs, target = rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 1))
    curves = []
    for use_scan in (False, True):
        m = static_models.lstm_regressor(steps=4, batch=3, inputs=2, units=5,
                                         use_scan=use_scan)
        with sg.Session(m["graph"]) as sess:
            feed = {m["xs"]: xs, m["target"]: target}
            curves.append([sess.run([m["loss"], m["train_op"]], feed)[0] for _ in range(10)])
    np.testing.assert_allclose(curves[1], curves[0], rtol=1e-10)
