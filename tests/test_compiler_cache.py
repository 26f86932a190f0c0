"""staticgraph.compiler's persistent kernel cache: hits across processes, recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from staticgraph.compiler import (
    CpuTarget,
    GroupBuilder,
    KernelCache,
    KernelCacheWarning,
    compile_group,
    default_cache_dir,
)

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import json, warnings
    import numpy as np
    from staticgraph.compiler import GroupBuilder, compile_group
    b = GroupBuilder("proc")
    x, a = b.input(1, np.float64), b.scalar(float)
    y = b.op("sub", b.op("tanh", b.op("mul", x, a)), b.op("exp", b.op("neg", x)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernel = compile_group(b.build(outputs=[y]))
        xs = np.linspace(-2, 2, 9)
        out = np.empty_like(xs)
        kernel(xs, 0.5, out=(out,))
    ok = bool(np.allclose(out, np.tanh(xs * 0.5) - np.exp(-xs), rtol=1e-14))
    spec = kernel.record.specialisations[0]
    print(json.dumps({"module": kernel.record.source, "from_cache": spec.from_cache,
                      "ok": ok, "warnings": [str(w.message) for w in caught]}))
""")


def run_script(cache_dir: Path, wait: bool = True):
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=str(cache_dir))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return finish(proc) if wait else proc


def finish(proc) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_second_process_loads_from_disk(tmp_path):
    first = run_script(tmp_path)
    assert first == {"module": "miss", "from_cache": False, "ok": True, "warnings": []}
    second = run_script(tmp_path)
    assert second == {"module": "disk", "from_cache": True, "ok": True, "warnings": []}


def test_two_processes_compiling_at_once_both_succeed(tmp_path):
    procs = [run_script(tmp_path, wait=False) for _ in range(2)]
    results = [finish(p) for p in procs]
    assert all(r["ok"] for r in results)
    assert run_script(tmp_path)["from_cache"]


def group(dtype=np.float64):
    b = GroupBuilder("cached")
    x = b.input(2, dtype)
    return b.build(outputs=[b.op("sigmoid", b.op("mul", x, x))])


def compile_and_check(cache: KernelCache, dtype=np.float64, shape=(3, 4)):
    kernel = compile_group(group(dtype), cache=cache)
    x = np.linspace(-3, 3, int(np.prod(shape))).reshape(shape).astype(dtype)
    out = np.empty_like(x)
    kernel(x, out=(out,))
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-x * x)), rtol=1e-6)
    return kernel


@pytest.fixture
def warm_cache(tmp_path):
    """A cache dir holding one compiled kernel (its Numba files written)."""
    kernel = compile_and_check(KernelCache(tmp_path))
    return tmp_path, kernel


def test_corrupted_source_is_replaced_with_a_warning(warm_cache):
    root, kernel = warm_cache
    py = Path(root, "kernels", f"k_{kernel.key}.py")
    py.write_text(py.read_text()[:50])  # truncated
    with pytest.warns(KernelCacheWarning, match="truncated"):
        again = compile_and_check(KernelCache(root))
    assert again.key == kernel.key and again.record.source == "miss"


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"])
def test_corrupted_numba_file_is_discarded_with_a_warning(warm_cache, suffix):
    root, kernel = warm_cache
    cache = KernelCache(root)
    victim = next(p for p in cache.numba_files(kernel.key) if p.suffix == suffix)
    victim.write_bytes(victim.read_bytes()[:20])
    with pytest.warns(KernelCacheWarning, match="checksum"):
        again = compile_and_check(cache)
    assert not again.record.specialisations[0].from_cache
    assert compile_and_check(KernelCache(root)).record.specialisations[0].from_cache


def test_unrecorded_corruption_is_caught_at_load(warm_cache):
    root, kernel = warm_cache
    cache = KernelCache(root)
    cache.paths(kernel.key)[2].unlink()  # no checksums to compare with
    index = next(p for p in cache.numba_files(kernel.key) if p.suffix == ".nbi")
    index.write_bytes(index.read_bytes()[:30])
    with pytest.warns(KernelCacheWarning, match="could not load"):
        compile_and_check(cache)


def test_dtype_misses_and_size_does_not_recompile(tmp_path):
    cache = KernelCache(tmp_path)
    k64 = compile_and_check(cache, np.float64)
    k32 = compile_and_check(cache, np.float32)
    assert k64.key != k32.key
    compile_and_check(cache, np.float64, shape=(7, 2))
    compile_and_check(cache, np.float64, shape=(1, 1))
    assert len(k64.fns["flat"].overloads) == 1
    assert len(k64.record.specialisations) == 1


def test_default_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHCOMPARE_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GRAPHCOMPARE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "graphcompare"


def test_unusable_dir_falls_back_with_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(KernelCacheWarning, match="unusable"):
        cache = KernelCache(blocker)
    assert cache.dir.is_dir()
    compile_and_check(cache)


def test_stats_record_codegen_and_compile(tmp_path):
    from staticgraph.compiler import CompileStats
    stats = CompileStats()
    kernel = compile_group(group(np.float32), CpuTarget(inline=False), KernelCache(tmp_path),
                           stats)
    x = np.ones((2, 2), np.float32)
    kernel(x, out=(np.empty_like(x),))
    assert stats.records == [kernel.record]
    assert stats.cache_misses == 1 and stats.compile_seconds > 0 and stats.codegen_seconds > 0
    assert "compiled" in stats.summary()


def test_numba_cache_dir_elsewhere_is_still_checked(tmp_path):
    script = textwrap.dedent("""
        import os
        import numpy as np
        from staticgraph.compiler import GroupBuilder, KernelCache, compile_group
        b = GroupBuilder("axpb")
        x, a, c = b.input(1, np.float64), b.scalar(float), b.scalar(float)
        group = b.build(outputs=[b.op("add", b.op("mul", x, a), c)])
        cache = KernelCache()
        k = compile_group(group, cache=cache)
        k(np.ones(3), 2.0, 1.0, out=(np.empty(3),))
        files = cache.numba_files(k.key)
        assert files and all(str(p).startswith(os.environ["NUMBA_CACHE_DIR"]) for p in files)
    """)
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=str(tmp_path / "g"),
               NUMBA_CACHE_DIR=str(tmp_path / "n"))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "n").rglob("k_*.nbi"))
