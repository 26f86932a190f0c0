"""State: `sg.Variable`, `assign`/`assign_add`/`assign_sub`, `group`, initialisers.

A Variable is a graph input whose value lives in a Session (or a compiled
function), not in the symbol. `assign` is an effect equation: when a run
needs it, its value is committed to the variable *after* every read of that
run (reads see the value from the start of the run; Theano's `updates`).
`group` is a value-less op that makes a run execute its inputs. Program
extraction (`program.py`) turns both into the program's `updates`.
"""

from __future__ import annotations

import numpy as np

from shared_ops import (
    AbstractArray,
    DTypeError,
    Effect,
    Primitive,
    ShapeError,
    format_site,
    user_site,
)

from ..errors import GraphError
from ..graph.context import get_default_graph
from .symbol import Operation, Symbol, infer_avals, target_graph, to_atom

BOOL = np.dtype(np.bool_)


def _assign_eval(var, value):
    vs, ws = var.shape, getattr(value, "shape", ())
    fits = len(vs) == len(ws) and all(a is None or b is None or a == b for a, b in zip(vs, ws))
    if not fits:
        raise ShapeError(f"assign: value of shape {tuple(ws)} does not fit variable of "
                         f"shape {tuple(vs)}")
    dtype = getattr(value, "dtype", None)
    if dtype is not None and np.dtype(dtype) != var.dtype:
        raise DTypeError(f"assign: value has dtype {dtype}, variable has {var.dtype} "
                         "(use sg.cast)")
    return AbstractArray(var.shape, var.dtype)


assign_p = Primitive(
    name="assign", impl=lambda var, value: value, abstract_eval=_assign_eval,
    differentiable=False, effect=Effect.STATE,
    doc="var <- value when the run ends; the output is the new value")

group_p = Primitive(
    name="group", impl=lambda *deps: np.bool_(True),
    abstract_eval=lambda *deps: AbstractArray((), BOOL), differentiable=False,
    effect=Effect.STATE, doc="run every input; no value")


class Variable(Symbol):
    """A state symbol (TF1's `tf.Variable`): reads see the session's value.

    `sg.Variable(initial_value, name=None, trainable=True, dtype=None)` adds a
    variable holding a copy of `initial_value` to the default graph (Python
    floats become float32, as in TensorFlow).
    """

    __slots__ = ()

    def __init__(self, initial_value, name: str | None = None, trainable: bool = True,
                 dtype=None) -> None:
        graph = get_default_graph()
        if graph.parent is not None:
            raise GraphError("Variable: cannot create a variable inside sg.cond/scan branches")
        arr = _initial_array(initial_value, dtype)
        Symbol.__init__(self, graph, graph.add_variable(arr, name, bool(trainable),
                                                        user_site()))

    @classmethod
    def wrap(cls, graph, var) -> Variable:
        """The Variable symbol of an existing variable Var of `graph`."""
        obj = cls.__new__(cls)
        Symbol.__init__(obj, graph, var)
        return obj

    @property
    def initial_value(self) -> np.ndarray:
        return self.graph.variables[self.var].initial

    @property
    def trainable(self) -> bool:
        return self.graph.variables[self.var].trainable

    def assign(self, value) -> Symbol:
        return assign(self, value)

    def assign_add(self, delta) -> Symbol:
        return assign_add(self, delta)

    def assign_sub(self, delta) -> Symbol:
        return assign_sub(self, delta)

    @property
    def initializer(self) -> Operation:
        """An op that resets this variable to its initial value."""
        return group(assign(self, self.initial_value))

    def __repr__(self) -> str:
        return f"<Variable {self.name}: {self.var.aval}>"


def _initial_array(initial_value, dtype) -> np.ndarray:
    if isinstance(initial_value, (Symbol, Operation)):
        raise GraphError("Variable: initial_value must be a concrete array, not a symbol "
                         "(compute it with NumPy, or run the symbol and pass the result)")
    explicit = dtype is not None or isinstance(initial_value, (np.ndarray, np.generic))
    arr = np.array(initial_value, dtype=dtype, copy=True)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"Variable: unsupported dtype {arr.dtype}")
    if not explicit and arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # Python floats default to float32, as in TF
    return arr


def global_variables(graph=None) -> list[Variable]:
    """Every variable of the graph (default graph if None), in creation order."""
    graph = graph or get_default_graph()
    return [Variable.wrap(graph, v) for v in graph.variables]


def trainable_variables(graph=None) -> list[Variable]:
    """The trainable Variables of `graph` (default graph if None), as tf.trainable_variables."""
    graph = graph or get_default_graph()
    return [Variable.wrap(graph, v) for v, info in graph.variables.items() if info.trainable]


def _not_in_branch(graph, op: str) -> None:
    default = get_default_graph()
    if default is not graph and graph.is_ancestor_of(default):
        where = format_site(user_site())
        raise GraphError(f"{op}: not supported inside sg.cond branches; return the new value "
                         "from the branch and assign the cond's result"
                         + (f" (at {where})" if where else ""))


def assign(ref, value, name: str | None = None) -> Symbol:
    """`ref <- value` when the run that needs this op ends; returns the new value."""
    if not isinstance(ref, Symbol) or ref.var not in ref.graph.variables:
        where = format_site(user_site())
        raise GraphError(f"assign: target must be a sg.Variable, got {ref!r}"
                         + (f" (at {where})" if where else ""))
    graph = ref.graph
    _not_in_branch(graph, "assign")
    if not isinstance(value, Symbol):
        arr = np.asarray(value, dtype=ref.dtype)
        if arr.shape != ref.shape:
            try:
                arr = np.broadcast_to(arr, ref.shape)
            except ValueError:
                pass  # the shape rule below reports it with the user's line
        value = Symbol(graph, graph.add_constant(np.array(arr), site=user_site()))
    target_graph(assign_p, (ref, value))
    if value.graph is not graph:
        raise GraphError(f"assign: value {value!r} is from another graph than {ref!r}")
    site = user_site()
    out_avals = infer_avals(assign_p, [ref.var.aval, value.var.aval], {}, site)
    (out,) = graph.add_eqn(assign_p, (ref.var, value.var), {}, out_avals, site,
                           names=[name] if name else None)
    return Symbol(graph, out)


def assign_add(ref, delta, name: str | None = None) -> Symbol:
    """`ref <- ref + delta` (see `assign`)."""
    return assign(ref, ref + delta, name)


def assign_sub(ref, delta, name: str | None = None) -> Symbol:
    """`ref <- ref - delta` (see `assign`)."""
    return assign(ref, ref - delta, name)


def group(*inputs, name: str | None = None) -> Operation:
    """An op that runs all of `inputs` (symbols, ops, or lists of them)."""
    flat: list = []
    for item in inputs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    for item in flat:
        if not isinstance(item, (Symbol, Operation)):
            raise GraphError(f"group: inputs must be symbols or ops, got {type(item).__name__}")
    graph = flat[0].graph if flat else get_default_graph()
    _not_in_branch(graph, "group")
    if any(item.graph is not graph for item in flat):
        raise GraphError("group: inputs come from different graphs")
    atoms = [to_atom(graph, item) if isinstance(item, Symbol) else item.var for item in flat]
    (out,) = graph.add_eqn(group_p, atoms, {}, [AbstractArray((), BOOL)], user_site(),
                           names=[name or "group"])
    return Operation(graph, out)


def global_variables_initializer(graph=None) -> Operation:
    """An op resetting every variable that exists now to its initial value."""
    graph = graph or get_default_graph()
    return group([assign(v, v.initial_value) for v in global_variables(graph)],
                 name="init")
