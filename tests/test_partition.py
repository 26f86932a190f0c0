"""The partition pass alone: placement, levels, cut edges; numbers unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from distributed_util import build, data

import staticgraph as sg
from staticgraph.passes.partition import partitions_of
from staticgraph.runtime.interpreter import eval_graph
from staticgraph.runtime.program import extract_program


def _program(net):
    return extract_program(net["graph"], [net["loss"].var], [net["x"].var, net["y"].var],
                           effects=[net["train"].var])


def _run(program, d, values):
    env = {program.inputs[0]: d["x"], program.inputs[1]: d["y"]}
    env.update((v, values[v.label]) for v in program.variables)
    updates = sorted(program.updates, key=lambda u: u[0].label)
    wanted = list(program.outputs) + [value for _, value in updates]
    return eval_graph(program, env, wanted)


@pytest.mark.parametrize("mode", ["model_parallel", "replicated", "single"])
def test_partitioned_program_computes_the_same(mode):
    d = data()
    program = _program(build(mode, d))
    cut = sg.partition(program)
    expected = _run(program, d, d)
    got = _run(cut, d, d)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, rtol=1e-13)
    sg.check_graph(cut)


def test_model_parallel_partitions_and_levels():
    program = _program(build("model_parallel", data()))
    parts = partitions_of(sg.partition(program))
    placed = [(e.params["device"], e.params["level"]) for e in parts]
    assert placed == [("worker:0", 0), ("worker:1", 1), ("worker:0", 2)]
    residents = [[v.label for v in e.params["program"].variables] for e in parts]
    assert residents == [["w1"], ["w2"], ["w1"]]
    # every value a partition reads from another device comes from a lower level
    producer = {v: e for e in parts for v in e.outputs}
    for e in parts:
        for v in e.inputs:
            if v in producer and producer[v].params["device"] != e.params["device"]:
                assert producer[v].params["level"] < e.params["level"]


def test_replicated_sends_weights_and_sums_on_worker0():
    program = _program(build("replicated", data()))
    parts = partitions_of(sg.partition(program))
    assert [e.params["device"] for e in parts] == ["worker:0", "worker:1", "worker:0"]
    assert {v.label for v in parts[1].params["program"].inputs} >= {"x", "y", "w1", "w2"}
    assert [var.label for var, _ in parts[2].params["program"].updates] == ["w1", "w2"]
    assert not parts[1].params["program"].variables  # the tower holds no variable


def test_unplaced_program_is_one_partition_on_worker0():
    parts = partitions_of(sg.partition(_program(build("single", data()))))
    assert [(e.params["device"], e.params["level"]) for e in parts] == [("worker:0", 0)]


def test_device_scope_nesting_and_names():
    g = sg.Graph()
    with g.as_default():
        a = sg.placeholder(sg.float64, [2], name="a")
        with sg.device("/device:WORKER:1"):
            b = a * 2
            with sg.device("cuda:0"):
                c = b + 1
            with sg.device(None):
                d = c - 1
        e = d * 3  # soft placement: follows its first placed input
    producers = g.producers()
    assert producers[b.var].device == "worker:1"
    assert producers[c.var].device == "cuda:0"
    assert producers[d.var].device is None
    assert producers[e.var].device is None
    with pytest.raises(sg.GraphError, match="unknown device name 'gpu0'"):
        with sg.device("gpu0"):
            pass


def test_gradients_follow_their_op_unless_a_scope_says_otherwise():
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder(sg.float64, [3], name="x")
        with sg.device("worker:1"):
            w = sg.Variable(np.ones(3), name="w")
            y = sg.reduce_sum(sg.exp(x * w))
        (gw,) = sg.gradients(y, [w])
        with sg.device("worker:2"):
            (gw2,) = sg.gradients(y, [w])
    producers = g.producers()
    assert g.variables[w.var].device == "worker:1"
    assert producers[gw.var].device == "worker:1"
    assert producers[gw2.var].device == "worker:2"


def test_add_n_values_gradient_and_errors():
    g = sg.Graph()
    with g.as_default():
        a = sg.placeholder(sg.float64, [2, 3], name="a")
        b = sg.placeholder(sg.float64, [2, 3], name="b")
        s = sg.add_n([a, b, a])
        ga, gb = sg.gradients(sg.reduce_sum(s * s), [a, b])
        with pytest.raises(sg.ShapeError, match="add_n"):
            sg.add_n([a, sg.placeholder(sg.float64, [3, 2])])
        with pytest.raises(sg.DTypeError, match="add_n"):
            sg.add_n([a, sg.placeholder(sg.float32, [2, 3])])
        with pytest.raises(sg.ShapeError, match="add_n"):
            sg.add_n([])
    rng = np.random.default_rng(0)
    av, bv = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    out, dga, dgb = sg.Session(g).run([s, ga, gb], {a: av, b: bv})
    np.testing.assert_allclose(out, 2 * av + bv)
    np.testing.assert_allclose(dga, 2 * 2 * (2 * av + bv))
    np.testing.assert_allclose(dgb, 2 * (2 * av + bv))


def test_device_names_map_to_workers():
    from staticgraph.distributed.devices import address_of
    workers, gpus = ["tcp://a:1", "tcp://b:2", "tcp://c:3"], ["tcp://c:3"]
    assert address_of("worker:1", workers, gpus) == "tcp://b:2"
    assert address_of("cuda:0", workers, gpus) == "tcp://c:3"
    with pytest.raises(sg.DistributedError, match="'cuda:1' does not exist: the cluster has 1 "
                                                  "workers with the resource GPU"):
        address_of("cuda:1", workers, gpus)


def test_workers_ordered_by_integer_names_else_addresses():
    from shared_ops.cluster import ordered_workers
    named = {"tcp://b:1": {"name": 0}, "tcp://a:2": {"name": "1"}}
    assert ordered_workers(named) == ["tcp://b:1", "tcp://a:2"]
    unnamed = {"tcp://b:1": {"name": "tcp://b:1"}, "tcp://a:2": {"name": "tcp://a:2"}}
    assert ordered_workers(unnamed) == ["tcp://a:2", "tcp://b:1"]


def test_programs_travel_with_primitives_by_name():
    from staticgraph.distributed import wire
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder(sg.float64, [3], name="x")
        ys = sg.scan(lambda acc, xi: acc * 0.5 + xi, x, initializer=sg.constant(np.float64(0)))
        z = sg.cond(sg.reduce_sum(x) > 0, lambda: ys * 2, lambda: ys - 1)
    program = extract_program(g, [z.var], [x.var])
    back = wire.loads(wire.dumps(program))
    assert [e.prim for e in back.eqns] == [e.prim for e in program.eqns]  # the same objects
    xs = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(eval_graph(back, {back.inputs[0]: xs})[0],
                                  eval_graph(program, {program.inputs[0]: xs})[0])
