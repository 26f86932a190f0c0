"""Running a program: one block walker, one small `Engine` per engine.

Every step is `getattr(shared_ops.api, op)(*args)`, which dispatches on the
operands: NumPy arrays compute at once, dyngraph Tensors record a tape,
staticgraph Symbols add graph nodes. Engines differ only in how control
flow runs: `cond` is a Python `if` (NumPy, dyngraph) or `sg.cond`; `scan`
a Python loop or `sg.scan`.

`NumpyEngine` is the reference for finite differences: at the base point it
records the outputs of ops that carry no gradient (comparisons, sign,
stop_gradient, casts to int/bool, ...) and how close each kink op's operand
is to its kink; at perturbed points it replays the recorded outputs, so a
comparison cannot flip and a stopped gradient stays stopped.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

import shared_ops.api as A
from shared_ops.ops_conv import windows

from .program import Block, CallStep, CondStep, Const, Program, Ref, ScanStep
from .values import FROZEN


def resolve(arg, env: dict):
    if isinstance(arg, Ref):
        return env[arg.name]
    if isinstance(arg, Const):
        return arg.spec.make()
    if isinstance(arg, list):
        return [resolve(a, env) for a in arg]
    return arg


def run_block(block: Block, env: dict, engine, params: tuple = ()) -> list:
    """Values of the block's outputs; `env` holds the enclosing values."""
    env = dict(env)
    env.update(zip(block.params, params))
    for step in block.steps:
        if isinstance(step, CallStep):
            args = [resolve(a, env) for a in step.args]
            env[step.out] = engine.call(step, args, dict(step.kwargs))
        elif isinstance(step, CondStep):
            outs = engine.cond(env[step.pred.name],
                               lambda s=step: run_block(s.true, env, engine),
                               lambda s=step: run_block(s.false, env, engine))
            env.update(zip(step.outs, outs))
        elif isinstance(step, ScanStep):
            def body(acc, x, s=step):
                return run_block(s.body, env, engine, (acc, x))[0]
            env[step.out] = engine.scan(body, env[step.elems.name], env[step.init.name],
                                        step.reverse)
    return [env[name] for name in block.outputs]


def python_scan(fn, elems, init, reverse: bool):
    """tf.scan semantics with a Python loop: out[t] is the accumulator after elems[t]."""
    n = elems.shape[0]
    outs: list = [None] * n
    acc = init
    for t in (range(n - 1, -1, -1) if reverse else range(n)):
        acc = fn(acc, A.getitem(elems, t))
        outs[t] = acc
    return A.stack(outs)


def is_frozen(step: CallStep) -> bool:
    """Ops whose output carries no gradient (finite differences hold them fixed)."""
    return step.op in FROZEN or (step.op == "cast" and dict(step.kwargs)["dtype"].kind != "f")


class EagerEngine:
    """Python control flow over API calls (dyngraph Tensors, or arrays)."""

    def call(self, step: CallStep, args: list, kwargs: dict):
        return getattr(A, step.op)(*args, **kwargs)

    def cond(self, pred, true_fn, false_fn) -> list:
        return true_fn() if bool(pred) else false_fn()

    def scan(self, fn, elems, init, reverse: bool):
        return python_scan(fn, elems, init, reverse)


class StaticEngine(EagerEngine):
    """`sg.cond` and `sg.scan` (tf.scan's signature)."""

    def cond(self, pred, true_fn, false_fn) -> list:
        import staticgraph as sg
        return sg.cond(pred, true_fn, false_fn)

    def scan(self, fn, elems, init, reverse: bool):
        import staticgraph as sg
        return sg.scan(fn, elems, initializer=init, reverse=reverse)


class NumpyEngine(EagerEngine):
    """Arrays only; records (base point) or replays (perturbed) ungraded outputs."""

    def __init__(self, varying: set[str], replay: dict | None = None) -> None:
        self.varying = varying
        self.recorded: dict[str, list] = defaultdict(list)
        self.replay = {k: list(v) for k, v in replay.items()} if replay is not None else None
        self.margin = np.inf  # smallest distance of a kink op's operand to its kink

    def call(self, step: CallStep, args: list, kwargs: dict):
        if is_frozen(step) and self.replay is not None:
            return self.replay[step.out].pop(0)
        value = np.asarray(getattr(A, step.op)(*args, **kwargs))
        if is_frozen(step):
            self.recorded[step.out].append(value)
        elif self.replay is None and self._varies(step):
            self.margin = min(self.margin, kink_margin(step.op, args, kwargs))
        return value

    def _varies(self, step: CallStep) -> bool:
        refs = [a for a in step.args if isinstance(a, Ref)]
        refs += [x for a in step.args if isinstance(a, list) for x in a if isinstance(x, Ref)]
        return any(r.name in self.varying for r in refs)


def kink_margin(op: str, args: list, kwargs: dict) -> float:
    """How far the operands of a non-smooth op are from its kinks (inf if smooth)."""
    if op in ("relu", "abs"):
        return float(np.min(np.abs(args[0]))) if np.size(args[0]) else np.inf
    if op in ("maximum", "minimum"):
        return float(np.min(np.abs(np.subtract(args[0], args[1]))))
    if op == "clip":
        bounds = [b for b in (kwargs["lo"], kwargs["hi"]) if b is not None]
        return min((float(np.min(np.abs(args[0] - b))) for b in bounds), default=np.inf)
    if op == "max":
        return max_gap(np.asarray(args[0]), kwargs["axis"])
    if op == "max_pool2d":
        return pool_gap(np.asarray(args[0]), args[1], kwargs)
    if op in ("max_pool2d_grad", "max_pool2d_pick"):
        return pool_gap(np.asarray(args[1]), kwargs["kernel"], kwargs)
    return np.inf


def max_gap(x: np.ndarray, axis) -> float:
    """Smallest gap between the largest and second largest element of each reduced group."""
    axes = tuple(range(x.ndim)) if axis is None else tuple(
        a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
    if not axes:
        return np.inf
    kept = [a for a in range(x.ndim) if a not in axes]
    groups = np.transpose(x, kept + list(axes)).reshape(
        int(np.prod([x.shape[a] for a in kept])), -1)
    if groups.shape[1] < 2:
        return np.inf
    top = np.sort(groups, axis=1)[:, -2:]
    return float(np.min(top[:, 1] - top[:, 0]))


def pool_gap(x: np.ndarray, kernel, kwargs: dict) -> float:
    """Smallest gap between the two largest elements of a max_pool2d window."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    params = A.window_params("max_pool2d", kwargs.get("stride") or kernel,
                             kwargs.get("padding", 0), kwargs.get("dilation", 1))
    cols = windows(x, kernel, fill=-np.inf, **params)
    groups = cols.reshape(-1, kernel[0] * kernel[1])
    if groups.shape[1] < 2:
        return np.inf
    top = np.sort(groups, axis=1)[:, -2:]
    return float(np.min(top[:, 1] - top[:, 0]))


def varying_names(program: Program) -> set[str]:
    """Values a gradient flows through: float inputs and what depends on them."""
    names = {program.inputs[i].name for i in program.float_inputs()}
    _mark(program.body, names)
    return names


def _mark(block: Block, names: set[str]) -> None:
    names.update(block.params)
    for step in block.steps:
        if isinstance(step, CallStep):
            refs = [a for a in step.args if isinstance(a, Ref)]
            refs += [x for a in step.args if isinstance(a, list) for x in a
                     if isinstance(x, Ref)]
            if not is_frozen(step) and any(r.name in names for r in refs):
                names.add(step.out)
        elif isinstance(step, CondStep):
            _mark(step.true, names)
            _mark(step.false, names)
            names.update(step.outs)
        elif isinstance(step, ScanStep):
            _mark(step.body, names)
            names.add(step.out)
