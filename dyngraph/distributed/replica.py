"""One model replica, living in a Dask worker (an actor of `DataParallel`).

It holds the parameters as dyngraph tensors and its own optimizer. A step
first applies the summed gradients of the previous step (so every replica
makes the same update), then runs the eager model forward and backward on
its shard and returns the shard's loss and gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..creation import from_numpy, tensor
from ..grad_mode import enable_grad


class Replica:
    """A replica: parameters, optimizer, loss function (see module doc)."""

    def __init__(self, parameters: dict, loss_fn: Callable, optimizer: Callable) -> None:
        self.params = {name: tensor(value, requires_grad=True)
                       for name, value in parameters.items()}
        self.loss_fn = loss_fn
        self.optimizer = optimizer(list(self.params.values()))
        self.applied = 0  # number of the last update applied

    def apply(self, update: tuple[int, list] | None) -> bool:
        """Update number n: set every parameter's gradient to the summed one and
        take an optimizer step, once (an update sent again is skipped)."""
        if update is not None and update[0] > self.applied:
            for p, g in zip(self.params.values(), update[1]):
                p.grad = from_numpy(g)
            self.optimizer.step()
            self.optimizer.zero_grad()
            self.applied = update[0]
        return True

    def step(self, update: tuple[int, list] | None, x: np.ndarray, y: np.ndarray,
             weight: float) -> tuple[float, list]:
        """Apply the previous step's update, then the shard's (weighted) loss and
        the gradient of each parameter, in parameter order."""
        self.apply(update)
        with enable_grad():
            loss = self.loss_fn(self.params, from_numpy(x), from_numpy(y))
            if weight != 1.0:
                loss = loss * weight
            loss.backward()
        grads = []
        for p in self.params.values():
            grads.append(np.zeros_like(p._data) if p.grad is None else p.grad.numpy())
            p.grad = None
        return float(loss.item()), grads

    def parameters(self) -> dict:
        """Copies of the parameters' values."""
        return {name: np.array(p.detach().numpy(), copy=True) for name, p in self.params.items()}
