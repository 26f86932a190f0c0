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


class FeedError(GraphCompareError, ValueError):
    """A feed is missing, unknown, or has the wrong shape or dtype."""


class NumericsError(GraphCompareError, FloatingPointError):
    """`check_numerics=True` found NaN or Inf in an op's output."""


class BackendError(GraphCompareError, ValueError):
    """An unknown or unusable backend was requested."""


class DistributedError(GraphError):
    """A session's cluster cannot do what was asked: no such device among its
    workers, a cluster that cannot be reached, a session whose workers lost
    their state."""


class WorkerLostError(DistributedError):
    """A worker holding a device of the session left the cluster (its process
    died or was cut off); the device's variables are gone with it."""
