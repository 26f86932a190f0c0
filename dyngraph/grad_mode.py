"""Grad mode: whether ops record on the tape (torch.no_grad and friends)."""

from __future__ import annotations

import functools

# A one-element list so the hot path reads it without a function call.
GRAD_ENABLED = [True]


def is_grad_enabled() -> bool:
    return GRAD_ENABLED[0]


class set_grad_enabled:
    """Context manager (or plain call) that turns recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.prev = GRAD_ENABLED[0]
        GRAD_ENABLED[0] = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        GRAD_ENABLED[0] = self.prev


class _GradModeContext:
    mode = True

    def __enter__(self) -> None:
        self.prev = GRAD_ENABLED[0]
        GRAD_ENABLED[0] = self.mode

    def __exit__(self, *exc) -> None:
        GRAD_ENABLED[0] = self.prev

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
