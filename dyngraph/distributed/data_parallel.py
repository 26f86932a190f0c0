"""`DataParallel`: dyngraph data-parallel training over a Dask cluster.

PyTorch's DistributedDataParallel scheme, driven from one process: every
worker holds a replica of the model (same initial parameters, its own
optimizer); a step splits the batch into one shard per worker, each replica
runs the eager model forward and backward on its shard, the gradients are
summed through Dask, and the same update is applied on every replica.

The update of step k travels with the call of step k + 1 (one round trip
per step); `parameters()` applies the last one first. Updates are numbered
and a replica applies each once, so a step that fails on one worker (its
update is sent again with the next step) leaves the replicas equal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shared_ops.cluster import ActorPool, connect, worker_addresses
from shared_ops.errors import DistributedError

from ..optim import SGD
from .replica import Replica


def _sgd(lr: float) -> Callable:
    def make(params):
        return SGD(params, lr=lr)
    return make


class DataParallel:
    """Data-parallel training of one eager model (see module doc).

    `parameters`: name -> initial array. `loss_fn(params, x, y)` returns the
    loss of a batch as a scalar Tensor, `params` being name -> Tensor.
    `cluster`: an int N (a local cluster of N worker processes on 127.0.0.1,
    closed with this object), a scheduler address, or a `distributed.Client`.
    `optimizer(list_of_tensors)` builds each replica's optimizer (default:
    SGD with `lr`). `reduction`: "mean" when `loss_fn` averages over the batch
    (each shard's loss is weighted by its share of the rows), "sum" when it
    sums. The loss `step` returns is then the whole batch's loss.
    """

    def __init__(self, parameters: dict, loss_fn: Callable, cluster, *,
                 optimizer: Callable | None = None, lr: float | None = None,
                 reduction: str = "mean", security=None) -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"DataParallel: reduction must be 'mean' or 'sum', got "
                             f"{reduction!r}")
        if optimizer is None:
            if lr is None:
                raise ValueError("DataParallel: give an optimizer factory or lr (for SGD)")
            optimizer = _sgd(lr)
        self.reduction = reduction
        self.names = list(parameters)
        self.connection = connect(cluster, security)
        self.workers = worker_addresses(self.connection.client)
        init = {k: np.asarray(v) for k, v in parameters.items()}
        self.pool = ActorPool(self.connection.client,
                              lambda address: (Replica, (init, loss_fn, optimizer)),
                              lambda address: f"replica {self.workers.index(address)}")
        self.pending: tuple[int, list] | None = None  # (update number, summed gradients)
        self.updates = 0
        self.counters = {"steps": 0, "tasks": 0, "bytes_moved": 0}
        self.pool.call_all([(a, "apply", (None,)) for a in self.workers])  # build replicas

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One training step on the batch (x, y), split by rows over the workers;
        returns the batch's loss (before the step's update)."""
        x, y = np.asarray(x), np.asarray(y)
        n = len(self.workers)
        if x.shape[0] != y.shape[0] or x.shape[0] < n:
            raise DistributedError(f"DataParallel.step: x and y need the same number of rows, "
                                   f"at least one per worker ({n}); got {x.shape[0]} and "
                                   f"{y.shape[0]}")
        bounds = np.linspace(0, x.shape[0], n + 1).round().astype(int)
        calls = []
        for k, address in enumerate(self.workers):
            rows = slice(bounds[k], bounds[k + 1])
            weight = 1.0 if self.reduction == "sum" else (rows.stop - rows.start) / x.shape[0]
            calls.append((address, "step", (self.pending, x[rows], y[rows], weight)))
        results = self.pool.call_all(calls)
        summed = [np.array(g, copy=True) for g in results[0][1]]
        for _, grads in results[1:]:
            for total, g in zip(summed, grads):
                total += g
        self._count(x, y, results)
        self.updates += 1
        self.pending = (self.updates, summed)
        return float(sum(loss for loss, _ in results))

    def _count(self, x, y, results) -> None:
        grad_bytes = sum(g.nbytes for _, grads in results for g in grads)
        sent = 0 if self.pending is None else sum(
            g.nbytes for g in self.pending[1]) * len(results)
        self.counters["steps"] += 1
        self.counters["tasks"] += len(results)
        self.counters["bytes_moved"] += x.nbytes + y.nbytes + grad_bytes + sent

    def _flush(self) -> None:
        if self.pending is not None:
            self.pool.call_all([(a, "apply", (self.pending,)) for a in self.workers])
            self.pending = None

    def parameters(self) -> dict:
        """The parameters after every step so far (from replica 0; all are equal)."""
        self._flush()
        call = self.pool.call(self.workers[0], "parameters")
        return self.pool.result(call, self.workers[0])

    def close(self) -> None:
        """Drop the replicas; close a cluster this object started."""
        try:
            self.pool.release()
        finally:
            self.connection.close()
