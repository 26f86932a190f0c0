"""Bad inputs to the staticgraph training API (docs/errors.md, Training API):
optimizers, layers and checkpoints. After each failure a good training step
(or restore) in the same session gives the right numbers, and a rejected
checkpoint leaves every variable unchanged.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import staticgraph as sg

FILE = os.path.basename(__file__)
F64 = "float64"


class Regression:
    """loss = sum((x w - 1)^2) with w a variable; one GD step has a known result."""

    def __init__(self) -> None:
        self.graph = sg.Graph("train")
        with self.graph.as_default():
            self.x = sg.placeholder((None, 2), F64, name="x")
            self.w = sg.Variable(np.zeros(2), name="w")
            self.unused = sg.Variable(np.zeros(1), name="unused")
            self.loss = sg.reduce_sum((sg.matmul(self.x, self.w) - 1.0) ** 2)
        self.sess = sg.Session(self.graph)

    def good_step(self) -> None:
        with self.graph.as_default():
            step = sg.train.GradientDescentOptimizer(0.1).minimize(self.loss, [self.w])
        x = np.eye(2)
        before = self.sess.get(self.w)
        self.sess.run(step, {self.x: x})
        np.testing.assert_allclose(self.sess.get(self.w), before - 0.1 * 2 * (before - 1))


@pytest.fixture
def m() -> Regression:
    return Regression()


@documents("staticgraph", "`minimize` of a non-scalar loss", "no variable gets a gradient")
def test_minimize_misuse(m):
    opt = sg.train.MomentumOptimizer(0.1, 0.9)
    with m.graph.as_default():
        vector = sg.matmul(m.x, m.w)
        expect(sg.GradientError, lambda: opt.minimize(vector), "loss must be a scalar", "(None,)")
        expect(sg.GradientError, lambda: opt.minimize(m.loss, [m.unused]),
               "no gradients for any variable", "'unused'")
    m.good_step()


@documents("staticgraph", "a `var_list` / `apply_gradients` entry that is not a variable",
           "one variable twice in `grads_and_vars`")
def test_var_lists_and_grads_and_vars(m):
    opt = sg.train.GradientDescentOptimizer(0.1)
    with m.graph.as_default():
        expect(sg.GraphError, lambda: opt.minimize(m.loss, [m.x]), "is not a sg.Variable")
        (g,) = sg.gradients(m.loss, [m.w])
        expect(sg.GraphError, lambda: opt.apply_gradients([(g, m.w), (g, m.w)]),
               "'w' appears twice")
    m.good_step()


@documents("staticgraph", "a bad hyper-parameter")
@pytest.mark.parametrize("make, part", [
    (lambda: sg.train.GradientDescentOptimizer(-1.0), "learning rate"),
    (lambda: sg.train.MomentumOptimizer(0.1, -0.5), "momentum"),
    (lambda: sg.train.AdamOptimizer(beta1=1.0), "beta1"),
    (lambda: sg.train.AdamOptimizer(epsilon=-1.0), "epsilon")])
def test_bad_hyper_parameters(m, make, part):
    expect(ValueError, make, part)
    m.good_step()


@documents("staticgraph", "a layer input whose last dim is unknown, or not float")
def test_layer_inputs(m):
    with m.graph.as_default():
        unknown = sg.placeholder((2, None), F64)
        ints = sg.placeholder((2, 3), "int64")
        expect(sg.ShapeError, lambda: sg.layers.dense(unknown, 4), "dense:", "last dim")
        expect(sg.DTypeError, lambda: sg.layers.dense(ints, 4), "dense:", "int64")
        y = sg.layers.dense(m.x, 3, name="ok")
    assert m.sess.run(y, {m.x: np.ones((5, 2))}).shape == (5, 3)
    m.good_step()


@pytest.fixture
def saved(m, tmp_path):
    """A checkpoint of m's variables (w = [1, 2]) and the values now in the session."""
    m.sess.set(m.w, np.array([1.0, 2.0]))
    path = sg.train.Saver().save(m.sess, tmp_path / "ckpt.npz")
    m.sess.set(m.w, np.array([5.0, 6.0]))
    return path


def _write(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


@documents("staticgraph", "the file's names differ from the variables'",
           "an array of another shape", "an array of another dtype",
           "not a readable .npz file")
@pytest.mark.parametrize("kind", ["names", "shape", "dtype", "junk", "truncated"])
def test_rejected_checkpoints_change_nothing(m, saved, tmp_path, kind):
    bad = tmp_path / f"{kind}.npz"
    if kind == "names":
        _write(bad, w=np.ones(2), other=np.ones(1))
    elif kind == "shape":
        _write(bad, w=np.ones(3), unused=np.zeros(1))
    elif kind == "dtype":
        _write(bad, w=np.ones(2, np.float32), unused=np.zeros(1))
    elif kind == "junk":
        bad.write_bytes(b"not a zip archive")
    else:
        bad.write_bytes(open(saved, "rb").read()[:40])
    saver = sg.train.Saver()
    reason = {"names": "does not match the variables", "shape": "has shape (2,)",
              "dtype": "holds float32", "junk": "cannot read", "truncated": "cannot read"}
    expect(sg.train.CheckpointError, lambda: saver.restore(m.sess, bad), "Saver.restore:",
           reason[kind])
    np.testing.assert_array_equal(m.sess.get(m.w), [5.0, 6.0])  # nothing was set
    saver.restore(m.sess, saved)
    np.testing.assert_array_equal(m.sess.get(m.w), [1.0, 2.0])
    m.good_step()
