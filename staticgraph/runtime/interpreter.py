"""The reference interpreter: each equation's NumPy `impl`, in order.

`eval_graph` is the semantics every compiled backend is tested against.
Control-flow primitives provide `prim.eval_with(run, *values, **params)`,
where `run(graph, args)` evaluates a subgraph with the same options.
"""

from __future__ import annotations

import numpy as np

from shared_ops import DTypeError, ShapeError, format_site
from shared_ops.errors import GraphCompareError, IndexingError

from ..errors import GraphError, NumericsError
from ..graph.ir import Eqn, Graph, Var


def op_description(eqn: Eqn) -> str:
    """"op 'name' created at file:line", for error messages."""
    site = format_site(eqn.site)
    return f"op '{eqn.prim.name}'" + (f" created at {site}" if site else "")


def run_time_error(eqn: Eqn, vals, exc: Exception) -> Exception:
    """A NumPy failure inside an op, as a documented error naming the op's line."""
    shapes = ", ".join("?" if v is None else str(np.shape(v)) for v in vals)
    site = format_site(eqn.site)
    msg = f"{eqn.prim.name}: failed at run time: {exc}; operand shapes {shapes}" + (
        f" (created at {site})" if site else "")
    if isinstance(exc, IndexError):
        return IndexingError(msg)
    if isinstance(exc, TypeError):
        return DTypeError(msg)
    return ShapeError(msg)


def _check_value(eqn: Eqn, var: Var, value: np.ndarray) -> None:
    """The run-time value must fit the aval the graph was built with."""
    aval = var.aval
    ok = value.dtype == aval.dtype and value.ndim == len(aval.shape) and all(
        d is None or d == n for d, n in zip(aval.shape, value.shape))
    if not ok:
        raise ShapeError(f"{op_description(eqn)} produced {value.dtype.name}{list(value.shape)} at "
                         f"run time, but the graph expects {aval}")


def _check_numerics(eqn: Eqn, vals, outs) -> None:
    for value in outs:
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            bad = "NaN" if np.isnan(value).any() else "Inf"
            inputs_ok = all(np.isfinite(v).all() for v in vals
                            if np.asarray(v).dtype.kind in "fc")
            cause = "from finite inputs" if inputs_ok else "(an input was already non-finite)"
            raise NumericsError(f"check_numerics: {op_description(eqn)} produced {bad} {cause}")


class Evaluator:
    """Runs graphs with fixed options (numerics and shape checks)."""

    def __init__(self, check_numerics: bool = False, check_shapes: bool = True) -> None:
        self.check_numerics = check_numerics
        self.check_shapes = check_shapes

    def run(self, graph: Graph, args) -> list:
        """Evaluate a subgraph on positional args; its outputs."""
        return self.eval(graph, dict(zip(graph.inputs, args)), graph.outputs)

    def eval(self, graph: Graph, env: dict, outputs) -> list:
        env = dict(env)
        env.update(graph.constants)
        for eqn in graph.eqns:
            vals = [env[v] if type(v) is Var else v for v in eqn.inputs]
            outs = self.apply(eqn, vals)
            for var, value in zip(eqn.outputs, outs):
                env[var] = value
        try:
            return [env[v] for v in outputs]
        except KeyError as exc:
            raise GraphError(f"eval_graph: no value for {exc.args[0]!r}: it is neither an "
                             "input nor computed by the graph") from None

    def apply(self, eqn: Eqn, vals: list) -> list:
        prim = eqn.prim
        try:
            special = prim.eval_with
            if self.check_numerics:  # reported below, naming the op: no NumPy warning
                with np.errstate(all="ignore"):
                    out = special(self.run, *vals, **eqn.params) if special else \
                        prim.impl(*vals, **eqn.params)
            else:
                out = special(self.run, *vals, **eqn.params) if special else \
                    prim.impl(*vals, **eqn.params)
        except GraphCompareError:
            raise
        except Exception as exc:  # NumPy raises many types; map them to ours
            raise run_time_error(eqn, vals, exc) from None
        outs = list(out) if prim.multiple_results else [out]
        outs = [o if type(o) is np.ndarray else np.asarray(o) for o in outs]
        if self.check_shapes:
            for var, value in zip(eqn.outputs, outs):
                _check_value(eqn, var, value)
        if self.check_numerics:
            _check_numerics(eqn, vals, outs)
        return outs


def eval_graph(graph: Graph, env: dict, outputs=None, *, check_numerics: bool = False,
               check_shapes: bool = True) -> list:
    """Values of `outputs` (default: `graph.outputs`) given `env`: Var -> array
    for the graph's inputs and variables. Constants come from the graph."""
    missing = [v for v in list(graph.inputs) + list(graph.variables) if v not in env]
    if missing:
        raise GraphError(f"eval_graph: no value for {', '.join(map(repr, missing))}")
    ev = Evaluator(check_numerics, check_shapes)
    return ev.eval(graph, env, graph.outputs if outputs is None else outputs)


class InterpretRunner:
    """The "interpret" backend: runs a program with `eval_graph` semantics."""

    writes_state_in_place = False  # it replaces state entries (see transaction.py)

    def __init__(self, program: Graph, check_numerics: bool = False) -> None:
        self.program = program
        self.evaluator = Evaluator(check_numerics)
        self._wanted = list(program.outputs) + [value for _, value in program.updates]

    def __call__(self, inputs, state: dict) -> list:
        prog = self.program
        env = dict(zip(prog.inputs, inputs))
        for v in prog.variables:
            if v in state:  # a variable the program only writes may have no value yet
                env[v] = state[v]
        values = self.evaluator.eval(prog, env, self._wanted)
        n = len(prog.outputs)
        if prog.updates:
            external = {id(a) for a in env.values()}
            external.update(id(c) for c in prog.constants.values())
            for (var, _), value in zip(prog.updates, values[n:]):
                state[var] = commit_value(var, value, external)
        return values[:n]

    def explain(self) -> str:
        return f"backend: interpret (NumPy impl per op, no rewrites)\n{self.program.to_text()}"


def commit_value(var: Var, value: np.ndarray, external: set) -> np.ndarray:
    """The array a variable holds after an update: checked, owned by the state."""
    if value.shape != tuple(var.aval.shape):
        raise ShapeError(f"update of variable '{var.label}' (shape {var.aval.shape}) with a "
                         f"value of shape {value.shape} at run time")
    if value.dtype != var.aval.dtype:
        return value.astype(var.aval.dtype)
    if value.base is not None or id(value) in external:
        return value.copy()
    return value
