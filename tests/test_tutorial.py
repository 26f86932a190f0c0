"""The 'Learning PyTorch with Examples' two-layer net: NumPy with a hand-written
backward, dyngraph autograd and dyngraph with a custom ReLU Function give the
same loss at every step (float64, rtol 1e-10)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from comparisons import tutorial as T

SHORT = dataclasses.replace(T.TutorialSize(), steps=100)


@pytest.fixture(scope="module")
def data():
    return T.make_data(T.TutorialSize(), seed=0)


def test_sizes_are_the_tutorials():
    size = T.TutorialSize()
    assert (size.N, size.D_in, size.H, size.D_out) == (64, 1000, 100, 10)
    assert size.lr == 1e-6 and size.steps == 500


def test_data_is_float64_and_seeded(data):
    again = T.make_data(T.TutorialSize(), seed=0)
    for key, value in data.items():
        assert value.dtype == np.float64
        np.testing.assert_array_equal(value, again[key])


def test_variants_do_not_modify_the_data(data):
    before = {k: v.copy() for k, v in data.items()}
    for train in T.VARIANTS.values():
        train(dataclasses.replace(SHORT, steps=3), data)
    for key, value in data.items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("variant", [v for v in T.VARIANTS if v != "numpy"])
def test_same_loss_at_every_step(variant, data):
    reference = T.train_numpy(SHORT, data)
    losses = T.VARIANTS[variant](SHORT, data)
    assert len(losses) == len(reference) == SHORT.steps
    np.testing.assert_allclose(losses, reference, rtol=1e-10)
    assert reference[-1] < reference[0] / 10  # it learns


def test_full_500_steps(data):
    """All 500 steps, however busy the machine (about 2 s on a quiet 2-core box)."""
    size = T.TutorialSize()
    reference = T.train_numpy(size, data)
    for variant in ("dyngraph", "dyngraph-function"):
        np.testing.assert_allclose(T.VARIANTS[variant](size, data), reference, rtol=1e-10)
    assert reference[-1] < 1e-3 * reference[0]
