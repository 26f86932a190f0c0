"""A private BLAS copy that cannot be used (docs/errors.md, NativeBlasWarning):
the backend warns and goes on with NumPy's BLAS, never a crash."""

from __future__ import annotations

import pytest
from bad_inputs_util import documents

from staticgraph import native_blas
from staticgraph.native_blas import NativeBlasWarning, choose_core

SOURCE = native_blas.scipy_openblas()
needs_openblas = pytest.mark.skipif(SOURCE is None, reason="SciPy without its OpenBLAS")


@needs_openblas
@documents("staticgraph compiler", "the copy in the cache dir is truncated or differs from "
           "SciPy's library")
def test_a_damaged_copy_is_copied_again(tmp_path):
    core = native_blas.corename_of(SOURCE)
    path = native_blas.private_copy(SOURCE, tmp_path, core)
    stamp = path.stat().st_mtime_ns
    assert native_blas.private_copy(SOURCE, tmp_path, core) == path
    assert path.stat().st_mtime_ns == stamp  # checked, not copied again
    path.write_bytes(SOURCE.read_bytes()[:4096])  # truncated (a crash mid-copy, a full disk)
    with pytest.warns(NativeBlasWarning, match="does not match"):
        assert native_blas.private_copy(SOURCE, tmp_path, core) == path
    assert path.stat().st_size == SOURCE.stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert native_blas.open_copy(path, core).core.lower() == core.lower()


@pytest.fixture
def fresh_load(monkeypatch, tmp_path):
    """`native_blas.load()` decided again for this test, then as before."""
    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(tmp_path))
    native_blas.load.cache_clear()
    yield native_blas.load
    monkeypatch.undo()
    native_blas.load.cache_clear()
    native_blas.load()


@needs_openblas
@documents("staticgraph compiler", "the copy cannot be written or loaded, reports other "
           "kernels than asked for, or computes a test product wrongly")
def test_kernels_the_library_does_not_pick_fall_back_to_numpy(fresh_load, monkeypatch,
                                                              tmp_path):
    monkeypatch.setenv(native_blas.ENV_VAR, "NoSuchCore")
    with pytest.warns(NativeBlasWarning, match="could not load OpenBLAS with NoSuchCore "
                      r"kernels \(it chose \w+ kernels, not NoSuchCore\); using NumPy's BLAS"):
        assert fresh_load() is None
    path = native_blas.private_copy(SOURCE, tmp_path / "blas", "NoSuchCore")
    with pytest.raises(OSError, match="kernels, not NoSuchCore"):
        native_blas.open_copy(path, "NoSuchCore")


@needs_openblas
@documents("staticgraph compiler", "the copy cannot be written or loaded, reports other "
           "kernels than asked for, or computes a test product wrongly")
def test_an_unwritable_cache_dir_falls_back_to_numpy(fresh_load, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(blocker))
    monkeypatch.setenv(native_blas.ENV_VAR, native_blas.corename_of(SOURCE))
    with pytest.warns(NativeBlasWarning, match="could not load OpenBLAS"):
        assert fresh_load() is None


@documents("staticgraph compiler", "`GRAPHCOMPARE_BLAS_CORETYPE` asks for AVX-512 kernels on "
           "a CPU without AVX-512")
def test_avx512_kernels_refused_without_avx512():
    with pytest.warns(NativeBlasWarning, match="GRAPHCOMPARE_BLAS_CORETYPE=SkylakeX: this CPU "
                      "has no AVX-512; using NumPy's BLAS"):
        assert choose_core("SkylakeX", "Haswell", has_avx512=False) is None
