"""Scenario registry: each scenario runs its model in every engine variant.

A scenario function takes `quick: bool` and returns a list of result rows
(dicts). A variant that fails reports the error in its row; the others run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from . import tutorial
from .timing import max_rel_error

SCENARIOS: dict[str, tuple[str, Callable]] = {}


def scenario(name: str, title: str):
    def register(fn: Callable) -> Callable:
        SCENARIOS[name] = (title, fn)
        return fn
    return register


def run_variant(scenario_name: str, variant: str, fn: Callable, reference=None) -> dict:
    """Run one variant, timing it; errors become a row, not an exception."""
    row = {"scenario": scenario_name, "variant": variant}
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # a failing engine must not hide the others
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc()
        return row
    row.update(result)
    row["total_s"] = time.perf_counter() - start
    if reference is not None and "losses" in result:
        row["max_rel_err"] = max_rel_error(result["losses"], reference)
    return row


@scenario("tutorial", "Two-layer net from 'Learning PyTorch with Examples'")
def tutorial_scenario(quick: bool = False) -> list[dict]:
    size = tutorial.QUICK if quick else tutorial.TutorialSize()
    data = tutorial.make_data(size)
    rows, reference = [], None
    for name, train in tutorial.VARIANTS.items():
        def run(train=train):
            start = time.perf_counter()
            losses = train(size, data)
            elapsed = time.perf_counter() - start
            return {"losses": losses, "step_ms": 1e3 * elapsed / size.steps,
                    "final_loss": losses[-1] if losses else float("nan")}
        row = run_variant("tutorial", name, run, reference)
        if reference is None and "losses" in row:
            reference = row["losses"]
            row["max_rel_err"] = 0.0
        rows.append(row)
    return rows
