"""backend="cuda" (simulator) agrees with the interpreter on the TF1 training
API: random ops and dropout (the same seeded draws), placeholder_with_default,
while_loop (run-time trip count and bounded, with gradients), custom_gradient
and the softmax losses."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg

pytestmark = pytest.mark.cudasim


@sg.custom_gradient
def _clipped(x):
    def grad(dy):
        return sg.clip_by_value(dy, -1.0, 1.0)
    return x * 1.0, grad


def _program():
    graph = sg.Graph()
    with graph.as_default():
        sg.set_random_seed(11)
        x = sg.placeholder(sg.float64, (None, 4), name="x")
        n = sg.placeholder(sg.int32, (), name="n")
        labels = sg.placeholder(sg.int64, (None,), name="labels")
        keep = sg.placeholder_with_default(sg.constant(np.float64(0.5)), ())
        noise = sg.random_normal((3, 4), dtype=sg.float64) + sg.truncated_normal((3, 4))
        dropped = sg.nn.dropout(x, keep_prob=keep)
        i, total = sg.while_loop(lambda i, t: i < n,
                                 lambda i, t: (i + 1, t + sg.reduce_sum(x[i] * x[i])),
                                 [sg.constant(np.int32(0)), sg.constant(0.0, sg.float64)])
        _, bounded = sg.while_loop(lambda i, t: i < n,
                                   lambda i, t: (i + 1, t + sg.reduce_sum(x[i] * x[i])),
                                   [sg.constant(np.int32(0)), sg.constant(0.0, sg.float64)],
                                   maximum_iterations=3)
        loss = sg.reduce_mean(sg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=_clipped(x * 3.0)))
        grads = sg.gradients(loss + bounded + sg.reduce_sum(dropped), [x])
    feed = {x: np.random.default_rng(0).normal(size=(5, 4)), n: 4,
            labels: np.array([0, 3, 1, 2, 2])}
    return graph, [noise, dropped, i, total, bounded, loss] + grads, feed


def test_training_api_agrees_with_the_interpreter():
    graph, fetches, feed = _program()
    results = []
    for backend in ("interpret", "cuda"):
        with sg.Session(graph, backend=backend) as sess:
            results.append([sess.run(fetches, feed), sess.run(fetches, feed)])
    for want_run, got_run in zip(*[list(zip(*r)) for r in results]):
        for want, got in zip(want_run, got_run):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10,
                                       atol=1e-12)
    first, second = results[1]
    assert not np.array_equal(first[0], second[0])  # a fresh draw every run
