"""The kernel cache survives damage and neighbours (docs/errors.md, KernelCacheWarning):
checksum files of the wrong shape, a read-only or removed cache dir, Numba's
own files changing as Numba adds specialisations. Each warns once at most and
carries on with the right numbers; no process leaves a temporary dir behind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from bad_inputs_util import documents

from staticgraph.compiler import GroupBuilder, KernelCache, KernelCacheWarning, compile_group

ROOT = Path(__file__).resolve().parent.parent


def group(name: str = "damage", rank: int = 1):
    b = GroupBuilder(name)
    x = b.input(rank, np.float64)
    return b.build(outputs=[b.op("tanh", b.op("mul", x, x))])


def compile_and_check(cache: KernelCache, name: str = "damage", x=None):
    kernel = compile_group(group(name), cache=cache)
    x = np.linspace(-2.0, 2.0, 7) if x is None else x
    out = np.empty_like(x)
    kernel(x, out=(out,))
    np.testing.assert_allclose(out, np.tanh(x * x), rtol=1e-13)
    return kernel


def caught(fn) -> list[str]:
    """The KernelCacheWarnings `fn()` gives."""
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in log if issubclass(w.category, KernelCacheWarning)]


@documents("data and state", "a checksum file that holds valid JSON of another shape "
           "(`[]`, `5`, `\"str\"`, entries that are not [sha, size, time])")
@pytest.mark.parametrize("content", ["[]", "5", '"str"', "null", '{"a": 1}',
                                     '{"a": ["x", 1]}'])
def test_checksum_file_of_the_wrong_shape_warns_once_and_recompiles(tmp_path, content):
    key = compile_and_check(KernelCache(tmp_path)).key
    KernelCache(tmp_path).paths(key)[2].write_text(content)
    messages = caught(lambda: compile_and_check(KernelCache(tmp_path)))
    assert len(messages) == 1 and "checksum" in messages[0]
    assert caught(lambda: compile_and_check(KernelCache(tmp_path))) == []  # repaired


def test_numba_adding_specialisations_is_not_damage(tmp_path):
    """A new specialisation rewrites the index (and sums); another cache object (a
    second process) that verified earlier files finds nothing wrong."""
    first = KernelCache(tmp_path)
    compile_and_check(first)
    other = KernelCache(tmp_path)
    index_before = {p.name: p.read_bytes() for p in first.numba_files(
        compile_group(group(), cache=first).key) if p.suffix == ".nbi"}

    def grow():  # a strided input: a new specialisation of the same kernel
        x = np.linspace(-2.0, 2.0, 14)[::2]
        compile_and_check(first, x=x)
    assert caught(grow) == []
    key = compile_group(group(), cache=first).key
    changed = [p for p in first.numba_files(key)
               if p.suffix == ".nbi" and index_before.get(p.name) != p.read_bytes()]
    assert changed, "the test needs Numba to have rewritten an index file"
    assert caught(lambda: other.verify_numba_files(key)) == []
    assert caught(lambda: compile_and_check(KernelCache(tmp_path))) == []


def test_data_file_rewritten_whole_is_not_damage_but_edited_in_place_is(tmp_path):
    cache = KernelCache(tmp_path)
    key = compile_and_check(cache).key
    data = next(p for p in cache.numba_files(key) if p.suffix == ".nbc")
    content, st = data.read_bytes(), data.stat()
    tmp = data.with_name(data.name + ".tmp")  # as Numba writes it: a new file replaces it
    tmp.write_bytes(content)
    os.replace(tmp, data)
    assert caught(lambda: KernelCache(tmp_path).verify_numba_files(key)) == []
    KernelCache(tmp_path).record_numba_files(key)
    recorded = json.loads(KernelCache(tmp_path).paths(key)[2].read_text())[data.name]
    flipped = bytearray(content)
    flipped[len(flipped) // 2] ^= 0xFF  # same size, same time: damaged in place
    data.write_bytes(bytes(flipped))
    os.utime(data, ns=(st.st_atime_ns, recorded[2]))
    messages = caught(lambda: compile_and_check(KernelCache(tmp_path)))
    assert len(messages) == 1 and "checksum" in messages[0]


SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    from staticgraph.compiler import GroupBuilder, compile_group
    b = GroupBuilder(sys.argv[1])
    x = b.input(1, np.float64)
    y = b.op("tanh", b.op("mul", x, x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernel = compile_group(b.build(outputs=[y]))
        xs = np.linspace(-2, 2, 18)[::int(sys.argv[2])]  # a stride: another specialisation
        out = np.empty_like(xs)
        kernel(xs, out=(out,))
    print(json.dumps({"ok": bool(np.allclose(out, np.tanh(xs * xs))),
                      "warnings": [str(w.message) for w in caught]}))
""")


def run(cache_dir: Path, tmp: Path, name: str = "proc", stride: int = 2) -> dict:
    """SCRIPT in a new process with this cache dir and its own temp and Numba dirs."""
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=str(cache_dir), TMPDIR=str(tmp),
               NUMBA_CACHE_DIR=str(tmp.parent / "numba"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, name, str(stride)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_processes_adding_specialisations_never_warn(tmp_path):
    """Each process adds a specialisation to the same entries (Numba rewrites their
    index files); every later process loads them without a KernelCacheWarning."""
    cache_dir, tmp = tmp_path / "cache", tmp_path / "tmp"
    for stride in (2, 1, 3, 2, 1):
        assert run(cache_dir, tmp, stride=stride) == {"ok": True, "warnings": []}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only dirs")
def test_read_only_cache_dir_warns_once_and_leaves_no_temp_dir(tmp_path):
    cache_dir, tmp = tmp_path / "cache", tmp_path / "tmp"
    assert run(cache_dir, tmp) == {"ok": True, "warnings": []}  # every kernel cached
    for path in [cache_dir, *cache_dir.rglob("*")]:
        if path.is_dir():
            path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        for name in ("proc", "new-kernel"):  # cached, then one that must be written
            result = run(cache_dir, tmp, name)
            assert result["ok"] and len(result["warnings"]) <= 1, result  # once at most
            assert list(tmp.iterdir()) == []  # no graphcompare-XXXX left behind
    finally:
        for path in [cache_dir, *cache_dir.rglob("*")]:
            if path.is_dir():
                path.chmod(stat.S_IRWXU)


@documents("data and state", "a cache dir that cannot be written (read-only)")
def test_unwritable_cache_dir_in_process_warns_once_and_carries_on(tmp_path, monkeypatch):
    """As a read-only dir behaves for a user who is not root: every write refused."""
    import staticgraph.compiler.cache as cache_module
    cache_dir = tmp_path / "ro"
    compile_and_check(KernelCache(cache_dir), "cached")
    real = cache_module.atomic_write

    def refuse(path, data):
        if str(path).startswith(str(cache_dir)):
            raise PermissionError(13, "Permission denied", str(path))
        real(path, data)
    monkeypatch.setattr(cache_module, "atomic_write", refuse)
    cache = KernelCache(cache_dir)
    messages = caught(lambda: [compile_and_check(cache, name) for name in
                               ("cached", "new1", "new2", "cached")])
    assert len(messages) == 1 and "cannot be written" in messages[0], messages


def test_unusable_cache_dir_leaves_no_temp_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(blocker / "cache", tmp_path / "tmp")
    assert result["ok"] and len(result["warnings"]) == 1 and "unusable" in result["warnings"][0]
    assert list((tmp_path / "tmp").iterdir()) == []


@documents("data and state", "the cache dir removed while the process runs")
def test_cache_dir_removed_while_running_warns_once_and_carries_on(tmp_path):
    cache = KernelCache(tmp_path / "c")
    compile_and_check(cache, "before")
    shutil.rmtree(tmp_path / "c")
    messages = caught(lambda: [compile_and_check(cache, f"after{i}") for i in range(3)])
    assert len(messages) == 1 and "removed" in messages[0]
    assert caught(lambda: compile_and_check(KernelCache(tmp_path / "c"), "after0")) == []
