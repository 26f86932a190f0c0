"""dg.optim: SGD (with momentum) and Adam, with torch.optim's update rules.

Updates run in place on the parameters' storage, outside the tape. Every
optimizer's `step` is all-or-nothing (`Optimizer.__init_subclass__` wraps it):
hyper-parameters and gradients are checked first, and a step that still fails
part way puts back the parameters and optimizer state it had changed.
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np

from shared_ops import DTypeError, ShapeError

from ..dispatch import active_trace_state
from ..grad_mode import no_grad
from ..node import bump_version
from ..tensor import Tensor

__all__ = ["Adam", "Optimizer", "RMSprop", "SGD", "check_hyper", "lr_scheduler"]


def check_hyper(name: str, value, low: float = 0.0, below: float | None = None) -> None:
    """ValueError unless `low <= value` (and `value < below`): rejects NaN too."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not x >= low or (below is not None and not x < below):
        bounds = f"in [{low:g}, {below:g})" if below is not None else f">= {low:g}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")


def _all_or_nothing(step):
    """`step` checked first and undone when it fails part way (see the module doc)."""
    @functools.wraps(step)
    def checked_step(self, *args, **kwargs):
        for group in self.param_groups:
            self.check_group(group)
        trace = active_trace_state()
        if trace is not None:  # inside dg.compile: the update is recorded in the graph
            for group in self.param_groups:
                for p in group["params"]:
                    trace.follow_grad(p)
            self.check_grads()
            with no_grad():
                return self.traced_step(trace, *args, **kwargs)
        params = self.check_grads()
        saved = [(p, p._data.copy()) for p in params]
        state = copy.deepcopy(self.state)
        try:
            return step(self, *args, **kwargs)
        except BaseException:
            for p, data in saved:
                if not np.array_equal(p._data, data, equal_nan=True):
                    np.copyto(p._data, data)
                    bump_version(p)
            self.state = state
            raise
    checked_step.all_or_nothing = True
    return checked_step


class Optimizer:
    """Holds parameters and per-parameter state; subclasses define step() (made
    all-or-nothing) and may add hyper-parameter checks in check_group()."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "all_or_nothing", False):
            cls.step = _all_or_nothing(step)

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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's `.grad` (set it to None, or fill it with zeros)."""
        trace = active_trace_state()
        for group in self.param_groups:
            for p in group["params"]:
                if trace is not None:
                    trace.follow_grad(p)
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def check_group(self, group: dict) -> None:
        """ValueError for a bad hyper-parameter (a learning rate < 0 or NaN, ...)."""
        check_hyper("learning rate", group["lr"])
        check_hyper("weight_decay", group.get("weight_decay", 0.0))

    def check_grads(self) -> list:
        """The parameters that have a gradient, each checked: a floating-point
        array of the parameter's shape (ShapeError / DTypeError otherwise)."""
        name, params = type(self).__name__, []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data if isinstance(p.grad, Tensor) else None
                if g is None:
                    raise DTypeError(f"{name}.step: a parameter's grad is a "
                                     f"{type(p.grad).__name__}, not a tensor; no parameter "
                                     "was changed")
                if g.shape != p._data.shape:
                    raise ShapeError(f"{name}.step: the gradient of a parameter of shape "
                                     f"{p._data.shape} has shape {g.shape}; no parameter "
                                     "was changed")
                if g.dtype.kind != "f":
                    raise DTypeError(f"{name}.step: the gradient of a parameter has dtype "
                                     f"{g.dtype}, not floating point; no parameter was "
                                     "changed")
                params.append(p)
        return params

    def _grads(self, group):
        for p in group["params"]:
            if p.grad is not None:
                yield p, p._data, p.grad._data

    def step(self) -> None:
        raise NotImplementedError

    def traced_step(self, trace, closure=None) -> None:
        """`step()` inside a function `dg.compile` traces (under no_grad): the
        update as tensor ops. Optimizers that do not define it refuse."""
        raise trace.unsupported(f"{type(self).__name__}.step()",
                                "call it after the compiled function returns (dg.optim.SGD "
                                "steps can be compiled)")


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

    def step(self) -> None:
        for group in self.param_groups:
            for p, data, g in self._grads(group):
                old = self.state.get(id(p))
                g, buf = sgd_direction(g, data, old, group)
                if buf is not None:  # the first buffer may be the gradient itself: a copy
                    self.state[id(p)] = np.array(buf, copy=True) if old is None else buf
                data -= group["lr"] * g
                bump_version(p)

    def traced_step(self, trace, closure=None) -> None:
        """The SGD update of `step()` as tensor ops, for a trace; the
        hyper-parameters become guards of the trace."""
        names = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
        for group in self.param_groups:
            trace.guard_value(lambda group=group: tuple(group[n] for n in names),
                              tuple(group[n] for n in names))
            for p in group["params"]:
                if p.grad is None:
                    continue
                old = trace.buffer(self.state, id(p)) if group["momentum"] else None
                g, buf = sgd_direction(p.grad, p, old, group)
                if buf is not None:
                    trace.set_buffer(self.state, id(p), buf)
                p.sub_(group["lr"] * g)


def sgd_direction(g, value, buf, group: dict) -> tuple:
    """One SGD step's direction (`p -= lr * direction`) and momentum buffer (None
    without momentum), from the gradient, the parameter's value and the last buffer
    (None at first), as torch.optim.SGD. Plain arithmetic: `step` runs it on arrays,
    `traced_step` on the tensors of a `dg.compile` trace."""
    if group["weight_decay"]:
        g = g + group["weight_decay"] * value
    momentum = group["momentum"]
    if not momentum:
        return g, None
    buf = g if buf is None else buf * momentum + (1 - group["dampening"]) * g
    return (g + momentum * buf if group["nesterov"] else buf), buf


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
