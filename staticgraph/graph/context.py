"""The default graph: where `sg.placeholder`, `sg.constant`, ... build.

A process-wide default graph exists from the start (as in TensorFlow 1.x);
`with graph.as_default():` pushes another one for the block.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from .ir import Graph, graph_scope, graph_stack

__all__ = ["get_default_graph", "reset_default_graph", "graph_scope", "get_default_session",
           "session_scope"]

_state = threading.local()

_GLOBAL_DEFAULT = [Graph("default")]


def get_default_graph() -> Graph:
    """The innermost `as_default()` graph, else the global default graph."""
    stack = graph_stack()
    return stack[-1] if stack else _GLOBAL_DEFAULT[0]


def reset_default_graph() -> Graph:
    """Replace the global default graph with a fresh one (not inside a scope)."""
    if graph_stack():
        raise RuntimeError("reset_default_graph() inside a `with graph.as_default()` block")
    _GLOBAL_DEFAULT[0] = Graph("default")
    return _GLOBAL_DEFAULT[0]


def get_default_session():
    """The innermost session entered with `with sg.Session() as sess:`, or None."""
    sessions = getattr(_state, "sessions", None)
    return sessions[-1] if sessions else None


@contextmanager
def session_scope(session):
    sessions = getattr(_state, "sessions", None)
    if sessions is None:
        sessions = _state.sessions = []
    sessions.append(session)
    try:
        yield session
    finally:
        sessions.pop()
