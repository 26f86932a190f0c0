"""`dyngraph-compiled` rows: the scenarios' dyngraph code under `dg.compile`,
and `torch-compile (peer)` rows beside them where PyTorch is installed.

Each setup compiles in its first step (setup time, as every variant's first
call is) and reports `compiles` = the traces made so far, so a step that
traces again (a new sequence length, a new depth) counts as a recompile.
The scenario modules add these variants at their end; this module imports
none of them (they pass what it needs). The tutorial's and the RNN's are in
`tutorial.compiled` and `rnn.compiled`, beside their models.
"""

from __future__ import annotations

import numpy as np

import dyngraph as dg

from .framework import Prepared, Variant
from .harness.peers import torch_variant

BACKEND = "numba"
NAME = f"dyngraph-compiled-{BACKEND}"


def compiled_variant(name: str, setup, note: str) -> Variant:
    return Variant(name, engine="dyngraph", backend=BACKEND, kind="static", setup=setup,
                   note=note)


def compiled_prepared(step, values, compiled, extra: dict | None = None) -> Prepared:
    return Prepared(step, values=values, compile_on_first_call=True,
                    compiles=lambda: compiled.trace_count, extra=extra or {})


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
        return compiled_prepared(step, lambda: losses, compiled)
    return setup


def dynamic_net_variants(model_class) -> list[Variant]:
    """`model_class(problem)` is the scenario's DynamicNet module."""
    return [compiled_variant(NAME, _dynamic_setup(model_class, False),
                             "depth a Python int: one trace per depth drawn"),
            compiled_variant(f"{NAME}-autograph", _dynamic_setup(model_class, True),
                             "autograph=True, depth a tensor: one trace for every depth")]


# ---- fusion -----------------------------------------------------------------------------
def _fusion_setup(p) -> Prepared:
    x, a, b = dg.from_numpy(p.x), p.size.a, p.size.b
    chain = dg.compile(lambda x: dg.tanh(x * a + b) * dg.sigmoid(x) - dg.exp(-x * x),
                       backend=BACKEND)
    out: list = []

    def step() -> None:
        out[:] = [chain(x)]
    return compiled_prepared(step, lambda: out[0].numpy(), chain)


def _torch_fusion_setup(p, torch) -> Prepared:
    x, a, b = torch.from_numpy(p.x), p.size.a, p.size.b
    chain = torch.compile(lambda x: torch.tanh(x * a + b) * torch.sigmoid(x) - torch.exp(-x * x))
    out: list = []

    def step() -> None:
        out[:] = [chain(x)]
    return Prepared(step, values=lambda: out[0].numpy(), compile_on_first_call=True)


def fusion_variants() -> list[Variant]:
    return [compiled_variant(NAME, _fusion_setup, "the chain traced into one fused kernel"),
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
        return compiled_prepared(step, lambda: np.asarray(out[0].detach().numpy()), multiply)
    return setup


def per_op_variants() -> list[Variant]:
    return [compiled_variant(NAME, _per_op_setup(False), "one compiled call per multiply"),
            compiled_variant(f"{NAME}-grad", _per_op_setup(True),
                             "inputs require grad: one compiled call and one tape node")]
