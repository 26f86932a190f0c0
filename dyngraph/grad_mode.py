"""Grad mode: whether ops record on the tape (torch.no_grad and friends).

Per thread, as in PyTorch: one thread's `no_grad()` (or a backward, which
turns recording off while it runs) does not stop another thread's tape. A
new thread starts with grad mode on.
"""

from __future__ import annotations

import functools
import threading


class _GradMode(threading.local):
    """`GRAD_MODE.enabled` is this thread's flag (the class attribute is the default)."""

    enabled = True


# The hot path reads `GRAD_MODE.enabled`: an attribute of a thread-local object
# (about 20 ns more than the process-wide one-element list it replaced).
GRAD_MODE = _GradMode()


def is_grad_enabled() -> bool:
    """True if operations are currently recorded for backward (not inside `no_grad`)."""
    return GRAD_MODE.enabled


class set_grad_enabled:
    """Context manager (or plain call) that turns recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        GRAD_MODE.enabled = self.prev


class _GradModeContext:
    mode = True

    def __enter__(self) -> None:
        self.prev = GRAD_MODE.enabled
        GRAD_MODE.enabled = self.mode

    def __exit__(self, *exc) -> None:
        GRAD_MODE.enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Ops inside do not record; use it for weight updates."""

    mode = False


class enable_grad(_GradModeContext):
    """Turn recording back on inside a no_grad block."""

    mode = True
