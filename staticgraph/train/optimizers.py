"""Gradient descent, momentum and Adam, with dyngraph's update rules.

Each update mirrors `dg.optim.SGD` / `dg.optim.Adam` operation for operation
(same formula, same order of floating-point operations), so one model
trained in both engines from the same weights follows the same trajectory
(tests/test_static_train.py checks 100 steps in float64 at rtol 1e-10).
The learning rate may be a Python float or a scalar symbol (a placeholder,
for schedules).
"""

from __future__ import annotations

import numpy as np

from shared_ops import api as A

from ..build.symbol import Symbol
from ..graph.ir import Graph
from .optimizer import Optimizer, Update


def scalar_as(value, dtype: np.dtype):
    """A Python number stays weak; a symbol is cast to `dtype` when it differs."""
    if isinstance(value, Symbol) and value.dtype != dtype:
        return A.cast(value, dtype)
    return value


def check_lr(lr) -> None:
    """Raise ValueError unless `lr` is a symbol or a number >= 0."""
    if not isinstance(lr, Symbol) and not float(lr) >= 0.0:
        raise ValueError(f"learning rate must be >= 0, got {lr!r}")


class GradientDescentOptimizer(Optimizer):
    """`var <- var - lr * grad` (dg.optim.SGD without momentum)."""

    def __init__(self, learning_rate, name: str = "GradientDescent") -> None:
        super().__init__(name)
        check_lr(learning_rate)
        self.learning_rate = learning_rate

    def _apply_dense(self, grad, var, shared) -> list[Update]:
        lr = scalar_as(self.learning_rate, var.dtype)
        return [(var, var - lr * grad)]


class MomentumOptimizer(Optimizer):
    """Heavy-ball momentum as dg.optim.SGD(momentum=m, dampening=0):

        buf <- momentum * buf + grad           (buf starts at 0, so step 1 gives grad)
        var <- var - lr * buf                   or, with use_nesterov,
        var <- var - lr * (grad + momentum * buf)
    """

    def __init__(self, learning_rate, momentum: float, use_nesterov: bool = False,
                 name: str = "Momentum") -> None:
        super().__init__(name)
        check_lr(learning_rate)
        if not 0.0 <= float(momentum):
            raise ValueError(f"momentum must be >= 0, got {momentum!r}")
        self.learning_rate, self.momentum = learning_rate, float(momentum)
        self.use_nesterov = bool(use_nesterov)

    def _apply_dense(self, grad, var, shared) -> list[Update]:
        buf = self._slot(var, "momentum")
        mom, lr = self.momentum, scalar_as(self.learning_rate, var.dtype)
        new_buf = buf * mom + grad
        step = grad + mom * new_buf if self.use_nesterov else new_buf
        return [(buf, new_buf), (var, var - lr * step)]


class AdamOptimizer(Optimizer):
    """Adam with bias correction, arranged as dg.optim.Adam (torch.optim.Adam):

        t <- t + 1
        m <- beta1 * m + (1 - beta1) * grad
        v <- beta2 * v + (1 - beta2) * grad * grad
        var <- var - (lr / (1 - beta1^t)) * (m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon))

    epsilon is added after the bias correction of sqrt(v) (TensorFlow's
    "epsilon hat" arrangement differs; this one is PyTorch's). The step
    counter t is a non-trainable float64 variable, one per update op (each
    `apply_gradients` call); m and v are slots per variable.
    """

    def __init__(self, learning_rate=0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, name: str = "Adam") -> None:
        super().__init__(name)
        check_lr(learning_rate)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= float(beta) < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {beta!r}")
        if not float(epsilon) >= 0.0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def _prepare(self, graph: Graph, pairs: list) -> tuple[dict, list[Update]]:
        step = self._non_slot(graph, "step", np.zeros((), np.float64))
        t = step + 1.0
        step_size = self.learning_rate / (1 - self.beta1 ** t)
        bias2_sqrt = A.sqrt(1 - self.beta2 ** t)
        per_dtype: dict = {}
        for dtype in {var.dtype for _, var in pairs}:
            per_dtype[dtype] = (scalar_as(step_size, dtype), scalar_as(bias2_sqrt, dtype))
        return {"per_dtype": per_dtype}, [(step, t)]

    def _apply_dense(self, grad, var, shared) -> list[Update]:
        b1, b2 = self.beta1, self.beta2
        step_size, bias2_sqrt = shared["per_dtype"][var.dtype]
        m, v = self._slot(var, "m"), self._slot(var, "v")
        new_m = m * b1 + (1 - b1) * grad
        new_v = v * b2 + (1 - b2) * grad * grad
        denom = A.sqrt(new_v) / bias2_sqrt + self.epsilon
        return [(m, new_m), (v, new_v), (var, var - step_size * (new_m / denom))]
