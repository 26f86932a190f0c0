"""The engine-neutral description of one fused elementwise group.

A `FusedGroup` is what the code generator compiles: typed inputs, a list of
steps (one elementwise primitive from `shared_ops.REGISTRY` each), which steps
are written out, and an optional trailing reduction that consumes one value
inside the same loop. It knows nothing of the graph IR: an adapter builds one
from a fusion cluster (or a test builds one by hand with `GroupBuilder`).

Loop shape: all arrays are aligned to the right (NumPy broadcasting) against a
loop of rank `group.ndim`. An input dim listed in `GroupInput.broadcast` is
statically 1 and is always read at index 0; every other dim must equal the
loop's extent. That *broadcast pattern*, the ranks and the dtypes key the
compiled kernel; sizes do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared_ops import REGISTRY, Primitive, by_primitive
from shared_ops.shapes import SCALAR_TYPES, AbstractArray, result_dtype

Literal = bool | int | float
REDUCTION_KINDS: dict[Primitive, str] = by_primitive({"sum": "sum", "mean": "mean", "max": "max"})
"""The reductions the loop templates fuse: the primitive -> its `Reduction.kind`."""
REDUCTION_PRIMITIVES: dict[str, Primitive] = {kind: p for p, kind in REDUCTION_KINDS.items()}


@dataclass(frozen=True)
class GroupInput:
    """One kernel argument.

    `scalar=True` means a Python scalar passed at call time: its dtype is weak
    (NEP 50), so `float32_array * a` stays float32. A 0-d array input has
    `ndim=0, scalar=False` and keeps its dtype. `broadcast` lists this input's
    own dims (0-based) that are statically 1.
    """

    ndim: int
    dtype: np.dtype
    scalar: bool = False
    broadcast: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "broadcast", tuple(sorted(set(self.broadcast))))
        if self.scalar and self.ndim != 0:
            raise ValueError("a Python-scalar input has ndim 0")
        if any(not 0 <= d < self.ndim for d in self.broadcast):
            raise ValueError(f"broadcast dims {self.broadcast} out of range for ndim {self.ndim}")

    def aval(self) -> Any:
        """What `abstract_eval` sees: a weak Python scalar or an AbstractArray."""
        if self.scalar:
            return {"b": True, "i": 1, "u": 1, "f": 1.0}[self.dtype.kind]
        shape = tuple(1 if d in self.broadcast else None for d in range(self.ndim))
        return AbstractArray(shape, self.dtype)


@dataclass(frozen=True)
class Ref:
    """A reference to group input `index` (kind 'in') or step `index` ('step')."""

    kind: str
    index: int

    def __str__(self) -> str:
        return f"{'x' if self.kind == 'in' else 't'}{self.index}"


@dataclass(frozen=True)
class GroupStep:
    """One elementwise primitive applied to refs or literal Python scalars."""

    prim: str
    args: tuple[Ref | Literal, ...]
    params: tuple[tuple[str, Any], ...] = ()
    site: str | None = None  # "model.py:12": named in the generated source

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class Reduction:
    """sum/mean/max over loop `axes` of one value, fused into the loop."""

    kind: str
    arg: Ref
    axes: tuple[int, ...]
    keepdims: bool = False
    site: str | None = None


@dataclass(frozen=True)
class FusedGroup:
    """A fused elementwise group (plus optional reduction), engine neutral."""

    inputs: tuple[GroupInput, ...]
    steps: tuple[GroupStep, ...]
    outputs: tuple[int, ...]
    reduction: Reduction | None = None
    name: str = "fused"
    _types: list = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        validate(self)
        self._types.extend(infer_types(self))
        red = self.reduction
        if red is not None and self.ref_pattern(red.arg) != (self.ndim, ()):
            raise ValueError("a fused reduction needs a value of the loop's full shape")

    @property
    def ndim(self) -> int:
        """Rank of the loop nest (the broadcast rank of all inputs)."""
        return max((i.ndim for i in self.inputs), default=0)

    def step_dtype(self, index: int) -> np.dtype:
        """The dtype of step `index`'s result (from its `abstract_eval`)."""
        return self._types[index][0]

    def op_dtype(self, index: int) -> np.dtype:
        """The dtype weak scalar operands of step `index` are converted to."""
        return self._types[index][1]

    def step_pattern(self, index: int) -> tuple[int, tuple[int, ...]]:
        """(rank, statically-1 dims) of step `index`'s result (its buffer's layout)."""
        shape = self._types[index][2]
        return len(shape), tuple(d for d, n in enumerate(shape) if n == 1)

    def ref_pattern(self, ref: Ref) -> tuple[int, tuple[int, ...]]:
        if ref.kind == "in":
            inp = self.inputs[ref.index]
            return inp.ndim, inp.broadcast
        return self.step_pattern(ref.index)

    def ref_dtype(self, ref: Ref) -> np.dtype:
        if ref.kind == "in":
            return self.inputs[ref.index].dtype
        return self.step_dtype(ref.index)

    def reduction_dtype(self) -> np.dtype:
        """Output dtype of the fused reduction (per the primitive's abstract_eval)."""
        red = self.reduction
        x = AbstractArray((None,) * self.ndim, self.ref_dtype(red.arg))
        prim = REDUCTION_PRIMITIVES[red.kind]
        return prim.abstract_eval(x, axis=red.axes, keepdims=red.keepdims).dtype

    def reduction_shape(self, loop_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the reduction's output for a given loop shape."""
        red = self.reduction
        if red.keepdims:
            return tuple(1 if d in red.axes else n for d, n in enumerate(loop_shape))
        return tuple(n for d, n in enumerate(loop_shape) if d not in red.axes)

    def describe(self) -> str:
        """One line per step, for explain()."""
        lines = [f"group {self.name}: loop rank {self.ndim}"]
        for j, inp in enumerate(self.inputs):
            kind = "scalar" if inp.scalar else f"{inp.ndim}-d"
            lines.append(f"  x{j}: {kind} {inp.dtype.name} broadcast={inp.broadcast}")
        for k, st in enumerate(self.steps):
            args = ", ".join(str(a) for a in st.args)
            out = " -> out" if k in self.outputs else ""
            where = f"  ({st.site})" if st.site else ""
            lines.append(f"  t{k} = {st.prim}({args}){out}{where}")
        if self.reduction is not None:
            r = self.reduction
            lines.append(f"  reduce {r.kind}({r.arg}, axes={r.axes}, keepdims={r.keepdims})")
        return "\n".join(lines)


def _check_ref(ref: Any, n_inputs: int, n_steps: int, where: str) -> None:
    if isinstance(ref, Ref):
        limit = n_inputs if ref.kind == "in" else n_steps
        if ref.kind not in ("in", "step") or not 0 <= ref.index < limit:
            raise ValueError(f"{where}: bad reference {ref}")
    elif not isinstance(ref, SCALAR_TYPES):
        raise ValueError(f"{where}: argument {ref!r} is neither a Ref nor a Python scalar")


def validate(group: FusedGroup) -> None:
    """Structural checks: known elementwise prims, refs to earlier values only."""
    for k, st in enumerate(group.steps):
        prim = REGISTRY.get(st.prim)
        if prim is None or not prim.elementwise or prim.scalar is None:
            raise ValueError(f"step {k}: {st.prim!r} is not a fusible elementwise primitive")
        for a in st.args:
            _check_ref(a, len(group.inputs), k, f"step {k}")
    if any(not 0 <= o < len(group.steps) for o in group.outputs):
        raise ValueError(f"outputs {group.outputs} out of range")
    red = group.reduction
    if red is not None:
        if red.kind not in REDUCTION_PRIMITIVES:
            raise ValueError(f"unsupported fused reduction {red.kind!r}")
        _check_ref(red.arg, len(group.inputs), len(group.steps), "reduction")
        if any(not 0 <= a < group.ndim for a in red.axes) or list(red.axes) != sorted(
                set(red.axes)):
            raise ValueError(f"reduction axes {red.axes} are not sorted loop axes")
    if not group.outputs and red is None:
        raise ValueError("a group needs at least one output or a reduction")


def infer_types(group: FusedGroup) -> list[tuple[np.dtype, np.dtype, tuple]]:
    """(result dtype, weak-operand dtype, shape pattern) per step, by abstract_eval."""
    avals: list[Any] = [inp.aval() for inp in group.inputs]
    types: list[tuple[np.dtype, np.dtype, tuple]] = []
    steps_avals: list[Any] = []
    for st in group.steps:
        args = [a if not isinstance(a, Ref) else
                (avals[a.index] if a.kind == "in" else steps_avals[a.index]) for a in st.args]
        prim = REGISTRY[st.prim]
        out = prim.abstract_eval(*args, **st.param_dict)
        operands = args + [v for v in st.param_dict.values() if isinstance(v, SCALAR_TYPES)]
        arrays = [a for a in operands if not isinstance(a, SCALAR_TYPES)]
        op_dtype = result_dtype(st.prim, *operands) if arrays else np.dtype(out.dtype)
        steps_avals.append(out)
        types.append((np.dtype(out.dtype), np.dtype(op_dtype), tuple(out.shape)))
    return types


class GroupBuilder:
    """Convenience for building a group step by step (tests, adapters).

    >>> b = GroupBuilder()
    >>> x = b.input(1, np.float32); a = b.scalar(float)
    >>> y = b.op("add", b.op("mul", x, a), 1.0)
    >>> group = b.build(outputs=[y])
    """

    def __init__(self, name: str = "fused") -> None:
        self.name = name
        self.inputs: list[GroupInput] = []
        self.steps: list[GroupStep] = []

    def input(self, ndim: int, dtype: Any, broadcast: tuple[int, ...] = ()) -> Ref:
        self.inputs.append(GroupInput(ndim, np.dtype(dtype), False, tuple(broadcast)))
        return Ref("in", len(self.inputs) - 1)

    def input_like(self, aval: Any) -> Ref:
        """An array input from a static shape (None = run-time dim; 1 = broadcast)."""
        shape = tuple(aval.shape)
        return self.input(len(shape), aval.dtype, tuple(d for d, n in enumerate(shape) if n == 1))

    def scalar(self, kind: type = float) -> Ref:
        """A Python scalar argument (weak dtype) of type bool, int or float."""
        dtype = {bool: np.bool_, int: np.int64, float: np.float64}[kind]
        self.inputs.append(GroupInput(0, np.dtype(dtype), True))
        return Ref("in", len(self.inputs) - 1)

    def op(self, prim: str, *args: Ref | Literal, site: str | None = None, **params) -> Ref:
        self.steps.append(GroupStep(prim, tuple(args), tuple(sorted(params.items())), site))
        return Ref("step", len(self.steps) - 1)

    def build(self, outputs: list[Ref] = (), reduce: tuple | None = None) -> FusedGroup:
        """`reduce` is (kind, ref, axes, keepdims[, site])."""
        red = None
        if reduce is not None:
            kind, ref, axes, keepdims, *site = reduce
            red = Reduction(kind, ref, tuple(sorted(axes)), keepdims, site[0] if site else None)
        outs = tuple(r.index for r in outputs)
        return FusedGroup(tuple(self.inputs), tuple(self.steps), outs, red, self.name)


# Ops whose element code is a multi-statement function inlined into the loop
# (the CPU target's vector math), in compile-cost units: about their statement
# count relative to a one-expression op.
_INLINED_FUNCTION_COST: dict[Primitive, int] = by_primitive({"exp": 4, "tanh": 8, "sigmoid": 6})


def compile_cost(prim: Primitive) -> int:
    """Compile-cost units of one step applying `prim` (1 for a plain expression)."""
    return _INLINED_FUNCTION_COST.get(prim, 1)
