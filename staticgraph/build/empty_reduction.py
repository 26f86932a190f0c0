"""Guards for reductions that have no value over an empty axis (max, softmax).

NumPy's `max` of an empty axis has no identity and raises; a compiled loop
would return its initial value (`-inf`) instead. Every backend must give the
reference's error, so before such an equation a compiled backend calls an
`EmptyAxisGuard`: when a folded axis is empty at run time it runs the
reference implementation, which raises the interpreter's `ShapeError` naming
the op and the user's line (inside a fused group: the `max` step itself).
"""

from __future__ import annotations

import numpy as np

from shared_ops import REGISTRY, ShapeError
from shared_ops.shapes import broadcast_shapes

from ..graph.ir import Eqn, Var
from ..passes.common import is_fused
from ..runtime.interpreter import Evaluator, op_description

NO_IDENTITY = ("max", "softmax", "log_softmax")  # reduction kinds of a fused group
NO_IDENTITY_PRIMS = tuple(REGISTRY[kind] for kind in NO_IDENTITY)


def _static_shape(x) -> tuple:
    return tuple(x.shape) if isinstance(x, Var) else ()


def folded_axes(eqn: Eqn) -> tuple[int, ...] | None:
    """Axes (of the loop, or of the operand) that a reduction without identity
    folds in `eqn`, when one of them may be empty at run time; None when `eqn`
    has no such reduction or every folded dim is known to be nonzero."""
    if is_fused(eqn):
        red = eqn.params["group"].reduction
        if red is None or red.kind not in NO_IDENTITY:
            return None
        shape = broadcast_shapes("fused", *(_static_shape(x) for x in eqn.inputs))
        axes = tuple(red.axes)
    elif eqn.prim in NO_IDENTITY_PRIMS and eqn.inputs and isinstance(eqn.inputs[0], Var):
        shape = _static_shape(eqn.inputs[0])
        axis = eqn.params.get("axis")
        axes = tuple(range(len(shape))) if axis is None else tuple(axis)
    else:
        return None
    if all(shape[a] is not None and shape[a] > 0 for a in axes):
        return None
    return axes


class EmptyAxisGuard:
    """Raises the reference's error when a folded axis is empty (see the module doc)."""

    def __init__(self, eqn: Eqn, axes: tuple[int, ...], to_host=None) -> None:
        self.eqn, self.axes = eqn, axes
        self.to_host = to_host  # device arrays -> NumPy, for the reference's error
        self.evaluator = Evaluator()

    def __call__(self, *values) -> None:
        shape = np.broadcast_shapes(*(tuple(np.shape(v)) for v in values))
        if any(shape[a] == 0 for a in self.axes):
            host = [self.to_host(v) if self.to_host and hasattr(v, "shape") else v
                    for v in values]
            self.evaluator.apply(self.eqn, host)
            raise ShapeError(f"{op_description(self.eqn)}: cannot reduce over an empty axis "
                             f"(operand shape {shape})")
