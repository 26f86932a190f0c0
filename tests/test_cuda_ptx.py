"""The generated CUDA kernels compile for a real GPU: every variant, as the
launcher would call it, is compiled to PTX by numba-cuda's NVVM (no GPU
needed, only the compiler libraries). Skipped where numba-cuda or NVVM is
missing (a CPU-only install, CI) and under the simulator."""

from __future__ import annotations

import os

import numpy as np
import pytest

from staticgraph.compiler import GroupBuilder, compile_group, default_cache
from staticgraph.compiler.group import FusedGroup, GroupInput, Reduction, Ref

CC = (7, 5)
if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("the simulator is active", allow_module_level=True)


class _FakeDevice:
    compute_capability = CC


@pytest.fixture(scope="module")
def ptx():
    """compile(kernel_fn, args) -> PTX text, with device functions compiled for CC."""
    try:
        import numba.cuda.dispatcher as dispatcher
        from numba import cuda
        from numba.cuda import types as nbtypes  # numba-cuda
        from numba.cuda.np.numpy_support import from_dtype
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"numba-cuda is not installed ({exc})")
    patch = pytest.MonkeyPatch()
    patch.setattr(dispatcher, "get_current_device", lambda: _FakeDevice(), raising=True)

    def typeof(value):
        if isinstance(value, _HostArray):
            a = value.a
            layout = "C" if a.flags.c_contiguous else "A"
            return nbtypes.Array(from_dtype(a.dtype), a.ndim, layout)
        if isinstance(value, tuple):
            return nbtypes.UniTuple(nbtypes.int64, len(value))
        if isinstance(value, bool):
            return nbtypes.boolean
        return nbtypes.int64 if isinstance(value, int) else nbtypes.float64

    def compile_ptx(fn, args):
        text, _ = cuda.compile_ptx(fn.py_func, tuple(typeof(a) for a in args), cc=CC)
        return text
    try:
        compile_ptx(_probe_kernel(), [_HostArray(np.zeros(2))])
    except Exception as exc:  # noqa: BLE001 - no NVVM / libdevice here
        patch.undo()
        pytest.skip(f"no NVVM to compile PTX ({type(exc).__name__})")
    yield compile_ptx
    patch.undo()


def _probe_kernel():
    source = ("from numba import cuda\n\n\n@cuda.jit\ndef probe(x):\n"
              "    x[cuda.grid(1)] = 1.0\n")
    module, _ = default_cache().load("cuda_ptx_probe_v1", source)
    return module.probe


class _HostArray:
    """A NumPy array posing as a device array for `CudaKernel.run`."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a
        self.shape, self.ndim, self.dtype, self.size = a.shape, a.ndim, a.dtype, a.size

    def is_c_contiguous(self) -> bool:
        return self.a.flags.c_contiguous

    def reshape(self, *shape):
        return _HostArray(self.a.reshape(*shape))


def _launches(kernel, inputs, outs) -> list:
    """(variant fn, args) of every launch `kernel` makes for these arguments."""
    seen = []
    kernel._launch = lambda variant, blocks, args: seen.append((kernel.fns[variant], args))
    kernel._part = lambda blocks: _HostArray(np.zeros(blocks))
    wrap = [_HostArray(x) if isinstance(x, np.ndarray) else x for x in inputs]
    kernel.run(tuple(wrap), tuple(_HostArray(o) for o in outs), kernel.loop_shape(wrap))
    return seen


def _target():
    from staticgraph.compiler.cuda import CudaTarget
    return CudaTarget(threads=256, max_blocks=160)


def _float_group(dtype) -> FusedGroup:
    b = GroupBuilder("floats")
    x, y, a = b.input(2, dtype), b.input(1, dtype), b.scalar(float)
    t = b.op("add", b.op("mul", x, a), y)
    u = b.op("sub", b.op("div", b.op("tanh", t), b.op("exp", b.op("neg", t))), 1.0)
    v = b.op("pow", b.op("abs", u), 1.5)
    w = b.op("maximum", b.op("sqrt", v), b.op("log", b.op("sigmoid", v)))
    z = b.op("minimum", b.op("relu", w), b.op("clip", b.op("sign", w), lo=-0.5, hi=0.5))
    c = b.op("where", b.op("greater", z, 0.1), b.op("zeros_like", z), z)
    return b.build(outputs=[c, b.op("cast", c, dtype=np.dtype(np.int32))],
                   reduce=("sum", c, (0, 1), False))


def _bool_group() -> FusedGroup:
    b = GroupBuilder("bools")
    k, m = b.input(2, np.int64), b.input(2, np.bool_, (0,))
    p = b.op("logical_or", b.op("logical_and", b.op("less_equal", k, 2), m),
             b.op("logical_not", b.op("equal", k, 0)))
    q = b.op("not_equal", b.op("greater_equal", k, -1), b.op("less", k, 3))
    return b.build(outputs=[p, q])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_elementwise_op_compiles(ptx, dtype):
    kernel = compile_group(_float_group(dtype), _target())
    x, y = np.ones((4, 3), dtype), np.ones(3, dtype)
    outs = [np.zeros((4, 3), dtype), np.zeros((4, 3), np.int32), np.zeros((), dtype)]
    for flat_x in (x, np.asfortranarray(x)):  # flat and strided variants
        for fn, args in _launches(kernel, (flat_x, y, 0.5), outs):
            assert ".entry" in ptx(fn, args)


def test_bool_and_compare_ops_compile(ptx):
    kernel = compile_group(_bool_group(), _target())
    outs = [np.zeros((3, 4), np.bool_), np.zeros((3, 4), np.bool_)]
    for fn, args in _launches(kernel, (np.ones((3, 4), np.int64), np.ones((1, 4), np.bool_)),
                              outs):
        assert ".entry" in ptx(fn, args)


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_reductions_compile(ptx, kind, dtype):
    if kind == "sum" and dtype == np.bool_:
        dtype = np.int64
    group = FusedGroup((GroupInput(3, np.dtype(dtype)),), (), (),
                       Reduction(kind, Ref("in", 0), (1,), False), f"{kind}_red")
    kernel = compile_group(group, _target())
    red = np.zeros((2, 4), group.reduction_dtype())
    for n in (3, 300):  # per-thread and per-block variants
        for fn, args in _launches(kernel, (np.ones((2, n, 4), dtype),), [red]):
            assert ".entry" in ptx(fn, args)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tiled_matmul_compiles(ptx, dtype):
    from staticgraph.cuda_backend.matmul import tiled_matmul
    fn = tiled_matmul(dtype, 16)
    a = np.ones((3, 4), dtype)
    assert ".entry" in ptx(fn, [_HostArray(a), _HostArray(a.T), _HostArray(np.ones((3, 3),
                                                                                  dtype))])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tiled_gemm_update_compiles(ptx, dtype):
    from staticgraph.cuda_backend.matmul import tiled_gemm_update
    fn = tiled_gemm_update(dtype, 16)
    a, c = np.ones((3, 4), dtype), np.ones((3, 3), dtype)
    args = [_HostArray(a), _HostArray(a.T), _HostArray(c), _HostArray(c), 0.5, -1]
    assert ".entry" in ptx(fn, args)
