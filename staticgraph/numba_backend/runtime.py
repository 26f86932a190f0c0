"""Helpers the generated orchestrators call. They run on every step: keep them short.

- `own_state`: a variable's storage, made writable and C-contiguous, before a
  kernel writes the variable's update into it (in place);
- `commit`: store an update's value into the session state, into the existing
  array when it fits (no allocation), else as a (copied if borrowed) new entry;
- `recycled`: reuse a returned array when nobody else holds it any more;
- `ImplCall`: the reference `impl`/`eval_with` of an equation (the fallback),
  with the interpreter's error messages, shape checks and numerics checks;
- `check_finite`: check_numerics for compiled equations.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..errors import NumericsError
from ..interpreter import Evaluator, _where, commit_value
from ..ir import Eqn, Graph, Var

refcount = sys.getrefcount
# sys.getrefcount(a) for an array held only by a list slot and one local:
# the slot, the local and getrefcount's own argument.
FREE_REFS = 3


def own_state(state: dict, var: Var) -> np.ndarray:
    """`state[var]`, replaced by an owned C-contiguous writable copy if it is not one."""
    a = state[var]
    f = a.flags
    if f.c_contiguous and f.writeable and a.base is None and type(a) is np.ndarray:
        return a
    a = state[var] = np.array(a, dtype=var.aval.dtype, order="C", copy=True)
    return a


def commit(state: dict, var: Var, value: np.ndarray, owned: bool) -> None:
    """Make `value` the variable's new value (called after every read of the run).

    Copies into the current array when shape and dtype fit (the steady state:
    no allocation); otherwise stores `value` itself when the caller owns it
    (`owned`: a fresh or recycled array) or a copy (a planned buffer).
    """
    a = state.get(var)
    if (a is not None and type(a) is np.ndarray and a.shape == value.shape
            and a.dtype == value.dtype and a is not value and a.flags.writeable):
        np.copyto(a, value)
        return
    state[var] = commit_value(var, value, set() if owned else {id(value)})


def recycled(slots: list, i: int) -> np.ndarray:
    """`slots[i]` when nobody else holds it, else a new array like it (stored there)."""
    a = slots[i]
    if refcount(a) > FREE_REFS:
        a = slots[i] = np.empty_like(a)
    return a


def _aliases(out: np.ndarray, values: tuple) -> bool:
    if out.base is None and all(out is not v for v in values):
        return False
    return any(isinstance(v, np.ndarray) and np.may_share_memory(out, v) for v in values)


class LoweredEvaluator(Evaluator):
    """The interpreter, with subgraphs (cond branches, scan bodies) run by
    orchestrators this backend compiled for them (`lower(graph)`)."""

    def __init__(self, lower, check_numerics: bool = False) -> None:
        super().__init__(check_numerics)
        self._lower = lower
        self._compiled: dict[int, Any] = {}

    def run(self, graph: Graph, args) -> list:
        fn = self._compiled.get(id(graph))
        if fn is None:
            fn = self._compiled[id(graph)] = self._lower(graph)
        return list(fn(*args))


class ImplCall:
    """Calls an equation's reference implementation: outputs never alias inputs."""

    def __init__(self, evaluator: Evaluator, eqn: Eqn) -> None:
        self.evaluator, self.eqn = evaluator, eqn

    def __call__(self, *values: Any) -> list:
        outs = self.evaluator.apply(self.eqn, list(values))
        return [o.copy() if _aliases(o, values) else o for o in outs]


class NumericsCheck:
    """check_numerics after a compiled equation: the interpreter's message.

    On a NaN/Inf output the equation is re-run by the checking interpreter
    on the same inputs (the check-mode plan never overwrites an input), which
    names the op (inside a fused group: the exact op and its line).
    """

    def __init__(self, eqn: Eqn) -> None:
        self.eqn = eqn
        self.evaluator = Evaluator(check_numerics=True)  # a fused body: op by op

    def __call__(self, outs: tuple, ins: tuple) -> None:
        for o in outs:
            if o.dtype.kind in "fc" and not np.isfinite(o).all():
                with np.errstate(all="ignore"):
                    self.evaluator.apply(self.eqn, list(ins))
                bad = "NaN" if np.isnan(o).any() else "Inf"
                raise NumericsError(f"check_numerics: {_where(self.eqn)} produced {bad}")
