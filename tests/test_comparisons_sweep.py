"""The RNN time-vs-sequence-length sweep (unrolled vs scan) and its plot."""

from pathlib import Path

import matplotlib.image as mpimg

from comparisons import rnn_sweep


def test_sweep_times_every_engine_at_every_length_and_plots(tmp_path: Path):
    result = rnn_sweep.sweep(lengths=(2, 3), batch=2, d_in=2, hidden=3,
                             backend="interpret", repeats=1)
    assert result["lengths"] == [2, 3]
    assert set(result["series"]) == {"dyngraph", "staticgraph-scan-interpret",
                                     "staticgraph-unrolled-interpret"}
    for data in result["series"].values():
        assert len(data["first_s"]) == len(data["step_s"]) == 2
        assert all(t > 0 for t in data["first_s"] + data["step_s"])
    path = rnn_sweep.plot_sweep(result, tmp_path / "sweep.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert mpimg.imread(path).ndim == 3


def test_rnn_scenario_writes_the_sweep_with_out(tmp_path: Path):
    rows = [{"size": {"cell": "tanh", "max_len": 4, "batch": 2, "d_in": 2, "hidden": 3}}]
    original = rnn_sweep.sweep
    calls = []

    def small_sweep(cell, lengths, **kw):
        calls.append(lengths)
        return original(cell, (2, 3), batch=2, d_in=2, hidden=3, backend="interpret",
                        repeats=1)
    rnn_sweep.sweep = small_sweep
    try:
        written = rnn_sweep.extra_plots(rows, tmp_path)
    finally:
        rnn_sweep.sweep = original
    assert [p.name for p in written] == ["rnn-sweep.png"] and written[0].exists()
    assert calls == [(2, 4, 8, 16)]  # quick-sized runs sweep short lengths
