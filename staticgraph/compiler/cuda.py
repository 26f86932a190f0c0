"""The CUDA target: the shared element code in grid-stride kernels (numba.cuda).

Importing this module does not import `numba.cuda`: generated modules and
`CudaKernel` do, on first use, so a CPU-only install never needs numba-cuda.
Under the Numba CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`) the same source
runs in Python threads; the target then defaults to 4 threads per block and
2 blocks so tests of tiny arrays still cross block and grid-stride
boundaries.

`kernel(*inputs, out=(out0, ..., [red]))` takes device arrays (inputs may
also be Python scalars for `scalar` inputs and 0-d or 1-element arrays for
0-d inputs) and writes the caller's device buffers; the reduction buffer must
be C-contiguous with the reduction's shape.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from shared_ops import REGISTRY

from . import cuda_skeleton
from .cache import KernelCache
from .codegen import ElementCode, literal_source
from .group import FusedGroup
from .kernel import pattern_shape
from .stats import KernelRecord, Specialisation
from .target import Target

SIM_THREADS, SIM_BLOCKS = 4, 2
GPU_THREADS, BLOCKS_PER_SM = 256, 32
_SCALAR_FNS: dict[tuple, Any] = {}


def simulator_enabled() -> bool:
    """True when Numba runs CUDA kernels in its simulator (no import of numba.cuda)."""
    from numba.core import config
    return bool(config.ENABLE_CUDASIM)


def _sign_scalar(a):
    """sign with int steps (the simulator cannot subtract NumPy bools); NaN stays NaN."""
    return a if a != a else (1 if a > 0 else 0) - (1 if a < 0 else 0)


HELPERS = {"sign": _sign_scalar}


def cuda_scalar_fn(name: str, **params: Any) -> Any:
    """The `cuda.jit(device=True)` version of primitive `name`'s `scalar` (memoised)."""
    key = (name, tuple(sorted(params.items())))
    fn = _SCALAR_FNS.get(key)
    if fn is None:
        from numba import cuda
        prim = REGISTRY[name]
        py_fn = prim.scalar(**params) if prim.scalar_factory else prim.scalar
        fn = _SCALAR_FNS[key] = cuda.jit(device=True)(py_fn)
    return fn


def cuda_helper(name: str) -> Any:
    """A device function from `HELPERS` (target overrides of a `scalar`)."""
    key = ("helper", name)
    fn = _SCALAR_FNS.get(key)
    if fn is None:
        from numba import cuda
        fn = _SCALAR_FNS[key] = cuda.jit(device=True)(HELPERS[name])
    return fn


def default_launch() -> tuple[int, int]:
    """(threads per block, max blocks) for this process's device or the simulator."""
    if simulator_enabled():
        return SIM_THREADS, SIM_BLOCKS
    try:
        from numba import cuda
        sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    except Exception:  # no usable device: the launch will fail with its own error
        sms = 80
    return GPU_THREADS, sms * BLOCKS_PER_SM


class CudaTarget(Target):
    """Numba CUDA target: grid-stride kernels and tree reductions.

    `threads` (a power of two) is baked into the source (it sizes the shared
    arrays of the reductions); `max_blocks` caps the grid (grid-stride loops
    cover the rest). Both default to the device's (simulator: 4 and 2).
    `fastmath=False` keeps libdevice's accurate math, like NumPy.
    """

    name = "cuda"

    def __init__(self, inline: bool = True, threads: int | None = None,
                 max_blocks: int | None = None, fastmath: bool = False) -> None:
        super().__init__(inline)
        if threads is None or max_blocks is None:
            t, b = default_launch()
            threads, max_blocks = threads or t, max_blocks or b
        self.threads, self.max_blocks, self.fastmath = int(threads), int(max_blocks), fastmath

    def cache_tag(self) -> str:
        return f"{super().cache_tag()}:threads={self.threads}:fastmath={self.fastmath}"

    def header(self) -> list[str]:
        return ["import math  # noqa: F401", "", "import numpy as np  # noqa: F401",
                "from numba import cuda", "from numba import types as _nt  # noqa: F401", "",
                "from staticgraph.compiler.cuda import cuda_helper, cuda_scalar_fn  # noqa: F401",
                "", '_h_sign = cuda_helper("sign")']

    def bind_scalar(self, prim: str, params: dict[str, Any]) -> str:
        args = "".join(f", {k}={literal_source(v)}" for k, v in sorted(params.items()))
        return f"cuda_scalar_fn({prim!r}{args})"

    def math_override(self, prim: str, dtype: Any) -> str | None:
        return "_h_sign" if prim == "sign" else None

    def render_kernels(self, group: FusedGroup, code: ElementCode) -> list[str]:
        return cuda_skeleton.render_cuda_kernels(group, code, self.threads, self.fastmath)

    def make_kernel(self, group: FusedGroup, module: Any, **kwargs: Any) -> CudaKernel:
        return CudaKernel(group, module, threads=self.threads, max_blocks=self.max_blocks,
                          **kwargs)


def _blocks(n: int, threads: int, max_blocks: int) -> int:
    return max(1, min(-(-n // threads), max_blocks))


def _contiguous(a: Any) -> bool:
    return a.is_c_contiguous()


class CudaKernel:
    """A compiled fused group for the CUDA target (device arrays in and out)."""

    def __init__(self, group: FusedGroup, module: Any, *, key: str, cache: KernelCache,
                 record: KernelRecord, source: str, threads: int, max_blocks: int) -> None:
        self.group, self.module, self.key, self.cache = group, module, key, cache
        self.record, self.source = record, source
        self.threads, self.max_blocks = threads, max_blocks
        self.fns = {name: getattr(module, name) for name in module.VARIANTS}
        self._arrays = [j for j, i in enumerate(group.inputs) if not i.scalar and i.ndim]
        self._zero_d = [j for j, i in enumerate(group.inputs) if not i.scalar and not i.ndim]
        self._out_patterns = [group.step_pattern(k) for k in group.outputs]
        self.n_out = len(group.outputs) + (group.reduction is not None)
        self._parts: dict[int, Any] = {}  # partial-result buffers by block count
        self.last_launch: tuple = ()  # (variant, blocks, threads) of the last launch

    def __repr__(self) -> str:
        return f"<CudaKernel {self.group.name} k_{self.key[:12]} {tuple(self.fns)}>"

    def loop_shape(self, inputs: tuple) -> tuple[int, ...]:
        shapes = [tuple(inputs[j].shape) for j in self._arrays]
        shape = np.broadcast_shapes(*shapes) if shapes else ()
        return (1,) * (self.group.ndim - len(shape)) + tuple(shape)

    def _check(self, inputs: tuple, outs: tuple, shape: tuple[int, ...]) -> None:
        """Shapes must match the kernel's pattern: it does not bounds-check."""
        name = self.group.name
        for j in self._arrays:
            inp = self.group.inputs[j]
            want = pattern_shape(inp.ndim, inp.broadcast, shape)
            if tuple(inputs[j].shape) != want:
                raise ValueError(f"{name}: input x{j} has shape {tuple(inputs[j].shape)}, "
                                 f"the kernel expects {want}")
        for j in self._zero_d:
            if math.prod(inputs[j].shape) != 1:
                raise ValueError(f"{name}: 0-d input x{j} has shape {tuple(inputs[j].shape)}")
        for m, (rank, bcast) in enumerate(self._out_patterns):
            want = pattern_shape(rank, bcast, shape)
            if tuple(outs[m].shape) != want:
                raise ValueError(f"{name}: out[{m}] has shape {tuple(outs[m].shape)}, "
                                 f"expected {want}")
        if self.group.reduction is not None:
            red, want = outs[-1], self.group.reduction_shape(shape)
            if tuple(red.shape) != want or not _contiguous(red):
                raise ValueError(f"{name}: reduction out has shape {tuple(red.shape)}, "
                                 f"expected a C-contiguous {want}")

    def __call__(self, *inputs: Any, out: tuple | list) -> tuple:
        if len(inputs) != len(self.group.inputs) or len(out) != self.n_out:
            raise TypeError(f"{self.group.name}: expected {len(self.group.inputs)} inputs and "
                            f"{self.n_out} out buffers")
        out = tuple(out)
        shape = self.loop_shape(inputs)
        self._check(inputs, out, shape)
        self.run(inputs, out, shape)
        return out

    def run(self, inputs: tuple, out: tuple, shape: tuple[int, ...]) -> None:
        """Pick the variant and launch (shapes already checked)."""
        size = math.prod(shape)
        values = list(inputs)
        for j in self._zero_d:
            values[j] = values[j].reshape(1)
        n_elem = len(self.group.outputs)
        elem = [o if o.ndim else o.reshape(1) for o in out[:n_elem]]
        full = [values[j] for j in self._arrays] + elem
        red = self.group.reduction
        flat = (red is None or "red_finish" in self.fns) and all(
            tuple(a.shape) == shape and _contiguous(a) for a in full)
        if flat:
            for j in self._arrays:
                values[j] = values[j].reshape(size)
            elem = [o.reshape(size) for o in elem]
        if red is None:
            if size:
                variant = "elem_flat" if flat else "elem_nd"
                self._launch(variant, _blocks(size, self.threads, self.max_blocks),
                             [size if flat else shape, *values, *elem])
            return
        n_red = math.prod(shape[d] for d in red.axes)
        n_out = size // n_red if n_red else math.prod(
            s for d, s in enumerate(shape) if d not in red.axes)
        if not n_out and "red_finish" not in self.fns:
            return  # an empty output: no element to reduce into
        target = out[-1].reshape(max(n_out, 1)) if out[-1].ndim != 1 else out[-1]
        if "red_finish" in self.fns:
            blocks = _blocks(size, self.threads, self.max_blocks)
            part = self._part(blocks)
            self._launch("red_all_flat" if flat else "red_all_nd", blocks,
                         [size if flat else shape, *values, *elem, part])
            self._launch("red_finish", 1, [part, blocks, target, max(size, 0)])
        elif n_out:
            per_block = n_red >= self.threads
            variant = "red_axes" if per_block else "red_rows"
            blocks = min(n_out, self.max_blocks) if per_block else \
                _blocks(n_out, self.threads, self.max_blocks)
            self._launch(variant, blocks, [shape, *values, *elem, target])

    def _part(self, blocks: int) -> Any:
        part = self._parts.get(blocks)
        if part is None:
            from numba import cuda
            part = self._parts[blocks] = cuda.device_array(
                blocks, cuda_skeleton.accumulator_dtype(self.group))
        return part

    def _launch(self, variant: str, blocks: int, args: list) -> None:
        fn = self.fns[variant]
        overloads = getattr(fn, "overloads", None)
        before = len(overloads) if overloads is not None else 0
        start = time.perf_counter()
        fn[blocks, self.threads](*args)
        self.last_launch = (variant, blocks, self.threads)
        if overloads is not None and len(overloads) != before:
            self.record.specialisations.append(Specialisation(
                variant, str(list(overloads)[-1]), time.perf_counter() - start, 0.0, False))
