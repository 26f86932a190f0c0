"""Device placement: `with sg.device("worker:1"):` (TensorFlow 1's `tf.device`).

Ops created inside the block are placed on the named device, and so are
variables; the innermost block wins, and `sg.device(None)` clears the
placement for its block. Device names:

- `"worker:N"`: CPU worker N of the session's cluster (workers are numbered
  by their address, in the order Dask lists them sorted);
- `"cuda:N"`: GPU N of the cluster: the N-th worker that declares the Dask
  resource `GPU`; its partitions run with the "cuda" backend.

Placement is soft: an op created outside any block runs on the device of its
first placed input (`partition` decides), a variable created outside any
block lives on `worker:0`. Gradients built by `sg.gradients` outside a block
run where the op they differentiate runs. A session without a cluster runs
everything in its own process and ignores placement.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager

from shared_ops import format_site, user_site

from ..errors import GraphError

DEFAULT_DEVICE = "worker:0"
_NAME = re.compile(r"^(worker|cuda):(\d+)$")
_state = threading.local()


def canonical_device(name) -> str | None:
    """`name` checked and normalised ('/device:worker:1' and 'WORKER:1' give
    'worker:1'); None stays None. A GraphError for anything else."""
    if name is None:
        return None
    if not isinstance(name, str):
        where = format_site(user_site())
        raise GraphError(f"device: expected a name like 'worker:1' or 'cuda:0', got "
                         f"{type(name).__name__}" + (f" (at {where})" if where else ""))
    text = name.strip().lower().removeprefix("/device:").removeprefix("/")
    match = _NAME.match(text)
    if match is None:
        where = format_site(user_site())
        raise GraphError(f"device: unknown device name {name!r}; use 'worker:N' (CPU worker "
                         "N of the cluster) or 'cuda:N' (GPU N of the cluster)"
                         + (f" (at {where})" if where else ""))
    return f"{match.group(1)}:{int(match.group(2))}"


def parse_device(name: str) -> tuple[str, int]:
    """('worker', 1) for 'worker:1'."""
    kind, _, index = canonical_device(name).partition(":")
    return kind, int(index)


def _stack() -> list:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def current_device() -> str | None:
    """The device of the innermost `sg.device` block, or None outside any."""
    stack = _stack()
    return stack[-1] if stack else None


def device(name):
    """Place the ops and variables created in the block on device `name`
    (checked now: a GraphError names the bad name and the user's line)."""
    return _device_scope(canonical_device(name))


@contextmanager
def _device_scope(name: str | None):
    stack = _stack()
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()


@contextmanager
def colocate_with(name: str | None):
    """Place the block's ops on `name` unless an enclosing `device` block
    already chose a device (how gradients follow their forward op)."""
    if name is None or current_device() is not None:
        yield
        return
    stack = _stack()
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()
