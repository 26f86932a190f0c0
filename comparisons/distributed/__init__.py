"""Scenario "distributed": the tutorial net on 2 local Dask workers, four ways.

The two-layer net of 'Learning PyTorch with Examples' (relu MLP, sum of
squares, SGD), from the same seeded data:

- in one process (hand-written NumPy, dyngraph, staticgraph numba);
- staticgraph in-graph replicated: a tower per worker on half the batch,
  the variables and the summed gradients (`sg.add_n`) on worker:0;
- staticgraph model-parallel: the first layer on worker:0, the second on
  worker:1 (`sg.device` placement, the partition pass cuts the graph);
- dyngraph data-parallel: an eager replica per worker on its half of the
  batch, gradients summed through Dask, the same update on every replica.

All run on one LocalCluster of 2 worker processes on 127.0.0.1, started by
the first distributed variant (its setup shows the start) and closed when
the scenario ends. Rows add bytes moved and calls per step; every loss
curve must equal the one-process run's. docs/distributed.md has the model.

    from comparisons import distributed
    rows = distributed.run(quick=True)
"""

from __future__ import annotations

import io
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

import dyngraph as dg

from ..framework import Plan, Prepared
from ..harness.peers import torch_variant
from ..scenarios import Column, Scenario
from ..tutorial.training import torch_setup


@dataclass(frozen=True)
class Size:
    N: int = 64
    D_in: int = 1000
    H: int = 100
    D_out: int = 10
    lr: float = 1e-6
    samples: int = 20
    seed: int = 0


@dataclass
class Problem:
    """The seeded data, and the cluster the distributed variants share."""

    size: Size
    dtype: np.dtype
    data: dict
    cluster: object = None
    client: object = None
    closers: list = field(default_factory=list)

    def shared_client(self) -> tuple[object, float]:
        """The LocalCluster's client, started on first use; (client, seconds it took)."""
        if self.client is not None:
            return self.client, 0.0
        import distributed
        start = time.perf_counter()
        self.cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", silence_logs=40)
        self.client = distributed.Client(self.cluster)
        weakref.finalize(self, _close_all, [], self.client, self.cluster)
        return self.client, time.perf_counter() - start

    def close(self) -> None:
        _close_all(self.closers, self.client, self.cluster)
        self.closers, self.client, self.cluster = [], None, None


def _close_all(closers: list, client, cluster) -> None:
    for close in reversed(closers):
        close()
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def make_problem(size: Size, dtype: np.dtype) -> Problem:
    rng = np.random.default_rng(size.seed)
    draw = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    data = {"x": draw(size.N, size.D_in), "y": draw(size.N, size.D_out),
            "w1": draw(size.D_in, size.H), "w2": draw(size.H, size.D_out)}
    return Problem(size, np.dtype(dtype), data)


def plan(size: Size) -> Plan:
    return Plan(warmup=2, samples=size.samples, inner=1, instrument_steps=2)


def finish(rows: list[dict], problem: Problem) -> None:
    """Close the sessions, trainers and the cluster of the run."""
    problem.close()


SCENARIO = Scenario(
    name="distributed", title="Tutorial net over 2 local Dask workers", order=6,
    full=Size(), quick=Size(N=16, D_in=60, H=20, D_out=4, samples=6),
    make_problem=make_problem, plan=plan, curve="loss", annotate=finish,
    columns=[Column("bytes_per_step", "bytes/step", "{:.0f}"),
             Column("calls_per_step", "calls/step", "{:.0f}")],
    summary="One process against a graph cut over 2 worker processes (replicated towers, "
            "layers on different workers) and eager data-parallel replicas; every call "
            "costs a Dask round trip, so a net this small is faster in one process.")
run = SCENARIO.run


# ---- one process --------------------------------------------------------------------------
@SCENARIO.variant("numpy", engine="numpy", kind="reference",
                  note="one process, forward and backward by hand")
def numpy_variant(p: Problem) -> Prepared:
    d, lr = p.data, p.size.lr
    x, y, w1, w2 = d["x"], d["y"], d["w1"].copy(), d["w2"].copy()
    losses: list[float] = []

    def step() -> None:
        h = x @ w1
        h_relu = np.maximum(h, 0)
        diff = h_relu @ w2 - y
        losses.append(float(np.sum(diff ** 2)))
        grad_y = 2 * diff
        grad_w2 = h_relu.T @ grad_y
        grad_w1 = x.T @ np.where(h > 0, grad_y @ w2.T, 0)
        w1[...] -= lr * grad_w1
        w2[...] -= lr * grad_w2
    return Prepared(step, values=lambda: losses, ops_per_step=10)


def _loss(params: dict, x, y):
    err = (x @ params["w1"]).relu() @ params["w2"] - y
    return (err * err).sum()


@SCENARIO.variant("dyngraph", engine="dyngraph", kind="eager", note="one process")
def dyngraph_variant(p: Problem) -> Prepared:
    d = p.data
    params = {k: dg.tensor(d[k], requires_grad=True) for k in ("w1", "w2")}
    opt = dg.optim.SGD(list(params.values()), lr=p.size.lr)
    x, y = dg.from_numpy(d["x"]), dg.from_numpy(d["y"])
    losses: list[float] = []

    def step() -> None:
        loss = _loss(params, x, y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Prepared(step, values=lambda: losses)


# ---- staticgraph ----------------------------------------------------------------------------
def _static_setup(mode: str):
    def setup(p: Problem) -> Prepared:
        import staticgraph as sg

        from .graph import build_net
        start = time.perf_counter()
        net = build_net(mode, p.data, p.size.lr, p.dtype)
        built = time.perf_counter()
        phases: dict[str, float] = {}
        cluster = None
        if mode != "single":
            cluster, started = p.shared_client()
            if started:  # the first distributed variant starts the shared cluster
                phases["cluster start (2 worker processes)"] = started
        begin = time.perf_counter()
        sess = sg.Session(net["graph"], backend="numba", cluster=cluster)
        p.closers.append(sess.close)
        losses: list[float] = []
        extra: dict = {}
        feed, fetch = net["feed"], net["fetch"]
        sess.explain(fetch, feed, file=io.StringIO())  # plans: partitions shipped, compiled
        if sess.cluster is not None:
            phases.update(sess.cluster.setup)
        else:
            phases["passes + codegen"] = time.perf_counter() - begin

        def step() -> None:
            losses.append(float(sess.run(fetch, feed)[0]))
            if sess.cluster is not None:
                c = sess.cluster.counters
                extra["bytes_per_step"] = (c["feed_bytes"] + c["cut_bytes"]
                                           + c["fetch_bytes"]) / c["steps"]
                extra["calls_per_step"] = c["tasks"] / c["steps"]
        return Prepared(step, values=lambda: losses, build_s=built - start, compile_s=phases,
                        extra=extra)
    return setup


SCENARIO.variant("staticgraph-numba", engine="staticgraph", backend="numba", kind="static",
                 note="one process")(_static_setup("single"))
SCENARIO.variant("staticgraph-replicated", engine="staticgraph", backend="numba",
                 kind="static", note="a tower per worker, gradients summed on worker:0"
                 )(_static_setup("replicated"))
SCENARIO.variant("staticgraph-model-parallel", engine="staticgraph", backend="numba",
                 kind="static", note="layer 1 on worker:0, layer 2 on worker:1"
                 )(_static_setup("model_parallel"))


# ---- dyngraph data-parallel ---------------------------------------------------------------
@SCENARIO.variant("dyngraph-data-parallel", engine="dyngraph", kind="eager",
                  note="a replica per worker on half the batch; gradients summed via Dask")
def data_parallel_variant(p: Problem) -> Prepared:
    from dyngraph.distributed import DataParallel
    phases: dict[str, float] = {}
    client, started = p.shared_client()
    if started:  # the first distributed variant starts the shared cluster
        phases["cluster start (2 worker processes)"] = started
    start = time.perf_counter()
    init = {"w1": p.data["w1"], "w2": p.data["w2"]}
    ddp = DataParallel(init, _loss, client, lr=p.size.lr, reduction="sum")
    p.closers.append(ddp.close)
    phases["replicas"] = time.perf_counter() - start
    losses: list[float] = []
    extra: dict = {}

    def step() -> None:
        losses.append(ddp.step(p.data["x"], p.data["y"]))
        c = ddp.counters
        extra["bytes_per_step"] = c["bytes_moved"] / c["steps"]
        extra["calls_per_step"] = c["tasks"] / c["steps"]
    return Prepared(step, values=lambda: losses, compile_s=phases, extra=extra)


# ---- peer -----------------------------------------------------------------------------------
SCENARIO.add(torch_variant("torch-eager", setup=torch_setup, note="one process"))
