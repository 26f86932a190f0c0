"""Runs that commit all of their updates or none: the one place every backend shares.

A backend's runner may write variables in place while it runs (the numba
and cuda backends compute SGD-style updates straight into the variable's
storage) and replaces `state` entries as it goes. `Transaction.run` makes
any runner all-or-nothing: before the run it copies the value of every
variable the program updates into a backup buffer kept from one run to the
next (no allocation once the shapes are known), and when the run raises it
puts back the state dict's entries and the backed-up contents, so the
variables hold exactly what they held before the run.

State values are NumPy arrays or objects with `save_to(backup) -> backup`
and `load_from(backup)` (the cuda backend's `DeviceValue`). A runner whose
`writes_state_in_place` is False (the interpreter, which only replaces
entries) needs no backups; one that names its `state_written_early`
variables (the numba backend: the ones kernels write before the run's end;
the others are committed at the end by copies that cannot fail) gets
backups of those only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.ir import Var


def _save(value: Any, backup: Any) -> Any:
    """Copy `value` into `backup` (made or remade when it does not fit); the backup."""
    if isinstance(value, np.ndarray):
        if not (isinstance(backup, np.ndarray) and backup.shape == value.shape
                and backup.dtype == value.dtype):
            backup = np.empty_like(value)
        np.copyto(backup, value)
        return backup
    save_to = getattr(value, "save_to", None)
    if save_to is None:
        return None
    return save_to(None if isinstance(backup, np.ndarray) else backup)


def _load(value: Any, backup: Any) -> None:
    if isinstance(value, np.ndarray):
        if value.flags.writeable:
            np.copyto(value, backup)
    elif backup is not None:
        value.load_from(backup)


class Transaction:
    """All-or-nothing runs of one runner over a session's state (see the module doc)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.in_place = getattr(runner, "writes_state_in_place", True)
        self.targets: list[Var] = list(dict.fromkeys(var for var, _ in runner.program.updates))
        early = getattr(runner, "state_written_early", None)
        self.backed_up: list[Var] = self.targets if early is None else \
            [v for v in self.targets if v in set(early)]
        self._backups: dict[Var, Any] = {}

    def run(self, inputs: list, state: dict) -> list:
        """`runner(inputs, state)`; if it raises, `state` is as it was before."""
        if not self.targets:
            return self.runner(inputs, state)
        before = dict(state)
        saved = []
        if self.in_place:
            for var in self.backed_up:
                value = state.get(var)
                if value is not None:
                    backup = self._backups[var] = _save(value, self._backups.get(var))
                    saved.append((value, backup))
        try:
            return self.runner(inputs, state)
        except BaseException:
            state.clear()
            state.update(before)
            for value, backup in saved:
                _load(value, backup)
            raise
