"""Sessions over Dask distributed clusters on 127.0.0.1 (every process they
start is stopped at the end): same numbers as one process, only feeds, cut
edges and fetches move, lost workers are reported, checkpoints carry over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import distributed
import numpy as np
import psutil
import pytest
from distributed_util import LR, build, data, reference, train

import dyngraph as dg
import staticgraph as sg
from dyngraph.distributed import DataParallel
from staticgraph.errors import DistributedError, WorkerLostError

ROOT = Path(__file__).resolve().parents[1]
STEPS = 4


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("mode", ["model_parallel", "replicated"])
def test_local_cluster_equals_single_process(client, mode):
    d = data()
    ref_losses, ref_weights = reference(d, STEPS)
    net = build(mode, d)
    with sg.Session(net["graph"], cluster=client) as sess:
        losses = train(sess, net, d, STEPS)
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
        for name in ("w1", "w2"):
            np.testing.assert_allclose(sess.get(net[name]), ref_weights[name], rtol=1e-12)
        text = sess.explain([net["loss"], net["train"]])
    assert "3 partitions on 2 devices" in text and "cut edges" in text


def test_only_feeds_cut_edges_and_fetches_move(client):
    d = data()
    net = build("model_parallel", d)
    with sg.Session(net["graph"], cluster=client) as sess:
        train(sess, net, d, 1)  # installs the plan and the variables
        before_workers = sess.cluster.worker_counters()["bytes_received"]
        before = dict(sess.cluster.counters)
        train(sess, net, d, STEPS)
        received = sess.cluster.worker_counters()["bytes_received"] - before_workers
        counters = {k: sess.cluster.counters[k] - before[k] for k in before}
    # per step: h (N x H) forward to worker:1, dh (N x H) back to worker:0; no weight moves
    n, h = d["x"].shape[0], d["w1"].shape[1]
    assert counters["cut_bytes"] == received == STEPS * 2 * n * h * 8
    assert counters["feed_bytes"] == STEPS * (d["x"].nbytes + d["y"].nbytes)
    assert counters["fetch_bytes"] == STEPS * 8
    assert counters["tasks"] == STEPS * 3


def test_numba_backend_and_unknown_device(client):
    d = data()
    ref_losses, _ = reference(d, 2)
    net = build("replicated", d)
    with sg.Session(net["graph"], backend="numba", cluster=client) as sess:
        np.testing.assert_allclose(train(sess, net, d, 2), ref_losses, rtol=1e-12)
    g = sg.Graph()
    with g.as_default():
        with sg.device("worker:5"):
            v = sg.Variable(np.zeros(2), name="v")
            out = v + 1
    with sg.Session(g, cluster=client) as sess:
        with pytest.raises(DistributedError, match="'worker:5' does not exist: the cluster "
                                                   "has 2 workers"):
            sess.run(out)


def _tutorial_loss(params, x, y):
    err = (x @ params["w1"]).relu() @ params["w2"] - y
    return (err * err).sum()


def test_dyngraph_data_parallel_equals_single_process(client):
    d = data()
    init = {"w1": d["w1"], "w2": d["w2"]}
    params = {k: dg.tensor(v, requires_grad=True) for k, v in init.items()}
    opt = dg.optim.SGD(list(params.values()), lr=LR)
    ref = []
    for _ in range(STEPS):
        loss = _tutorial_loss(params, dg.tensor(d["x"]), dg.tensor(d["y"]))
        ref.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with DataParallel(init, _tutorial_loss, client, lr=LR, reduction="sum") as ddp:
        losses = [ddp.step(d["x"], d["y"]) for _ in range(STEPS)]
        final = ddp.parameters()
        assert ddp.counters["tasks"] == 2 * STEPS
    np.testing.assert_allclose(losses, ref, rtol=1e-12)
    for k, p in params.items():
        np.testing.assert_allclose(final[k], p.detach().numpy(), rtol=1e-12)


def _listening_hosts() -> set:
    """The addresses this process and its children listen on."""
    me = psutil.Process()
    hosts = set()
    for proc in [me] + me.children(recursive=True):
        hosts.update(c.laddr.ip for c in proc.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN)
    return hosts


def _start(args, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "dask"] + args, env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="module")
def address_cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, by address."""
    info = tmp_path_factory.mktemp("dask") / "scheduler.json"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--dashboard-address", "127.0.0.1:0",
                     "--scheduler-file", str(info)])]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for k in range(2):
            procs.append(_start(["worker", address, "--nthreads", "1", "--no-nanny",
                                 "--name", str(k), "--host", "127.0.0.1",
                                 "--dashboard-address", "127.0.0.1:0"]))
        with distributed.Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for p in procs:  # workers hold nothing worth a graceful shutdown
            if p.poll() is None:
                p.kill()
            p.wait()


def test_checkpoint_from_a_local_cluster_continues_on_another(address_cluster, tmp_path):
    d = data()
    ref_losses, ref_weights = reference(d, 2 * STEPS)
    net = build("single", d)  # every op and variable on worker:0
    with sg.Session(net["graph"], cluster=1) as sess:  # the session's own cluster
        assert all(a.startswith("tcp://127.0.0.1:") for a in sess.cluster.workers)
        assert _listening_hosts() == {"127.0.0.1"}
        first = train(sess, net, d, STEPS)
        path = sg.train.Saver().save(sess, tmp_path / "ckpt")
        local = sess.cluster.connection.local_cluster
    assert local.status.name == "closed"
    address, _ = address_cluster
    net = build("model_parallel", d)  # the same variables, now on two workers
    with sg.Session(net["graph"], cluster=address) as sess:
        sg.train.Saver().restore(sess, path)
        rest = train(sess, net, d, STEPS)
        np.testing.assert_allclose(first + rest, ref_losses, rtol=1e-12)
        np.testing.assert_allclose(sess.get(net["w2"]), ref_weights["w2"], rtol=1e-12)


def test_killed_worker_is_reported_quickly(address_cluster):
    address, procs = address_cluster
    d = data()
    net = build("model_parallel", d)
    with sg.Session(net["graph"], cluster=address) as sess:
        train(sess, net, d, 2)
        procs[2].kill()  # the worker named 1: device worker:1
        start = time.monotonic()
        lost = r"device 'worker:1' \(tcp://127\.0\.0\.1:\d+\) left the cluster"
        with pytest.raises(WorkerLostError, match=lost):
            train(sess, net, d, 50)
        assert time.monotonic() - start < 30  # seconds, not a hang
        with pytest.raises(WorkerLostError, match="worker:1"):
            sess.run(net["loss"], {net["x"]: d["x"], net["y"]: d["y"]})
