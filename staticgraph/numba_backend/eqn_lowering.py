"""One rule per kind of equation: what the orchestrator runs for it.

In order of preference (`lower_eqn`):
1. a lowering in the table (`hooks.LOWERINGS`: scan's compiled loop, and any
   registered with `register_lowering`);
2. `fused` ops, and lone elementwise ops as one-op kernels (`kernels.py`);
3. ops whose primitive declares a view and that `VIEWS` renders (transpose,
   reshape, expand_dims, squeeze, broadcast_to, stop_gradient, identity,
   reshape_like, basic getitem): a NumPy view, no copy;
4. `matmul` into its planned buffer: `np.matmul(a, b, out=buf)` (BLAS);
5. unfused `sum`/`max`/`mean` of a float array: `np.sum(x, axis, out=buf)`;
6. `cond`: a Python `if` over two sub-orchestrators;
7. anything else: the primitive's reference `impl` (or `eval_with`, with
   subgraphs lowered by this backend), allocating its result, with the
   interpreter's error messages (the documented fallback).
"""

from __future__ import annotations

import hashlib

import numpy as np

from shared_ops import REGISTRY, Primitive

from ..build.cond import cond_p
from ..build.creation import identity_p
from ..build.empty_reduction import EmptyAxisGuard, folded_axes
from ..graph.ir import Eqn, Graph, Var
from ..passes import make_fused_eqn
from ..passes.common import is_fused
from ..passes.fusion import fusible
from ..passes.gemm_update import gemm_update_p
from ..passes.memory import is_view
from .hooks import lowering_for
from .kernels import lower_kernel

MATMUL, GETITEM, SQUEEZE = REGISTRY["matmul"], REGISTRY["getitem"], REGISTRY["squeeze"]
REDUCERS = {REGISTRY["sum"]: np.sum, REGISTRY["max"]: np.max, REGISTRY["mean"]: np.mean}


def _param(value) -> str:
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:8]
        return f"<{value.dtype.name}{list(value.shape)} {digest}>"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_param(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else f"({inner})"
    if isinstance(value, Graph):
        return f"<graph {value.name or ''}>"
    return repr(value)


def label_of(eqn: Eqn) -> str:
    """'%5 = softmax[axis=(1,)](x)' (a fused op by its name, without params)."""
    if is_fused(eqn):
        name = eqn.params.get("name", eqn.prim.name)
    else:
        params = ", ".join(f"{k}={_param(v)}" for k, v in sorted(eqn.params.items()))
        name = eqn.prim.name + (f"[{params}]" if params else "")
    ins = ", ".join(x.label if isinstance(x, Var) else repr(x) for x in eqn.inputs)
    return f"{', '.join(v.label for v in eqn.outputs)} = {name}({ins})"


def targets(lw, eqn: Eqn) -> str:
    """Names for the outputs of a call returning a sequence: 'a, b, = '."""
    return "".join(lw.name_for(v) + ", " for v in eqn.outputs) + "= "


def lower_eqn(lw, eqn: Eqn) -> None:
    """Emit one equation; tell `lw` when its lines may raise (see `lw.fallible`)."""
    if not _lower_eqn(lw, eqn) or lw.check:  # numerics checks raise after the write
        lw.fallible()


def _lower_eqn(lw, eqn: Eqn) -> bool:
    """Emit one equation; True when its lines cannot raise (kernels, BLAS calls,
    views and reductions into planned storage)."""
    lw.comment_site(eqn)
    label = label_of(eqn)
    hook = lowering_for(eqn)
    if hook is not None and lower_opaque(lw, eqn, hook, label):
        return False
    if guard_empty_axes(lw, eqn):
        lw.fallible()
    if is_fused(eqn):
        kernel = lw.comp.kernel(eqn.params["group"])
        lower_kernel(lw, eqn, kernel, f"{label}  [k_{kernel.key[:8]}]")
    elif fusible(eqn) and lower_lone_elementwise(lw, eqn, label):
        return True
    elif is_view(eqn) and eqn.prim in VIEWS and _view_keeps_array(eqn):
        lower_view(lw, eqn, label)
    elif eqn.prim is MATMUL and writable(lw, eqn):
        lw.matmuls.append(eqn)
        lower_into(lw, eqn, label, "_matmul({0}, {1}, out={out})")
    elif eqn.prim is gemm_update_p and writable(lw, eqn):
        lw.matmuls.append(eqn)
        lower_gemm_update(lw, eqn, label)
    elif eqn.prim in REDUCERS and writable(lw, eqn) and _float_same_dtype(eqn):
        reducer = lw.global_(f"_np_{eqn.prim.name}", REDUCERS[eqn.prim])
        axis, keep = eqn.params["axis"], eqn.params["keepdims"]
        lower_into(lw, eqn, label, f"{reducer}({{0}}, axis={axis!r}, keepdims={keep}, "
                                   "out={out})")
    elif eqn.prim is cond_p:
        lower_cond(lw, eqn, label)
        return False
    else:
        lower_impl(lw, eqn, label)
        return False
    return True


def guard_empty_axes(lw, eqn: Eqn) -> bool:
    """Before a max (or softmax) whose folded axes may be empty: the reference's
    error. True when a guard was emitted."""
    axes = folded_axes(eqn)
    if axes is None:
        return False
    guard = lw.global_("EMPTY", EmptyAxisGuard(eqn, axes))
    lw.emit(f"{guard}({', '.join(lw.expr(x) for x in eqn.inputs)})")
    return True


def _view_keeps_array(eqn: Eqn) -> bool:
    """Indexing every dim gives a NumPy scalar, not an array: leave those to impl."""
    return (eqn.prim is not GETITEM and eqn.prim is not SQUEEZE) or len(eqn.outputs[0].shape) > 0


def writable(lw, eqn: Eqn) -> bool:
    """One output with planned storage, Var inputs of known size."""
    return (len(eqn.outputs) == 1 and lw.storage_kind(eqn.outputs[0]) is not None
            and all(isinstance(x, Var) and x not in lw.dynamic for x in eqn.inputs))


def _float_same_dtype(eqn: Eqn) -> bool:
    x, out = eqn.inputs[0], eqn.outputs[0]
    return np.dtype(x.dtype) == np.dtype(out.dtype) and np.dtype(out.dtype) in (
        np.dtype(np.float32), np.dtype(np.float64))  # float16: the impl's float32 mean


def lower_gemm_update(lw, eqn: Eqn, label: str) -> None:
    """One BLAS call accumulating into the output's buffer; a copy of the
    accumulator `c` first unless the plan gave the output c's own storage."""
    c, out = eqn.inputs[2], eqn.outputs[0]
    kind = lw.storage_kind(out)
    shared = (kind == "state" and lw.storage.into_variable[out] is c) or \
        (kind == "slot" and lw.storage.in_place.get(out) is c)
    alpha = eqn.params["sign"] * eqn.params["scale"]
    copy = "" if shared else "_copyto({out}, {2}); "
    lower_into(lw, eqn, label, copy + f"_gemm_update({{0}}, {{1}}, {{out}}, {alpha!r})")


def lower_into(lw, eqn: Eqn, label: str, template: str) -> None:
    """`template` writes the output into its buffer (`{out}`; inputs `{0}`, `{1}`)."""
    args = [lw.expr(x) for x in eqn.inputs]
    out = lw.out_array(eqn.outputs[0])
    lw.emit(template.format(*args, out=out) + f"  # {label}")
    if lw.check:
        check = lw.global_("CHECK", lw.comp.numerics_check(eqn))
        lw.emit(f"{check}(({out},), ({''.join(a + ', ' for a in args)}))")


def lower_lone_elementwise(lw, eqn: Eqn, label: str) -> bool:
    """An elementwise op fusion left alone: a one-op kernel (no allocation)."""
    try:
        fused = make_fused_eqn([eqn], list(eqn.outputs))
    except ValueError:
        return False
    kernel = lw.comp.kernel(fused.params["group"])
    lower_kernel(lw, fused, kernel, f"{label}  [k_{kernel.key[:8]}]")
    return True


# ---- views ---------------------------------------------------------------------

def _transpose(lw, x: str, eqn: Eqn) -> str:
    axes = tuple(eqn.params["axes"])
    return f"{x}.T" if axes == (1, 0) else f"{x}.transpose({axes!r})"


def _expand_dims(lw, x: str, eqn: Eqn) -> str:
    rank = len(eqn.outputs[0].shape)
    axes = {a % rank for a in eqn.params["axis"]}
    return f"{x}[{', '.join('None' if d in axes else ':' for d in range(rank))}]"


def _squeeze(lw, x: str, eqn: Eqn) -> str:
    rank = len(eqn.inputs[0].shape)
    axes = {a % rank for a in eqn.params["axis"]}
    return f"{x}[{', '.join('0' if d in axes else ':' for d in range(rank))},]"


def _same_array(lw, x: str, eqn: Eqn) -> str:
    return x


# How each view primitive is rendered (source, keeps C-contiguity). Every key
# declares `views`; a declared view missing here runs its impl (checked_labels
# checks its labels, custom_gradient has several outputs).
VIEWS: dict[Primitive, tuple] = {
    REGISTRY["transpose"]: (_transpose, False),
    REGISTRY["reshape"]: (lambda lw, x, e: f"{x}.reshape({tuple(e.params['shape'])!r})", True),
    REGISTRY["expand_dims"]: (_expand_dims, True),
    SQUEEZE: (_squeeze, True),
    REGISTRY["broadcast_to"]: (lambda lw, x, e: f"{lw.global_('_broadcast_to', np.broadcast_to)}"
                                                f"({x}, {tuple(e.params['shape'])!r})", False),
    REGISTRY["stop_gradient"]: (_same_array, True),
    identity_p: (_same_array, True),
    REGISTRY["reshape_like"]: (lambda lw, x, e: f"{x}.reshape({lw.expr(e.inputs[1])}.shape)",
                               True),
    GETITEM: (lambda lw, x, e: f"{x}[{lw.global_('IDX', tuple(e.params['index']))}]", False),
}


def lower_view(lw, eqn: Eqn, label: str) -> None:
    """A view of the operand; copied when the value is returned and its memory
    would be reused (a planned buffer, a variable updated in place), and into
    its planned buffer when it is a state update's value viewing such memory."""
    x, out = eqn.inputs[0], eqn.outputs[0]
    render, keeps_contig = VIEWS[eqn.prim]
    expr = render(lw, lw.names[x], eqn)
    kind, root = lw.root[x]
    contig = keeps_contig and lw.contig.get(x, True)
    escapes = out in lw.storage.escapes
    if not escapes and lw.storage_kind(out) == "slot":  # the plan materialises it
        lw.emit(f"_copyto({lw.out_array(out)}, {expr})  # {label}")
        return
    if escapes and (kind in ("slot", "state") or (kind == "var" and root in lw.updated)):
        expr, kind, root, contig = f"({expr}).copy()", "fresh", out, True
    if expr == lw.names[x]:
        lw.bind(out, lw.names[x], (kind, root), contig)
        lw.emit(f"# {label}: the same array")
        return
    name = lw.name_for(out)
    lw.emit(f"{name} = {expr}  # {label}")
    lw.bind(out, name, (kind, root), contig)


# ---- control flow, opaque ops, the fallback --------------------------------------

def lower_cond(lw, eqn: Eqn, label: str) -> None:
    """`if pred:` over the two branches, each its own orchestrator."""
    pred, *operands = eqn.inputs
    true_fn = lw.global_("TRUE", lw.comp.subgraph(eqn.params["true_graph"]))
    false_fn = lw.global_("FALSE", lw.comp.subgraph(eqn.params["false_graph"]))
    args = ", ".join(lw.expr(x) for x in operands)
    outs = targets(lw, eqn) if eqn.outputs else ""
    lw.emit(f"if {lw.expr(pred)}:  # {label}", f"    {outs}{true_fn}({args})",
            "else:", f"    {outs}{false_fn}({args})")
    for v in eqn.outputs:
        lw.bind(v, lw.names[v], ("fresh", v))


def lower_opaque(lw, eqn: Eqn, hook, label: str) -> bool:
    """A lowering registered for this primitive (see hooks.py); False if it declines."""
    with lw.comp.phase(f"opaque lowering: {eqn.prim.name}"):
        fn = hook(eqn, lw.comp.context(eqn))
    if fn is None:
        return False
    name = lw.global_(f"OP_{eqn.prim.name.upper()}", fn)
    source = getattr(fn, "source", None)
    if source:
        lw.comp.sources.append((f"{name}: {label}", source))
    args = ", ".join(lw.expr(x) for x in eqn.inputs)
    lw.emit(f"{targets(lw, eqn)}{name}({args})  # {label}  (registered lowering)")
    for v in eqn.outputs:
        lw.bind(v, lw.names[v], ("fresh", v))
    return True


def lower_impl(lw, eqn: Eqn, label: str) -> None:
    """The reference implementation (allocates its result)."""
    name = lw.global_(f"IMPL_{eqn.prim.name.upper()}", lw.comp.impl_call(eqn))
    args = ", ".join(lw.expr(x) for x in eqn.inputs)
    lw.emit(f"{targets(lw, eqn)}{name}({args})  # {label}  (NumPy impl)")
    for v in eqn.outputs:
        lw.bind(v, lw.names[v], ("fresh", v))
