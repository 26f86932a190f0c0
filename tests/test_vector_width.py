"""Vector math on every x86 CPU: the 512-bit request of the CPU target, the
float32 2**n built with 32-bit lanes, and equal numbers either way."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba_backend_util import numba_cache_dir  # noqa: F401

from staticgraph.compiler import CpuTarget, compile_group
from staticgraph.compiler.cpu import has_avx512
from staticgraph.compiler.group import GroupBuilder
from staticgraph.compiler.runtime import f32_from_int_bits, prefer_wide_vectors

ATTRIBUTE = '"prefer-vector-width"="512"'


def exp_chain(dtype):
    b = GroupBuilder("wide")
    x = b.input(1, dtype)
    y = b.op("add", b.op("mul", b.op("exp", x), 0.5), b.op("tanh", x))
    return b.build(outputs=[b.op("sigmoid", y)])


def llvm_ir(kernel, variant: str) -> str:
    return "\n".join(kernel.fns[variant].inspect_llvm().values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_and_narrow_kernels_compute_the_same(dtype):
    group = exp_chain(dtype)
    wide = compile_group(group, CpuTarget(wide_vectors=True, parallel_min=1 << 40))
    narrow = compile_group(group, CpuTarget(wide_vectors=False, parallel_min=1 << 40))
    assert wide.key != narrow.key and "prefer_wide_vectors()" in wide.source
    assert "prefer_wide_vectors()" not in narrow.source
    x = np.random.default_rng(3).uniform(-30, 30, 1001).astype(dtype)
    got_wide, got_narrow = np.empty_like(x), np.empty_like(x)
    wide(x, out=(got_wide,))
    narrow(x, out=(got_narrow,))
    np.testing.assert_array_equal(got_wide, got_narrow)
    assert ATTRIBUTE in llvm_ir(wide, "flat") and ATTRIBUTE not in llvm_ir(narrow, "flat")


def test_the_request_reaches_the_parallel_loop_body():
    kernel = compile_group(exp_chain(np.float32), CpuTarget(wide_vectors=True, parallel_min=1))
    x = np.linspace(-3, 3, 4096, dtype=np.float32)
    out = np.empty_like(x)
    kernel(x, out=(out,))
    assert ATTRIBUTE in llvm_ir(kernel, "flat_par")


def test_default_follows_the_cpu(monkeypatch):
    from staticgraph.compiler import cpu
    assert CpuTarget().wide_vectors == has_avx512()
    monkeypatch.setattr(cpu.numba_config, "CPU_FEATURES", "+avx2,-avx512f")
    assert not has_avx512() and not CpuTarget().wide_vectors
    monkeypatch.setattr(cpu.numba_config, "CPU_FEATURES", "+avx2,+avx512f")
    assert has_avx512() and CpuTarget().wide_vectors


@njit
def _powers(e):
    out = np.empty(e.size, np.float32)
    for i in range(e.size):
        prefer_wide_vectors()
        out[i] = f32_from_int_bits((e[i] + np.float32(127.0)) * np.float32(2.0 ** 23))
    return out


def test_f32_from_int_bits_builds_powers_of_two():
    e = np.arange(-126, 128, dtype=np.float32)
    np.testing.assert_array_equal(_powers(e), np.ldexp(np.float32(1), e.astype(np.int32)))
