"""Bad inputs of the distributed parts (docs/errors.md, section distributed).

Clusters here run in this process (Dask's in-process transport, threads for
workers): cheap to start, nothing listens on the network. Each test makes the
bad call, checks the documented type and message, then a good step with the
same session or trainer gives the right numbers.
"""

from __future__ import annotations

import os

import distributed
import numpy as np
import pytest
from bad_inputs_util import documents, expect
from distributed_util import build, data, reference, train

import dyngraph as dg
import staticgraph as sg
from dyngraph.distributed import DataParallel

FILE = os.path.basename(__file__)


@pytest.fixture
def cluster():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None, silence_logs=40)
    yield cluster
    cluster.close()


@pytest.fixture
def client(cluster):
    client = distributed.Client(cluster)
    yield client
    client.close()


@documents("distributed", "a device name that is not `worker:N` or `cuda:N`")
def test_bad_device_name():
    msg = expect(sg.GraphError, lambda: sg.device("gpu:0"), "device: unknown device name "
                 "'gpu:0'; use 'worker:N'")
    assert FILE in msg
    expect(sg.GraphError, lambda: sg.device(3), "device: expected a name like 'worker:1'")
    with sg.device("/device:worker:1"):
        pass


@documents("distributed", "`add_n` of no inputs, or of inputs of different shapes or dtypes")
def test_bad_add_n():
    g = sg.Graph()
    with g.as_default():
        a = sg.placeholder(sg.float64, [2], name="a")
        expect(sg.ShapeError, lambda: sg.add_n([]), "add_n: needs at least one input", FILE)
        expect(sg.ShapeError, lambda: sg.add_n([a, sg.constant(np.ones(3))]),
               "add_n: inputs must share one shape")
        expect(sg.DTypeError, lambda: sg.add_n([a, sg.constant(np.ones(2, np.float32))]),
               "add_n: inputs must share one dtype")
        total = sg.add_n([a, a])
    assert len(g.eqns) == 1
    np.testing.assert_array_equal(sg.Session(g).run(total, {a: np.ones(2)}), [2.0, 2.0])


@documents("distributed", "`cluster=` that is not a worker count, an address or a Client, "
           "or a count below 1")
def test_bad_cluster_argument():
    g = sg.Graph()
    expect(sg.DistributedError, lambda: sg.Session(g, cluster=0),
           "cluster=0: a local cluster needs at least one worker")
    expect(sg.DistributedError, lambda: sg.Session(g, cluster=[1]),
           "cluster must be None, a number of local workers, a scheduler address or a "
           "distributed.Client, got [1]")
    expect(sg.DistributedError, lambda: DataParallel({}, None, True, lr=0.1),
           "cluster must be None")


@documents("distributed", "an op or variable placed on a device the cluster does not have")
def test_device_the_cluster_lacks(client):
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder(sg.float64, [2], name="x")
        v = sg.Variable(np.ones(2), name="v")
        with sg.device("worker:3"):
            y = x * 2
        z = v + 1
    with sg.Session(g, cluster=client) as sess:
        msg = expect(sg.DistributedError, lambda: sess.run(y, {x: np.ones(2)}),
                     "device 'worker:3' does not exist: the cluster has 2 workers; op 'mul' "
                     "created at")
        assert FILE in msg
        np.testing.assert_array_equal(sess.run(z), [2.0, 2.0])


@documents("distributed", "`sg.function` given a session with a cluster")
def test_function_on_a_cluster_session(client):
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder(sg.float64, [2], name="x")
        v = sg.Variable(np.ones(2), name="v")
        y = x * v
    with sg.Session(g, cluster=client) as sess:
        expect(sg.GraphError, lambda: sg.function([x], y, session=sess),
               "function: the session runs on a cluster")
        np.testing.assert_array_equal(sess.run(y, {x: np.full(2, 3.0)}), [3.0, 3.0])


@documents("distributed", "a worker holding a device of the session leaves the cluster")
def test_worker_leaves(cluster, client):
    d = data()
    ref, _ = reference(d, 3)
    net = build("model_parallel", d)
    with sg.Session(net["graph"], cluster=client) as sess:
        assert train(sess, net, d, 2) == pytest.approx(ref[:2], rel=1e-12)
        worker = next(w for w in cluster.workers.values()
                      if w.address == sess.cluster.workers[1])
        client.sync(worker.close)  # gone at once, as if its process died
        expect(sg.WorkerLostError, lambda: train(sess, net, d, 1),
               "device 'worker:1' (", ") left the cluster")
        expect(sg.WorkerLostError, lambda: sess.get(net["w1"]), "device 'worker:1'")
    net = build("model_parallel", d)  # a new session on what is left still trains
    with sg.Session(net["graph"], cluster=client) as sess:
        expect(sg.DistributedError, lambda: train(sess, net, d, 1), "'worker:1' does not exist")


def test_data_parallel_replica_lost(cluster, client):
    init = {"w": np.ones((3, 1))}

    def loss_fn(params, x, y):
        return ((x @ params["w"] - y) ** 2).mean()
    x, y = np.arange(12.0).reshape(4, 3), np.ones((4, 1))
    with DataParallel(init, loss_fn, client, lr=0.01) as ddp:
        ddp.step(x, y)
        worker = next(w for w in cluster.workers.values() if w.address == ddp.workers[1])
        client.sync(worker.close)
        expect(sg.WorkerLostError, lambda: ddp.step(x, y), "replica 1 (", ") left the cluster")
        expect(sg.WorkerLostError, lambda: ddp.parameters(), "replica 1")


@documents("distributed", "`DataParallel` with a bad reduction, no optimizer and no lr, or "
           "a batch with fewer rows than workers")
def test_bad_data_parallel(client):
    init = {"w": np.ones((3, 1))}

    def loss_fn(params, x, y):
        return ((x @ params["w"] - y) ** 2).mean()
    expect(ValueError, lambda: DataParallel(init, loss_fn, client, lr=0.1, reduction="avg"),
           "reduction must be 'mean' or 'sum', got 'avg'")
    expect(ValueError, lambda: DataParallel(init, loss_fn, client),
           "give an optimizer factory or lr")
    x, y = np.arange(12.0).reshape(4, 3), np.ones((4, 1))
    with DataParallel(init, loss_fn, client, lr=0.01) as ddp:
        expect(sg.DistributedError, lambda: ddp.step(x[:1], y[:1]),
               "at least one per worker (2); got 1 and 1")
        loss = ddp.step(x, y)
    w = dg.tensor(init["w"], requires_grad=True)
    ref = ((dg.tensor(x) @ w - dg.tensor(y)) ** 2).mean()
    assert loss == pytest.approx(ref.item(), rel=1e-12)


def test_failed_step_restores_every_worker(client):
    """A partition failing on worker:1 after worker:0 committed its update: the
    step raises and worker:0's variable is as before the step."""
    g = sg.Graph()
    with g.as_default():
        z = sg.placeholder(sg.float64, [None], name="z")
        with sg.device("worker:0"):
            v = sg.Variable(np.zeros(()), name="v")
            seen = v * 1.0
            bump = sg.assign_add(v, 1.0)
        with sg.device("worker:1"):
            out = sg.reduce_sum(sg.reshape(z, [2, -1])) + seen
    with sg.Session(g, cluster=client) as sess:
        expect(sg.ShapeError, lambda: sess.run([out, bump], {z: np.ones(3)}), "reshape")
        assert sess.get(v) == 0.0
        total, _ = sess.run([out, bump], {z: np.ones(4)})
        assert total == 4.0 and sess.get(v) == 1.0
