"""comparisons: the same models written for both engines, run side by side.

Each scenario is a module with a `run(**sizes)` function returning result
rows (dicts): `from comparisons import dynamic_net; dynamic_net.run(batch=32)`.
Scenarios: `tutorial_net` (the two-layer net of `tutorial`), `dynamic_net`,
`fusion`, `per_op`. The command line is `python -m comparisons` (or
`graphcompare`); `scenarios.all_scenarios()` finds every scenario module.
"""

from shared_ops import __version__  # noqa: F401
