"""`Builder`: assembles one block of a random program, step by step.

It knows every visible value's `Info`, creates inputs and constants,
finds operands (existing values, new inputs, constants, Python scalars)
whose shapes broadcast with a given value, and `emit`s a step after
checking it with the library's shape rules and the bound rules: a step
that would give an empty, too large or too wide-ranging value, or a
run-time dim of size 1 that the static graph does not know (it would be
broadcast where the static gradient assumes it is not), is refused (None).
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from shared_ops import ShapeError

from .choose import Chooser
from .program import ArraySpec, CallStep, Const, Input, Ref
from .values import (
    FROZEN,
    MAX_RANK,
    MAX_SIZE,
    Info,
    bounds,
    const_info,
    finite,
    probe,
)

SCALARS = (2.0, -1.5, 0.5, 3, -1, 0.25)
REFUSED: Counter = Counter()  # op -> steps refused by the library's shape rules


class Builder:
    """Builds one block; nested blocks get a child sharing the root's inputs and names."""

    def __init__(self, chooser: Chooser, parent: Builder | None = None, seed: int = 0) -> None:
        self.c = chooser
        self.root: Builder = parent.root if parent else self
        self.parent = parent
        self.info: dict[str, Info] = dict(parent.info) if parent else {}
        self.steps: list = []
        self.depth = parent.depth + 1 if parent else 0
        if parent is None:
            self.inputs: list[Input] = []
            self.seed = seed
            self._names = itertools.count()
            self._seeds = itertools.count(seed * 1000 + 1)

    # ---- names, inputs, constants ---------------------------------------------
    def fresh(self, prefix: str = "v") -> str:
        return f"{prefix}{next(self.root._names)}"

    def _publish(self, name: str, info: Info) -> None:
        """Make a value visible here and in every enclosing block (inputs)."""
        node: Builder | None = self
        while node is not None:
            node.info[name] = info
            node = node.parent

    def new_input(self, shape: tuple, kind: str = "f", domain: str = "generic",
                  dynamic: bool = True, static: tuple | None = None) -> str:
        """A new program input; dims > 1 may become None in the static graph
        (unless `dynamic` is False, or `static` gives the placeholder's shape)."""
        shape = tuple(int(d) for d in shape)
        if static is None:
            static = tuple(None if dynamic and d > 1 and self.c.boolean(0.25) else d
                           for d in shape)
        spec = ArraySpec(shape, kind, domain, next(self.root._seeds))
        name = self.fresh("x")
        self.root.inputs.append(Input(name, spec, static))
        lo, hi = spec.bounds()
        self._publish(name, Info(shape, static, spec.dtype, lo, hi, kind == "f"))
        return name

    def const(self, shape: tuple, kind: str = "f", domain: str = "generic") -> Const:
        return Const(ArraySpec(tuple(shape), kind, domain, next(self.root._seeds)))

    def random_shape(self, max_rank: int = 3) -> tuple:
        rank = self.c.integer(0, max_rank)
        shape = tuple(self.c.integer(1, 4) for _ in range(rank))
        return shape if int(np.prod(shape)) <= MAX_SIZE else shape[:2]

    # ---- looking up values --------------------------------------------------------
    def info_of(self, arg):
        if isinstance(arg, Ref):
            return self.info[arg.name]
        if isinstance(arg, Const):
            return const_info(arg)
        if isinstance(arg, list):
            return [self.info_of(a) for a in arg]
        return arg

    def names(self, pred=None) -> list[str]:
        return [n for n, i in self.info.items() if pred is None or pred(i)]

    def pick(self, pred=None) -> str | None:
        """A visible value satisfying pred, most often one of the newest (deep chains)."""
        names = self.names(pred)[::-1]
        if not names:
            return None
        last = len(names) - 1
        return names[min(self.c.integer(0, last), self.c.integer(0, last))]

    def operand(self, pred=None, kind: str = "f") -> str:
        """An existing value satisfying pred (usually), else a new input."""
        pred = pred or (lambda i: i.kind == kind)
        name = self.pick(pred) if self.c.integer(0, 4) else None
        if name is None:
            name = self.new_input(self.random_shape(), kind)
            if not pred(self.info[name]):
                return self.pick(pred) or name
        return name

    # ---- operands that broadcast with a value ------------------------------------------
    def derive_shape(self, shape: tuple, grow: bool = True) -> tuple:
        """A shape that broadcasts with `shape` (some dims 1, fewer or more leading dims)."""
        dims = [1 if self.c.boolean(0.3) else d for d in shape]
        if grow:
            dims = [self.c.integer(2, 3) if d == 1 and self.c.boolean(0.3) else d for d in dims]
        if dims and self.c.boolean(0.3):
            dims = dims[self.c.integer(1, len(dims)):]
        if grow and len(dims) < MAX_RANK and self.c.boolean(0.15):
            dims = [self.c.integer(2, 3)] + dims
        out = tuple(dims)
        return out if fits(shape, out, grow) else tuple(shape)

    def partner(self, x: Info, grow: bool = True, kinds: str = "f"):
        """A second operand for an elementwise op with x: Ref, Const or Python scalar."""
        how = self.c.choice(("existing", "input", "scalar", "const"))
        if how == "scalar":
            return self.c.choice(SCALARS)
        kind = "f" if self.c.integer(0, 5) else self.c.choice(kinds + "ib")
        if how == "existing":
            name = self.pick(lambda i: i.kind == kind and fits(x.shape, i.shape, grow))
            if name is not None:
                return Ref(name)
        shape = self.derive_shape(x.shape, grow)
        if how == "const":
            return self.const(shape, kind)
        return Ref(self.new_input(shape, kind))

    # ---- emitting steps ----------------------------------------------------------------
    def emit(self, op: str, args: list, kwargs: dict | None = None,
             same: bool = False) -> str | None:
        """Append `A.<op>(*args, **kwargs)`; None if the result is refused."""
        kwargs = dict(kwargs or {})
        infos = [self.info_of(a) for a in args]
        try:
            run, static = probe(op, infos, kwargs, False), probe(op, infos, kwargs, True)
        except ShapeError:  # operands chosen independently may not broadcast together
            REFUSED[op] += 1
            return None
        shape, stat = tuple(run.shape), tuple(static.shape)
        size = int(np.prod(shape, dtype=np.int64))
        if size == 0 or size > MAX_SIZE or len(shape) > MAX_RANK:
            return None
        if any(s is None and d == 1 for s, d in zip(stat, shape)):
            return None
        lo, hi = bounds(op, infos, kwargs, shape, same)
        if run.dtype.kind == "f" and not finite(lo, hi):
            return None
        frozen = op in FROZEN or (op == "cast" and run.dtype.kind != "f")
        varying = not frozen and any(_varying(i) for i in infos)
        name = self.fresh()
        self.steps.append(CallStep(name, op, tuple(args), tuple(sorted(kwargs.items()))))
        self.info[name] = Info(shape, stat, np.dtype(run.dtype), lo, hi, varying)
        return name

    def add_info(self, name: str, info: Info) -> None:
        self.info[name] = info


def _varying(info) -> bool:
    if isinstance(info, Info):
        return info.varying
    if isinstance(info, list):
        return any(_varying(i) for i in info)
    return False


def fits(shape: tuple, other: tuple, grow: bool) -> bool:
    """Whether `other` broadcasts with `shape` (without changing it unless grow)."""
    try:
        out = np.broadcast_shapes(shape, other)
    except ValueError:
        return False
    return int(np.prod(out)) <= MAX_SIZE and len(out) <= MAX_RANK and (grow or out == shape)
