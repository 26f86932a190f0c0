"""Symbols: user handles on graph values, and the `bind` handler that builds.

Every op on a Symbol goes through `shared_ops.bind`, which calls
`bind_symbolic` (Symbol's `_gc_bind`, level 20, above dyngraph's Tensor).
It picks the graph, turns other operands into graph atoms (Python scalars
stay literal, arrays become constants, symbols of an enclosing graph are
captured), runs the primitive's `abstract_eval` so shape errors surface now,
and appends the equation.
"""

from __future__ import annotations

import numpy as np

from shared_ops import DTypeError, ShapeError, bind, format_site, user_site
from shared_ops import api as A
from shared_ops.dtypes import check_operand
from shared_ops.errors import GraphCompareError
from shared_ops.shapes import SCALAR_TYPES

from ..errors import GraphError, SymbolicValueError
from ..graph.context import get_default_graph
from ..graph.ir import Graph, Var


def _describe(avals) -> str:
    return ", ".join(str(a) if isinstance(a, Var) or hasattr(a, "dtype") else repr(a)
                     for a in avals)


def infer_avals(prim, avals, params, site) -> list:
    """`abstract_eval` with errors that name the op, the operands and the user line."""
    try:
        out = prim.abstract_eval(*avals, **params)
    except GraphCompareError as exc:
        raise type(exc)(_op_message(prim, exc, avals, site)) from None
    except (TypeError, ValueError, IndexError) as exc:
        kind = DTypeError if isinstance(exc, TypeError) else ShapeError
        raise kind(_op_message(prim, exc, avals, site)) from None
    return list(out) if prim.multiple_results else [out]


def _op_message(prim, exc, avals, site) -> str:
    msg = str(exc)
    if not msg.startswith(prim.name):
        msg = f"{prim.name}: {msg}"
    where = format_site(site)
    return f"{msg} [operands: {_describe(avals)}]" + (f" (at {where})" if where else "")


def target_graph(prim, args) -> Graph:
    """The graph an op with these operands is built in (see module doc)."""
    default = get_default_graph()
    graphs: list[Graph] = []
    for a in args:
        if isinstance(a, Symbol) and all(a.graph is not g for g in graphs):
            graphs.append(a.graph)
    if all(g.is_ancestor_of(default) for g in graphs):
        return default
    if default.parent is None and len(graphs) == 1 and graphs[0].parent is None:
        return graphs[0]  # all operands in one other top-level graph: build there (as TF)
    where = format_site(user_site())
    where = f" (at {where})" if where else ""
    if any(g.parent is not None and not g.is_ancestor_of(default) for g in graphs):
        raise GraphError(f"{prim.name}: an operand was made inside a sg.cond branch and "
                         f"cannot be used outside it; return it from the branch{where}")
    names = ", ".join(repr(g) for g in graphs)
    raise GraphError(f"{prim.name}: operands come from different graphs ({names}); build "
                     f"every op of a model in one graph{where}")


def capture(graph: Graph, var: Var, owner: Graph) -> Var:
    """`var` of an enclosing graph `owner`, as an input of `graph` (memoised)."""
    if owner is graph:
        return var
    if not owner.is_ancestor_of(graph):
        where = format_site(user_site())
        raise GraphError(f"symbol {var.label} belongs to {owner!r}, which does not enclose "
                         f"{graph!r} (a value made inside one sg.cond branch cannot be used "
                         "outside it)" + (f" (at {where})" if where else ""))
    outer = capture(graph.parent, var, owner)
    for seen, inner in graph.captures:
        if seen is outer:
            return inner
    inner = graph.add_input(outer.aval, outer.name, outer.site)
    graph.captures.append((outer, inner))
    return inner


def to_atom(graph: Graph, value):
    """A Var or a Python-scalar literal of `graph` for any operand."""
    if isinstance(value, Symbol):
        return capture(graph, value.var, value.graph)
    if isinstance(value, SCALAR_TYPES):
        return value
    try:
        arr = np.array(value, copy=True)
    except SymbolicValueError:
        raise
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"cannot use {type(value).__name__} as a constant: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"cannot use a value of dtype {arr.dtype} "
                         f"({type(value).__name__}) as a constant")
    return graph.add_constant(arr, site=current_site())


_SITE_OVERRIDE: list = [None]  # set while replaying a graph: keep the original lines


def current_site():
    """The creation site for a new node: the user's line, or the replayed eqn's."""
    return _SITE_OVERRIDE[0] or user_site()


def bind_symbolic(prim, args, params):
    """Symbol's `_gc_bind`: add `prim(*args, **params)` to the right graph."""
    graph = target_graph(prim, args)
    site = current_site()
    for a in args:  # other unsupported values are refused as constants (to_atom)
        if type(a) is list or type(a) is tuple:
            where = format_site(site)
            check_operand(prim.name, a, f" (at {where})" if where else "")
    try:
        inputs = [to_atom(graph, a) for a in args]
    except DTypeError as exc:  # name the op and the user's line, as shape errors do
        where = format_site(site)
        raise DTypeError(f"{prim.name}: {exc}" + (f" (at {where})" if where else "")) from None
    avals = [v.aval if isinstance(v, Var) else v for v in inputs]
    out_avals = infer_avals(prim, avals, params, site)
    outs = graph.add_eqn(prim, inputs, params, out_avals, site)
    syms = tuple(Symbol(graph, v) for v in outs)
    return syms if prim.multiple_results else syms[0]


def replay_graph(graph: Graph, args: list) -> list:
    """Re-emit `graph`'s eqns on `args` (symbols) in the default graph; its outputs.

    Used to differentiate a subgraph (a cond branch) and to inline one. Each
    new node keeps the creation site of the eqn it copies.
    """

    target = get_default_graph()
    env = dict(zip(graph.inputs, args))
    for v, value in graph.constants.items():
        env[v] = Symbol(target, target.add_constant(value, site=v.site))
    saved = _SITE_OVERRIDE[0]
    try:
        for eqn in graph.eqns:
            _SITE_OVERRIDE[0] = eqn.site
            vals = [env[x] if isinstance(x, Var) else x for x in eqn.inputs]
            res = bind(eqn.prim, *vals, **eqn.params)
            env.update(zip(eqn.outputs, res if eqn.prim.multiple_results
                           else (res,)))
    finally:
        _SITE_OVERRIDE[0] = saved
    return [env[v] for v in graph.outputs]


class Symbol:
    """A value in a graph: has a shape and a dtype now, data only when run."""

    __slots__ = ("graph", "var")
    _gc_level = 20
    _gc_bind = staticmethod(bind_symbolic)
    __hash__ = object.__hash__

    def __init__(self, graph: Graph, var: Var) -> None:
        self.graph = graph
        self.var = var

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """`ndarray (op) symbol` builds the graph op; other NumPy ufuncs name the sg function."""
        op = _UFUNC_OPERATORS.get(ufunc.__name__)
        if op is not None and method == "__call__" and not kwargs and len(inputs) == 2:
            return op(*inputs)
        name = ufunc.__name__
        hint = (f"use sg.{name}(...)" if hasattr(A, name)
                else "build it from sg ops (sg.exp, sg.where, ...)")
        raise SymbolicValueError(
            f"np.{name} cannot run on symbol {self.name} ({self.var.aval}): NumPy needs a "
            f"value, and a symbol has one only when the graph runs; {hint}")

    @property
    def shape(self) -> tuple:
        """Static shape; None marks a dim known only at run time."""
        return self.var.aval.shape

    @property
    def dtype(self) -> np.dtype:
        """The symbol's NumPy dtype."""
        return self.var.aval.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.var.aval.shape)

    @property
    def name(self) -> str:
        """The symbol's name in the graph."""
        return self.var.label

    @property
    def site(self) -> str | None:
        """'file.py:line' of the user code that created this symbol."""
        return format_site(self.var.site)

    @property
    def T(self) -> Symbol:
        """The symbol with all dims reversed (the transpose of a matrix)."""
        return A.transpose(self)

    def eval(self, feed_dict=None, session=None):
        """Run this symbol (TF1's `tensor.eval`): `x.eval(sess)`, `x.eval({p: v}, sess)`,
        or `x.eval()` inside `with sg.Session() as sess:`."""
        if session is None and hasattr(feed_dict, "run"):
            session, feed_dict = feed_dict, None
        if session is None:
            from ..graph.context import get_default_session
            session = get_default_session()
        if session is None:
            raise GraphError("eval() needs a session: x.eval(sess), or call it inside "
                             "`with sg.Session() as sess:`")
        return session.run(self, feed_dict)

    def __array__(self, dtype=None, copy=None):
        raise SymbolicValueError(
            f"symbol {self.name} ({self.var.aval}) has no value until it is run: fetch it "
            "with sess.run(...) (symbolic indices and array conversions are not supported)")

    def __bool__(self) -> bool:
        raise SymbolicValueError(
            f"using symbol {self.name} as a Python bool: its value is only known when the "
            "graph runs; use sg.cond(pred, true_fn, false_fn) or sg.where")

    def __len__(self) -> int:
        if not self.shape or self.shape[0] is None:
            raise SymbolicValueError(f"len() of symbol {self.name} with shape "
                                     f"{self.var.aval}: the first dim is not known")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        where = f" at {self.site}" if self.site else ""
        return f"<Symbol {self.name}: {self.var.aval}{where}>"


class Operation:
    """A value-less op (`sg.group`, `global_variables_initializer`): fetch gives None."""

    __slots__ = ("graph", "var")
    __hash__ = object.__hash__

    def __init__(self, graph: Graph, var: Var) -> None:
        self.graph = graph
        self.var = var

    @property
    def name(self) -> str:
        return self.var.label

    def run(self, feed_dict=None, session=None) -> None:
        """Run this op (TF1's `op.run`): `op.run(sess)`, or inside `with sg.Session():`."""
        if session is None and hasattr(feed_dict, "run"):
            session, feed_dict = feed_dict, None
        if session is None:
            from ..graph.context import get_default_session
            session = get_default_session()
        if session is None:
            raise GraphError("run() needs a session: op.run(sess), or call it inside "
                             "`with sg.Session() as sess:`")
        session.run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<Operation {self.name}>"


def getitem(x: Symbol, index) -> Symbol:
    """x[index]: NumPy indexing, or a `take` when one entry is an integer symbol."""
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(item, Symbol) for item in items):
        return symbolic_getitem(x, items)
    return A.getitem(x, index)


def symbolic_getitem(x: Symbol, items: tuple) -> Symbol:
    """x[items] where one entry is an integer symbol (`E[ids]`, `x[:, ids]`,
    `E[ids, 0]`): a `take` along that axis, then the basic index after it."""
    where = format_site(current_site())
    where = f" (at {where})" if where else ""
    at = [k for k, item in enumerate(items) if isinstance(item, Symbol)]
    if len(at) > 1:
        raise SymbolicValueError(f"x[...] takes one symbolic index, got {len(at)}{where}")
    k = at[0]
    ids, before, after = items[k], items[:k], items[k + 1:]
    if ids.dtype.kind not in "iu":
        raise SymbolicValueError(f"x[ids]: a symbolic index must hold integers, got "
                                 f"{ids.dtype} (boolean masks need a known value){where}")
    if any(item != slice(None) for item in before):
        raise SymbolicValueError("x[..., ids]: only full slices ':' may come before a "
                                 f"symbolic index{where}")
    if any(not isinstance(item, (int, slice, type(None))) for item in after):
        raise SymbolicValueError("x[ids, ...]: only ints, slices and None may follow a "
                                 f"symbolic index{where}")
    out = A.take(x, ids, k)
    if after:
        out = A.getitem(out, (slice(None),) * (k + len(ids.shape)) + tuple(after))
    return out


def _bin(fn, reflected=False):
    if reflected:
        return lambda self, other: fn(other, self)
    return lambda self, other: fn(self, other)


def _reduce(fn):
    def method(self, axis=None, keepdims=False):
        return fn(self, axis=axis, keepdims=keepdims)
    method.__name__ = fn.__name__
    method.__doc__ = (f"The {fn.__name__} of all elements, or along `axis` (an int or tuple), "
                      "keeping reduced dims if `keepdims`.")
    return method


def _shape_args(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


_METHODS = {
    "__add__": _bin(A.add), "__radd__": _bin(A.add, True),
    "__sub__": _bin(A.sub), "__rsub__": _bin(A.sub, True),
    "__mul__": _bin(A.mul), "__rmul__": _bin(A.mul, True),
    "__truediv__": _bin(A.div), "__rtruediv__": _bin(A.div, True),
    "__pow__": _bin(A.pow), "__rpow__": _bin(A.pow, True),
    "__matmul__": _bin(A.matmul), "__rmatmul__": _bin(A.matmul, True),
    "__gt__": _bin(A.greater), "__lt__": _bin(A.less),
    "__ge__": _bin(A.greater_equal), "__le__": _bin(A.less_equal),
    "__eq__": _bin(A.equal), "__ne__": _bin(A.not_equal),
    "__and__": _bin(A.logical_and), "__or__": _bin(A.logical_or),
    "__invert__": lambda self: A.logical_not(self),
    "__neg__": lambda self: A.neg(self),
    "__pos__": lambda self: self,
    "__abs__": lambda self: A.abs(self),
    "__getitem__": lambda self, index: getitem(self, index),
    "sum": _reduce(A.sum), "mean": _reduce(A.mean), "max": _reduce(A.max),
    "reshape": lambda self, *shape: A.reshape(self, _shape_args(shape)),
    "transpose": lambda self, *axes: A.transpose(self, _shape_args(axes) or None),
    "astype": lambda self, dtype: A.cast(self, dtype),
}
_METHODS["reshape"].__doc__ = "The same elements in a new shape, given as ints or one tuple."
_METHODS["transpose"].__doc__ = "Permute the dims (ints or one tuple; none given: reverse them)."
_METHODS["astype"].__doc__ = "This symbol cast to `dtype`."
for _name, _fn in _METHODS.items():
    setattr(Symbol, _name, _fn)

_UFUNC_OPERATORS = {
    "add": A.add, "subtract": A.sub, "multiply": A.mul, "true_divide": A.div,
    "divide": A.div, "power": A.pow, "matmul": A.matmul,
    "greater": A.greater, "less": A.less, "greater_equal": A.greater_equal,
    "less_equal": A.less_equal, "equal": A.equal, "not_equal": A.not_equal,
    "logical_and": A.logical_and, "logical_or": A.logical_or,
}
