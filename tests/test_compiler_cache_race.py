"""Two processes saving different specialisations of one kernel into one cache dir
at once leave a cache that a third process loads correctly.

Numba's index update (read the index, take the first free data-file number,
write the index, write the data file) is forced to interleave badly: process A
reads, then B reads, A writes its index, B writes its index and data, A writes
its data last. Unlocked, the index then names B's signature for A's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import json, sys, time, warnings
    from pathlib import Path
    import numpy as np
    import numba.core.caching as nc
    from staticgraph.compiler import GroupBuilder, compile_group

    role, sync = sys.argv[1], Path(sys.argv[2])
    DELAYS = {"A": (0.0, 1.0, 3.0), "B": (0.5, 1.0, 0.0)}  # before read, write index, data

    def save(self, key, data):
        (sync / role).touch()
        deadline = time.time() + 5  # both saving at once (at most 5 s apart: locked)
        while len(list(sync.iterdir())) < 2 and time.time() < deadline:
            time.sleep(0.01)
        before_read, before_index, before_data = DELAYS[role]
        time.sleep(before_read)
        overloads = self._load_index()
        time.sleep(before_index)
        if key not in overloads:
            used, i = set(overloads.values()), 1
            while self._data_name(i) in used:
                i += 1
            overloads[key] = self._data_name(i)
            self._save_index(overloads)
        time.sleep(before_data)
        self._save_data(overloads[key], data)

    if role in DELAYS:
        nc.IndexDataCacheFile.save = save
    b = GroupBuilder("race")
    y = b.op("logical_not", b.input(2, np.bool_))
    kernel = compile_group(b.build(outputs=[y]))
    base = np.array([[True, False, True, False], [False, False, True, True]])
    inputs = {"A": base, "B": base[:, ::2]}  # C-contiguous, strided
    warnings.simplefilter("ignore")
    ok = {}
    for name, x in inputs.items():
        if role in (name, "check"):
            out = np.empty(x.shape, np.bool_)
            kernel.fns["nd"](x.shape, x, out)
            ok[name] = bool(np.array_equal(out, ~x))
    print(json.dumps(ok))
""")


def _start(role: str, cache_dir: Path, sync: Path) -> subprocess.Popen:
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=str(cache_dir))
    return subprocess.Popen([sys.executable, "-c", SCRIPT, role, str(sync)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_concurrent_saves_of_two_signatures_load_correctly(tmp_path):
    cache_dir, sync = tmp_path / "cache", tmp_path / "sync"
    sync.mkdir()
    assert _result(_start("check-none", cache_dir, sync)) == {}  # the module, no Numba files
    racers = [_start(role, cache_dir, sync) for role in ("A", "B")]
    assert [_result(p) for p in racers] == [{"A": True}, {"B": True}]
    assert _result(_start("check", cache_dir, sync)) == {"A": True, "B": True}
