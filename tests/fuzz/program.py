"""The random program: a small data structure every engine can run.

A `Program` is a `Block` of steps over named values. A `CallStep` is one call
of a `shared_ops.api` function (`A.mul(v1, 2.5)`), so the same program runs
on NumPy arrays, dyngraph Tensors and staticgraph Symbols. `CondStep` and
`ScanStep` hold sub-blocks that see the enclosing block's values (the
static engine captures them). Inputs and constant operands are seeded
arrays (`ArraySpec`), so a program is fully reproducible from its text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

DOMAINS = {"generic": (-2.0, 2.0), "positive": (0.5, 2.0), "small": (-1.0, 1.0)}
INT_RANGE = (-3, 3)


@dataclass(frozen=True)
class Ref:
    """A named value of the program."""

    name: str


@dataclass(frozen=True)
class ArraySpec:
    """A seeded array: float64 ('f', uniform over `domain`), int64 ('i') or bool ('b')."""

    shape: tuple[int, ...]
    kind: str = "f"
    domain: str = "generic"
    seed: int = 0

    def make(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        if self.kind == "f":
            lo, hi = DOMAINS[self.domain]
            return np.asarray(rng.uniform(lo, hi, self.shape), dtype=np.float64)
        if self.kind == "i":
            return np.asarray(rng.integers(INT_RANGE[0], INT_RANGE[1] + 1, self.shape),
                              dtype=np.int64)
        return np.asarray(rng.random(self.shape) < 0.5)

    def bounds(self) -> tuple[float, float]:
        if self.kind == "f":
            return DOMAINS[self.domain]
        return (float(INT_RANGE[0]), float(INT_RANGE[1])) if self.kind == "i" else (0.0, 1.0)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype({"f": np.float64, "i": np.int64, "b": np.bool_}[self.kind])


@dataclass(frozen=True)
class Input:
    """A program input; `static` is its placeholder shape (None: known at run time)."""

    name: str
    spec: ArraySpec
    static: tuple


@dataclass(frozen=True)
class Const:
    """A constant array operand (a raw ndarray in every engine)."""

    spec: ArraySpec


@dataclass(frozen=True, eq=False)
class CallStep:
    """`out = A.<op>(*args, **dict(kwargs))`; args hold Refs, Consts and literals."""

    out: str
    op: str
    args: tuple
    kwargs: tuple = ()


@dataclass(frozen=True, eq=False)
class Block:
    """Steps run in order; `params` are bound by the caller (a scan body's acc, x)."""

    params: tuple[str, ...]
    steps: tuple
    outputs: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class CondStep:
    """`outs = cond(pred, true, false)`: static `sg.cond`, Python `if` elsewhere."""

    outs: tuple[str, ...]
    pred: Ref
    true: Block
    false: Block


@dataclass(frozen=True, eq=False)
class ScanStep:
    """`out = scan(body, elems, init, reverse)` with tf.scan semantics."""

    out: str
    elems: Ref
    init: Ref
    body: Block
    reverse: bool = False


@dataclass(eq=False)
class Program:
    """Inputs, the top-level block, and the seed of the loss weights."""

    inputs: tuple[Input, ...]
    body: Block
    seed: int = 0
    out_dtypes: tuple = field(default=())  # dtype of each output, recorded when generated

    def input_values(self) -> list[np.ndarray]:
        return [inp.spec.make() for inp in self.inputs]

    def float_inputs(self) -> list[int]:
        """Positions of the inputs gradients are taken with respect to."""
        return [i for i, inp in enumerate(self.inputs) if inp.spec.kind == "f"]

    def steps(self) -> Iterator:
        """Every step, nested blocks included (depth first)."""
        yield from walk(self.body)

    def ops_used(self) -> set[str]:
        names = set()
        for step in self.steps():
            if isinstance(step, CallStep):
                names.add(step.op)
            else:
                names.add("cond" if isinstance(step, CondStep) else "scan")
        return names

    def has(self, kind: str) -> bool:
        return kind in self.ops_used()


def walk(block: Block) -> Iterator:
    for step in block.steps:
        yield step
        if isinstance(step, CondStep):
            yield from walk(step.true)
            yield from walk(step.false)
        elif isinstance(step, ScanStep):
            yield from walk(step.body)


def refs_of(step) -> list[Ref]:
    """The values a step reads directly (operands, predicate, scan inputs)."""
    if isinstance(step, CondStep):
        return [step.pred]
    if isinstance(step, ScanStep):
        return [step.elems, step.init]
    refs = [a for a in step.args if isinstance(a, Ref)]
    return refs + [x for a in step.args if isinstance(a, list) for x in a if isinstance(x, Ref)]
