"""The distributed tutorial step as one staticgraph, placed three ways.

The two-layer net (relu MLP, sum of squares, SGD): in one process
('single'); in-graph replicated ('replicated': a tower per worker on half
the batch, the variables and the summed gradients on worker:0); or
model-parallel ('model_parallel': the first layer on worker:0, the second
on worker:1). The "distributed" comparison and the distributed benchmark
both build it here.
"""

from __future__ import annotations

import numpy as np

import staticgraph as sg


def build_net(mode: str, data: dict, lr: float, dtype: np.dtype = np.float64) -> dict:
    """The tutorial step as a staticgraph: 'single', 'replicated' or 'model_parallel'.

    `data` holds x, y, w1, w2; returns the graph, the feed dict, the fetches of
    one SGD step ([loss, train op]) and the symbols x, y, w1, w2, loss, train.
    """
    g = sg.Graph(f"tutorial-{mode}")
    n = data["x"].shape[0]
    with g.as_default():
        x = sg.placeholder(dtype, data["x"].shape, name="x")
        y = sg.placeholder(dtype, data["y"].shape, name="y")
        if mode == "replicated":
            with sg.device("worker:0"):
                w1, w2 = sg.Variable(data["w1"], name="w1"), sg.Variable(data["w2"], name="w2")
            losses, grads = [], []
            for k, rows in enumerate((slice(0, n // 2), slice(n // 2, n))):
                with sg.device(f"worker:{k}"):  # tower k on its half of the batch
                    err = sg.matmul(sg.relu(sg.matmul(x[rows], w1)), w2) - y[rows]
                    losses.append(sg.sum(err * err))
                    grads.append(sg.gradients(losses[-1], [w1, w2]))
            with sg.device("worker:0"):
                loss = sg.add_n(losses)
                g1, g2 = (sg.add_n([tower[i] for tower in grads]) for i in range(2))
        else:
            place = mode == "model_parallel"
            with sg.device("worker:0" if place else None):
                w1 = sg.Variable(data["w1"], name="w1")
                h = sg.relu(sg.matmul(x, w1))
            with sg.device("worker:1" if place else None):
                w2 = sg.Variable(data["w2"], name="w2")
                err = sg.matmul(h, w2) - y
                loss = sg.sum(err * err)
            g1, g2 = sg.gradients(loss, [w1, w2])  # each where its op runs
        train = sg.group(sg.assign_sub(w1, lr * g1), sg.assign_sub(w2, lr * g2))
    return {"graph": g, "feed": {x: data["x"], y: data["y"]}, "fetch": [loss, train],
            "x": x, "y": y, "w1": w1, "w2": w2, "loss": loss, "train": train}
