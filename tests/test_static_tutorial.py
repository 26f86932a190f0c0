"""The tutorial's TensorFlow 1.x net (comparisons/tutorial/static.py) gives the
same loss at every step as the NumPy and dyngraph versions (float64)."""

from __future__ import annotations

import dataclasses

import numpy as np

from comparisons import tutorial
from comparisons.tutorial import static as tutorial_static


def test_static_tutorial_matches_numpy_for_500_steps():
    # 500 steps as in the tutorial, at a tenth of its width to keep the suite fast
    size = dataclasses.replace(tutorial.TutorialSize(), D_in=100, H=50, lr=1e-5)
    data = tutorial.make_data(size)
    reference = tutorial.train_numpy(size, data)
    static = tutorial_static.train_static(size, data, backend="interpret")
    assert len(static) == size.steps == 500
    np.testing.assert_allclose(static, reference, rtol=1e-10)
    assert reference[-1] < 1e-3 * reference[0]  # it did learn


def test_static_tutorial_full_size_matches_numpy_and_dyngraph():
    size = tutorial.QUICK  # the tutorial's sizes (N=64, D_in=1000, H=100, D_out=10)
    data = tutorial.make_data(size)
    static = tutorial_static.train_static(size, data)
    np.testing.assert_allclose(static, tutorial.train_numpy(size, data), rtol=1e-10)
    short = dataclasses.replace(size, steps=10)
    np.testing.assert_allclose(static[:10], tutorial.train_dyngraph(short, data), rtol=1e-10)


def test_static_tutorial_graph_is_built_once():
    size = dataclasses.replace(tutorial.TutorialSize(), steps=3)
    built = tutorial_static.build(size, tutorial.make_data(size))
    names = [e.prim.name for e in built["graph"].eqns]
    assert names.count("assign") == 2 and names.count("group") == 1
    assert built["x"].shape == (None, size.D_in)
    timed = tutorial_static.train_static_timed(size, tutorial.make_data(size))
    assert len(timed["losses"]) == 3 and timed["build_s"] > 0
