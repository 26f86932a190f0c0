"""Target-neutral code generation: a fused group -> one composed element function.

The generator turns a `FusedGroup`'s steps into straight-line Python source
that computes every live step from the per-element input values `v0, v1, ...`
into temporaries `t0, t1, ...`. A target (CPU, CUDA) places those statements
inside its own loop skeleton; this module knows no loops and no arrays.

Each step becomes, in order of preference:
1. a target override (CPU: the vectorisable `vecmath` exp/tanh/sigmoid),
   or, for integer operands, the op's `int_scalar` inlined,
2. with ``inline=True``, the op's `scalar` function inlined as an expression
   when it is a single `return <expr>` (its parameters substituted by
   temporaries, closure constants of `clip`/`cast` by literals),
3. a call of the `scalar` function, bound once at module level by the target
   (CPU: `njit`, CUDA: `cuda.jit(device=True)`).
Every result is converted to the step's dtype (`np.float32(...)`) so the
arithmetic follows NumPy's promotion, and weak scalars (Python numbers) are
converted to the dtype their op computes in (NEP 50).
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from shared_ops import REGISTRY

from .group import FusedGroup, Ref


class ElementTarget(Protocol):
    """What element code generation asks of a target (`target.Target` provides it)."""

    def bind_scalar(self, prim: str, params: dict[str, Any]) -> str:
        """Source of the scalar function of `prim` bound to `params`."""

    def math_override(self, prim: str, dtype: Any) -> str | None:
        """Name of the target's own function for `prim` at `dtype`, or None."""


INLINE_GLOBALS = frozenset({"math", "abs", "bool", "min", "max"})


@dataclass
class ElementCode:
    """Generated statements for one element of a group."""

    prelude: list[str] = field(default_factory=list)  # module-level definitions
    body: list[str] = field(default_factory=list)  # per-element statements
    live: list[int] = field(default_factory=list)  # steps computed, in order
    _consts: dict = field(default_factory=dict)
    _bound: dict = field(default_factory=dict)

    @staticmethod
    def value(ref: Ref | Any) -> str:
        """The name holding `ref`'s per-element value."""
        return f"v{ref.index}" if ref.kind == "in" else f"t{ref.index}"


def literal_source(value: Any) -> str:
    """Python source for a constant: floats incl. inf/nan, dtypes, numpy types."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return repr(bool(value)) if value is not None else "None"
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "-math.inf"
        return repr(v)
    if isinstance(value, np.dtype):
        return f"np.dtype({value.name!r})"
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"np.{np.dtype(value).name}"
    raise TypeError(f"no literal source for {value!r}")


def convert(expr: str, dtype: np.dtype) -> str:
    """`expr` converted to `dtype` (a no-op in LLVM when types already agree)."""
    name = "bool_" if dtype.kind == "b" else np.dtype(dtype).name
    return f"np.{name}({expr})"


@functools.cache
def _template(fn: Callable) -> tuple[list[str], ast.expr] | None:
    """(parameter names, returned expression) if `fn` is `return <expr>` only."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    fdef = tree.body[0] if tree.body else None
    if not isinstance(fdef, ast.FunctionDef):
        return None
    body = [s for s in fdef.body if not (isinstance(s, ast.Expr)
                                         and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return None
    return [a.arg for a in fdef.args.args], body[0].value


class _Substitute(ast.NodeTransformer):
    def __init__(self, names: dict[str, ast.expr]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.names.get(node.id, node)


def inline_expression(fn: Callable, args: list[str]) -> str | None:
    """`fn(*args)` as an inlined expression, or None when `fn` cannot be inlined."""
    tpl = _template(fn)
    if tpl is None:
        return None
    params, expr = tpl
    if len(params) != len(args):
        return None
    names: dict[str, ast.expr] = {p: ast.Name(a, ast.Load()) for p, a in zip(params, args)}
    for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            names[var] = ast.parse(literal_source(cell.cell_contents), mode="eval").body
        except TypeError:
            return None
    used = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
    if not used <= set(names) | INLINE_GLOBALS:
        return None
    return ast.unparse(_Substitute(names).visit(copy.deepcopy(expr)))


def live_steps(group: FusedGroup) -> list[int]:
    """Steps that an output or the reduction needs, in order."""
    need = set(group.outputs)
    if group.reduction is not None and group.reduction.arg.kind == "step":
        need.add(group.reduction.arg.index)
    for k in range(len(group.steps) - 1, -1, -1):
        if k in need:
            need.update(a.index for a in group.steps[k].args
                        if isinstance(a, Ref) and a.kind == "step")
    return sorted(need)


class ElementGenerator:
    """Builds the `ElementCode` of one group for one target."""

    def __init__(self, group: FusedGroup, target: ElementTarget, inline: bool = True) -> None:
        self.group, self.target, self.inline = group, target, inline
        self.code = ElementCode()

    def generate(self) -> ElementCode:
        self.code.live = live_steps(self.group)
        for k in self.code.live:
            self.code.body.append(self._step_line(k))
        return self.code

    def _constant(self, value: Any, dtype: np.dtype) -> str:
        key = (type(value), value, dtype.str)
        name = self.code._consts.get(key)
        if name is None:
            name = self.code._consts[key] = f"_c{len(self.code._consts)}"
            self.code.prelude.append(f"{name} = {convert(literal_source(value), dtype)}")
        return name

    def _arg(self, arg: Any, op_dtype: np.dtype) -> str:
        if not isinstance(arg, Ref):
            return self._constant(arg, op_dtype)
        name = ElementCode.value(arg)
        if arg.kind == "in" and self.group.inputs[arg.index].scalar:
            return convert(name, op_dtype)  # weak scalar: computes in the op's dtype
        return name

    def _bind(self, prim: str, params: dict[str, Any]) -> str:
        key = (prim, tuple(sorted((k, repr(v)) for k, v in params.items())))
        name = self.code._bound.get(key)
        if name is None:
            name = self.code._bound[key] = f"_s_{prim}{len(self.code._bound)}"
            self.code.prelude.append(f"{name} = {self.target.bind_scalar(prim, params)}")
        return name

    def _call(self, k: int, args: list[str]) -> str:
        step = self.group.steps[k]
        op_dtype = self.group.op_dtype(k)
        override = self.target.math_override(step.prim, op_dtype)
        if override is not None:
            return f"{override}({', '.join(args)})"
        prim = REGISTRY[step.prim]
        params = step.param_dict
        int_scalar = prim.int_scalar
        if int_scalar is not None and op_dtype.kind in "iu":  # e.g. pow's negative exponents
            return inline_expression(int_scalar, args)
        if self.inline:
            fn = prim.scalar(**params) if prim.scalar_factory else prim.scalar
            expr = inline_expression(fn, args)
            if expr is not None:
                return expr
        return f"{self._bind(step.prim, params)}({', '.join(args)})"

    def _step_line(self, k: int) -> str:
        step = self.group.steps[k]
        op_dtype = self.group.op_dtype(k)
        out_dtype = self.group.step_dtype(k)
        args = [self._arg(a, op_dtype) for a in step.args]
        if out_dtype.kind == "f" and op_dtype.kind in "biu":  # a float op of ints: computes
            args = [convert(a, out_dtype) for a in args]  # in its float dtype (no wrap-around)
        expr = convert(self._call(k, args), self.group.step_dtype(k))
        where = f"  {step.site}" if step.site else ""
        return f"t{k} = {expr}  # {step.prim}{where}"


def generate_element(group: FusedGroup, target: ElementTarget,
                     inline: bool | None = None) -> ElementCode:
    """The composed element function of `group`, as statements for `target`.

    `inline` (default: the target's setting) inlines single-expression
    `scalar` functions instead of calling them.
    """
    inline = getattr(target, "inline", True) if inline is None else inline
    return ElementGenerator(group, target, inline).generate()


def render_element_function(group: FusedGroup, code: ElementCode, name: str = "element",
                            decorator: str | None = None) -> list[str]:
    """The element code as one standalone function (CUDA device fn, or display)."""
    params = ", ".join(f"v{j}" for j in range(len(group.inputs)))
    results = [f"t{k}" for k in group.outputs]
    if group.reduction is not None:
        results.append(ElementCode.value(group.reduction.arg))
    lines = [f"@{decorator}"] if decorator else []
    lines.append(f"def {name}({params}):")
    lines += ["    " + s for s in code.body]
    lines.append(f"    return {', '.join(results)}{',' if len(results) == 1 else ''}")
    return lines
