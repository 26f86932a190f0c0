"""The tutorial net (relu MLP, sum-of-squares loss, SGD) built for placement tests:
in one place, model-parallel (a layer per worker), or replicated (a tower per
worker on its half of the batch, gradients summed with add_n on worker:0)."""

from __future__ import annotations

import numpy as np

import staticgraph as sg
from comparisons.distributed.graph import build_net

N, D_IN, H, D_OUT, LR = 8, 6, 5, 3, 1e-2


def data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((N, D_IN)), "y": rng.standard_normal((N, D_OUT)),
            "w1": rng.standard_normal((D_IN, H)) * 0.3, "w2": rng.standard_normal((H, D_OUT)) * 0.3}


def build(mode: str, init: dict) -> dict:
    """Symbols of the net (`comparisons.distributed.graph.build_net`): mode 'single',
    'model_parallel' or 'replicated'."""
    shapes = {"x": np.zeros((N, D_IN)), "y": np.zeros((N, D_OUT))}
    return build_net(mode, {**shapes, **init}, LR)


def train(sess, net: dict, d: dict, steps: int) -> list:
    feed = {net["x"]: d["x"], net["y"]: d["y"]}
    return [float(sess.run([net["loss"], net["train"]], feed)[0]) for _ in range(steps)]


def reference(d: dict, steps: int) -> tuple[list, dict]:
    """Losses and final weights of the single-process run."""
    net = build("single", d)
    with sg.Session(net["graph"]) as sess:
        losses = train(sess, net, d, steps)
        return losses, {"w1": sess.get(net["w1"]), "w2": sess.get(net["w2"])}
