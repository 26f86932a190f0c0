"""dg.optim: SGD (with momentum) and Adam, with torch.optim's update rules.

Updates run in place on the parameters' storage, outside the tape. A step
is all-or-nothing: every new value (parameters and optimizer state) is
computed and checked first, then all are written, so a step that fails on
one parameter (a gradient of the wrong shape or dtype) changes none.
"""

from __future__ import annotations

import math

import numpy as np

from shared_ops import DTypeError, ShapeError

from .node import bump_version
from .tensor import Tensor


def check_hyper(name: str, value, low: float = 0.0, below: float | None = None) -> None:
    """ValueError unless `low <= value` (and `value < below`): rejects NaN too."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not x >= low or (below is not None and not x < below):
        bounds = f"in [{low:g}, {below:g})" if below is not None else f">= {low:g}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")


class Optimizer:
    """Holds parameters and per-parameter state; subclasses define `updates()`,
    the new values of one step, which `step()` checks and writes."""

    def __init__(self, params, defaults: dict) -> None:
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        for group in self.param_groups:
            self.check_group(group)
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise ValueError("optimizer parameters must be tensors that require grad")
        self.state: dict = {}

    def check_group(self, group: dict) -> None:
        """ValueError for a bad hyper-parameter (learning rate < 0 or NaN, ...)."""
        check_hyper("learning rate", group["lr"])
        check_hyper("weight_decay", group.get("weight_decay", 0.0))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def _grads(self, group):
        name = type(self).__name__
        for p in group["params"]:
            if p.grad is None:
                continue
            g = p.grad._data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
            if g.shape != p.shape:
                raise ShapeError(f"{name}.step: the gradient of a parameter of shape "
                                 f"{tuple(p.shape)} has shape {g.shape}; no parameter "
                                 "was changed")
            if g.dtype.kind != "f":
                raise DTypeError(f"{name}.step: the gradient of a parameter has dtype "
                                 f"{g.dtype}, not floating point; no parameter was changed")
            yield p, p._data, g

    def updates(self) -> tuple[list, list]:
        """One step's new values, nothing written yet: `(params, state)` where
        `params` holds (parameter, new array) and `state` (key, new state)."""
        raise NotImplementedError(f"{type(self).__name__} must define updates()")

    def step(self) -> None:
        """Compute every new value, check them, then write them all."""
        for group in self.param_groups:
            self.check_group(group)
        params, state = self.updates()
        for p, new in params:
            if new.shape != p._data.shape:
                raise ShapeError(f"{type(self).__name__}.step: an update of shape "
                                 f"{new.shape} for a parameter of shape {p._data.shape}; "
                                 "no parameter was changed")
        for key, value in state:
            self.state[key] = value
        for p, new in params:
            np.copyto(p._data, new, casting="unsafe")
            bump_version(p)


class SGD(Optimizer):
    """p -= lr * (g + wd*p), with optional (Nesterov) momentum, as torch.optim.SGD."""

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def check_group(self, group: dict) -> None:
        super().check_group(group)
        check_hyper("momentum", group["momentum"])
        check_hyper("dampening", group["dampening"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def updates(self) -> tuple[list, list]:
        params, state = [], []
        for group in self.param_groups:
            lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
            for p, data, g in self._grads(group):
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * data
                if mom:
                    buf = self.state.get(id(p))
                    buf = np.array(g, copy=True) if buf is None else buf * mom + (1 - damp) * g
                    state.append((id(p), buf))
                    g = g + mom * buf if group["nesterov"] else buf
                params.append((p, data - lr * g))
        return params, state


class Adam(Optimizer):
    """Adam with bias correction, as torch.optim.Adam (weight decay L2-style)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def check_group(self, group: dict) -> None:
        super().check_group(group)
        check_hyper("epsilon", group["eps"])
        b1, b2 = group["betas"]
        check_hyper("beta1", b1, below=1.0)
        check_hyper("beta2", b2, below=1.0)

    def updates(self) -> tuple[list, list]:
        params, state = [], []
        for group in self.param_groups:
            (b1, b2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p, data, g in self._grads(group):
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * data
                old = self.state.get(id(p)) or {"step": 0, "m": np.zeros_like(data),
                                                "v": np.zeros_like(data)}
                t = old["step"] + 1
                m = b1 * old["m"] + (1 - b1) * g
                v = b2 * old["v"] + (1 - b2) * g * g
                denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
                params.append((p, data - (lr / (1 - b1 ** t)) * (m / denom)))
                state.append((id(p), {"step": t, "m": m, "v": v}))
        return params, state
