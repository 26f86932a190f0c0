"""Tracing: dyngraph code run on stand-in tensors that record a static graph.

A `TracedTensor` is a dyngraph `Tensor` whose array is a `TracedData`: it
knows its shape and dtype, and any attempt to read its values raises a
`TraceError` naming the user's line. While a `Trace` is active, every
primitive a dyngraph op binds is appended to the trace's staticgraph `Graph`
(through staticgraph's own `bind_symbolic`, so shape rules and sites are
the static engine's). Tensors from outside the function that reach an op
(parameters, captured tensors) become graph inputs, read by reference on
every call.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np

import shared_ops
import staticgraph as staticgraph_package
from shared_ops import api as A
from shared_ops import format_site, user_site
from shared_ops.shapes import AbstractArray
from staticgraph.build.symbol import Symbol, bind_symbolic
from staticgraph.graph.context import get_default_graph, graph_scope
from staticgraph.graph.ir import Graph, Var

from ..dispatch import TRACE_HOOK, TRACE_STATE
from ..grad_mode import GRAD_MODE
from ..tensor import Tensor
from .errors import TraceError
from .state import TraceState

_ACTIVE = threading.local()


def _symbolic_aware(frame) -> bool:
    """True when `frame` runs shared_ops or staticgraph code, which handles None
    (symbolic) dims; dyngraph's own code and user code get concrete shapes."""
    name = frame.f_code.co_filename
    known = _SYMBOLIC_AWARE.get(name)
    if known is None:
        known = _SYMBOLIC_AWARE[name] = os.path.abspath(name).startswith(_AWARE_DIRS)
    return known


_AWARE_DIRS = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                    for m in (shared_ops, staticgraph_package))
_SYMBOLIC_AWARE: dict[str, bool] = {}


def active_trace() -> Trace | None:
    """The trace running in this thread, or None."""
    return getattr(_ACTIVE, "trace", None)


def _site_text() -> str:
    where = format_site(user_site())
    return f" (at {where})" if where else ""


def refuse(what: str, advice: str) -> TraceError:
    """The error for Python code that needs a traced value now."""
    return TraceError(f"dg.compile: {what} needs the value of a traced tensor, which is "
                      f"known only when the compiled graph runs{_site_text()}; {advice}")


_VALUE_ADVICE = ("keep the computation in tensor ops (dg.where for a choice per element), "
                 "use autograph=True for `if`/`for`/`while` on a tensor (sg.cond, "
                 "bounded sg.scan loops), or compile with fullgraph=False to run such calls "
                 "eagerly")


class ShapeSpecialization(Exception):
    """Internal: user code read a symbolic (dynamic) dim; the caller traces again
    with that call's concrete shapes."""

    def __init__(self, site) -> None:
        super().__init__(format_site(site) or "?")
        self.site = site


class TracedData:
    """The array slot of a TracedTensor: shape (None: a symbolic dim) and dtype."""

    __slots__ = ("_shape", "dtype")

    def __init__(self, shape: tuple, dtype) -> None:
        self._shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def shape(self) -> tuple:
        """The shape; a symbolic dim read by code that expects ints (the user's,
        dyngraph's) makes the caller trace again for concrete shapes."""
        if None in self._shape and not _symbolic_aware(sys._getframe(2)):
            raise ShapeSpecialization(user_site())
        return self._shape

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        if self._shape[0] is None:
            raise ShapeSpecialization(user_site())
        return self._shape[0]

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        if None in self._shape:
            raise ShapeSpecialization(user_site())
        return int(np.prod(self._shape, dtype=np.int64))

    def _refuse(self, *args, **kwargs):
        raise refuse("reading the values", _VALUE_ADVICE)

    __array__ = __array_function__ = __array_ufunc__ = _refuse
    __bool__ = __float__ = __int__ = __index__ = __iter__ = __getitem__ = _refuse
    item = tolist = copy = astype = reshape = _refuse


class TracedTensor(Tensor):
    """A dyngraph tensor standing for a value of the graph being traced."""

    __slots__ = ("_sym",)

    def numpy(self):
        raise refuse(".numpy()", _VALUE_ADVICE)

    def item(self):
        raise refuse(".item()", _VALUE_ADVICE)

    def tolist(self):
        raise refuse(".tolist()", _VALUE_ADVICE)

    def __bool__(self) -> bool:
        raise refuse("bool(tensor) (an `if`, `while`, `and`/`or` on a tensor)", _VALUE_ADVICE)

    def __float__(self) -> float:
        raise refuse("float(tensor)", _VALUE_ADVICE)

    def __int__(self) -> int:
        raise refuse("int(tensor)", _VALUE_ADVICE)

    def __index__(self) -> int:
        raise refuse("using a tensor as an index or a count", _VALUE_ADVICE)

    def __array__(self, dtype=None, copy=None):
        raise refuse("converting a tensor to a NumPy array", _VALUE_ADVICE)

    def __repr__(self) -> str:
        raise refuse("printing a tensor", "print outside the compiled function, or compile "
                     "with fullgraph=False to run such calls eagerly")

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return self.__repr__()

    def detach(self) -> TracedTensor:
        """The same value, cut from the gradient (a stop_gradient in the graph)."""
        return new_traced(A.stop_gradient(self._sym), False)

    @property
    def data(self) -> TracedTensor:
        return self.detach()

    @data.setter
    def data(self, value) -> None:
        raise TraceError(f"dg.compile: assigning .data of a traced tensor{_site_text()}; "
                         "set it outside the compiled function")

    def detach_(self) -> TracedTensor:
        self._sym = A.stop_gradient(self._sym)
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into the leaves' `.grad`, in the traced graph."""
        trace = active_trace()
        if trace is None:
            raise TraceError("dg.compile: backward() on a traced tensor after its trace ended")
        if create_graph:
            raise TraceError(f"dg.compile: backward(create_graph=True) inside a compiled "
                             f"function{_site_text()}; differentiate twice without dg.compile")
        trace.state.backward([self], None if gradient is None else [gradient], inputs)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        raise TraceError("dg.compile: requires_grad_() on a traced tensor"
                         f"{_site_text()}; set it on the tensor passed in")


def new_traced(sym: Symbol, requires_grad: bool) -> TracedTensor:
    t = object.__new__(TracedTensor)
    t._data = TracedData(sym.shape, sym.dtype)
    t._sym = sym
    t._requires_grad = requires_grad
    t.grad = None
    t._edge = None
    t._version = [0, 0]
    return t


class Trace:
    """One run of a function on traced tensors, building `graph`."""

    def __init__(self, name: str, dynamic: bool) -> None:
        self.graph = Graph(name)
        self.dynamic = dynamic
        self.thread = threading.get_ident()
        self.captures: dict[int, tuple[Tensor, Var]] = {}
        self.loop_bound = 8  # AutoGraph loops on a traced count: steps in the graph
        self.loop_overflows: list[Symbol] = []  # true when a loop needed more steps
        self.arg_index: dict[int, int] = {}      # id(traced argument) -> leaf index
        self.arg_tensors: dict[int, Tensor] = {}  # leaf index -> the argument traced
        self.arg_vars: dict[int, Var] = {}        # leaf index -> its input var
        self.arg_traced: list[TracedTensor] = []
        self.state = TraceState(self)

    def input(self, value: Tensor, index: int) -> TracedTensor:
        """A traced tensor for argument leaf `index` (leading dim symbolic when dynamic)."""
        shape = value.shape
        if self.dynamic and len(shape) > 0:
            shape = (None,) + tuple(shape[1:])
        var = self.graph.add_input(AbstractArray(shape, value.dtype), f"arg{index}",
                                   user_site())
        traced = new_traced(Symbol(self.graph, var), value._requires_grad)
        self.arg_index[id(traced)] = index
        self.arg_tensors[index] = value
        self.arg_vars[index] = var
        self.arg_traced.append(traced)
        return traced

    def to_symbol(self, value) -> Symbol:
        """The graph's symbol for a traced tensor, a captured tensor or a constant."""
        if isinstance(value, TracedTensor):
            return value._sym
        if isinstance(value, Tensor):
            return self.capture(value)
        if isinstance(value, Symbol):
            return value
        return self.constant(value)

    def leaf_symbol(self, value: Tensor) -> Symbol:
        """The symbol a gradient is taken against: an argument's or a captured
        tensor's value when the call started."""
        index = self.arg_index.get(id(value))
        if index is not None:
            return Symbol(self.graph, self.arg_vars[index])
        if isinstance(value, TracedTensor):
            return value._sym
        self.capture(value)
        return Symbol(self.graph, self.captures[id(value)][1])

    def wrap(self, sym: Symbol, requires_grad: bool = False) -> TracedTensor:
        """A traced tensor standing for `sym`."""
        return new_traced(sym, requires_grad)

    def broadcast(self, sym: Symbol, shape: tuple) -> Symbol:
        """`sym` broadcast to `shape`, in the traced graph."""
        with graph_scope(self.graph):
            return A.broadcast_to(sym, shape)

    @staticmethod
    def is_traced(value) -> bool:
        return isinstance(value, TracedTensor)

    @staticmethod
    def specialize() -> None:
        """Trace this call again with its concrete shapes (see ShapeSpecialization)."""
        raise ShapeSpecialization(user_site())

    def current_graph(self) -> Graph:
        return get_default_graph()

    def site_text(self) -> str:
        return _site_text()

    def capture(self, value: Tensor) -> Symbol:
        """A tensor from outside the function: a graph input read each call (its
        value as last changed in place, when the trace changed it)."""
        changed = self.state.current_value(value)
        if changed is not None:
            return changed
        seen = self.captures.get(id(value))
        if seen is None:
            var = self.graph.add_input(AbstractArray(value.shape, value.dtype),
                                       f"captured{len(self.captures)}", user_site())
            seen = self.captures[id(value)] = (value, var)
        return Symbol(self.graph, seen[1])

    def refuse_random(self, name: str) -> None:
        """A random draw while tracing (this thread): its values would be frozen."""
        if threading.get_ident() == self.thread:
            raise TraceError(f"dg.compile: dg.{name}() inside a compiled function"
                             f"{_site_text()} would draw once, at trace time, and reuse the "
                             "values at every call; draw outside and pass the tensor in")

    def constant(self, value) -> Symbol:
        """A constant of the graph being traced."""
        return Symbol(self.graph, self.graph.add_constant(np.asarray(value)))

    def bind(self, prim, args, params):
        """TRACE_HOOK: record `prim(*args)` in the graph; NotImplemented elsewhere."""
        if threading.get_ident() != self.thread:
            return NotImplemented
        atoms = []
        wants_grad = False
        for a in args:
            if isinstance(a, TracedTensor):
                atoms.append(a._sym)
                wants_grad = wants_grad or a._requires_grad
            elif isinstance(a, Tensor):
                atoms.append(self.capture(a))
                wants_grad = wants_grad or a._requires_grad
            else:
                atoms.append(a)
        default = get_default_graph()  # inside an AutoGraph cond/loop body: its graph
        with graph_scope(default if self.graph.is_ancestor_of(default) else self.graph):
            out = bind_symbolic(prim, atoms, params)
            if wants_grad and not GRAD_MODE.enabled and prim.differentiable:
                # under no_grad: eager records nothing, so no gradient may flow here
                out = (tuple(A.stop_gradient(o) for o in out) if isinstance(out, tuple)
                       else A.stop_gradient(out))
        wants_grad = wants_grad and GRAD_MODE.enabled and prim.differentiable
        if isinstance(out, tuple):
            return tuple(new_traced(s, wants_grad and s.dtype.kind == "f") for s in out)
        return new_traced(out, wants_grad and out.dtype.kind == "f")

    def __enter__(self) -> Trace:
        if TRACE_HOOK[0] is not None:
            raise TraceError("dg.compile: another thread is tracing a compiled function; "
                             "trace from one thread at a time")
        _ACTIVE.trace = self
        TRACE_HOOK[0] = self.bind
        TRACE_STATE[0] = self.state
        self._scope = graph_scope(self.graph)  # sg.cond / loops build in the trace's graph
        self._scope.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._scope.__exit__(*exc)
        self.state.restore()
        TRACE_HOOK[0] = None
        TRACE_STATE[0] = None
        _ACTIVE.trace = None
