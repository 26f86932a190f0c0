"""what a distributed step costs beyond its compute, against Dask's floor.

The tutorial two-layer net (N=64, D_in=1000, H=100, D_out=10, float64, SGD)
on a LocalCluster of 2 worker processes on 127.0.0.1: model-parallel (a
layer per worker), in-graph replicated (a tower per worker, gradients summed
on worker:0) and dyngraph data-parallel, beside the same step in one
process and the floor: Dask's own round trip, two tasks pinned to the two
workers plus a gather. The target: a staticgraph step costs at most 1.5x
that floor beyond its partitions' compute (the workers' own count of the
seconds spent in the compiled partitions).
"""

from __future__ import annotations

import staticgraph as sg
from comparisons.distributed.graph import build_net
from comparisons.harness.workload import Competitor, Workload
from shared_ops.cluster import workers_now

from . import distributed_model as model
from .registry import BenchContext, register
from .report import Section
from .tutorial_steps import TINY_NET, NetSize, make_data

OVERHEAD_TARGET = 1.5


def _noop(value=None):
    return value


class _Runs:
    """The sessions the competitors open, for their counters and for closing."""

    def __init__(self, client, data: dict, lr: float) -> None:
        self.client, self.data, self.lr = client, data, lr
        self.sessions: dict[str, sg.Session] = {}
        self.start: dict[str, dict] = {}
        self.closers: list = []

    def floor(self):
        workers = sorted(workers_now(self.client))

        def step():
            self.client.gather([self.client.submit(_noop, pure=False, workers=[w],
                                                   allow_other_workers=False)
                                for w in workers])
        return step

    def static(self, mode: str, cluster: bool = True):
        net = build_net(mode, self.data, self.lr)
        sess = sg.Session(net["graph"], backend="numba",
                          cluster=self.client if cluster else None)
        self.closers.append(sess.close)
        feed, fetch = net["feed"], net["fetch"]
        for _ in range(2):  # install, compile, first calls
            sess.run(fetch, feed)
        if cluster:
            self.sessions[mode] = sess
            self.start[mode] = dict(sess.cluster.counters, **sess.cluster.worker_counters())
        return lambda: sess.run(fetch, feed)

    def data_parallel(self):
        from dyngraph.distributed import DataParallel

        def loss_fn(params, x, y):
            err = (x @ params["w1"]).relu() @ params["w2"] - y
            return (err * err).sum()
        init = {"w1": self.data["w1"], "w2": self.data["w2"]}
        ddp = DataParallel(init, loss_fn, self.client, lr=self.lr, reduction="sum")
        self.closers.append(ddp.close)
        self.ddp = ddp
        return lambda: ddp.step(self.data["x"], self.data["y"])

    def per_step(self, mode: str) -> dict:
        """Per measured step: compute seconds, tasks, bytes (feeds, cut edges, fetches)."""
        sess = self.sessions[mode]
        now = dict(sess.cluster.counters, **sess.cluster.worker_counters())
        steps = max(now["steps"] - self.start[mode]["steps"], 1)
        return {k: (now[k] - self.start[mode][k]) / steps for k in now if k != "steps"}

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


LAN_BANDWIDTH = 1.25e9  # 10 Gbit/s Ethernet, bytes/s
LAN_LATENCY = 1e-4  # a LAN round trip beyond the software's own


def _model_section(client, result, runs: _Runs, size: NetSize, tiny: bool) -> Section:
    """Fit the cost model to the measured model-parallel step and to calls measured
    here; check it against the other measured 2-worker rows; predict."""
    net = model.Net("tutorial", size.N, size.D_in, size.H, size.D_out)
    one = result.measurements["one"]
    repeats, nbytes = (3, 1 << 16) if tiny else (30, 4 << 20)
    f = model.fit(client, one.median if one.ok else 1e-3, net.flops, repeats, nbytes)
    mp = result.measurements.get("model_parallel")
    if mp is not None and mp.ok and "model_parallel" in runs.sessions:
        rest = model.model_parallel(f, net) - 3 * f.latency  # compute and bytes
        f.latency = max((mp.median - rest) / 3, f.latency)
    lan = model.Fit(f.latency + LAN_LATENCY, f.per_call, LAN_BANDWIDTH, f.flops_per_s)
    big = model.Net("wide", 4096, 4096, 4096, 1000)
    rows = ["| net | variant | workers | measured (ms) | model, this machine (ms) | "
            "model, 10 Gbit/s LAN (ms) |", "|---|---|---|---|---|---|"]
    for key, label, fn in (("replicated", "replicated", model.replicated),
                           ("ddp", "data-parallel", model.data_parallel)):
        m = result.measurements.get(key)
        measured = f"{m.median * 1e3:.2f}" if m is not None and m.ok else "-"
        rows.append(f"| tutorial | {label} | 2 | {measured} | {fn(f, net, 2) * 1e3:.2f} | "
                    f"{fn(lan, net, 2) * 1e3:.2f} |")
    m = result.measurements.get("model_parallel")
    measured = f"{m.median * 1e3:.2f}" if m is not None and m.ok else "-"
    rows.append(f"| tutorial | model-parallel | 2 | {measured} | "
                f"{model.model_parallel(f, net) * 1e3:.2f} | "
                f"{model.model_parallel(lan, net) * 1e3:.2f} |")
    for n in (net, big):
        rows.append(f"| {n.name} | one process | 1 | - | {model.one_process(f, n) * 1e3:.2f} | "
                    f"{model.one_process(lan, n) * 1e3:.2f} |")
        for workers in (8, 64):
            for label, fn in (("replicated", model.replicated),
                              ("data-parallel", model.data_parallel)):
                rows.append(f"| {n.name} | {label} | {workers} | - | "
                            f"{fn(f, n, workers) * 1e3:.1f} | {fn(lan, n, workers) * 1e3:.1f} |")
    intro = (f"Fitted here: latency {f.latency * 1e3:.2f} ms per level (from the measured "
             f"model-parallel step: 3 levels of one call), "
             f"{f.per_call * 1e3:.2f} ms per further call in a level, bandwidth through the "
             f"client {f.bandwidth / 1e9:.2f} GB/s, compute {f.flops_per_s / 1e9:.1f} GFLOP/s "
             f"(the one-process step). The LAN column keeps the software costs and assumes "
             f"{LAN_BANDWIDTH / 1e9:.2f} GB/s and {LAN_LATENCY * 1e3:.1f} ms more per round "
             f"trip. Nets: tutorial (64, 1000, 100, 10), wide (batch 4096, 4096, 4096, 1000; "
             f"{big.params_bytes / 1e6:.0f} MB of weights, {big.flops / 1e9:.0f} GFLOP per "
             f"step).")
    return Section("Distributed cost model (docs/distributed.md)", intro=intro + "\n\n" +
                   "\n".join(rows))


def _notes(result, runs: _Runs, setup: dict) -> list[str]:
    floor = result.measurements["floor"]
    notes = []
    for mode, label in (("model_parallel", "model-parallel"), ("replicated", "replicated")):
        m = result.measurements.get(mode)
        if m is None or not m.ok or not floor.ok or mode not in runs.sessions:
            notes.append(f"{label}: not measured")
            continue
        per = runs.per_step(mode)
        overhead = m.median - per["compute_seconds"]
        ratio = overhead / floor.median
        verdict = "PASS" if ratio <= OVERHEAD_TARGET else "MISS"
        notes.append(
            f"{label}: step {m.median * 1e3:.2f} ms, partitions' compute "
            f"{per['compute_seconds'] * 1e3:.2f} ms, overhead {overhead * 1e3:.2f} ms = "
            f"**{ratio:.2f}x** the bare round trip ({floor.median * 1e3:.2f} ms; target <= "
            f"{OVERHEAD_TARGET:.1f}x: **{verdict}**); {per['tasks']:.0f} tasks/step; bytes/step: "
            f"feeds {per['feed_bytes']:.0f}, cut edges {per['cut_bytes']:.0f}, fetches "
            f"{per['fetch_bytes']:.0f}")
    if getattr(runs, "ddp", None) is not None:
        c = runs.ddp.counters
        notes.append(f"dyngraph data-parallel: {c['tasks'] / c['steps']:.0f} tasks/step, "
                     f"{c['bytes_moved'] / c['steps']:.0f} bytes/step (shards, gradients out, "
                     "summed gradients back)")
    notes.append("setup: " + ", ".join(f"{k} {v:.2f} s" for k, v in setup.items()))
    return notes


@register("distributed", "staticgraph on Dask distributed: a step's overhead")
def bench_distributed(ctx: BenchContext) -> list[Section]:
    import time

    import distributed
    size = TINY_NET if ctx.tiny else NetSize()
    data = make_data(size)
    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", silence_logs=40)
    client = distributed.Client(cluster)
    setup = {"cluster start (2 worker processes)": time.perf_counter() - start}
    runs = _Runs(client, data, size.lr)
    try:
        wl = Workload("tutorial step, 2 local workers", [
            Competitor("floor", "Dask round trip (2 pinned tasks + gather)", runs.floor),
            Competitor("one", "staticgraph numba, one process",
                       lambda: runs.static("single", cluster=False)),
            Competitor("model_parallel", "staticgraph model-parallel (layer per worker)",
                       lambda: runs.static("model_parallel")),
            Competitor("replicated", "staticgraph replicated (tower per worker)",
                       lambda: runs.static("replicated")),
            Competitor("ddp", "dyngraph data-parallel", runs.data_parallel),
        ], unit="ms", baselines=("floor", "one"))
        result = ctx.measure(wl)
        for mode in ("model_parallel", "replicated"):
            if mode in runs.sessions:
                setup[f"{mode} ship and compile"] = runs.sessions[mode].cluster.setup.get(
                    "ship and compile", float("nan"))
        notes = _notes(result, runs, setup)
        sections = [_model_section(client, result, runs, size, ctx.tiny)]
    finally:
        runs.close()
        client.close()
        cluster.close()
    intro = __doc__.split("\n\n", 1)[1]
    return [Section("Distributed step", [result], intro=intro, notes=notes)] + sections
