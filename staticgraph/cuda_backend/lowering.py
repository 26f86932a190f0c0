"""How each equation runs on the device: `lower_eqn(eqn, block, index) -> Step`.

`STEPS` maps a `Primitive` to a rule `rule(eqn, block, index) -> Step | None`
(None: this equation is not one the rule lowers, e.g. an integer-array index);
an elementwise op not in the table is one generated kernel; anything else
runs on the host (`HostStep`, listed by `explain()`).

| equation | step |
|---|---|
| `fused`, any elementwise op | one generated kernel (`compile_group` with `CudaTarget`) |
| sum / mean / max | a generated tree-reduction kernel (a group with no steps) |
| matmul | `matmul.matmul_into`: tiled shared-memory kernel (cuBLAS via CuPy if present) |
| gemm_update (`w - lr * (a @ b)`) | the tiled kernel with the update in its epilogue |
| a declared view in `VIEW_OPS` (transpose, reshape, basic getitem, ...) | a device view |
| getitem_grad (basic index), concatenate | zero fill / copies into views |
| axis_size | a 0-d device value, uploaded only when it changes |
| cond | the predicate comes to the host (one scalar), the taken branch's block runs |
| scan | `ScanStep` (scan.py): a host loop launching the body's kernels |
| softmax, log_softmax | three kernels: max, exp(x - max) fused with its sum, the quotient |
| anything else (advanced indexing, ...) | host fallback |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shared_ops import REGISTRY, Primitive

from ..build.cond import cond_p
from ..build.empty_reduction import EmptyAxisGuard, folded_axes
from ..graph.ir import Eqn, Var
from ..passes.fused_op import fused_p
from ..passes.gemm_update import gemm_update_p
from ..passes.memory import is_view
from ..scan.op import scan_p
from . import arrays
from .scan import ScanStep
from .step import Step
from .steps import (
    RESHAPES,
    VIEW_OPS,
    AxisSizeStep,
    ConcatStep,
    CondStep,
    GemmUpdateStep,
    GetitemGradStep,
    HostStep,
    KernelStep,
    MatmulStep,
    SoftmaxStep,
    ViewStep,
    reduction_group,
)

StepRule = Callable[[Eqn, Any, int], Step | None]


def _view(eqn: Eqn, block: Any, index: int) -> Step | None:
    return ViewStep(eqn, block, index) if is_view(eqn) else None


def _reduction(eqn: Eqn, block: Any, index: int) -> Step | None:
    if not isinstance(eqn.inputs[0], Var):
        return None
    return KernelStep(eqn, block, index, reduction_group(eqn))


def _numeric(eqn: Eqn, kinds: str) -> bool:
    return all(isinstance(x, Var) and np.dtype(x.dtype).kind in kinds for x in eqn.inputs)


def _matmul(eqn: Eqn, block: Any, index: int) -> Step | None:
    ok = len(eqn.inputs) == 2 and _numeric(eqn, "iuf")
    return MatmulStep(eqn, block, index) if ok else None


def _gemm_update(eqn: Eqn, block: Any, index: int) -> Step | None:
    return GemmUpdateStep(eqn, block, index) if _numeric(eqn, "f") else None


def _getitem_grad(eqn: Eqn, block: Any, index: int) -> Step | None:
    advanced = any(isinstance(i, np.ndarray) for i in eqn.params["index"])
    return None if advanced else GetitemGradStep(eqn, block, index)


def _concatenate(eqn: Eqn, block: Any, index: int) -> Step | None:
    ok = all(isinstance(x, Var) for x in eqn.inputs)
    return ConcatStep(eqn, block, index) if ok else None


def _softmax(eqn: Eqn, block: Any, index: int) -> Step | None:
    return SoftmaxStep(eqn, block, index) if _numeric(eqn, "f") else None


STEPS: dict[Primitive, StepRule] = {
    fused_p: KernelStep,
    cond_p: CondStep,
    scan_p: ScanStep,
    gemm_update_p: _gemm_update,
    REGISTRY["matmul"]: _matmul,
    REGISTRY["axis_size"]: AxisSizeStep,
    REGISTRY["getitem_grad"]: _getitem_grad,
    REGISTRY["concatenate"]: _concatenate,
    REGISTRY["softmax"]: _softmax,
    REGISTRY["log_softmax"]: _softmax,
    **{prim: _reduction for prim in (REGISTRY["sum"], REGISTRY["mean"], REGISTRY["max"])},
    **{prim: _view for prim in (*VIEW_OPS, *RESHAPES)},
}


def _elementwise(eqn: Eqn) -> bool:
    return bool(eqn.prim.elementwise and eqn.prim.scalar is not None
                and len(eqn.outputs) == 1 and any(isinstance(x, Var) for x in eqn.inputs))


def lower_eqn(eqn: Eqn, block: Any, index: int) -> Step:
    """The step that runs `eqn` on the device (see the module doc); a max or
    softmax whose folded axes may be empty first checks them."""
    step = _step_for(eqn, block, index)
    axes = folded_axes(eqn)
    if axes is not None and not isinstance(step, HostStep):
        step.guard = EmptyAxisGuard(eqn, axes, arrays.download)
    return step


def _step_for(eqn: Eqn, block: Any, index: int) -> Step:
    rule = STEPS.get(eqn.prim)
    try:
        if rule is not None:
            step = rule(eqn, block, index)
            if step is not None:
                return step
        elif _elementwise(eqn):
            return KernelStep(eqn, block, index)
    except ValueError:  # no kernel describes it (e.g. an unsupported dtype): host fallback
        pass
    return HostStep(eqn, block, index)
