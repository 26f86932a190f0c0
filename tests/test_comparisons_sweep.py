"""The RNN time-vs-sequence-length sweep (unrolled vs scan) and its plot."""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from comparisons.rnn import sweep as rnn_sweep


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


def test_rnn_scenario_draws_the_sweep_from_its_own_rows(tmp_path: Path):
    by_unit = {"2": {"first_s": 0.5, "step_s": 0.001}, "5": {"first_s": 0.4, "step_s": None}}
    rows = [{"status": "ok", "variant": "staticgraph-unrolled-numba", "by_unit": by_unit,
             "size": {"cell": "tanh"}},
            {"status": "ok", "variant": "dyngraph", "by_unit": {"3": {"first_s": 0.002,
                                                                     "step_s": 0.002}}},
            {"status": "overhead", "variant": "(measurement overhead)"}]
    result = rnn_sweep.from_rows(rows)
    assert result["lengths"] == [2, 3, 5]
    unrolled = result["series"]["staticgraph-unrolled-numba"]
    assert unrolled["first_s"][0] == 0.5 and np.isnan(unrolled["first_s"][1])
    assert np.isnan(unrolled["step_s"][2])
    written = rnn_sweep.extra_plots(rows, tmp_path)
    assert [p.name for p in written] == ["rnn-sweep.png"] and written[0].exists()
    assert rnn_sweep.extra_plots([], tmp_path) == []
