"""The benchmark harness runs end to end in a tiny mode (no timing assertions).

Keeps `make bench`'s code from rotting: the registry loads, every bench
produces its markdown tables with the expected rows, missing peers read
"not installed", and a failing competitor becomes a row, not a crash.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import TINY, Competitor, RatioTarget, Workload, measure  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.report import fmt_num, results_table  # noqa: E402
from comparisons.harness import peers  # noqa: E402

MODES = ("forward, no grad", "forward, recording", "forward + backward")
TUTORIAL_ROWS = ("dyngraph", "NumPy (hand-written backward)", "PyTorch eager", "JAX jit",
                 "BLAS floor (the 5 matmuls alone)")


@pytest.fixture(autouse=True)
def _restore_peers(monkeypatch):
    """--without changes process-wide state; undo it after each test."""
    monkeypatch.setattr(peers, "_DISABLED", set())


def _boom() -> None:
    raise RuntimeError("broken competitor")


def test_measure_ratios_missing_and_failing_competitors():
    wl = Workload("toy", [
        Competitor("numpy", "NumPy", lambda: (lambda: sum(range(10)))),
        Competitor("mine", "mine", lambda: (lambda: sum(range(100)))),
        Competitor("torch", "PyTorch eager", None, missing=peers.NOT_INSTALLED),
        Competitor("bad", "bad", lambda: _boom),
    ], unit="us", targets=[RatioTarget("mine", "numpy", 1e9), RatioTarget("mine", "torch", 1.0)])
    result = measure(wl, TINY)
    m = result.measurements
    assert m["numpy"].ok and m["mine"].ok
    assert len(m["mine"].times) == TINY.repeats and len(m["mine"].faults) == TINY.repeats
    assert not m["torch"].ok and not m["bad"].ok and "broken competitor" in m["bad"].error
    assert result.ratio("mine", "numpy") > 0 and result.ratio("mine", "torch") is None
    table = results_table([result])
    lines = [ln for ln in table.splitlines() if ln.startswith("| toy |")]
    assert len(lines) == 4
    assert "not installed" in table and "failed: RuntimeError" in table
    assert "**PASS**" in table and "n/a" in table


def test_warm_up_lasts_its_calls_and_its_seconds():
    """Sampling starts only after `warmup` calls and `warmup_s` seconds of calls."""
    from comparisons.harness.workload import Settings
    stamps: list[float] = []

    def make():
        return lambda: stamps.append(time.perf_counter())

    settings = Settings(name="check", repeats=1, warmup=2, warmup_s=0.05, min_sample_s=0.0,
                        max_inner=1)
    measure(Workload("toy", [Competitor("mine", "mine", make)], unit="us"), settings)
    first_warm, sampled = stamps[1], stamps[-1]  # stamps[0]: the build's own call
    assert len(stamps) >= 4  # build, at least two warm-up calls, one sample
    assert sampled - first_warm >= 0.05 - 0.001  # the loop starts a hair before its call


def test_a_settling_pause_is_followed_by_one_untimed_call():
    """After the pause before a sample, one call brings the step back to steady
    state before the clock starts: each sample makes inner + 1 calls."""
    from comparisons.harness.workload import Settings
    calls: list[int] = []
    settings = Settings(name="check", repeats=3, warmup=1, warmup_s=0.0, min_sample_s=0.0,
                        max_inner=1)
    for settle in (0.0, 0.01):
        count = [0]

        def make(count=count):
            return lambda: count.__setitem__(0, count[0] + 1)

        measure(Workload("toy", [Competitor("mine", "mine", make)], settle_s=settle), settings)
        calls.append(count[0])
    # build + one warm-up call, then three samples of one call (two with the re-warm call)
    assert calls == [1 + 1 + 3, 1 + 1 + 3 * 2]


def test_a_target_below_its_floor_says_so():
    """The floor (the work no competitor can skip) is slower than the target allows:
    the verdict says so; a floor within the target adds nothing."""
    from benchmarks.report import target_rows
    from comparisons.harness.workload import Measurement, WorkloadResult
    comps = [Competitor(k, label, lambda: _boom) for k, label in
             (("mine", "mine"), ("numpy", "NumPy"), ("blas", "BLAS floor"))]
    wl = Workload("toy", comps, targets=[RatioTarget("mine", "numpy", 0.5, floor="blas")])

    def result(floor_s: float) -> WorkloadResult:
        ms = {c.key: Measurement(c, times=[t] * 3, faults=[0.0] * 3)
              for c, t in zip(comps, (0.8, 1.0, floor_s))}
        return WorkloadResult(wl, ms)

    assert "below the floor: BLAS floor takes 0.70x NumPy here" in target_rows([result(0.7)])[0][4]
    assert "below the floor" not in target_rows([result(0.4)])[0][4]


def test_fmt_num_keeps_three_significant_figures():
    assert [fmt_num(v) for v in (16.0, 0.0599, 1234.5, 0.0)] == ["16.0", "0.0599", "1234", "0"]


def _table_rows(text: str, workload: str) -> list[str]:
    """Rows of the bench's own tables (not the targets summary above them)."""
    body = text.split("### ", 1)[1]
    return [ln for ln in body.splitlines() if ln.startswith(f"| {workload} |")]


def _run(tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "BENCHMARKS.md"
    assert main(["--tiny", "--only", "dyngraph", "--out", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


def test_dyngraph_bench_without_peers_reads_not_installed(tmp_path):
    text = _run(tmp_path, "--without", "torch,jax")
    assert text.startswith("# Benchmarks") and "**Machine:**" in text
    assert "shared and noisy" in text and "## Targets" in text
    for mode in MODES:
        for size in (1, 16):
            rows = _table_rows(text, f"{mode}, {size} elem")
            assert [r.split(" | ")[1] for r in rows][:2] == ["dyngraph", "PyTorch eager"]
            assert "not installed" in rows[1] and rows[2].split(" | ")[1].startswith("NumPy")
    rows = _table_rows(text, "tutorial step")
    assert [r.split(" | ")[1] for r in rows] == list(TUTORIAL_ROWS)
    assert sum("not installed" in r for r in rows) == 2
    assert "failed" not in text


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_dyngraph_bench_with_pytorch(tmp_path):
    text = _run(tmp_path, "--without", "jax")
    rows = _table_rows(text, "forward + backward, 16 elem")
    torch_row = rows[1].split(" | ")
    assert torch_row[1] == "PyTorch eager" and torch_row[4] == "1.00x"
    assert "<= 0.90x PyTorch eager: **" in rows[0]
    assert "failed" not in text
    if importlib.util.find_spec("threadpoolctl") is not None:
        rows = _table_rows(text, "tutorial step, 1 thread")
        assert [r.split(" | ")[1] for r in rows] == [n for n in TUTORIAL_ROWS if "JAX" not in n]


def test_list_and_unknown_bench(capsys):
    assert main(["--list"]) == 0
    assert "dyngraph" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--tiny", "--only", "no-such-bench", "--out", "-"])


def test_every_bench_module_imports():
    from benchmarks.registry import IMPORT_ERRORS, discover
    assert "dyngraph" in discover()
    assert IMPORT_ERRORS == {}


def _other_benches() -> list[str]:
    from benchmarks.registry import discover
    return [name for name in discover() if name != "dyngraph"]


@pytest.mark.parametrize("name", _other_benches())
def test_other_bench_runs_tiny(tmp_path, name):
    out = tmp_path / "BENCHMARKS.md"
    assert main(["--tiny", "--only", name, "--out", str(out), "--without", "torch,jax"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| workload | competitor |" in text
    assert "failed" not in text


@pytest.mark.parametrize("module", ["bench_static_tutorial", "compiler_design",
                                    "compiler_design_tutorial"])
def test_compile_scripts_import_absolutely(module):
    """A script run with `python -c` (a new process per compile) has no package: a
    relative import there fails only when the bench runs."""
    import ast
    import importlib
    script = importlib.import_module(f"benchmarks.{module}").COMPILE_SCRIPT
    relative = [node.module for node in ast.walk(ast.parse(script))
                if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []
