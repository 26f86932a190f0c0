"""Scans whose body only moves data: shifted copies in NumPy, nothing compiled.

Every gradient of `sg.scan` holds one: `delay` (body `(prev, y) -> (y; prev)`)
turns the stacked outputs into the carries entering each step. A body with
no equations computes nothing, so each output is a slice of an operand:

- a new carry that is a sequence slice `x_t` (or a const, or the carry
  itself) makes the carry entering step t `x[t - 1]` (`x[t + 1]` in
  reverse), the initial value at the first step;
- an output `y_t` that is a slice, a const or an incoming carry stacks to
  `x`, a broadcast const, or those shifted sequences.

Compiling a loop for that costs about 0.7 s; this costs two copies.
"""

from __future__ import annotations

import numpy as np

from ...graph.ir import Eqn
from ..op import split_operands


def moves_only(eqn: Eqn) -> bool:
    """True when the body has no eqns and every new carry is a sequence slice,
    a const or that same carry (no carry feeds another)."""
    p = eqn.params
    body, C, K = p["body"], p["num_consts"], p["num_carry"]
    if body.eqns or body.constants:
        return False
    for k, out in enumerate(body.outputs[:K]):
        n = body.inputs.index(out)
        if C <= n < C + K and n != C + k:
            return False
    return True


class MovesScan:
    """A data-movement-only scan run with NumPy slicing (see the module doc)."""

    compiled = True

    def __init__(self, eqn: Eqn) -> None:
        self.eqn = eqn
        p = eqn.params
        self.body, self.C, self.K, self.reverse = p["body"], p["num_consts"], \
            p["num_carry"], p["reverse"]

    def _entering(self, k: int, init, consts, xs, length: int) -> np.ndarray:
        """The carry k entering each step, stacked (T, ...)."""
        n = self.body.inputs.index(self.body.outputs[k])
        out = np.empty((length,) + np.shape(init), np.asarray(init).dtype)
        if length == 0:
            return out
        first, rest = (length - 1, slice(0, length - 1)) if self.reverse else \
            (0, slice(1, length))
        out[first] = init
        if n < self.C:
            out[rest] = consts[n]
        elif n < self.C + self.K:
            out[rest] = init
        else:
            x = xs[n - self.C - self.K]
            out[rest] = x[1:] if self.reverse else x[:-1]
        return out

    def __call__(self, *values) -> tuple:
        consts, init, xs = split_operands(values, self.C, self.K)
        length = np.shape(xs[0])[0]
        entering = [self._entering(k, init[k], consts, xs, length) for k in range(self.K)]
        finals = []
        for k in range(self.K):
            n = self.body.inputs.index(self.body.outputs[k])
            last = 0 if self.reverse else length - 1
            if length == 0 or self.C <= n < self.C + self.K:
                finals.append(np.array(init[k], copy=True))
            elif n < self.C:
                finals.append(np.array(consts[n], copy=True))
            else:
                finals.append(np.array(xs[n - self.C - self.K][last], copy=True))
        ys = []
        for y in self.body.outputs[self.K:]:
            n = self.body.inputs.index(y)
            if n < self.C:
                ys.append(np.broadcast_to(consts[n], (length,) + np.shape(consts[n])).copy())
            elif n < self.C + self.K:
                ys.append(entering[n - self.C].copy())
            else:
                ys.append(np.array(xs[n - self.C - self.K], copy=True))
        return tuple(finals) + tuple(ys)

    def explain(self) -> str:
        return f"scan {self.body.name}: no computation in the body; shifted copies (NumPy)"
