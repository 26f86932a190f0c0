"""The tutorial net (relu MLP, sum-of-squares loss, SGD) built for placement tests:
in one place, model-parallel (a layer per worker), or replicated (a tower per
worker on its half of the batch, gradients summed with add_n on worker:0)."""

from __future__ import annotations

import numpy as np

import staticgraph as sg

N, D_IN, H, D_OUT, LR = 8, 6, 5, 3, 1e-2


def data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((N, D_IN)), "y": rng.standard_normal((N, D_OUT)),
            "w1": rng.standard_normal((D_IN, H)) * 0.3, "w2": rng.standard_normal((H, D_OUT)) * 0.3}


def _forward(x, w1, w2):
    return sg.matmul(sg.relu(sg.matmul(x, w1)), w2)


def build(mode: str, init: dict) -> dict:
    """Symbols of the net: mode 'single', 'model_parallel' or 'replicated'."""
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder(sg.float64, [N, D_IN], name="x")
        y = sg.placeholder(sg.float64, [N, D_OUT], name="y")
        if mode == "replicated":
            with sg.device("worker:0"):
                w1 = sg.Variable(init["w1"], name="w1")
                w2 = sg.Variable(init["w2"], name="w2")
            losses, grads = [], []
            for k, rows in enumerate((slice(0, N // 2), slice(N // 2, N))):
                with sg.device(f"worker:{k}"):
                    err = _forward(x[rows], w1, w2) - y[rows]
                    losses.append(sg.reduce_sum(err * err))
                    grads.append(sg.gradients(losses[-1], [w1, w2]))
            with sg.device("worker:0"):
                loss = sg.add_n(losses)
                g1, g2 = (sg.add_n([tower[i] for tower in grads]) for i in range(2))
        else:
            place = mode == "model_parallel"
            with sg.device("worker:0" if place else None):
                w1 = sg.Variable(init["w1"], name="w1")
                h = sg.relu(sg.matmul(x, w1))
            with sg.device("worker:1" if place else None):
                w2 = sg.Variable(init["w2"], name="w2")
                err = sg.matmul(h, w2) - y
                loss = sg.reduce_sum(err * err)
            g1, g2 = sg.gradients(loss, [w1, w2])
        train = sg.group(sg.assign_sub(w1, LR * g1), sg.assign_sub(w2, LR * g2))
    return {"graph": g, "x": x, "y": y, "w1": w1, "w2": w2, "loss": loss, "train": train}


def train(sess, net: dict, d: dict, steps: int) -> list:
    feed = {net["x"]: d["x"], net["y"]: d["y"]}
    return [float(sess.run([net["loss"], net["train"]], feed)[0]) for _ in range(steps)]


def reference(d: dict, steps: int) -> tuple[list, dict]:
    """Losses and final weights of the single-process run."""
    net = build("single", d)
    with sg.Session(net["graph"]) as sess:
        losses = train(sess, net, d, steps)
        return losses, {"w1": sess.get(net["w1"]), "w2": sess.get(net["w2"])}
