"""`sg.train.RMSPropOptimizer` with TF1's update rule.

    ms  <- decay * ms + (1 - decay) * grad^2              (ms starts at 1, as in TF1)
    mg  <- decay * mg + (1 - decay) * grad                 (centered only; starts at 0)
    mom <- momentum * mom + lr * grad / sqrt(ms - mg^2 + epsilon)
    var <- var - mom

TF1 keeps epsilon inside the square root and starts `ms` at ones;
`dg.optim.RMSprop` follows PyTorch instead (eps outside the root, the
average starting at zero), so the two engines' RMSProp runs differ on
purpose.
"""

from __future__ import annotations

from shared_ops import api as A

from .optimizer import Optimizer, Update
from .optimizers import check_lr, scalar_as


class RMSPropOptimizer(Optimizer):
    """TF1's `tf.train.RMSPropOptimizer(learning_rate, decay=0.9, momentum=0.0,
    epsilon=1e-10, centered=False)`; slots `rms`, `momentum` (and `mg`)."""

    def __init__(self, learning_rate, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10, use_locking: bool = False, centered: bool = False,
                 name: str = "RMSProp") -> None:
        super().__init__(name)
        check_lr(learning_rate)
        if not 0.0 <= float(decay) <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay!r}")
        if not 0.0 <= float(momentum):
            raise ValueError(f"momentum must be >= 0, got {momentum!r}")
        if not float(epsilon) >= 0.0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
        self.learning_rate, self.decay = learning_rate, float(decay)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _apply_dense(self, grad, var, shared) -> list[Update]:
        rho, lr = self.decay, scalar_as(self.learning_rate, var.dtype)
        ms, mom = self._slot(var, "rms", fill=1.0), self._slot(var, "momentum")
        new_ms = ms * rho + (1 - rho) * grad * grad
        updates = [(ms, new_ms)]
        denom = new_ms
        if self.centered:
            mg = self._slot(var, "mg")
            new_mg = mg * rho + (1 - rho) * grad
            updates.append((mg, new_mg))
            denom = new_ms - new_mg * new_mg
        new_mom = mom * self.momentum + lr * grad / A.sqrt(denom + self.epsilon)
        return updates + [(mom, new_mom), (var, var - new_mom)]
