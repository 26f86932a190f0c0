"""Bad inputs to the shared op rules (docs/errors.md, section shared_ops), in both engines.

Each case is one bad call written on one line. In dyngraph it fails when the
op runs; in staticgraph when the node is built (placeholders of known shape).
Either way the error has the documented type, names the op, and names that
line of this file. Afterwards the same engine builds and runs a good op (the
static graph holds no half-built node).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from bad_inputs_util import documents

import dyngraph as dg
import shared_ops.api as A
import staticgraph as sg
from shared_ops import DTypeError, ShapeError
from shared_ops.errors import IndexingError

FILE = os.path.basename(__file__)


class Dyn:
    """dyngraph: leaves are float64 tensors that require grad."""

    name = "dyngraph"

    def leaf(self, shape) -> dg.Tensor:
        return dg.tensor(np.arange(float(np.prod(shape))).reshape(shape), requires_grad=True)

    def value(self, y) -> np.ndarray:
        return y.detach().numpy()


class Static:
    """staticgraph: leaves are placeholders of known shape, fed when a value is needed."""

    name = "staticgraph"

    def __init__(self) -> None:
        self.graph = sg.Graph("bad-inputs")
        self.feeds: dict = {}

    def leaf(self, shape) -> sg.Symbol:
        with self.graph.as_default():
            p = sg.placeholder(shape, "float64")
        self.feeds[p] = np.arange(float(np.prod(shape))).reshape(shape)
        return p

    def value(self, y) -> np.ndarray:
        with sg.Session(self.graph) as sess:
            return sess.run(y, {k: v for k, v in self.feeds.items()})


@dataclass
class Case:
    when: str
    error: type
    op: str
    call: Callable  # engine -> result; one line, so its first line is the user's line

    @property
    def line(self) -> str:
        return f"{FILE}:{self.call.__code__.co_firstlineno}"


CASES = {
    "operands do not broadcast": Case(
        "operands do not broadcast", ShapeError, "add",
        lambda e: A.add(e.leaf((2, 3)), e.leaf((4,)))),
    "matmul inner dims": Case(
        "matmul inner dims differ, or a 0-d operand", ShapeError, "matmul",
        lambda e: A.matmul(e.leaf((2, 3)), e.leaf((4, 5)))),
    "matmul 0-d": Case(
        "matmul inner dims differ, or a 0-d operand", ShapeError, "matmul",
        lambda e: A.matmul(e.leaf((2, 3)), e.leaf(()))),
    "reshape size": Case(
        "reshape to a different size, or more than one `-1`", ShapeError, "reshape",
        lambda e: A.reshape(e.leaf((2, 3)), (4, 2))),
    "reshape two -1": Case(
        "reshape to a different size, or more than one `-1`", ShapeError, "reshape",
        lambda e: A.reshape(e.leaf((2, 3)), (-1, -1))),
    "axis out of range": Case(
        "axis out of range, or repeated (sum, mean, max, softmax, squeeze, ...)", ShapeError,
        "sum", lambda e: A.sum(e.leaf((2, 3)), axis=2)),
    "axis repeated": Case(
        "axis out of range, or repeated (sum, mean, max, softmax, squeeze, ...)", ShapeError,
        "mean", lambda e: A.mean(e.leaf((2, 3)), axis=(1, -1))),
    "softmax axis": Case(
        "axis out of range, or repeated (sum, mean, max, softmax, squeeze, ...)", ShapeError,
        "softmax", lambda e: A.softmax(e.leaf((2, 3)), axis=-3)),
    "transpose": Case(
        "transpose axes that are not a permutation", ShapeError, "transpose",
        lambda e: A.transpose(e.leaf((2, 3)), (0, 0))),
    "broadcast_to": Case(
        "broadcast_to an incompatible shape", ShapeError, "broadcast_to",
        lambda e: A.broadcast_to(e.leaf((2, 3)), (3, 3))),
    "squeeze": Case(
        "squeeze a dim that is not 1", ShapeError, "squeeze",
        lambda e: A.squeeze(e.leaf((2, 3)), 0)),
    "concatenate off-axis": Case(
        "concatenate inputs of different rank or off-axis sizes", ShapeError, "concatenate",
        lambda e: A.concatenate([e.leaf((2, 3)), e.leaf((2, 4))], axis=0)),
    "concatenate rank": Case(
        "concatenate inputs of different rank or off-axis sizes", ShapeError, "concatenate",
        lambda e: A.concatenate([e.leaf((2, 3)), e.leaf((3,))], axis=0)),
    "concatenate nothing": Case(
        "`concatenate` or `stack` of no inputs", ShapeError, "stack",
        lambda e: (e.leaf((2,)), A.stack([]))),
    "index out of range": Case(
        "integer index out of range on a known dim", IndexingError, "getitem",
        lambda e: A.getitem(e.leaf((2, 3)), 5)),
    "too many indices": Case(
        "too many indices", IndexingError, "getitem",
        lambda e: A.getitem(e.leaf((2, 3)), (0, 0, 0))),
    "mask": Case(
        "boolean mask whose shape does not match the dims it covers", IndexingError, "getitem",
        lambda e: A.getitem(e.leaf((2, 3)), np.array([True, False, True]))),
    "index arrays": Case(
        "index arrays that do not broadcast together", IndexingError, "getitem",
        lambda e: A.getitem(e.leaf((4, 4)), (np.array([0, 1]), np.array([0, 1, 2])))),
    "float index": Case(
        "index arrays that are neither integer nor bool", IndexingError, "getitem",
        lambda e: A.getitem(e.leaf((4, 4)), np.array([0.5, 1.0]))),
    "string operand": Case(
        "an operand is not bool/int/float (strings, objects)", DTypeError, "add",
        lambda e: A.add(e.leaf((3,)), np.array(["a", "b", "c"]))),
    "object operand": Case(
        "a value that cannot be an array", DTypeError, "mul",
        lambda e: A.mul(e.leaf((3,)), object())),
    "cast to str": Case(
        "`cast` to a dtype that is not bool/int/float", DTypeError, "cast",
        lambda e: A.cast(e.leaf((3,)), "U3")),
}
ENGINES = {"dyngraph": Dyn, "staticgraph": Static}


@documents("shared_ops", *sorted({c.when for c in CASES.values()}))
@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("case", list(CASES))
def test_shared_rule_errors_name_op_and_line(case: str, engine: str):
    c, e = CASES[case], ENGINES[engine]()
    before = len(e.graph.eqns) if isinstance(e, Static) else 0
    with pytest.raises(c.error) as info:
        c.call(e)
    msg = str(info.value)
    assert c.op in msg and c.line in msg, msg
    if isinstance(e, Static):
        assert len(e.graph.eqns) == before, "a failed build left a node in the graph"
    x = e.leaf((2, 3))
    np.testing.assert_allclose(e.value(A.add(A.mul(x, 2.0), 1.0)), 2 * np.arange(6.0).reshape(
        2, 3) + 1)


@documents("shared_ops", "operands do not broadcast")
def test_errors_subclass_the_builtin_types():
    """Code that catches ValueError / IndexError / TypeError keeps working."""
    x = Dyn().leaf((2, 3))
    with pytest.raises(ValueError):
        A.add(x, np.ones(4))
    with pytest.raises(IndexError):
        A.getitem(x, 7)
    with pytest.raises(TypeError):
        A.add(x, np.array(["a", "b", "c"]))


def test_none_dims_defer_the_check_to_run_time():
    """A dim of None is accepted at build time; the run names the op and its line."""
    graph = sg.Graph("deferred")
    with graph.as_default():
        a = sg.placeholder((None, 3), "float64")
        b = sg.placeholder((None, 3), "float64")
        line, c = f"{FILE}:{_line()}", a + b
    with sg.Session(graph) as sess:
        with pytest.raises(ShapeError) as info:
            sess.run(c, {a: np.ones((2, 3)), b: np.ones((4, 3))})
        assert str(info.value).startswith("add:") and line in str(info.value)
        np.testing.assert_allclose(sess.run(c, {a: np.ones((2, 3)), b: np.ones((2, 3))}),
                                   2.0)


def _line() -> int:
    import sys
    return sys._getframe(1).f_lineno
