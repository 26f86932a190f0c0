"""`dyngraph-compiled` rows: the scenarios' dyngraph code under `dg.compile`,
and `torch-compile (peer)` rows beside them where PyTorch is installed.

Each setup compiles in its first step (setup time, as every variant's first
call is) and reports `compiles` = the traces made so far, so a step that
traces again (a new sequence length, a new depth) counts as a recompile.
The scenario modules add these variants at their end; this module imports
none of them (they pass what it needs).
"""

from __future__ import annotations

import numpy as np

import dyngraph as dg

from . import rnn_models as rm
from . import rnn_numpy as rn
from .framework import Prepared, Variant
from .peers import torch_variant
from .tutorial_code import torch_compiled_setup

BACKEND = "numba"
NAME = f"dyngraph-compiled-{BACKEND}"


def _variant(name: str, setup, note: str) -> Variant:
    return Variant(name, engine="dyngraph", backend=BACKEND, kind="static", setup=setup,
                   note=note)


def _prepared(step, values, compiled, extra: dict | None = None) -> Prepared:
    return Prepared(step, values=values, compile_on_first_call=True,
                    compiles=lambda: compiled.trace_count, extra=extra or {})


# ---- tutorial ---------------------------------------------------------------------------
def _tutorial_setup(problem) -> Prepared:
    d, lr = problem.data, problem.size.lr
    x, y = dg.from_numpy(d["x"]), dg.from_numpy(d["y"])
    w1 = dg.tensor(d["w1"].copy(), requires_grad=True)
    w2 = dg.tensor(d["w2"].copy(), requires_grad=True)
    loss_fn = dg.compile(lambda x, y: (x.mm(w1).relu().mm(w2) - y).pow(2).sum(),
                         backend=BACKEND)
    losses: list[float] = []

    def step() -> None:
        loss = loss_fn(x, y)
        losses.append(loss.item())
        loss.backward()
        with dg.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
            w1.grad.zero_()
            w2.grad.zero_()
    return _prepared(step, lambda: losses, loss_fn)


def tutorial_variants() -> list[Variant]:
    return [_variant(NAME, _tutorial_setup, "loss traced once; forward+backward one tape node"),
            torch_variant("torch-compile", setup=torch_compiled_setup,
                          note="torch.compile of the loss; first call is setup")]


# ---- dynamic_net ------------------------------------------------------------------------
def _dynamic_setup(model_class, autograph: bool):
    def setup(p) -> Prepared:
        model = model_class(p)
        compiled = dg.compile(model, backend=BACKEND, autograph=autograph)
        criterion = dg.nn.MSELoss(reduction="sum")
        optimizer = dg.optim.SGD(model.parameters(), lr=p.size.lr, momentum=p.size.momentum)
        x, y = dg.from_numpy(p.x), dg.from_numpy(p.y)
        rng, losses = p.depths(), []

        def step() -> None:
            depth = p.draw(rng)
            out = compiled(x, dg.tensor(depth) if autograph else depth)
            loss = criterion(out, y)
            losses.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            if autograph and depth == 0:
                # One graph for every depth gives the unused middle layer a zero
                # gradient; eager leaves it None, so SGD (and its momentum) skips it.
                for param in model.middle_linear.parameters():
                    param.grad = None
            optimizer.step()
        return _prepared(step, lambda: losses, compiled)
    return setup


def dynamic_net_variants(model_class) -> list[Variant]:
    """`model_class(problem)` is the scenario's DynamicNet module."""
    return [_variant(NAME, _dynamic_setup(model_class, False),
                     "depth a Python int: one trace per depth drawn"),
            _variant(f"{NAME}-autograph", _dynamic_setup(model_class, True),
                     "autograph=True, depth a tensor: one trace for every depth")]


# ---- rnn / lstm -------------------------------------------------------------------------
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
    return _prepared(step, lambda: losses, loss_fn, extra)


def rnn_variants() -> list[Variant]:
    return [_variant(NAME, _rnn_setup, "the Python loop unrolled: one trace per length")]


# ---- fusion -----------------------------------------------------------------------------
def _fusion_setup(p) -> Prepared:
    x, a, b = dg.from_numpy(p.x), p.size.a, p.size.b
    chain = dg.compile(lambda x: dg.tanh(x * a + b) * dg.sigmoid(x) - dg.exp(-x * x),
                       backend=BACKEND)
    out: list = []

    def step() -> None:
        out[:] = [chain(x)]
    return _prepared(step, lambda: out[0].numpy(), chain)


def _torch_fusion_setup(p, torch) -> Prepared:
    x, a, b = torch.from_numpy(p.x), p.size.a, p.size.b
    chain = torch.compile(lambda x: torch.tanh(x * a + b) * torch.sigmoid(x) - torch.exp(-x * x))
    out: list = []

    def step() -> None:
        out[:] = [chain(x)]
    return Prepared(step, values=lambda: out[0].numpy(), compile_on_first_call=True)


def fusion_variants() -> list[Variant]:
    return [_variant(NAME, _fusion_setup, "the chain traced into one fused kernel"),
            torch_variant("torch-compile", setup=_torch_fusion_setup,
                          note="torch.compile (inductor) of the chain")]


# ---- per_op -----------------------------------------------------------------------------
def _per_op_setup(requires_grad: bool):
    def setup(p) -> Prepared:
        x = dg.tensor(p.x, requires_grad=requires_grad)
        y = dg.tensor(p.y, requires_grad=requires_grad)
        multiply = dg.compile(lambda x, y: x * y, backend=BACKEND)
        out: list = []

        def step() -> None:
            out[:] = [multiply(x, y)]
        return _prepared(step, lambda: np.asarray(out[0].detach().numpy()), multiply)
    return setup


def per_op_variants() -> list[Variant]:
    return [_variant(NAME, _per_op_setup(False), "one compiled call per multiply"),
            _variant(f"{NAME}-grad", _per_op_setup(True),
                     "inputs require grad: one compiled call and one tape node")]
