"""The tanh RNN and the LSTM in each engine (math as in `numpy_steps`).

A cell is written once, against an engine namespace `ops` (`dg` or `sg`),
because both engines spell the ops alike (`@`, slicing, `ops.tanh`,
`ops.sigmoid`). What differs is how the time loop is expressed:

- dyngraph: a Python loop. The tape is as long as the sequence, and a new
  length simply records a different graph (`dyngraph_hidden_states`).
- staticgraph, scan: `sg.scan` puts the loop inside the graph. One graph
  (placeholder of shape (None, batch, d_in)) runs every length.
- staticgraph, unrolled: a Python loop at build time. Each length is its own
  subgraph (a "tower" sharing the variables), built and compiled the first
  time that length is seen: TF1's bucketing, and the cost `scan` avoids.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import dyngraph as dg
import staticgraph as sg

PARAMS = ("Wx", "Wh", "b", "Wy", "by")


def tanh_cell(ops, p: dict, h, x):
    """h' = tanh(x Wx + h Wh + b)."""
    return ops.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])


def lstm_cell(ops, p: dict, state, x):
    """(h, c) -> (h', c') with gates i, f, g, o packed along the last axis."""
    h, c = state
    hidden = h.shape[-1]
    z = x @ p["Wx"] + h @ p["Wh"] + p["b"]
    i, f, g, o = (z[:, k * hidden:(k + 1) * hidden] for k in range(4))
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    return (ops.sigmoid(o) * ops.tanh(c), c)


CELL_FNS = {"tanh": tanh_cell, "lstm": lstm_cell}


def hidden_of(cell: str, state):
    """The hidden output of a state (the LSTM's state is (h, c))."""
    return state[0] if cell == "lstm" else state


def readout_loss(p: dict, hs, ys):
    """mean((hs @ Wy + by - ys)^2), for Tensors and Symbols alike."""
    diff = hs @ p["Wy"] + p["by"] - ys
    return (diff * diff).mean()


# ---- dyngraph: a Python loop, a tape as long as the sequence -----------------------
def dyngraph_hidden_states(cell: str, p: dict, xs, state0) -> list:
    """Per-step hidden states; `xs` is a (T, B, D) Tensor or array."""
    step, state, hs = CELL_FNS[cell], state0, []
    for t in range(len(xs)):
        state = step(dg, p, state, xs[t])
        hs.append(hidden_of(cell, state))
    return hs


def dyngraph_loss(cell: str, p: dict, xs: np.ndarray, ys: np.ndarray, state0):
    """The training loss as a dyngraph Tensor (T >= 1)."""
    hs = dyngraph_hidden_states(cell, p, dg.from_numpy(xs), state0)
    return readout_loss(p, dg.stack(hs), dg.from_numpy(ys))


def dyngraph_params(params: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: dg.tensor(v, requires_grad=True) for k, v in params.items()}


def dyngraph_state(state0):
    if isinstance(state0, tuple):
        return tuple(dg.tensor(s) for s in state0)
    return dg.tensor(state0)


# ---- staticgraph -------------------------------------------------------------------------
def scan_hidden_states(cell: str, p: dict, xs, state0):
    """Stacked hidden states (T, B, H) from one `sg.scan` (T may be unknown)."""
    step = CELL_FNS[cell]
    states = sg.scan(lambda state, x: step(sg, p, state, x), xs, initializer=state0)
    return hidden_of(cell, states)


def unrolled_hidden_states(cell: str, p: dict, xs, state0):
    """Stacked hidden states from a build-time loop over a static length."""
    step, state, hs = CELL_FNS[cell], state0, []
    for t in range(xs.shape[0]):
        state = step(sg, p, state, xs[t])
        hs.append(hidden_of(cell, state))
    return sg.stack(hs)


def static_state(state0):
    if isinstance(state0, tuple):
        return tuple(sg.constant(s) for s in state0)
    return sg.constant(state0)


class StaticRNN:
    """An RNN in one staticgraph graph: scan (one tower for every length) or
    unrolled (one tower per length, built on first use); the variables and the
    session are shared by all towers.

    `loss_and_grads(xs, ys)` runs loss and gradients; `train_step(xs, ys)`
    also applies SGD (`w <- w - lr * g`) and returns the loss.
    """

    def __init__(self, cell: str, params: dict[str, np.ndarray], batch: int,
                 mode: str = "scan", backend: str = "interpret", lr: float = 0.0,
                 tiered: bool | None = None) -> None:
        if mode not in ("scan", "unrolled"):
            raise ValueError(f"StaticRNN: mode must be 'scan' or 'unrolled', not {mode!r}")
        self.cell, self.mode, self.batch, self.lr = cell, mode, batch, lr
        self.dtype = params["Wx"].dtype
        self.d_in, self.hidden = params["Wx"].shape[0], params["Wh"].shape[0]
        self.graph = sg.Graph(f"rnn-{cell}-{mode}")
        with self.graph.as_default():
            self.vars = {k: sg.Variable(params[k], name=k) for k in PARAMS}
        self.session = sg.Session(self.graph, backend=backend, tiered=tiered)
        self.towers: dict[int | None, dict] = {}
        self.build_s = 0.0

    def tower(self, length: int) -> dict:
        """The symbols for sequences of `length` (shared by all lengths for scan)."""
        key = None if self.mode == "scan" else length
        if key not in self.towers:
            start = time.perf_counter()
            self.towers[key] = self._build(key)
            self.build_s += time.perf_counter() - start
        return self.towers[key]

    def _build(self, length: int | None) -> dict:
        from .numpy_steps import zero_state
        d_out = self.vars["Wy"].shape[1]
        with self.graph.as_default():
            xs = sg.placeholder((length, self.batch, self.d_in), self.dtype, name="xs")
            ys = sg.placeholder((length, self.batch, d_out), self.dtype, name="ys")
            state0 = static_state(zero_state(self.cell, self.batch, self.hidden, self.dtype))
            hidden = scan_hidden_states if self.mode == "scan" else unrolled_hidden_states
            loss = readout_loss(self.vars, hidden(self.cell, self.vars, xs, state0), ys)
            grads = dict(zip(PARAMS, sg.gradients(loss, [self.vars[k] for k in PARAMS])))
            update = sg.group(*[sg.assign(self.vars[k], self.vars[k] - self.lr * grads[k])
                                for k in PARAMS])
        return {"xs": xs, "ys": ys, "loss": loss, "grads": grads, "update": update}

    def loss_and_grads(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, dict]:
        t = self.tower(len(xs))
        loss, grads = self.session.run([t["loss"], t["grads"]], {t["xs"]: xs, t["ys"]: ys})
        return float(loss), grads

    def train_step(self, xs: np.ndarray, ys: np.ndarray) -> float:
        t = self.tower(len(xs))
        loss, _ = self.session.run([t["loss"], t["update"]], {t["xs"]: xs, t["ys"]: ys})
        return float(loss)

    @property
    def graphs_built(self) -> int:
        return len(self.towers)
