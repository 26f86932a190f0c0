"""staticgraph's own BLAS copy (`native_blas`) and its caller `native_gemm.gemm`.

The loader's pieces are tested with a copy of SciPy's OpenBLAS that asks for
the kernels the library itself chose (so they run on any CPU); its warnings
in test_bad_inputs_native_blas.py. The end-to-end test runs a model in new
processes, with a copy forced on and with it off, sharing one cache dir:
each must agree with the interpreter, and a process without the copy must
never load loops compiled to call it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticgraph import native_blas
from staticgraph.native_blas import choose_core

ROOT = Path(__file__).resolve().parents[1]
SOURCE = native_blas.scipy_openblas()
needs_openblas = pytest.mark.skipif(SOURCE is None, reason="SciPy without its OpenBLAS")


def own_core() -> str:
    return native_blas.corename_of(SOURCE)


@pytest.mark.parametrize("setting, own, avx512, want", [
    ("auto", "Haswell", True, "SkylakeX"),
    ("", "Zen", True, "SkylakeX"),
    ("auto", "SkylakeX", True, None),  # the library already uses AVX-512 kernels
    ("auto", "Haswell", False, None),
    ("off", "Haswell", True, None),
    ("Haswell", "SkylakeX", True, "Haswell"),
    ("Cooperlake", "Haswell", True, "Cooperlake"),
])
def test_choose_core(setting, own, avx512, want):
    assert choose_core(setting, own, avx512) == want


@needs_openblas
def test_copy_loads_with_the_requested_kernels_and_own_threads(tmp_path):
    core = own_core()
    blas = native_blas.open_copy(native_blas.private_copy(SOURCE, tmp_path, core), core)
    assert blas.core.lower() == core.lower()
    assert core in blas.describe()
    before = blas.threads()
    blas.set_threads(1)
    assert blas.threads() == 1
    blas.set_threads(before)
    previous = blas.set_threads_local(1)
    assert blas.set_threads_local(previous) == 1


@pytest.fixture(scope="module")
def gemm(tmp_path_factory):
    """`native_gemm.gemm`, with this process's copy, or one with the library's own
    kernels registered for this test module where the process has none."""
    if SOURCE is None:
        pytest.skip("SciPy without its OpenBLAS")
    if native_blas.load() is None:
        core = own_core()
        path = native_blas.private_copy(SOURCE, tmp_path_factory.mktemp("blas"), core)
        native_blas.register(native_blas.open_copy(path, core))
    from staticgraph.native_gemm import gemm, prepare
    for dtype in (np.float32, np.float64):
        prepare(dtype)
    return gemm


def layouts(x: np.ndarray) -> list[np.ndarray]:
    """The same values as C order, Fortran order, a column slice and a strided view."""
    wide = np.concatenate([x, x], axis=1)[:, : x.shape[1]]
    stepped = np.repeat(x, 2, axis=1)[:, ::2]
    return [x, np.asfortranarray(x), wide, stepped]


@given(m=st.integers(0, 6), k=st.integers(0, 6), n=st.integers(0, 6),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_gemm_matches_numpy_for_every_layout(gemm, m, k, n, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a_view in layouts(a):
        for b_view in layouts(b)[:3]:
            out = np.full((m, n), np.nan, dtype)
            gemm(a_view, b_view, out)
            np.testing.assert_allclose(out, a @ b, rtol=tol, atol=tol)
    out_t = np.full((n, m), np.nan, dtype).T  # an output BLAS cannot write in place
    gemm(a, b, out_t)
    np.testing.assert_allclose(out_t, a @ b, rtol=tol, atol=tol)


def test_gemm_of_blas_sizes(gemm, rng):
    a, b = rng.standard_normal((32, 128)), rng.standard_normal((128, 96))
    out = np.empty((32, 96))
    gemm(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)
    gemm(b.T, a.T, out.T.copy())  # a Fortran-order operand pair runs through BLAS too
    assert len(gemm.overloads) == 2  # one shared specialisation per dtype


MODEL = r"""
import json, numpy as np, staticgraph as sg
from staticgraph import native_blas
x = sg.placeholder((None, 4, 3), "float64", name="x")
w = sg.Variable(np.linspace(-1, 1, 3 * 48).reshape(3, 48), name="w")
u = sg.Variable(np.linspace(-.1, .1, 48 * 48).reshape(48, 48), name="u")
xp = sg.reshape(sg.matmul(sg.reshape(x, (-1, 3)), w), (-1, 4, 48))  # BLAS in the loop:
h0 = sg.constant(np.zeros((4, 48)))  # 4 x 48 x 48 is above scan_lowering_runtime.SMALL_MATMUL
hs = sg.scan(lambda h, xt: sg.tanh(xt + sg.matmul(h, u)), xp, initializer=h0)
loss = sg.sum(hs[-1] ** 2)
grads = sg.gradients(loss, [w, u])
feed = {x: np.random.default_rng(0).standard_normal((7, 4, 3))}
out = {}
for backend in ("interpret", "numba"):
    sess = sg.Session(backend=backend)
    out[backend] = [np.asarray(v).tolist() for v in sess.run([loss] + grads, feed)]
ok = all(np.allclose(a, b, rtol=1e-12, atol=1e-12) for a, b in zip(*out.values()))
print(json.dumps({"ok": ok, "native": native_blas.load() is not None}))
"""


def run_model(cache_dir: Path, setting: str) -> dict:
    env = {**os.environ, "GRAPHCOMPARE_CACHE_DIR": str(cache_dir),
           "NUMBA_CACHE_DIR": str(cache_dir / "numba"), native_blas.ENV_VAR: setting}
    proc = subprocess.run([sys.executable, "-c", MODEL], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_openblas
def test_model_with_and_without_the_copy_sharing_one_cache(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forced = run_model(tmp_path, own_core())
        off = run_model(tmp_path, "off")  # must not load the loops compiled for the copy
    assert forced == {"ok": True, "native": True}
    assert off == {"ok": True, "native": False}
