"""User-facing exception types shared by both engines (see docs/errors.md)."""

from __future__ import annotations


class GraphCompareError(Exception):
    """Base class of every error graphcompare raises on purpose."""


class ShapeError(GraphCompareError, ValueError):
    """Operand shapes do not fit an op (broadcasting, matmul, reshape, ...)."""


class IndexingError(ShapeError, IndexError):
    """An index does not fit the indexed value (out of range, wrong kind)."""


class DTypeError(GraphCompareError, TypeError):
    """An operand has a dtype (or Python type) that the op cannot take."""


class GradientError(GraphCompareError, RuntimeError):
    """Autodiff misuse: backward twice, non-scalar root, no grad to compute, ..."""


class InPlaceError(GradientError):
    """A value needed by backward was modified in place after it was saved."""


class FunctionError(GradientError):
    """A custom Function's forward or backward broke its contract."""


def with_site(message: str, site: str | None) -> str:
    """Append the user's creation site to a message, if known."""
    return f"{message} (created at {site})" if site else message


class DistributedError(GraphCompareError, RuntimeError):
    """A cluster cannot do what was asked: it cannot be reached, a device has no
    worker, a worker failed, a session's workers lost their state."""


class WorkerLostError(DistributedError):
    """A worker holding a device (or a replica) left the cluster: its process
    died or was cut off, and the state it held is gone with it."""
