"""The differential check of one program.

1. NumPy reference (the primitives' impls), which also measures kinks.
2. dyngraph: values, and gradients of a weighted sum of the float outputs
   (`loss = sum_k sum(out_k * w_k)`, fixed random weights) by `backward()`.
3. staticgraph: the same program built once as a graph with `sg.gradients`,
   compiled by `sg.function` with every registered backend (but "cuda",
   which runs in the simulator process).
4. Central finite differences of the same loss on the reference (skipped when
   a kink op's operand is closer than `KINK_MARGIN` to its kink).

Values and gradients agree across engines to float64 precision
(`ENGINE_RTOL`), and with finite differences to `FD_RTOL`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

import dyngraph as dg
import shared_ops.api as A
import staticgraph as sg

from .execute import EagerEngine, NumpyEngine, StaticEngine, run_block, varying_names
from .program import Program

ENGINE_RTOL, ENGINE_ATOL = 1e-9, 1e-11
FD_RTOL, FD_ATOL, FD_STEP = 1e-5, 1e-6, 1e-6
KINK_MARGIN = 1e-3
FD_MAX_ELEMENTS = 120  # above this many float input elements, check 4 random directions
STATS: Counter = Counter()


ALIASES = {"cuda", "auto"}  # cuda runs in the simulator process; auto is numba or cuda


def static_backends() -> list[str]:
    """Every registered staticgraph backend this process runs (not cuda, nor its alias)."""
    return [name for name in sg.backend_names() if name not in ALIASES]


@dataclass
class Run:
    """One engine's outputs and gradients (one per float input, zeros if unconnected)."""

    outputs: list
    grads: list


def loss_weights(program: Program, outputs: list) -> list:
    """Fixed weights for the float outputs (None for int/bool outputs)."""
    weights = []
    for k, out in enumerate(outputs):
        kind = np.asarray(out).dtype.kind if not hasattr(out, "dtype") else out.dtype.kind
        rng = np.random.default_rng(program.seed * 31 + k)
        weights.append(rng.uniform(-1.0, 1.0, np.shape(out)) if kind == "f" else None)
    return weights


def weighted_loss(outputs: list, weights: list):
    loss = None
    for out, w in zip(outputs, weights):
        if w is not None:
            term = A.sum(A.mul(out, w))
            loss = term if loss is None else A.add(loss, term)
    return loss


def run_reference(program: Program, values: list, replay=None) -> tuple[list, NumpyEngine]:
    engine = NumpyEngine(varying_names(program), replay)
    env = {inp.name: v for inp, v in zip(program.inputs, values)}
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        outs = run_block(program.body, env, engine)
    return [np.asarray(o) for o in outs], engine


def run_dyngraph(program: Program, values: list, weights: list) -> Run:
    tensors = [dg.tensor(v, requires_grad=inp.spec.kind == "f")
               for inp, v in zip(program.inputs, values)]
    outs = run_block(program.body, {i.name: t for i, t in zip(program.inputs, tensors)},
                     EagerEngine())
    loss = weighted_loss(outs, weights)
    if isinstance(loss, dg.Tensor) and loss.requires_grad:
        loss.backward()
    grads = [np.zeros_like(values[i]) if tensors[i].grad is None else tensors[i].grad.numpy()
             for i in program.float_inputs()]
    return Run([np.asarray(o.detach().numpy() if isinstance(o, dg.Tensor) else o)
                for o in outs], grads)


def run_static(program: Program, values: list, weights: list, backends: list[str]) -> dict:
    """{backend: Run} from one graph compiled by each backend."""
    graph = sg.Graph("fuzz")
    with graph.as_default():
        phs = [sg.placeholder(inp.static, inp.spec.dtype, name=inp.name)
               for inp in program.inputs]
        outs = run_block(program.body, {i.name: p for i, p in zip(program.inputs, phs)},
                         StaticEngine())
        loss = weighted_loss(outs, weights)
        wrt = [phs[i] for i in program.float_inputs()]
        grads = sg.gradients(loss, wrt) if loss is not None and wrt else [None] * len(wrt)
    connected = [g for g in grads if g is not None]
    runs = {}
    for backend in backends:
        fetched = sg.function(phs, list(outs) + connected, backend=backend)(*values)
        it = iter(fetched[len(outs):])
        runs[backend] = Run([np.asarray(v) for v in fetched[:len(outs)]],
                            [np.zeros_like(values[i]) if g is None else np.asarray(next(it))
                             for i, g in zip(program.float_inputs(), grads)])
    return runs


def finite_differences(program: Program, values: list, weights: list, frozen: dict) -> list:
    """Central differences of the weighted loss w.r.t. each float input."""
    def loss_at(vals) -> float:
        outs, _ = run_reference(program, vals, frozen)
        return float(sum(np.sum(o * w) for o, w in zip(outs, weights) if w is not None))
    floats = program.float_inputs()
    total = sum(values[i].size for i in floats)
    if total > FD_MAX_ELEMENTS:
        return _directional(loss_at, values, floats)
    grads = []
    for i in floats:
        g = np.zeros_like(values[i])
        for idx in np.ndindex(values[i].shape):
            plus, minus = [v.copy() for v in values], [v.copy() for v in values]
            plus[i][idx] += FD_STEP
            minus[i][idx] -= FD_STEP
            g[idx] = (loss_at(plus) - loss_at(minus)) / (2 * FD_STEP)
        grads.append(g)
    return grads


def _directional(loss_at, values: list, floats: list) -> list:
    """(directions, derivatives) along 4 random directions (compared by `check`)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(4):
        d = {i: rng.standard_normal(values[i].shape) for i in floats}
        plus = [v + FD_STEP * d[i] if i in d else v for i, v in enumerate(values)]
        minus = [v - FD_STEP * d[i] if i in d else v for i, v in enumerate(values)]
        out.append((d, (loss_at(plus) - loss_at(minus)) / (2 * FD_STEP)))
    return out


def _close(actual, expected, what: str, rtol: float, atol: float) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    scale = 1.0 + float(np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def compare(run: Run, ref: Run, label: str, rtol=ENGINE_RTOL, atol=ENGINE_ATOL) -> None:
    for k, (a, e) in enumerate(zip(run.outputs, ref.outputs)):
        _close(a, e, f"{label}: output {k}", rtol, atol)
    for k, (a, e) in enumerate(zip(run.grads, ref.grads)):
        _close(a, e, f"{label}: gradient w.r.t. float input {k}", rtol, atol)


def check_program(program: Program, backends: list[str] | None = None,
                  fd: bool = True) -> None:
    """Run every check (`backends`: staticgraph backends, default all but cuda).

    Callers under `@given` should `note(to_code(program))` first, so that the
    shrunk failing program is printed as code."""
    backends = static_backends() if backends is None else backends
    values = program.input_values()
    ref_outs, engine = run_reference(program, values)
    assert all(np.isfinite(o).all() for o in ref_outs if o.dtype.kind == "f"), "non-finite"
    weights = loss_weights(program, ref_outs)
    dyn = run_dyngraph(program, values, weights)
    compare(Run(dyn.outputs, []), Run(ref_outs, []), "dyngraph vs NumPy", 1e-12, 0.0)
    for backend, run in run_static(program, values, weights, backends).items():
        compare(run, dyn, f"staticgraph[{backend}] vs dyngraph")
    STATS["programs"] += 1
    STATS.update(f"has {op}" for op in ("cond", "scan") if program.has(op))
    if not fd or engine.margin < KINK_MARGIN:
        STATS["fd skipped (near a kink)" if fd else "fd off"] += 1
        return
    STATS["fd checked"] += 1
    fd_grads = finite_differences(program, values, weights, engine.recorded)
    if fd_grads and isinstance(fd_grads[0], tuple):
        floats = program.float_inputs()
        for d, slope in fd_grads:
            ad = sum(float(np.sum(g * d[i])) for g, i in zip(dyn.grads, floats))
            _close(ad, slope, "gradient . direction vs finite differences", FD_RTOL,
                   FD_ATOL)
        return
    compare(Run([], dyn.grads), Run([], fd_grads), "dyngraph vs finite differences",
            FD_RTOL, FD_ATOL)
