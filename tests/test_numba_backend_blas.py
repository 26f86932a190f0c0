"""The BLAS features of the numba backend: found through threadpoolctl
(`staticgraph.runtime.blas_libraries`), and named by `explain()`, in use or off."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba_backend_util import assert_close, numba_cache_dir  # noqa: F401

import staticgraph as sg
from staticgraph.numba_backend import blas, gemm
from staticgraph.runtime import blas_libraries

N, D_IN, H, D_OUT, LR = 8, 12, 6, 3, 1e-3


def tutorial(backend: str = "numba") -> sg.Function:
    """A small two-layer net's SGD step (loss out, updates in)."""
    rng = np.random.default_rng(0)
    graph = sg.Graph("tutorial")
    with graph.as_default():
        x = sg.placeholder((None, D_IN), np.float64, name="x")
        y = sg.placeholder((None, D_OUT), np.float64, name="y")
        w1 = sg.Variable(rng.standard_normal((D_IN, H)), name="w1")
        w2 = sg.Variable(rng.standard_normal((H, D_OUT)), name="w2")
        loss = sg.sum((sg.matmul(sg.relu(sg.matmul(x, w1)), w2) - y) ** 2)
        g1, g2 = sg.gradients(loss, [w1, w2])
        return sg.function([x, y], loss, updates=[(w1, w1 - LR * g1), (w2, w2 - LR * g2)],
                           backend=backend)


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((N, D_IN)), rng.standard_normal((N, D_OUT))


def explain_text(f: sg.Function) -> str:
    f(*data())
    return f.explain(file=open("/dev/null", "w"))


class NoCblas:
    """A BLAS threadpoolctl controls that exports no cblas GEMM (as some MKL
    or BLIS builds): threads can be set, the GEMM update cannot be called."""

    kind, path = "mkl", "/opt/libmkl_rt.so"

    def __init__(self) -> None:
        self.count = 4

    def describe(self) -> str:
        return "mkl 2025 (libmkl_rt.so)"

    def threads(self) -> int:
        return self.count

    def set_threads(self, n: int) -> None:
        self.count = n

    def cblas(self, *names: str) -> None:
        return None


@pytest.mark.skipif(blas_libraries.numpy_blas() is None, reason="no BLAS threadpoolctl knows")
def test_numpy_blas_is_the_library_numpy_loaded():
    library = blas_libraries.numpy_blas()
    paths = [i["filepath"] for i in blas_libraries.loaded_blas()]
    assert library.path in paths and library.kind in blas_libraries.describe_loaded()
    assert library.threads() >= 1


def test_limit_threads_sets_and_restores_every_blas():
    before = [i["num_threads"] for i in blas_libraries.loaded_blas()]
    with blas_libraries.limit_threads(1):
        assert all(i["num_threads"] == 1 for i in blas_libraries.loaded_blas())
    assert [i["num_threads"] for i in blas_libraries.loaded_blas()] == before


@pytest.mark.skipif(blas_libraries.numpy_blas() is None, reason="no BLAS threadpoolctl knows")
def test_blas_choice_restores_the_thread_count():
    library = blas_libraries.numpy_blas()
    before = library.threads()
    pick = blas.BlasChoice(eligible=True)
    for _ in range(12):
        previous = pick.enter()
        pick.leave(previous)
        assert library.threads() == before


@pytest.mark.skipif(not gemm.available(), reason="NumPy's BLAS exports no cblas GEMM")
def test_explain_names_the_blas_features_in_use():
    f = tutorial()
    text = explain_text(f)
    library = blas_libraries.numpy_blas()
    assert f"NumPy's BLAS: {library.describe()}" in text
    assert "per-call BLAS thread choice: on" in text
    assert "GEMM update in one BLAS call: on" in text
    assert "_gemm_update(" in f.source


def test_without_numpy_blas_explain_says_what_is_off_and_results_agree(monkeypatch):
    monkeypatch.setattr(blas_libraries, "numpy_blas", lambda: None)
    f, ref = tutorial(), tutorial(backend="interpret")
    text = explain_text(f)
    ref(*data())
    assert "NumPy's BLAS: not found: threadpoolctl finds no BLAS it controls" in text
    assert "per-call BLAS thread choice: off" in text
    assert "GEMM update in one BLAS call: off" in text
    assert "_gemm_update(" not in f.source
    assert not blas.BlasChoice(eligible=True).eligible
    for _ in range(3):
        assert_close(f(*data()), ref(*data()), np.float64)


def test_a_blas_without_cblas_keeps_the_thread_choice_only(monkeypatch):
    fake = NoCblas()
    monkeypatch.setattr(blas_libraries, "numpy_blas", lambda: fake)
    f = tutorial()
    text = explain_text(f)
    assert "NumPy's BLAS: mkl 2025 (libmkl_rt.so)" in text
    assert "per-call BLAS thread choice: on" in text
    assert "GEMM update in one BLAS call: off (mkl at /opt/libmkl_rt.so exports no" in text
    assert "_gemm_update(" not in f.source
    pick = blas.BlasChoice(eligible=True)
    for _ in range(6):
        pick.leave(pick.enter())
        assert fake.count == 4


def test_the_thread_choice_is_off_when_the_bound_is_zero(monkeypatch):
    monkeypatch.setenv(blas.ENV_VAR, "0")
    assert any(line.startswith("per-call BLAS thread choice: off (GRAPHCOMPARE_BLAS_SINGLE_MAX=0)")
               for line in blas.features())


def _variant_choices(with_matmul: bool) -> list[str]:
    """The kernels that choose serial or parallel in a program over 2**17
    elements, with or without a matmul before them."""
    rng = np.random.default_rng(2)
    graph = sg.Graph("wide")
    with graph.as_default():
        x = sg.placeholder((None, 512), np.float32, name="x")
        w = sg.constant(rng.standard_normal((512, 512)).astype(np.float32))
        h = sg.matmul(x, w) if with_matmul else x * 2.0
        f = sg.function([x], sg.relu(h + 1.0) * 3.0, backend="numba")
    f(rng.standard_normal((256, 512)).astype(np.float32))
    text = f.explain(file=open("/dev/null", "w"))
    return re.findall(r"fused_\w+: \w+ \(measured\)", text)


def test_a_program_that_calls_blas_keeps_its_kernels_serial():
    assert _variant_choices(with_matmul=False)  # large enough to choose
    assert _variant_choices(with_matmul=True) == []  # BLAS's pool is the step's one pool
