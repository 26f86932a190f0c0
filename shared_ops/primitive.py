"""Primitives, their registry, and `bind`: dispatch of an op to an engine.

A primitive holds everything any engine needs:
`impl` (NumPy), `abstract_eval` (shape/dtype), `vjp` (gradient rule written
with this package's API), `scalar` (per-element function for fusion), and
its properties (views, effects, control flow, fusibility, in-place writes),
declared once as typed fields that every pass and backend reads.

`bind(prim, *args, **params)` looks at the argument types: an engine type
(dyngraph Tensor, staticgraph Symbol) carries a `_gc_bind` handler with a
`_gc_level`; the highest level wins. With no engine argument the impl runs
right away on arrays, which is how VJP rules evaluate during a plain backward.
`unary_function`, `binary_function` and `bind_unary` are `bind` for the API's
most frequent call shapes: they test the operand types inline and call the
impl without building bind's argument tuple when no operand has an engine.
"""

from __future__ import annotations

import dis
import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

REGISTRY: dict[str, Primitive] = {}
V = TypeVar("V")


class Effect(enum.Enum):
    """What running a primitive does besides computing its outputs from its inputs."""

    NONE = "none"  # a function of its inputs and params
    RANDOM = "random"  # fresh values every run: never folded, merged or moved out of a loop
    STATE = "state"  # writes session state or orders other ops (assign, group):
    # kept when unused, never moved, merged or folded


@dataclass(eq=False)
class Primitive:
    """One op, defined once for every engine, with its properties.

    Passes and backends read the property fields below instead of testing
    names; an op that is one specific op to a pass is tested by identity
    (`eqn.prim is scan_p`).
    """

    name: str
    impl: Callable
    abstract_eval: Callable
    vjp: Callable | None = None
    scalar: Callable | None = None
    elementwise: bool = False
    reduction: bool = False
    differentiable: bool = True
    doc: str = ""
    shape_only: tuple = ()  # inputs whose shape and dtype are all the VJP rule reads
    views: bool = False
    """`impl` may return a view of its first input (of input i for output i of
    a multiple-result op): the output shares memory with it, so an engine
    must not reuse that memory while the output lives."""
    view_when: Callable[[dict], bool] | None = None
    """For a view op, whether the params give a view (getitem: basic indexing
    only; advanced indexing copies). None: always, when `views` is set."""
    multiple_results: bool = False
    """`impl` and `abstract_eval` return a sequence, one item per output."""
    effect: Effect = Effect.NONE
    """What running it does besides computing its outputs (see `Effect`)."""
    control: bool = False
    """Control flow: params hold sub-graphs that the op runs (cond, scan, while)."""
    eval_with: Callable | None = None
    """How an interpreter runs it instead of `impl`: `eval_with(run, *values,
    **params)`, where `run(graph, args)` evaluates a sub-graph."""
    fused: bool = False
    """A fused group of elementwise ops (and at most one reduction) compiled as
    one kernel; params["group"] holds the group, params["body"] its graph."""
    commutative: bool = False
    """A binary op whose two operands may swap (CSE keys it either way)."""
    overwrites: tuple[int, ...] = ()
    """Inputs (not elementwise ops, which may overwrite any) whose buffer the
    output may take: the op reads each element of them before writing it."""
    scalar_factory: bool = False
    """`scalar` takes the params and returns the per-element function."""
    int_scalar: Callable | None = None
    """Per-element function for integer operands, when it differs from `scalar`."""

    def views_for(self, params: dict) -> bool:
        """Whether the output may be a view of the input, for these params."""
        return self.views and (self.view_when is None or self.view_when(params))

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    @cached_property
    def vjp_reads_out(self) -> bool:
        """Whether the VJP rule reads its `out` argument, so an engine must keep
        the output unmodified until backward (`y = x.exp(); y += 1` breaks exp's
        gradient; `h = x @ w; h += b` does not break matmul's). Read once from
        the rule's bytecode; True when that cannot be told."""
        return _reads_argument(self.vjp, "out")

    @cached_property
    def vjp_shape_only(self) -> tuple:
        """Input positions the VJP rule needs only the shape and dtype of: the
        declared `shape_only` ones (checked by a registry test) and those the
        rule never reads. An engine may save a stand-in (an AbstractArray)
        instead of the value, as PyTorch saves only what a formula uses."""
        names = _positional_inputs(self.vjp)
        unread = tuple(i for i, name in enumerate(names)
                       if not _reads_argument(self.vjp, name))
        return tuple(sorted(set(self.shape_only) | set(unread)))

    @cached_property
    def vjp_shape_only_mask(self) -> int:
        """`vjp_shape_only` as a bitmask (bit i: input i), for an engine's hot path."""
        mask = 0
        for i in self.vjp_shape_only:
            mask |= 1 << i
        return mask

    def __call__(self, *args, **params):
        return bind(self, *args, **params)


def _reads_argument(fn, name: str) -> bool:
    """Whether `fn` may read its argument `name` (True when that cannot be told)."""
    code = getattr(fn, "__code__", None)
    if code is None or name not in code.co_varnames[:code.co_argcount] or (
            name in code.co_cellvars):
        return True
    return any(ins.opname.startswith("LOAD_FAST") and (
        ins.argval == name or (isinstance(ins.argval, tuple) and name in ins.argval))
        for ins in dis.get_instructions(code))


def _positional_inputs(fn) -> tuple:
    """Names of a VJP rule's input parameters (after g and out); () when the rule
    takes them as *args or cannot be read."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & 0x04:  # CO_VARARGS
        return ()
    return code.co_varnames[2:code.co_argcount]


def register(prim: Primitive) -> Primitive:
    """Add a primitive to the registry (names are unique)."""
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} is already registered")
    REGISTRY[prim.name] = prim
    return prim


def is_registered(prim: Primitive) -> bool:
    """Whether `prim` is the primitive `REGISTRY` holds under its name (engines'
    own ops, such as scan or fused, and custom ops are not)."""
    return REGISTRY.get(prim.name) is prim


def by_primitive(table: dict[str, V]) -> dict[Primitive, V]:
    """`table` keyed by the registered Primitives its op names stand for.

    A pass or backend writes its per-op table by name once, at import, and
    looks equations up by `eqn.prim`: an unregistered op, or another op of
    the same name, finds no entry. Raises KeyError for a name not registered.
    """
    return {REGISTRY[name]: value for name, value in table.items()}


_HANDLERS: dict[type, tuple | None] = {}
# Types bind has seen that belong to no engine (ndarray, float, ...): the
# one-operand and two-operand binders below test membership to call `impl` at once.
_PLAIN_TYPES: set[type] = set()


def _handler_of(cls: type) -> tuple | None:
    """(level, handler) of an engine type, None for plain values; cached per type."""
    h = getattr(cls, "_gc_bind", None)
    entry = None if h is None else (cls._gc_level, h)
    _HANDLERS[cls] = entry
    if entry is None:
        _PLAIN_TYPES.add(cls)
    return entry


def bind(prim: Primitive, *args, **params):
    """Apply `prim` through whichever engine owns the arguments."""
    handler = None
    level = -1
    for a in args:
        cls = type(a)
        entry = _HANDLERS[cls] if cls in _HANDLERS else _handler_of(cls)
        if entry is not None and entry[0] > level:
            level, handler = entry
    if handler is None:
        return prim.impl(*args, **params)
    return handler(prim, args, params)


def bind_unary(prim: Primitive, x, **params):
    """`bind(prim, x, **params)` for one operand."""
    if type(x) in _PLAIN_TYPES:
        return prim.impl(x, **params)
    return bind(prim, x, **params)


def unary_function(name: str, doc: str) -> Callable:
    """A function `f(x)` applying the primitive registered as `name` (looked up
    when called, so it may be registered after this function is made)."""
    def op(x):
        prim = REGISTRY[name]
        if type(x) in _PLAIN_TYPES:
            return prim.impl(x)
        return bind(prim, x)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def binary_function(name: str, doc: str) -> Callable:
    """A function `f(x, y)` applying the primitive registered as `name` (looked up
    when called, as in `unary_function`)."""
    def op(x, y):
        prim = REGISTRY[name]
        if type(x) in _PLAIN_TYPES and type(y) in _PLAIN_TYPES:
            return prim.impl(x, y)
        return bind(prim, x, y)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op
