"""sg.train additions: RMSPropOptimizer (TF1's rule, against NumPy), Saver with
max_to_keep and global_step, and latest_checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg


def _rmsprop_reference(w, grad_fn, steps, lr, decay, momentum, eps, centered):
    ms, mom, mg = np.ones_like(w), np.zeros_like(w), np.zeros_like(w)
    for _ in range(steps):
        g = grad_fn(w)
        ms = decay * ms + (1 - decay) * g * g
        denom = ms
        if centered:
            mg = decay * mg + (1 - decay) * g
            denom = ms - mg * mg
        mom = momentum * mom + lr * g / np.sqrt(denom + eps)
        w = w - mom
    return w


@pytest.mark.parametrize("backend", ["interpret", "numba"])
@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.9, False), (0.5, True)])
def test_rmsprop_matches_tf1_rule(backend, momentum, centered):
    target = np.array([1.0, -2.0, 3.0])
    w0 = np.array([0.5, 0.5, 0.5])
    graph = sg.Graph()
    with graph.as_default():
        w = sg.Variable(w0.copy(), name="w")
        loss = sg.reduce_sum((w - target) ** 2)
        opt = sg.train.RMSPropOptimizer(0.01, decay=0.9, momentum=momentum, epsilon=1e-6,
                                        centered=centered)
        train_op = opt.minimize(loss)
    with sg.Session(graph, backend=backend) as sess:
        for _ in range(20):
            sess.run(train_op)
        got = sess.get(w)
    expected = _rmsprop_reference(w0, lambda v: 2 * (v - target), 20, 0.01, 0.9, momentum,
                                  1e-6, centered)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    names = {v.name for v in sg.global_variables(graph)}
    assert {"w/RMSProp/rms", "w/RMSProp/momentum"} <= names
    assert ("w/RMSProp/mg" in names) == centered


def test_rmsprop_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="decay"):
        sg.train.RMSPropOptimizer(0.1, decay=1.5)
    with pytest.raises(ValueError, match="learning rate"):
        sg.train.RMSPropOptimizer(-0.1)


def _counter_model():
    graph = sg.Graph()
    with graph.as_default():
        w = sg.Variable(np.zeros(2), name="w")
        step = sg.Variable(np.int64(0), name="global_step", trainable=False)
        bump = sg.group(sg.assign_add(w, np.ones(2)), sg.assign_add(step, np.int64(1)))
    return graph, w, step, bump


def test_saver_global_step_max_to_keep_and_latest_checkpoint(tmp_path):
    graph, w, step, bump = _counter_model()
    saver = sg.train.Saver(max_to_keep=2)
    assert sg.train.latest_checkpoint(tmp_path) is None
    with sg.Session(graph) as sess:
        paths = []
        for _ in range(4):
            sess.run(bump)
            paths.append(saver.save(sess, tmp_path / "model", global_step=step))
    assert [p.rsplit("/", 1)[-1] for p in paths] == [f"model-{i}.npz" for i in (1, 2, 3, 4)]
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["model-3.npz", "model-4.npz"]
    assert saver.last_checkpoints == paths[2:]
    latest = sg.train.latest_checkpoint(tmp_path)
    assert latest == paths[-1]
    state = (tmp_path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "model-4.npz"' in state
    with sg.Session(graph) as sess:
        saver.restore(sess, latest)
        np.testing.assert_array_equal(sess.get(w), [4.0, 4.0])
        assert sess.get(step) == 4


def test_saver_int_global_step_and_keep_all(tmp_path):
    graph, w, step, bump = _counter_model()
    saver = sg.train.Saver(max_to_keep=None)
    with sg.Session(graph) as sess:
        for i in range(7):
            saver.save(sess, str(tmp_path / "ckpt"), global_step=i * 10)
    assert len(list(tmp_path.glob("*.npz"))) == 7
    assert sg.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-60.npz")
    with pytest.raises(ValueError, match="max_to_keep"):
        sg.train.Saver(max_to_keep=-1)
