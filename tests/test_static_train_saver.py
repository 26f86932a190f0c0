"""sg.train.Saver: a .npz round trip (optimizer slots included) and the errors
for files whose names, shapes or dtypes do not match."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.train import CheckpointError


def _model(shape=(3, 2), dtype="float64", extra: bool = False) -> dict:
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder((None, shape[0]), dtype, name="x")
        y = sg.layers.dense(x, shape[1], kernel_initializer=sg.initializers.normal(seed=1))
        if extra:
            sg.Variable(np.zeros(1, dtype), name="extra")
        loss = sg.reduce_sum(y * y)
        train_op = sg.train.AdamOptimizer(0.1).minimize(loss)
    return {"graph": graph, "x": x, "loss": loss, "op": train_op}


def _train(m: dict, sess, steps: int) -> list:
    feed = {m["x"]: np.ones((4, m["x"].shape[1]), m["x"].dtype)}
    return [sess.run([m["loss"], m["op"]], feed)[0] for _ in range(steps)]


def test_round_trip_restores_weights_and_slots(tmp_path):
    m = _model()
    saver = sg.train.Saver()
    with sg.Session(m["graph"]) as sess:
        _train(m, sess, 3)
        path = saver.save(sess, tmp_path / "ckpt")
        after_save = _train(m, sess, 4)
    assert path.endswith("ckpt.npz")
    stored = np.load(path)
    assert sorted(stored.files) == sorted(v.name for v in sg.global_variables(m["graph"]))
    assert "dense/kernel/Adam/m" in stored.files and stored["Adam/step"] == 3.0
    with sg.Session(m["graph"]) as fresh:
        saver.restore(fresh, path)
        for v in sg.global_variables(m["graph"]):
            np.testing.assert_array_equal(fresh.get(v), stored[v.name])
        # the restored session continues exactly where the saved one was
        np.testing.assert_array_equal(_train(m, fresh, 4), after_save)


def test_var_list_and_renaming(tmp_path):
    m = _model()
    kernel, bias = sg.trainable_variables(m["graph"])
    with sg.Session(m["graph"]) as sess:
        path = sg.train.Saver({"k": kernel}).save(sess, tmp_path / "k.npz")
        assert np.load(path).files == ["k"]
        sg.train.Saver([kernel, bias]).save(sess, tmp_path / "kb")
        sess.set(kernel, np.zeros((3, 2)))
        sg.train.Saver({"k": kernel}).restore(sess, path)
        np.testing.assert_array_equal(sess.get(kernel),
                                      sg.initializers.normal(seed=1)((3, 2), np.float64))
    assert sorted(np.load(tmp_path / "kb.npz").files) == ["dense/bias", "dense/kernel"]


def test_restore_rejects_other_names(tmp_path):
    m, other = _model(), _model(extra=True)
    with sg.Session(other["graph"]) as sess:
        path = sg.train.Saver().save(sess, tmp_path / "other")
    with sg.Session(m["graph"]) as sess:
        before = sess.get(sg.trainable_variables(m["graph"])[0])
        with pytest.raises(CheckpointError, match=r"not in the graph \['extra'\]"):
            sg.train.Saver().restore(sess, path)
        np.testing.assert_array_equal(sess.get(sg.trainable_variables(m["graph"])[0]), before)
    with sg.Session(other["graph"]) as sess:
        with pytest.raises(CheckpointError, match=r"missing from the file \['extra'\]"):
            sg.train.Saver().restore(sess, sg.train.Saver().save(
                sg.Session(m["graph"]), tmp_path / "small"))


def test_restore_rejects_other_shapes_and_dtypes(tmp_path):
    with sg.Session(_model(shape=(4, 2))["graph"]) as sess:
        wide = sg.train.Saver().save(sess, tmp_path / "wide")
    with sg.Session(_model(dtype="float32")["graph"]) as sess:
        single = sg.train.Saver().save(sess, tmp_path / "single")
    m = _model()
    with sg.Session(m["graph"]) as sess:
        with pytest.raises(CheckpointError,
                           match=r"'dense/kernel' has shape \(3, 2\), but .* holds shape "
                                 r"\(4, 2\)"):
            sg.train.Saver().restore(sess, wide)
        with pytest.raises(CheckpointError, match="has dtype float64, but .* holds float32"):
            sg.train.Saver().restore(sess, single)
    assert issubclass(CheckpointError, sg.GraphError) and issubclass(CheckpointError, ValueError)


def test_restore_rejects_missing_and_unreadable_files(tmp_path):
    m = _model()
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with sg.Session(m["graph"]) as sess:
        with pytest.raises(FileNotFoundError, match="no checkpoint file"):
            sg.train.Saver().restore(sess, tmp_path / "absent")
        with pytest.raises(CheckpointError, match="cannot read .* not a zip archive"):
            sg.train.Saver().restore(sess, tmp_path / "junk.npz")
        np.save(tmp_path / "array.npy", np.ones(2))  # an .npy renamed .npz
        (tmp_path / "array.npy").rename(tmp_path / "array.npz")
        with pytest.raises(CheckpointError, match="cannot read"):
            sg.train.Saver().restore(sess, tmp_path / "array.npz")
    with pytest.raises(sg.GraphError, match="is not a sg.Variable"):
        sg.train.Saver([m["loss"]])
