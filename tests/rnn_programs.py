"""The small tanh RNN programs the scan-pass tests rewrite (batch 2, in 3, hidden 4)."""

from __future__ import annotations

import numpy as np

import staticgraph as sg
from staticgraph.runtime.program import extract_program


def tiny_rnn_program(*, last_only: bool = True, h0_input: bool = False):
    """Loss sum(h_T^2) (or sum(hs^2)) and its gradients w.r.t. Wx, Wh, b (and h0
    when `h0_input`: then h0 is a placeholder after xs, else zeros)."""
    rng = np.random.default_rng(0)
    g = sg.Graph()
    with g.as_default():
        w = {k: sg.Variable(rng.standard_normal(s) * 0.5, name=k)
             for k, s in (("Wx", (3, 4)), ("Wh", (4, 4)), ("b", (4,)))}
        xs = sg.placeholder((None, 2, 3), np.float64, name="xs")
        h0 = sg.placeholder((2, 4), np.float64, name="h0") if h0_input else np.zeros((2, 4))
        hs = sg.scan(lambda h, x: sg.tanh(x @ w["Wx"] + h @ w["Wh"] + w["b"]), xs,
                     initializer=h0)
        loss = sg.sum(hs[-1] * hs[-1]) if last_only else sg.sum(hs * hs)
        wrt = [w["Wx"], w["Wh"], w["b"]] + ([h0] if h0_input else [])
        grads = sg.gradients(loss, wrt)
    inputs = [xs.var, h0.var] if h0_input else [xs.var]
    return extract_program(g, [loss.var] + [s.var for s in grads], inputs)
