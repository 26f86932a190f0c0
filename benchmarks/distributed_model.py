"""The cost model of a distributed step (docs/distributed.md), fitted and applied.

    step = sum over levels of (latency + (calls in the level - 1) * per_call)
           + compute on the critical path + bytes through the client / bandwidth

`latency` is one actor call's round trip (client -> worker -> client),
`per_call` what each further call of the same level adds, `bandwidth` the
client's transfer rate; all three are fitted from calls measured on the
local cluster. Compute comes from the one-process step. Bytes through the
client: every cut edge goes worker -> client -> worker, feeds go out,
fetches come back.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from shared_ops.cluster import workers_now


@dataclass
class Fit:
    """Fitted constants, in seconds and bytes per second."""

    latency: float
    per_call: float
    bandwidth: float
    flops_per_s: float


class Echo:
    """A Dask actor that returns what it is sent (for the fit)."""

    def echo(self, value=None):
        return value


def _median_call(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fit(client, one_step_s: float, flops: float, repeats: int = 30,
        nbytes: int = 4 << 20) -> Fit:
    """Measure round trips on the cluster's first two workers and fit the model."""
    workers = sorted(workers_now(client))[:2]
    actors = [client.submit(Echo, actor=True, workers=[w]).result() for w in workers]
    payload = np.ones(nbytes // 8)
    one = _median_call(lambda: actors[0].echo().result(), repeats)
    both = _median_call(lambda: [f.result() for f in [a.echo() for a in actors]], repeats)
    big = _median_call(lambda: actors[0].echo(payload).result(), max(repeats // 3, 3))
    bandwidth = 2 * payload.nbytes / max(big - one, 1e-9)
    return Fit(one, max(both - one, 0.0), bandwidth, flops / one_step_s)


@dataclass
class Net:
    """A two-layer MLP step: batch n, sizes d_in -> h -> d_out, float64."""

    name: str
    n: int
    d_in: int
    h: int
    d_out: int

    @property
    def params_bytes(self) -> int:
        return 8 * (self.d_in * self.h + self.h * self.d_out)

    @property
    def flops(self) -> float:
        """Forward and backward multiply-adds of the matmuls, times 2."""
        return 6.0 * self.n * (self.d_in * self.h + self.h * self.d_out)

    @property
    def feed_bytes(self) -> int:
        return 8 * self.n * (self.d_in + self.d_out)


def _levels(f: Fit, calls_per_level: list[int]) -> float:
    return sum(f.latency + (k - 1) * f.per_call for k in calls_per_level)


def replicated(f: Fit, net: Net, workers: int) -> float:
    """In-graph replication, variables on worker:0: weights out, grads back."""
    compute = 2 * net.flops / workers / f.flops_per_s  # tower 0, then the others
    client = net.params_bytes * (1 + 3 * (workers - 1)) + net.feed_bytes
    return _levels(f, [1, max(workers - 1, 1), 1]) + compute + client / f.bandwidth


def data_parallel(f: Fit, net: Net, workers: int) -> float:
    """dyngraph data-parallel: gradients up, summed gradients down, one level."""
    compute = net.flops / workers / f.flops_per_s
    client = 2 * workers * net.params_bytes + net.feed_bytes
    return _levels(f, [workers]) + compute + client / f.bandwidth


def model_parallel(f: Fit, net: Net) -> float:
    """One layer per worker (2 workers): forward, back, first layer's gradient."""
    compute = net.flops / f.flops_per_s
    client = 2 * 2 * 8 * net.n * net.h + net.feed_bytes
    return _levels(f, [1, 1, 1]) + compute + client / f.bandwidth


def one_process(f: Fit, net: Net) -> float:
    return net.flops / f.flops_per_s
