"""Static (staticgraph) models for the comparison scenarios, trained with `sg.train`.

No hand-written update ops: each model builds its loss and asks an optimizer
for the update (`optimizer.minimize(loss)`), as a TensorFlow 1.x user would.
`tutorial/static.py` stays the faithful copy of the TF1 tutorial (which
writes its `assign` updates by hand); the variants here are what the other
scenarios register:

- `train_tutorial_minimize(size, data, backend)`: the tutorial net with
  `GradientDescentOptimizer(lr).minimize(loss)`; the same losses as
  `tutorial.train_numpy` (plain SGD: `w - lr * grad`).
- `dynamic_net_setup(problem, backend)`: DynamicNet with the depth as a fed
  scalar driving a chain of `sg.cond`s that reuse one middle layer, trained
  with `MomentumOptimizer`. Like `torch.optim.SGD`, a layer the drawn depth
  does not use keeps still (its momentum buffer too): the model has two
  update ops from one optimizer (so they share the momentum slots), and each
  step runs the one that matches the depth.
- `lstm_regressor(...)`: an LSTM (`sg.layers.LSTMCell`) over a sequence and
  a dense head, trained with Adam; unrolled per length, or with `sg.scan`
  when staticgraph has it. For the RNN scenario.

None of these modules assign `SCENARIO`: the scenario modules import them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

import staticgraph as sg

from .framework import Prepared

# ---- tutorial: two-layer net, plain SGD ----------------------------------------------

def build_tutorial(size, data: dict) -> dict:
    """The tutorial's graph with `GradientDescentOptimizer.minimize` for the update."""
    from .tutorial.static import tutorial_loss
    graph = sg.Graph("tutorial-minimize")
    with graph.as_default():
        g = tutorial_loss(size, data)
        train_op = sg.train.GradientDescentOptimizer(size.lr).minimize(g["loss"])
    return {"graph": graph, "updates": train_op, **g}


def train_tutorial_timed(size, data: dict, backend: str = "interpret") -> dict:
    """Losses, plus build and first-run seconds (the closed-loop contract)."""
    from .tutorial.static import train_static_timed
    return train_static_timed(size, data, backend, build_fn=build_tutorial)


def train_tutorial_minimize(size, data: dict, backend: str = "interpret") -> list[float]:
    """`tutorial.VARIANTS`' signature: the loss at each step."""
    return train_tutorial_timed(size, data, backend)["losses"]


def tutorial_loop(backend: str = "interpret") -> Callable:
    """A closed loop `(problem, steps) -> {...}` for `comparisons.tutorial`."""
    import dataclasses

    def loop(problem, steps: int) -> dict:
        return train_tutorial_timed(dataclasses.replace(problem.size, steps=steps),
                                    problem.data, backend)
    return loop


# ---- DynamicNet: depth-driven cond chain, momentum SGD --------------------------------

LAYERS = ("input_linear", "middle_linear", "output_linear")


def _linear(h, w: dict, name: str):
    """torch.nn.Linear's layout: h @ weight.T + bias."""
    return sg.matmul(h, w[name + ".weight"], transpose_b=True) + w[name + ".bias"]


def build_dynamic_net(problem) -> dict:
    """DynamicNet's graph: depth is a fed int64 scalar; `max_depth` conds reuse
    the middle layer; two update ops (all layers / without the middle one)."""
    s = problem.size
    graph = sg.Graph("dynamic_net")
    with graph.as_default():
        x = sg.placeholder((None, s.d_in), problem.dtype, name="x")
        y = sg.placeholder((None, s.d_out), problem.dtype, name="y")
        depth = sg.placeholder((), "int64", name="depth")
        w = {k: sg.Variable(v, name=k) for k, v in problem.params.items()}
        h = sg.relu(_linear(x, w, "input_linear"))
        for k in range(s.max_depth):
            h = sg.cond(depth > k, lambda h=h: sg.relu(_linear(h, w, "middle_linear")),
                        lambda h=h: h)
        diff = _linear(h, w, "output_linear") - y
        loss = sg.reduce_sum(diff * diff)
        optimizer = sg.train.MomentumOptimizer(s.lr, s.momentum)
        pairs = optimizer.compute_gradients(loss, list(w.values()))
        update_all = optimizer.apply_gradients(pairs, name="update_all")
        update_outer = optimizer.apply_gradients(
            [(g, v) for g, v in pairs if not v.name.startswith("middle")], name="update_outer")
    return {"graph": graph, "x": x, "y": y, "depth": depth, "loss": loss,
            "update_all": update_all, "update_outer": update_outer}


def dynamic_net_setup(problem, backend: str = "interpret") -> Prepared:
    """A step-based variant for `comparisons.dynamic_net` (same losses as dyngraph)."""
    start = time.perf_counter()
    m = build_dynamic_net(problem)
    built = time.perf_counter()
    inputs = [m["x"], m["y"], m["depth"]]
    sess = sg.Session(m["graph"], backend=backend)  # one state for both update ops
    run_all = sg.function(inputs, [m["loss"], m["update_all"]], backend=backend, session=sess)
    run_outer = sg.function(inputs, [m["loss"], m["update_outer"]], backend=backend,
                            session=sess)
    compiled = time.perf_counter()
    rng, losses = problem.depths(), []

    def step() -> None:
        depth = problem.draw(rng)
        run = run_all if depth else run_outer
        loss, _ = run(problem.x, problem.y, np.int64(depth))
        losses.append(float(loss))
    return Prepared(step, values=lambda: losses, build_s=built - start,
                    compile_s={"compile": compiled - built})


# ---- LSTM regressor: for the RNN scenario --------------------------------------------

def lstm_regressor(steps: int | None, batch: int, inputs: int, units: int, dtype="float64",
                   use_scan: bool = False, learning_rate: float = 0.01,
                   seed: int = 0) -> dict:
    """An LSTM over a (time, batch, inputs) sequence, a dense head on the last h,
    squared error against (batch, 1) targets, and an Adam update op.

    Unrolled (`use_scan=False`): `steps` is fixed and the graph has one cell
    call per step (a new graph per length). With `use_scan=True` one graph
    runs any length (the time dim is None); it needs `sg.scan`.
    """
    graph = sg.Graph("lstm")
    with graph.as_default():
        xs = sg.placeholder((None if use_scan else steps, batch, inputs), dtype, name="xs")
        target = sg.placeholder((batch, 1), dtype, name="target")
        cell = sg.layers.LSTMCell(units, input_size=inputs, dtype=dtype,
                                  kernel_initializer=sg.initializers.glorot_uniform(seed),
                                  recurrent_initializer=sg.initializers.glorot_uniform(
                                      seed + 1))
        state = cell.zero_state(batch, dtype)
        if use_scan:
            hs, _ = sg.scan(cell, xs, initializer=state)
            h = hs[-1]
        else:
            for t in range(steps):
                state = cell(state, xs[t])
            h = state[0]
        pred = sg.layers.dense(h, 1, kernel_initializer=sg.initializers.glorot_uniform(
            seed + 2), name="head")
        loss = sg.reduce_mean((pred - target) ** 2)
        train_op = sg.train.AdamOptimizer(learning_rate).minimize(loss)
    return {"graph": graph, "xs": xs, "target": target, "cell": cell, "pred": pred,
            "loss": loss, "train_op": train_op}
