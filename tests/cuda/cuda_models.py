"""The model list for the CUDA backend: each builder returns a graph, the fetches
and two feed dicts (two batch sizes, so buffers are reallocated once). Sizes
are tiny: under the simulator every CUDA thread is a Python thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import staticgraph as sg


@dataclass
class Model:
    graph: Any
    fetches: list
    feeds: list[dict]
    rtol: float = 1e-10


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def elementwise_chain(dtype: str = "float32") -> Model:
    """tanh(x*a+b)*sigmoid(x) - exp(-x*x): one fused group, a fused sum and mean."""
    rng = _rng(1)
    g = sg.Graph("chain")
    with g.as_default():
        x = sg.placeholder((None, 5), dtype, name="x")
        b = sg.Variable(rng.standard_normal(5).astype(dtype), name="b")
        y = sg.tanh(x * 0.5 + b) * sigmoid(x) - sg.exp(-x * x)
        fetches = [y, sg.sum(y), sg.mean(y * y, axis=0), sg.sign(x - 0.1) * 2.0]
    feeds = [{x: rng.standard_normal((n, 5)).astype(dtype)} for n in (3, 6)]
    return Model(g, fetches, feeds, 2e-5 if dtype == "float32" else 1e-12)


def sigmoid(x):
    return sg.sigmoid(x)


def broadcasting() -> Model:
    """(n, 1) with (1, 4) and (4,) operands, where, comparisons, casts, clip."""
    rng = _rng(2)
    g = sg.Graph("broadcast")
    with g.as_default():
        a = sg.placeholder((None, 1), "float64", name="a")
        r = sg.placeholder((1, 4), "float64", name="r")
        v = sg.constant(np.arange(4.0))
        outer = a * r + v
        mask = outer > 0.5
        fetches = [outer, sg.where(mask, outer, -outer), sg.cast(mask, "int32"),
                   sg.clip(outer, -1.0, 1.0), sg.maximum(outer, a), sg.sqrt(sg.abs(outer))]
    feeds = [{a: rng.standard_normal((n, 1)), r: rng.standard_normal((1, 4))} for n in (2, 3)]
    return Model(g, fetches, feeds)


def reductions() -> Model:
    """sum/mean/max over each axis set, keepdims, a NaN in max, ints and bools."""
    rng = _rng(3)
    g = sg.Graph("reductions")
    with g.as_default():
        x = sg.placeholder((None, 3, 4), "float64", name="x")
        k = sg.placeholder((None, 3), "int64", name="k")
        fetches = [sg.sum(x), sg.mean(x, axis=0), sg.max(x, axis=2), sg.sum(x, axis=(0, 2)),
                   sg.max(x, axis=1, keepdims=True), sg.mean(x, axis=(1, 2), keepdims=True),
                   sg.sum(k, axis=1), sg.max(k), sg.sum(x > 0.0), sg.max(sg.exp(x)),
                   sg.sum(sg.transpose(x, (2, 0, 1)), axis=2)]
    feeds = []
    for n in (2, 5):
        xv = rng.standard_normal((n, 3, 4))
        if n == 5:
            xv[1, 2, 3] = np.nan
        feeds.append({x: xv, k: rng.integers(-5, 5, (n, 3))})
    return Model(g, fetches, feeds)


def matmuls() -> Model:
    """2-D, transposed operands, vector cases, batched with broadcasting, float32."""
    rng = _rng(4)
    g = sg.Graph("matmul")
    with g.as_default():
        a = sg.placeholder((None, 3), "float64", name="a")
        w = sg.Variable(rng.standard_normal((3, 5)), name="w")
        v = sg.constant(rng.standard_normal(3))
        bt = sg.placeholder((2, 1, 3, 2), "float32", name="bt")
        c = sg.constant(rng.standard_normal((4, 2, 3)).astype(np.float32))
        fetches = [sg.matmul(a, w), sg.matmul(a, w, transpose_a=False, transpose_b=False) * 2.0,
                   sg.matmul(w, w, transpose_a=True), sg.matmul(a, v), sg.matmul(v, w),
                   sg.matmul(c, bt)]
    feeds = [{a: rng.standard_normal((n, 3)),
              bt: rng.standard_normal((2, 1, 3, 2)).astype(np.float32)} for n in (4, 7)]
    return Model(g, fetches, feeds, 1e-5)


def views() -> Model:
    """reshape/transpose/expand/squeeze/slices/concatenate and their gradients."""
    rng = _rng(5)
    g = sg.Graph("views")
    with g.as_default():
        x = sg.placeholder((None, 6), "float64", name="x")
        w = sg.Variable(rng.standard_normal((6,)), name="w")
        h = x * w
        r = sg.reshape(h, (-1, 2, 3))
        t = sg.transpose(r, (2, 0, 1))
        s = h[:, 1:4] * 2.0 + sg.expand_dims(h[:, 0], 1)
        cat = sg.concatenate([s, h[:, ::2]], axis=1)
        loss = sg.sum(cat * cat) + sg.sum(sg.squeeze(r[:, :1, :], 1)) + sg.sum(t[1])
        fetches = [r, t, s, cat, loss, sg.broadcast_to(w, (2, 6)),
                   *sg.gradients(loss, [w, x])]
    feeds = [{x: rng.standard_normal((n, 6))} for n in (2, 3)]
    return Model(g, fetches, feeds)


def softmax_net() -> Model:
    """softmax / log_softmax (host fallbacks) inside a net, and the gradient."""
    rng = _rng(6)
    g = sg.Graph("softmax")
    with g.as_default():
        x = sg.placeholder((None, 4), "float64", name="x")
        w = sg.Variable(rng.standard_normal((4, 3)), name="w")
        p = sg.softmax(sg.matmul(x, w))
        loss = -sg.mean(sg.log_softmax(sg.matmul(x, w))) + sg.sum(p * p)
        fetches = [p, loss, *sg.gradients(loss, [w])]
    feeds = [{x: rng.standard_normal((n, 4))} for n in (2, 3)]
    return Model(g, fetches, feeds)


def cond_net() -> Model:
    """sg.cond on a fed predicate; the gradient is a cond too."""
    rng = _rng(7)
    g = sg.Graph("cond")
    with g.as_default():
        x = sg.placeholder((None, 3), "float64", name="x")
        flag = sg.placeholder((), "bool", name="flag")
        w = sg.Variable(rng.standard_normal((3,)), name="w")
        h = x * w
        y = sg.cond(flag, lambda: sg.tanh(h) * 2.0, lambda: h * h + x)
        loss = sg.sum(y)
        fetches = [y, loss, *sg.gradients(loss, [w, x])]
    feeds = [{x: rng.standard_normal((2, 3)), flag: np.array(True)},
             {x: rng.standard_normal((4, 3)), flag: np.array(False)}]
    return Model(g, fetches, feeds)


def scan_net(reverse: bool = False) -> Model:
    """A tanh RNN written with sg.scan (reverse too), its BPTT gradients."""
    rng = _rng(8)
    g = sg.Graph("scan")
    with g.as_default():
        xs = sg.placeholder((None, 2, 3), "float64", name="xs")
        wx = sg.Variable(rng.standard_normal((3, 4)) * 0.5, name="wx")
        wh = sg.Variable(rng.standard_normal((4, 4)) * 0.5, name="wh")
        h0 = sg.constant(np.zeros((2, 4)))
        hs = sg.scan(lambda h, x: sg.tanh(sg.matmul(x, wx) + sg.matmul(h, wh)), xs,
                     initializer=h0, reverse=reverse)
        loss = sg.sum(hs * hs)
        fetches = [hs, loss, *sg.gradients(loss, [wx, wh, xs])]
    feeds = [{xs: rng.standard_normal((n, 2, 3))} for n in (3, 1)]
    return Model(g, fetches, feeds)


MODELS = {
    "chain_f32": lambda: elementwise_chain("float32"),
    "chain_f64": lambda: elementwise_chain("float64"),
    "broadcasting": broadcasting,
    "reductions": reductions,
    "matmul": matmuls,
    "views": views,
    "softmax": softmax_net,
    "cond": cond_net,
    "scan": scan_net,
    "scan_reverse": lambda: scan_net(reverse=True),
}
