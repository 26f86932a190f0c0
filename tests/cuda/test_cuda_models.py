"""The model list through backend="cuda" agrees with backend="interpret"
(two calls with different batch sizes: buffers are reallocated once)."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_models import MODELS

import staticgraph as sg

pytestmark = pytest.mark.cudasim


def _run(model, backend: str) -> list:
    results = []
    with sg.Session(model.graph, backend=backend) as sess:
        for feed in model.feeds:
            results.append(sess.run(model.fetches, feed_dict=feed))
    return results


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_agrees_with_interpreter(name):
    model = MODELS[name]()
    want, got = _run(model, "interpret"), _run(model, "cuda")
    for call_want, call_got in zip(want, got):
        for i, (w, g) in enumerate(zip(call_want, call_got)):
            w, g = np.asarray(w), np.asarray(g)
            assert g.shape == w.shape and g.dtype == w.dtype, (name, i)
            np.testing.assert_allclose(g, w, rtol=model.rtol, atol=model.rtol,
                                       err_msg=f"{name}: fetch {i}")
