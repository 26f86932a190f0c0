"""dg.optim: SGD (with momentum) and Adam, with torch.optim's update rules.

Updates run in place on the parameters' storage, outside the tape.
"""

from __future__ import annotations

import math

import numpy as np

from ..node import bump_version
from ..tensor import Tensor


class Optimizer:
    """Holds parameters and per-parameter state; subclasses define step()."""

    def __init__(self, params, defaults: dict) -> None:
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        for group in self.param_groups:
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise ValueError("optimizer parameters must be tensors that require grad")
        self.state: dict = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def _grads(self, group):
        for p in group["params"]:
            if p.grad is not None:
                yield p, p._data, p.grad._data

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * (g + wd*p), with optional (Nesterov) momentum, as torch.optim.SGD."""

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self) -> None:
        for group in self.param_groups:
            lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
            for p, data, g in self._grads(group):
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * data
                if mom:
                    buf = self.state.get(id(p))
                    if buf is None:
                        buf = self.state[id(p)] = np.array(g, copy=True)
                    else:
                        buf *= mom
                        buf += (1 - damp) * g
                    g = g + mom * buf if group["nesterov"] else buf
                data -= lr * g
                bump_version(p)


class Adam(Optimizer):
    """Adam with bias correction, as torch.optim.Adam (weight decay L2-style)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self) -> None:
        for group in self.param_groups:
            (b1, b2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p, data, g in self._grads(group):
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * data
                state = self.state.setdefault(id(p), {"step": 0, "m": np.zeros_like(data),
                                                      "v": np.zeros_like(data)})
                state["step"] += 1
                m, v, t = state["m"], state["v"], state["step"]
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
                data -= (lr / (1 - b1 ** t)) * (m / denom)
                bump_version(p)


from . import lr_scheduler  # noqa: E402,F401  (dg.optim.lr_scheduler)
from .rmsprop import RMSprop  # noqa: E402,F401
