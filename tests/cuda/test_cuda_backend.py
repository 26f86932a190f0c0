"""backend="cuda" end to end: the tutorial step, an RNN trained with scan/BPTT,
variables kept on the device, buffers reused, explain(), errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import staticgraph as sg
from comparisons import tutorial
from comparisons.rnn import models as rm
from comparisons.rnn import numpy_steps as rn
from comparisons.tutorial import static as tutorial_static
from staticgraph.cuda_backend import arrays, device
from staticgraph.cuda_backend.arrays import DeviceValue

pytestmark = pytest.mark.cudasim
TINY = dataclasses.replace(tutorial.TutorialSize(), N=4, D_in=6, H=5, D_out=3, steps=3, lr=1e-3)


def test_tutorial_step_matches_interpreter():
    data = tutorial.make_data(TINY)
    want = tutorial_static.train_static(TINY, data, backend="interpret")
    got = tutorial_static.train_static(TINY, data, backend="cuda")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[-1] < got[0]


def _tutorial_session(backend: str):
    built = tutorial_static.build(TINY, tutorial.make_data(TINY))
    sess = sg.Session(built["graph"], backend=backend)
    return built, sess


@pytest.mark.parametrize("cell", ["tanh", "lstm"])
def test_rnn_scan_bptt_training_matches_interpreter(cell):
    rng = np.random.default_rng(0)
    params = rn.init_params(cell, 2, 3, rng)
    xs, ys = rng.standard_normal((2, 2, 2)), rng.standard_normal((2, 2, 1))
    ref = rm.StaticRNN(cell, params, batch=2, backend="interpret", lr=0.1)
    gpu = rm.StaticRNN(cell, params, batch=2, backend="cuda", lr=0.1)
    loss_r, grads_r = ref.loss_and_grads(xs, ys)
    loss_g, grads_g = gpu.loss_and_grads(xs, ys)
    assert loss_g == pytest.approx(loss_r, rel=1e-12)
    for k in rm.PARAMS:
        np.testing.assert_allclose(grads_g[k], grads_r[k], rtol=1e-10, atol=1e-14)
    assert gpu.train_step(xs, ys) == pytest.approx(ref.train_step(xs, ys), rel=1e-12)
    for k, var in gpu.vars.items():
        np.testing.assert_allclose(gpu.session.get(var), ref.session.get(ref.vars[k]),
                                   rtol=1e-10, atol=1e-14)


def test_variables_stay_on_the_device(monkeypatch):
    built, sess = _tutorial_session("cuda")
    feed = {built["x"]: tutorial.make_data(TINY)["x"], built["y"]: tutorial.make_data(TINY)["y"]}
    sess.run([built["loss"], built["updates"]], feed_dict=feed)
    w1 = built["w1"].var
    assert isinstance(sess.state[w1], DeviceValue)
    storage = sess.state[w1].array
    downloads, uploads = [], []
    real_down, real_up = arrays.download, arrays.upload
    monkeypatch.setattr(arrays, "download", lambda a: downloads.append(a) or real_down(a))
    monkeypatch.setattr(arrays, "upload", lambda h, into=None: uploads.append(h) or
                        real_up(h, into))
    for _ in range(2):
        sess.run([built["loss"], built["updates"]], feed_dict=feed)
    assert len(downloads) == 2 and len(uploads) == 4  # per call: 1 fetch, 2 feeds
    assert sess.state[w1].array is storage  # updated in place on the device
    before = sess.get(built["w1"])
    sess.set(built["w1"], before * 0)  # a host value is uploaded on the next run
    sess.run(built["updates"], feed_dict=feed)
    assert isinstance(sess.state[w1], DeviceValue)
    assert not np.allclose(sess.get(built["w1"]), before)


def test_second_call_allocates_nothing(monkeypatch):
    built, sess = _tutorial_session("cuda")
    data = tutorial.make_data(TINY)
    feed = {built["x"]: data["x"], built["y"]: data["y"]}
    sess.run([built["loss"], built["updates"]], feed_dict=feed)
    sess.run([built["loss"], built["updates"]], feed_dict=feed)
    made = []
    real = arrays.empty
    monkeypatch.setattr(arrays, "empty", lambda *a: made.append(a) or real(*a))
    sess.run([built["loss"], built["updates"]], feed_dict=feed)
    assert made == []


def test_function_with_updates_and_explain():
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((None, 3), "float32", name="x")
        w = sg.Variable(np.ones(3, np.float32), name="w")
        loss = sg.sum(sg.softmax(x * w) * x) + sg.sum(x[:, np.array([0, 2])] * w[:2])
        (gw,) = sg.gradients(loss, [w])
    f = sg.function([x], loss, updates=[(w, w - 0.5 * gw)], backend="cuda")
    ref = sg.function([x], loss, updates=[(w, w - 0.5 * gw)], backend="interpret")
    xv = np.arange(6, dtype=np.float32).reshape(2, 3) / 6
    for _ in range(2):
        assert f(xv) == pytest.approx(ref(xv), rel=1e-5)
    np.testing.assert_allclose(f.get(w), ref.get(w), rtol=1e-5)
    text = f.explain(file=open("/dev/null", "w"))
    assert f"backend: cuda on {device.device_name()}" in text
    assert "softmax" in text and "kernels max, exp + sum, exp / sum" in text
    assert "getitem" in text and "HOST FALLBACK" in text  # integer-array indexing
    assert "kernel k_" in text and "memory plan" in text
    assert "cuda.grid(1)" in f.runner.source and "cuda.shared.array" in f.runner.source


def test_check_numerics_names_the_op():
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((2,), "float64", name="x")
        y = sg.log(x) * 2.0
    with sg.Session(g, backend="cuda", check_numerics=True) as sess:
        with pytest.raises(sg.NumericsError, match="backend cuda"):
            sess.run(y, feed_dict={x: np.array([1.0, -1.0])})


@pytest.mark.skipif(not device.simulator_enabled(), reason="simulator only")
def test_simulator_is_not_a_gpu_unless_opted_in(monkeypatch):
    monkeypatch.setattr(device, "_allow_sim", False)
    monkeypatch.delenv(device.SIMULATOR_ENV, raising=False)
    assert not sg.cuda_available()
    with pytest.raises(sg.BackendError, match="backend 'cuda' needs a usable NVIDIA GPU"):
        sg.Session(sg.Graph(), backend="cuda")
    monkeypatch.setenv(device.SIMULATOR_ENV, "1")
    assert sg.cuda_available()


@pytest.mark.gpu
def test_real_gpu_reports_its_name():
    assert sg.cuda_available()
    assert "simulator" not in device.device_name().lower()


def test_fetching_an_updated_variable_gives_the_value_before_the_update():
    g = sg.Graph()
    with g.as_default():
        a = sg.Variable(np.array([1.0, 2.0]), name="a")
        b = sg.Variable(np.array([10.0, 20.0]), name="b")
        swap = sg.group(sg.assign(a, b), sg.assign(b, a))  # both read the old values
    for backend in ("interpret", "cuda"):
        with sg.Session(g, backend=backend) as sess:
            old_a, _ = sess.run([a, swap])
            np.testing.assert_array_equal(old_a, [1.0, 2.0])
            np.testing.assert_array_equal(sess.get(a), [10.0, 20.0])
            np.testing.assert_array_equal(sess.get(b), [1.0, 2.0])


def test_auto_picks_cuda_where_it_is_available():
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((None,), "float32", name="x")
        y = sg.sum(sg.exp(x) * 2.0)
    f = sg.function([x], y, backend="auto")
    assert type(f.runner).__name__ == "CudaRunner"
    xv = np.linspace(-1, 1, 7, dtype=np.float32)
    assert f(xv) == pytest.approx(float(np.sum(np.exp(xv) * 2)), rel=1e-6)
