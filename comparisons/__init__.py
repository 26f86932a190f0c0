"""comparisons: the same models written for both engines, run side by side.

Each scenario is a module named as on the command line, with a
`run(**sizes)` function returning result rows (dicts), BLAS threads pinned
as on the command line: `from comparisons import rnn; rnn.run(steps=50)`.
Scenarios: `tutorial` (the two-layer net; its training code is in
`tutorial.training`), `dynamic_net`, `fusion`, `rnn`, `lstm`, `per_op`,
`digits` and `digits_cnn` (real data). The last
row of a run (kind "overhead") accounts for the wall time beyond the
variants' own. The command line is `python -m comparisons` (or
`graphcompare`); `scenarios.all_scenarios()` finds every scenario module.
docs/comparisons.md describes the timing model, the outputs and how to add
a variant or a scenario.
"""

from shared_ops import __version__  # noqa: F401
