"""`dg.optim.RMSprop` with torch.optim.RMSprop's update rule.

    g   <- grad + weight_decay * p
    sq  <- alpha * sq + (1 - alpha) * g^2                  (sq starts at 0)
    ga  <- alpha * ga + (1 - alpha) * g                    (centered only)
    avg <- sqrt(sq - ga^2) + eps                           (sqrt(sq) + eps if not centered)
    buf <- momentum * buf + g / avg;  p <- p - lr * buf    (momentum > 0)
    p   <- p - lr * g / avg                                (momentum == 0)
"""

from __future__ import annotations

import numpy as np

from ..node import bump_version
from . import Optimizer, check_hyper


class RMSprop(Optimizer):
    """torch.optim.RMSprop(params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False)."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        for label, value in (("lr", lr), ("alpha", alpha), ("eps", eps),
                             ("weight_decay", weight_decay), ("momentum", momentum)):
            if not float(value) >= 0.0:
                raise ValueError(f"RMSprop: invalid {label} value: {value}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def check_group(self, group: dict) -> None:
        super().check_group(group)
        for name in ("alpha", "eps", "momentum"):
            check_hyper(name, group[name])

    def step(self) -> None:
        for group in self.param_groups:
            alpha, eps, mom = group["alpha"], group["eps"], group["momentum"]
            for p, data, g in self._grads(group):
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * data
                state = self.state.setdefault(id(p), {"step": 0,
                                                      "square_avg": np.zeros_like(data)})
                state["step"] += 1
                sq = state["square_avg"]
                sq *= alpha
                sq += (1 - alpha) * g * g
                if group["centered"]:
                    ga = state.setdefault("grad_avg", np.zeros_like(data))
                    ga *= alpha
                    ga += (1 - alpha) * g
                    avg = np.sqrt(sq - ga * ga) + eps
                else:
                    avg = np.sqrt(sq) + eps
                if mom > 0:
                    buf = state.setdefault("momentum_buffer", np.zeros_like(data))
                    buf *= mom
                    buf += g / avg
                    data -= group["lr"] * buf
                else:
                    data -= group["lr"] * (g / avg)
                bump_version(p)
