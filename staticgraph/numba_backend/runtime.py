"""Helpers the generated orchestrators call. They run on every step: keep them short.

- `own_state`: a variable's storage, adopted (copied once) unless this backend
  made it, before a kernel writes the variable's update into it (in place);
- `commit`: store an update's value into the session state, into the existing
  array when this backend owns it and it fits (no allocation), else as an
  owned copy;
- `recycled`: reuse a returned array when nobody else holds it any more;
- `ImplCall`: the reference `impl`/`eval_with` of an equation (the fallback),
  with the interpreter's error messages, shape checks and numerics checks;
- `check_finite`: check_numerics for compiled equations.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

import numpy as np

from ..errors import NumericsError
from ..graph.ir import Eqn, Graph, Var
from ..runtime.interpreter import Evaluator, commit_value, op_description

refcount = sys.getrefcount
# sys.getrefcount(a) for an array held only by a list slot and one local:
# the slot, the local and getrefcount's own argument.
FREE_REFS = 3


# State arrays this backend made (C-contiguous, writable, held by one state entry
# only): the ones it may write in place. Any other array (an initial value, one
# from `sess.set` or another backend, which may be shared) is adopted by one copy.
_OWNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def adopt(state: dict, var: Var, value: np.ndarray) -> np.ndarray:
    """Store a copy of `value` this backend owns as the variable's state."""
    a = np.array(value, dtype=var.aval.dtype, order="C", copy=True)
    _OWNED[id(a)] = a
    state[var] = a
    return a


def entrust_arrays(arrays) -> None:
    """Mark arrays this backend may write in place although it did not make them:
    C-contiguous, writable ones (a caller's storage it wants updated in place)."""
    for a in arrays:
        if isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.writeable:
            _OWNED[id(a)] = a


def own_state(state: dict, var: Var) -> np.ndarray:
    """`state[var]`, adopted first unless this backend made it (see `_OWNED`)."""
    a = state[var]
    if _OWNED.get(id(a)) is a:
        return a
    return adopt(state, var, a)


def commit(state: dict, var: Var, value: np.ndarray, owned: bool) -> None:
    """Make `value` the variable's new value (called after every read of the run).

    Copies into the variable's array when this backend owns it and shape and
    dtype fit (the steady state: no allocation); otherwise stores an owned copy
    (checked like the interpreter's commit). `owned` is kept for callers that
    know `value` is theirs; a copy is taken either way.
    """
    a = state.get(var)
    if (a is not None and _OWNED.get(id(a)) is a and a.shape == value.shape
            and a.dtype == value.dtype and a is not value):
        np.copyto(a, value)
        return
    adopt(state, var, commit_value(var, value, set()))  # checks shape, casts dtype


def recycled(slots: list, i: int) -> np.ndarray:
    """`slots[i]` when nobody else holds it, else a new array like it (stored there)."""
    a = slots[i]
    if refcount(a) > FREE_REFS:
        a = slots[i] = np.empty_like(a)
    return a


def aliases_input(out: np.ndarray, values: tuple) -> bool:
    """Does `out` share memory with any of the input `values`?"""
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
        return [o.copy() if aliases_input(o, values) else o for o in outs]


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
                raise NumericsError(f"check_numerics: {op_description(self.eqn)} produced {bad}")
