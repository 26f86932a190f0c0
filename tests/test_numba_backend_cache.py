"""The persistent cache through backend="numba": a second process loads instead of
compiling, a corrupted entry is recovered with a warning, another dtype misses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numba_backend_util import numba_cache_dir  # noqa: F401

from staticgraph.compiler.cache import ENV_VAR

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    sys.path.insert(0, "tests")
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        from test_numba_backend_models import data, tutorial
        f = tutorial(np.dtype(sys.argv[1]).type)
        loss = float(f(*data(dtype=np.dtype(sys.argv[1]).type)))
    specs = [s.from_cache for k in f.runner.kernels for s in k.record.specialisations]
    print(json.dumps({
        "loss": loss, "program": f.runner.program_cache.status,
        "modules": [k.record.source for k in f.runner.kernels],
        "loaded": sum(specs), "compiled": len(specs) - sum(specs),
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught
                     if "Cache" in w.category.__name__]}))
""")


def run_process(cache_dir: Path, dtype: str = "float64") -> dict:
    env = dict(os.environ, **{ENV_VAR: str(cache_dir)})
    proc = subprocess.run([sys.executable, "-c", SCRIPT, dtype], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def warm_dir(tmp_path_factory) -> tuple[Path, dict, dict]:
    """A cache dir filled by one process, then used by a second one."""
    path = tmp_path_factory.mktemp("numba-cache")
    return path, run_process(path), run_process(path)


def test_second_process_loads_instead_of_compiling(warm_dir):
    _, cold, warm = warm_dir
    assert cold["program"] == "miss" and cold["compiled"] > 0 and cold["loaded"] == 0
    assert warm["program"] == "hit" and warm["compiled"] == 0
    assert warm["loaded"] == cold["compiled"]
    assert set(warm["modules"]) == {"disk"}
    assert warm["loss"] == cold["loss"] and not warm["warnings"]


def test_corrupted_entries_are_recovered_with_a_warning(warm_dir):
    path, cold, _ = warm_dir
    numba_files = sorted((path / "kernels" / "__pycache__").glob("*.nbc"))
    assert numba_files
    numba_files[0].write_bytes(b"garbage")  # a truncated Numba cache file
    module = sorted((path / "kernels").glob("k_*.py"))[0]
    module.write_text(module.read_text()[:40])  # a truncated kernel module
    manifest = next((path / "programs").glob("p_*.json"))
    manifest.write_text("{not json")
    again = run_process(path)
    assert again["loss"] == cold["loss"]
    text = "\n".join(again["warnings"])
    assert "KernelCacheWarning" in text and "ProgramCacheWarning" in text
    assert json.loads(manifest.read_text())["kernels"]  # rewritten
    assert run_process(path)["warnings"] == []  # and healthy again


def test_a_different_dtype_misses():
    from test_numba_backend_models import data, tutorial
    f64 = tutorial(np.float64)
    f64(*data())
    f32 = tutorial(np.float32)
    f32(*data(dtype=np.float32))
    keys64 = {k.key for k in f64.runner.kernels}
    keys32 = {k.key for k in f32.runner.kernels}
    assert keys64.isdisjoint(keys32)
    assert f32.runner.program_cache.key != f64.runner.program_cache.key
    again = tutorial(np.float64)  # the same model again: everything known
    assert again.runner.program_cache.status == "hit"
    assert {k.key for k in again.runner.kernels} == keys64


def test_dg_compile_again_hits_both_programs():
    import dyngraph as dg
    rng = np.random.default_rng(0)
    x, y = dg.tensor(rng.standard_normal((8, 5))), dg.tensor(rng.standard_normal((8, 3)))
    w = dg.tensor(rng.standard_normal((5, 3)), requires_grad=True)

    def compiled_pair():
        fn = dg.compile(lambda a, b: (a.mm(w) - b).pow(2).sum())
        fn(x, y).backward()
        graph = fn.entries[0].compiled
        return [r.program_cache for r in graph.runners()]

    first, again = compiled_pair(), compiled_pair()  # other value numbers the second time
    assert len(again) == 2 and [s.key for s in again] == [s.key for s in first]
    assert [s.status for s in again] == ["hit", "hit"]
