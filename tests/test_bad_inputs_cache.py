"""Bad kernel-cache entries (docs/errors.md, KernelCacheWarning): corrupted markers
and checksum files, a module written by another library version under the same
name, and entries keyed for another version. Each is discarded (with a
warning) or simply not used, never a crash; the kernel compiled afterwards
gives the right numbers and the entry is valid again for the next process.

tests/test_compiler_cache.py covers truncated modules and Numba files, the
second-process hit and two processes compiling one kernel at once.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from bad_inputs_util import documents

import staticgraph.compiler.cache as cache_module
from staticgraph.compiler import GroupBuilder, KernelCache, KernelCacheWarning, compile_group


def group():
    b = GroupBuilder("bad_cache")
    x = b.input(1, np.float64)
    return b.build(outputs=[b.op("tanh", b.op("mul", x, x))])


def compile_and_check(root):
    """Compile through a fresh KernelCache(root); check the numbers; the kernel."""
    kernel = compile_group(group(), cache=KernelCache(root))
    x = np.linspace(-2.0, 2.0, 7)
    out = np.empty_like(x)
    kernel(x, out=(out,))
    np.testing.assert_allclose(out, np.tanh(x * x), rtol=1e-13)
    return kernel


def no_warnings(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", KernelCacheWarning)
        return fn()


@pytest.fixture
def warm(tmp_path):
    """A cache dir with one compiled entry; its key."""
    return tmp_path, compile_and_check(tmp_path).key


@documents("staticgraph compiler", "a cached module whose marker is missing, unreadable or "
           "does not match it (truncated, edited, written by another library version)")
@pytest.mark.parametrize("damage", ["garbage-marker", "marker-of-another-key", "stale-module"])
def test_bad_module_or_marker_is_rebuilt(warm, damage):
    root, key = warm
    py, ok, _ = KernelCache(root).paths(key)
    if damage == "garbage-marker":
        ok.write_text("{not json")
    elif damage == "marker-of-another-key":
        ok.write_text(json.dumps({"key": "0" * 32, "sha256": "0" * 64}))
    else:  # same name, other content: what another version's generator would write
        py.write_text(py.read_text().replace("def ", "def _old_", 1))
    with pytest.warns(KernelCacheWarning, match=f"k_{key}"):
        again = compile_and_check(root)
    assert again.key == key and again.record.source == "miss"
    assert no_warnings(lambda: compile_and_check(root)).record.source == "disk"


@documents("staticgraph compiler", "a Numba cache file of an entry that does not match its "
           "recorded checksum, or a checksum file that cannot be read")
def test_garbage_checksum_file_is_discarded(warm):
    root, key = warm
    KernelCache(root).paths(key)[2].write_text("[garbage")
    with pytest.warns(KernelCacheWarning, match="checksum"):
        compile_and_check(root)
    kernel = no_warnings(lambda: compile_and_check(root))
    assert kernel.record.specialisations[0].from_cache  # recompiled, re-recorded, reused


def test_entries_of_another_library_version_are_not_used(warm, monkeypatch):
    """The key includes the library's fingerprint: another version never reads them."""
    root, key = warm
    monkeypatch.setattr(cache_module, "library_fingerprint", lambda: "another-version")
    other = no_warnings(lambda: compile_and_check(root))
    assert other.key != key and other.record.source == "miss"
    assert KernelCache(root).paths(key)[0].exists()  # the old entry is left alone
    monkeypatch.undo()
    assert no_warnings(lambda: compile_and_check(root)).record.source == "disk"
