"""staticgraph's own exception types (see docs/errors.md, section staticgraph).

Shape and dtype problems found while building reuse `shared_ops`' ShapeError
and DTypeError; gradient misuse reuses GradientError. The types below cover
what only a define-then-run engine can get wrong: feeds, graphs, numerics,
backends.
"""

from __future__ import annotations

from shared_ops.errors import GraphCompareError


class GraphError(GraphCompareError, ValueError):
    """Graph misuse: a symbol from another graph, a bad fetch, assign to a
    non-variable, two updates of one variable in a run, ..."""


class InvalidGraphError(GraphError):
    """`check_graph` found a malformed graph (a bug in a pass or a builder)."""


class SymbolicValueError(GraphError, TypeError):
    """A symbol was used where a concrete value is needed (`if sym:`,
    `np.asarray(sym)`, `len()` of an unknown dim)."""


class UninitializedVariableError(GraphError):
    """A variable was read before initialisation in a session with
    `auto_init=False`."""


class ClosedSessionError(GraphError, RuntimeError):
    """A closed Session was used (`run`, `get`, `set`, a function sharing it,
    `Saver.save`/`restore`): its values were released."""


class FeedError(GraphCompareError, ValueError):
    """A feed is missing, unknown, or has the wrong shape or dtype."""


class NumericsError(GraphCompareError, FloatingPointError):
    """`check_numerics=True` found NaN or Inf in an op's output."""


class BackendError(GraphCompareError, ValueError):
    """An unknown or unusable backend was requested."""


from shared_ops.errors import DistributedError, WorkerLostError  # noqa: E402,F401
