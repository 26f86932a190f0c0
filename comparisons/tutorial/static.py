"""The tutorial's TensorFlow 1.x two-layer net, written with staticgraph.

The graph is built once: placeholders for x and y, variables w1 and w2
(initialised from the same seeded data as every other variant in
`comparisons.tutorial`), the loss, its symbolic gradients, and the two
`assign` updates grouped into one op. Then it runs `steps` times with feeds.
The losses equal `tutorial.train_numpy`'s at every step (float64, rtol 1e-10).
"""

from __future__ import annotations

import time

import staticgraph as sg

from ..harness.timing import compiled_ops_per_run


def tutorial_loss(size, data: dict) -> dict:
    """Placeholders x, y, variables w1, w2 and the loss, in the default graph."""
    dtype = data["x"].dtype
    x = sg.placeholder((None, size.D_in), dtype, name="x")
    y = sg.placeholder((None, size.D_out), dtype, name="y")
    w1 = sg.Variable(data["w1"], name="w1")
    w2 = sg.Variable(data["w2"], name="w2")
    h_relu = sg.relu(sg.matmul(x, w1))
    y_pred = sg.matmul(h_relu, w2)
    loss = sg.sum((y_pred - y) ** 2)
    return {"x": x, "y": y, "w1": w1, "w2": w2, "loss": loss}


def build(size, data: dict) -> dict:
    """The graph of one training step, in a fresh `sg.Graph`."""
    graph = sg.Graph("tutorial")
    with graph.as_default():
        g = tutorial_loss(size, data)
        w1, w2 = g["w1"], g["w2"]
        grad_w1, grad_w2 = sg.gradients(g["loss"], [w1, w2])
        new_w1 = sg.assign(w1, w1 - size.lr * grad_w1)
        new_w2 = sg.assign(w2, w2 - size.lr * grad_w2)
        updates = sg.group(new_w1, new_w2)
    return {"graph": graph, "updates": updates, **g}


def train_static_timed(size, data: dict, backend: str = "interpret", build_fn=None) -> dict:
    """Losses, plus build and first-run (compile) seconds. `build_fn(size, data)`
    makes the graph (default: `build`, the tutorial's hand-written assigns); it
    returns the symbols x, y, loss, updates and the graph."""
    start = time.perf_counter()
    g = (build_fn or build)(size, data)
    built = time.perf_counter()
    losses: list[float] = []
    feed = {g["x"]: data["x"], g["y"]: data["y"]}
    first = None
    with sg.Session(g["graph"], backend=backend) as sess:
        sess.run(sg.global_variables_initializer(g["graph"]))
        for _ in range(size.steps):
            loss_value, _ = sess.run([g["loss"], g["updates"]], feed_dict=feed)
            losses.append(float(loss_value))
            if first is None:
                first = time.perf_counter()
        ops = compiled_ops_per_run(sess)
    return {"losses": losses, "build_s": built - start, "ops_per_step": ops,
            "compile_s": {"first run": (first or built) - built}}


def train_static(size, data: dict, backend: str = "interpret") -> list[float]:
    """The same signature as the other tutorial variants: the loss at each step."""
    return train_static_timed(size, data, backend)["losses"]


def static_loop(backend: str = "interpret"):
    """A closed loop `(problem, steps) -> {losses, build_s, compile_s}` for the
    comparison framework (`comparisons.tutorial`)."""
    import dataclasses

    def loop(problem, steps: int) -> dict:
        size = dataclasses.replace(problem.size, steps=steps)
        return train_static_timed(size, problem.data, backend)
    return loop


VARIANTS = {"staticgraph-interpret": train_static}
