"""PyTorch's gradients of `x ** y` written in NumPy, and the points that test them.

PyTorch's rule (`pow_backward_self`, `pow_backward_exponent`):
d/dx = g * y * x ** (y - 1), and 0 where y == 0;
d/dy = g * x ** y * log(x), and 0 where x == 0 and y >= 0.
So a negative base gives a NaN gradient w.r.t. y (log of a negative number),
and 0 ** y for y < 0 gives an infinite one.
"""

from __future__ import annotations

import numpy as np

import staticgraph as sg

# every combination of a negative, zero (both signs) and positive base with
# negative, zero, fractional and integer exponents
BASES = np.array([-2.0, -0.5, -0.0, 0.0, 0.5, 3.0])
EXPONENTS = np.array([-2.5, -2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
POW_X, POW_Y = (a.ravel() for a in np.meshgrid(BASES, EXPONENTS, indexing="ij"))


def pytorch_pow_grads(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple:
    """(d/dx, d/dy) of sum(g * x ** y) by PyTorch's rule (same shapes, no broadcasting)."""
    with np.errstate(all="ignore"):
        out = np.power(x, y)
        gx = np.where(y == 0, 0.0, g * (y * np.power(x, y - 1)))
        gy = g * np.where((x == 0) & (y >= 0), 0.0, out * np.log(x))
    return gx, gy


def static_pow_grads(backend: str, x: np.ndarray, y: np.ndarray, g: np.ndarray) -> list:
    """[d/dx, d/dy] of sum(g * x ** y) by `sg.gradients` on `backend`."""
    graph = sg.Graph()
    with graph.as_default():
        px, py, pg = (sg.placeholder(np.float64, (None,)) for _ in range(3))
        grads = sg.gradients(sg.sum((px ** py) * pg), [px, py])
        with sg.Session(graph, backend=backend) as sess:
            return sess.run(grads, {px: x, py: y, pg: g})
