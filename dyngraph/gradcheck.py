"""dg.gradcheck: backward against central finite differences, in float64."""

from __future__ import annotations

import numpy as np

from shared_ops import GradientError

from .engine import grad
from .grad_mode import no_grad
from .tensor import Tensor


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def numerical_jacobian(fn, inputs, i: int, eps: float) -> np.ndarray:
    """d(all outputs, flattened)/d(inputs[i], flattened) by central differences."""
    x = inputs[i]._data
    flat = x.reshape(-1)
    cols = []
    with no_grad():
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = np.concatenate([o._data.ravel() for o in _outputs(fn, inputs)])
            flat[k] = orig - eps
            minus = np.concatenate([o._data.ravel() for o in _outputs(fn, inputs)])
            flat[k] = orig
            cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def analytical_jacobian(fn, inputs, i: int) -> np.ndarray:
    """Rows are the gradients of each output element w.r.t. inputs[i]."""
    outputs = _outputs(fn, inputs)
    rows = []
    for o in outputs:
        for k in range(o._data.size):
            seed = np.zeros(o.shape, o.dtype)
            seed.reshape(-1)[k] = 1
            (g,) = grad(o, inputs[i], grad_outputs=Tensor(seed), retain_graph=True,
                        allow_unused=True)
            rows.append(np.zeros(inputs[i].shape).ravel() if g is None else g._data.ravel())
    return np.stack(rows) if rows else np.zeros((0, 0))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare backward with finite differences for every input requiring grad."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype != np.float64:
            raise GradientError(f"gradcheck: input {i} is {x.dtype}; use float64 inputs")
        num = numerical_jacobian(fn, inputs, i, eps)
        ana = analytical_jacobian(fn, inputs, i)
        if not np.allclose(ana, num, atol=atol, rtol=rtol):
            if raise_exception:
                worst = np.max(np.abs(ana - num))
                raise GradientError(f"gradcheck: Jacobian mismatch for input {i} (max abs "
                                    f"difference {worst:.3g})\nanalytical:\n{ana}\n"
                                    f"numerical:\n{num}")
            return False
    return True
