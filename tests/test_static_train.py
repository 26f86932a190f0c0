"""sg.train optimizers: the same trajectories as dg.optim (float64, 100 steps),
minimize on every backend agrees with the interpreter, compute/apply_gradients,
slots and variable collections, and misuse errors."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

RNG = np.random.default_rng(7)
X, Y = RNG.standard_normal((16, 5)), RNG.standard_normal((16, 3))
INIT = {"w1": sg.initializers.glorot_uniform(seed=1)((5, 8), np.float64),
        "b1": sg.initializers.normal(0.1, seed=2)((8,), np.float64),
        "w2": sg.initializers.glorot_uniform(seed=3)((8, 3), np.float64),
        "b2": np.zeros(3)}
STEPS = 100

# (name, dg optimizer factory, sg optimizer factory)
OPTIMIZERS = [
    ("sgd", lambda ps: dg.optim.SGD(ps, lr=0.1),
     lambda: sg.train.GradientDescentOptimizer(0.1)),
    ("momentum", lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.9),
     lambda: sg.train.MomentumOptimizer(0.05, 0.9)),
    ("nesterov", lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
     lambda: sg.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True)),
    ("adam", lambda ps: dg.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
     lambda: sg.train.AdamOptimizer(0.01, beta1=0.8, beta2=0.99, epsilon=1e-6)),
    ("adam-defaults", lambda ps: dg.optim.Adam(ps), lambda: sg.train.AdamOptimizer()),
]


def train_dyngraph(make_opt, steps: int = STEPS, dtype=np.float64):
    """A two-layer tanh net with an MSE loss; returns (losses, final weights)."""
    params = {k: dg.tensor(v.astype(dtype), requires_grad=True) for k, v in INIT.items()}
    opt = make_opt(list(params.values()))
    x, y = dg.tensor(X.astype(dtype)), dg.tensor(Y.astype(dtype))
    losses = []
    for _ in range(steps):
        h = (x.matmul(params["w1"]) + params["b1"]).tanh()
        diff = h.matmul(params["w2"]) + params["b2"] - y
        loss = (diff * diff).mean()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(losses), {k: p.detach().numpy() for k, p in params.items()}


def build_static(optimizer, dtype=np.float64) -> dict:
    graph = sg.Graph()
    with graph.as_default():
        x = sg.placeholder((None, 5), dtype, name="x")
        y = sg.placeholder((None, 3), dtype, name="y")
        params = {k: sg.Variable(v.astype(dtype), name=k) for k, v in INIT.items()}
        h = sg.tanh(sg.matmul(x, params["w1"]) + params["b1"])
        diff = sg.matmul(h, params["w2"]) + params["b2"] - y
        loss = sg.reduce_mean(diff * diff)
        train_op = optimizer.minimize(loss) if optimizer is not None else None
    return {"graph": graph, "x": x, "y": y, "params": params, "loss": loss, "op": train_op}


def train_static(optimizer, steps: int = STEPS, dtype=np.float64, backend="interpret"):
    m = build_static(optimizer, dtype)
    feed = {m["x"]: X.astype(dtype), m["y"]: Y.astype(dtype)}
    losses = []
    with sg.Session(m["graph"], backend=backend) as sess:
        for _ in range(steps):
            loss, _ = sess.run([m["loss"], m["op"]], feed)
            losses.append(loss)
        weights = {k: sess.get(v) for k, v in m["params"].items()}
    return np.array(losses), weights


@pytest.mark.parametrize("name, make_dg, make_sg", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_trajectory_equals_dyngraph(name, make_dg, make_sg):
    dyn_losses, dyn_weights = train_dyngraph(make_dg)
    static_losses, static_weights = train_static(make_sg())
    np.testing.assert_allclose(static_losses, dyn_losses, rtol=1e-10)
    for k in INIT:
        np.testing.assert_allclose(static_weights[k], dyn_weights[k], rtol=1e-10, atol=1e-13)
    assert dyn_losses[-1] < 0.7 * dyn_losses[0]  # it trains


@pytest.mark.parametrize("name, make_dg, make_sg", OPTIMIZERS[1::2],
                         ids=[o[0] for o in OPTIMIZERS[1::2]])
def test_float32_trajectory_close_to_dyngraph(name, make_dg, make_sg):
    dyn_losses, _ = train_dyngraph(make_dg, steps=20, dtype=np.float32)
    static_losses, weights = train_static(make_sg(), steps=20, dtype=np.float32)
    assert all(w.dtype == np.float32 for w in weights.values())
    np.testing.assert_allclose(static_losses, dyn_losses, rtol=1e-5)


def _backends() -> list[str]:
    return [name for name in sg.backend_names() if not name.endswith("-test")]


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("name, make_dg, make_sg", OPTIMIZERS[::2],
                         ids=[o[0] for o in OPTIMIZERS[::2]])
def test_minimize_on_every_backend_agrees_with_the_interpreter(backend, name, make_dg,
                                                                make_sg):
    try:
        sg.get_backend(backend)
    except sg.BackendError as exc:
        pytest.skip(f"backend {backend!r} unavailable: {exc}")
    ref_losses, ref_weights = train_static(make_sg(), steps=10)
    losses, weights = train_static(make_sg(), steps=10, backend=backend)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
    for k in INIT:
        np.testing.assert_allclose(weights[k], ref_weights[k], rtol=1e-10, atol=1e-13)


def test_minimize_returns_one_op_of_assigns_and_slots_are_not_trainable():
    opt = sg.train.AdamOptimizer()
    m = build_static(opt)
    assert isinstance(m["op"], sg.Operation)
    graph = m["graph"]
    assert [v.name for v in sg.trainable_variables(graph)] == ["w1", "b1", "w2", "b2"]
    names = [v.name for v in sg.global_variables(graph)]
    assert names[4] == "Adam/step" and "w1/Adam/m" in names and "b2/Adam/v" in names
    assert len(names) == 4 + 1 + 2 * 4
    assert opt.get_slot(m["params"]["w1"], "m").shape == (5, 8)
    assert opt.get_slot_names() == ["m", "step", "v"] and len(opt.variables()) == 9
    prims = [e.prim.name for e in graph.eqns]
    assert prims.count("assign") == 4 + 1 + 2 * 4 and prims.count("group") == 1
    with graph.as_default():
        assert len(sg.trainable_variables()) == 4 and len(sg.global_variables()) == 13


def test_compute_and_apply_gradients_with_clipping_matches_dyngraph():
    def clip(g):
        return np.clip(g, -0.05, 0.05)
    params = {k: dg.tensor(v, requires_grad=True) for k, v in INIT.items()}
    opt = dg.optim.SGD(list(params.values()), lr=0.1, momentum=0.5)
    x, y = dg.tensor(X), dg.tensor(Y)
    dyn_losses = []
    for _ in range(20):
        h = (x.matmul(params["w1"]) + params["b1"]).tanh()
        diff = h.matmul(params["w2"]) + params["b2"] - y
        loss = (diff * diff).mean()
        dyn_losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        for p in params.values():
            p.grad = dg.tensor(clip(p.grad.numpy()))
        opt.step()
    optimizer = sg.train.MomentumOptimizer(0.1, 0.5)
    m = build_static(None)
    with m["graph"].as_default():
        pairs = optimizer.compute_gradients(m["loss"], list(m["params"].values()))
        assert [v.name for _, v in pairs] == ["w1", "b1", "w2", "b2"]
        clipped = [(sg.clip_by_value(g, -0.05, 0.05), v) for g, v in pairs]
        step = sg.Variable(np.int64(0), name="global_step", trainable=False)
        train_op = optimizer.apply_gradients(clipped, global_step=step)
    feed = {m["x"]: X, m["y"]: Y}
    with sg.Session(m["graph"]) as sess:
        static_losses = [sess.run([m["loss"], train_op], feed)[0] for _ in range(20)]
        assert sess.get(step) == 20
    np.testing.assert_allclose(static_losses, dyn_losses, rtol=1e-10)


def test_learning_rate_can_be_a_placeholder():
    graph = sg.Graph()
    with graph.as_default():
        w = sg.Variable(np.array([1.0, -2.0]), name="w")
        lr = sg.placeholder((), "float64", name="lr")
        loss = sg.reduce_sum(w * w)
        train_op = sg.train.GradientDescentOptimizer(lr).minimize(loss)
        adam_op = sg.train.AdamOptimizer(sg.cast(lr, "float32")).minimize(loss)
    with sg.Session(graph) as sess:
        sess.run(train_op, {lr: 0.25})
        np.testing.assert_allclose(sess.get(w), [0.5, -1.0])
        sess.run(train_op, {lr: 0.0})
        np.testing.assert_allclose(sess.get(w), [0.5, -1.0])
        sess.run(adam_op, {lr: 0.1})  # first Adam step moves each weight by ~lr
        np.testing.assert_allclose(sess.get(w), [0.4, -0.9], rtol=1e-6)


def test_unconnected_variables_keep_still_and_errors_are_clear():
    graph = sg.Graph()
    with graph.as_default():
        w = sg.Variable(np.ones(2), name="w")
        unused = sg.Variable(np.ones(2), name="unused")
        loss = sg.reduce_sum(w * w)
        opt = sg.train.MomentumOptimizer(0.1, 0.9)
        train_op = opt.minimize(loss)
        assert opt.get_slot(unused, "momentum") is None  # no gradient: no slot, no update
        with pytest.raises(sg.GradientError, match="no gradients for any variable"):
            opt.minimize(loss, var_list=[unused])
        with pytest.raises(sg.GradientError, match="must be a scalar"):
            opt.minimize(w * 2.0)
        with pytest.raises(sg.GraphError, match="is not a sg.Variable"):
            opt.minimize(loss, var_list=[w * 1.0])
        g = sg.gradients(loss, w)[0]
        with pytest.raises(sg.GraphError, match="appears twice"):
            opt.apply_gradients([(g, w), (g, w)])
        with pytest.raises(sg.GraphError, match="pairs"):
            opt.apply_gradients([g])
    with pytest.raises(ValueError, match="learning rate"):
        sg.train.GradientDescentOptimizer(-1.0)
    with pytest.raises(ValueError, match="beta1"):
        sg.train.AdamOptimizer(beta1=1.0)
    with sg.Session(graph) as sess:
        sess.run(train_op)
        np.testing.assert_allclose(sess.get(unused), [1.0, 1.0])
        np.testing.assert_allclose(sess.get(w), [0.8, 0.8])


def test_minimize_works_through_sg_function_too():
    m = build_static(sg.train.AdamOptimizer(0.01))
    step = sg.function([m["x"], m["y"]], [m["loss"], m["op"]])
    losses = [step(X, Y)[0] for _ in range(5)]
    ref, _ = train_static(sg.train.AdamOptimizer(0.01), steps=5)
    np.testing.assert_allclose(losses, ref, rtol=1e-12)
