"""The RNN scenarios' `dyngraph-compiled` row: the Python loop over time under
`dg.compile`, one trace per sequence length."""

from __future__ import annotations

import dyngraph as dg

from ..compiled_variants import BACKEND, NAME, compiled_prepared, compiled_variant
from ..framework import Prepared, Variant
from . import models as rm
from . import numpy_steps as rn


def _rnn_setup(p) -> Prepared:
    s = p.size
    w = rm.dyngraph_params(p.params)
    state0 = rm.dyngraph_state(rn.zero_state(s.cell, s.batch, s.hidden, p.dtype))

    def loss_of(xs, ys):
        hs = rm.dyngraph_hidden_states(s.cell, w, xs, state0)
        return rm.readout_loss(w, dg.stack(hs), ys)
    loss_fn = dg.compile(loss_of, backend=BACKEND)
    optimizer = dg.optim.SGD(list(w.values()), lr=s.lr)
    data, losses, extra = p.stream(), [], {}

    def step() -> int:
        xs, ys = next(data)
        loss = loss_fn(dg.from_numpy(xs), dg.from_numpy(ys))
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        extra["graphs_built"] = loss_fn.trace_count
        return len(xs)
    return compiled_prepared(step, lambda: losses, loss_fn, extra)


def rnn_variants() -> list[Variant]:
    return [compiled_variant(NAME, _rnn_setup, "the Python loop unrolled: one trace per length")]
