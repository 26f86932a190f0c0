"""The CUDA backend's pieces that need no GPU and no simulator: availability and
the documented error, view geometry, the generated CUDA source."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.compiler import GroupBuilder
from staticgraph.compiler.cuda import CudaTarget
from staticgraph.cuda_backend.arrays import view_geometry


def test_cuda_backend_without_a_gpu_is_a_clear_error():
    if sg.cuda_available():
        pytest.skip("a GPU is usable here")
    assert "cuda" in sg.backend_names()
    with pytest.raises(sg.BackendError, match="backend 'cuda' needs a usable NVIDIA GPU"):
        sg.Session(sg.Graph(), backend="cuda")
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((2,), "float32")
    with pytest.raises(sg.BackendError, match=r"pip install -e '\.\[cuda\]'"):
        sg.function([x], x * 2.0, backend="cuda")


@pytest.mark.parametrize("op", [
    lambda a: a.transpose(2, 0, 1), lambda a: a[1, ...], lambda a: a[:, 1:3, ::2],
    lambda a: np.broadcast_to(a[:, :1, :], (3, 4, 5)), lambda a: np.expand_dims(a, 1),
    lambda a: a.reshape(12, 5), lambda a: a[2, 3, 4, ...], lambda a: np.squeeze(a[:, :1], 1)])
def test_view_geometry_matches_numpy(op):
    a = np.zeros((3, 4, 5), np.float32)
    want = op(a)
    offset = want.__array_interface__["data"][0] - a.__array_interface__["data"][0]
    assert view_geometry(a.shape, a.strides, a.dtype, op) == (want.shape, want.strides, offset)


def test_view_geometry_refuses_copies():
    a = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="not a view"):
        view_geometry(a.shape, a.strides, a.dtype, lambda x: x.T.reshape(12))


def test_generated_cuda_source():
    b = GroupBuilder("chain")
    x, a = b.input(2, np.float32), b.scalar(float)
    y = b.op("tanh", b.op("add", b.op("mul", x, a, site="model.py:3"), 1.0))
    target = CudaTarget(threads=128, max_blocks=64)
    elem = target.render_module(b.build(outputs=[y]))
    assert "@cuda.jit(device=True)\ndef element(v0, v1):" in elem
    assert "for i in range(cuda.grid(1), n, cuda.gridsize(1)):" in elem
    assert "math.tanh" in elem and "# mul  model.py:3" in elem
    assert "_TPB = 128" in elem and "VARIANTS = ('elem_flat', 'elem_nd')" in elem
    red = target.render_module(b.build(outputs=[y], reduce=("max", y, (1,), False)))
    assert "cuda.shared.array(_TPB, _nt.float32)" in red and "cuda.syncthreads()" in red
    assert "VARIANTS = ('red_axes', 'red_rows')" in red
    assert "threads=128" in target.cache_tag()
    with pytest.raises(ValueError, match="power of two"):
        CudaTarget(threads=100, max_blocks=1).render_module(b.build(outputs=[y]))
