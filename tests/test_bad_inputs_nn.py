"""Bad inputs to the reduction, indexing, einsum, convolution and pooling ops
(docs/errors.md): the documented type, the op's name and this file's line
where a node is involved; afterwards a good call in the same engine (same
graph, same session) gives the right numbers."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import dyngraph as dg
import shared_ops as so
import staticgraph as sg
from shared_ops import DTypeError, IndexingError, ShapeError

FILE = os.path.basename(__file__)
F64 = "float64"


def here(n: int = 1) -> str:
    """'test_bad_inputs_nn.py:LINE' of the line n below the caller's."""
    return f"{FILE}:{sys._getframe(1).f_lineno + n}"


@pytest.fixture
def graph():
    g = sg.Graph("nn-bad-inputs")
    with g.as_default():
        yield g


def good_static_step(graph) -> None:
    with graph.as_default():
        p = sg.placeholder((None, 2), F64)
        y = sg.reduce_logsumexp(p, axis=1)
    with sg.Session(graph) as sess:
        value = np.zeros((3, 2))
        np.testing.assert_allclose(sess.run(y, {p: value}), np.log(2.0) * np.ones(3))


def good_dyngraph_step() -> None:
    x = dg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    dg.gather(x, 1, dg.tensor([[2], [0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 1], [1, 0, 0]])


@documents("shared_ops",
           "`conv2d` / `max_pool2d` input that is not 4-d, channel counts that differ, or a "
           "window larger than the padded input",
           "`conv2d` / `max_pool2d` stride or dilation below 1, negative padding",
           "`max_pool2d` padding that leaves a window with no input element",
           "`conv2d` of integer operands")
def test_conv_and_pool_shapes(graph):
    x, w = sg.placeholder((1, 3, 5, 5), F64), sg.placeholder((4, 2, 3, 3), F64)
    where = here()
    expect(ShapeError, lambda: so.conv2d(x, w), "conv2d:", "3 channels", where)
    expect(ShapeError, lambda: so.conv2d(x[0], w), "conv2d:", "4-d")
    big = sg.placeholder((4, 3, 7, 7), F64)
    expect(ShapeError, lambda: so.conv2d(x, big), "conv2d:", "larger than the padded input")
    where = here()
    expect(ShapeError, lambda: so.conv2d(x, w, stride=0), "conv2d:", "stride", where)
    expect(ShapeError, lambda: so.max_pool2d(x, 2, padding=-1), "max_pool2d:", "padding")
    expect(ShapeError, lambda: so.max_pool2d(x, 2, 2, padding=3), "max_pool2d:",
           "no input element")
    ints = sg.placeholder((1, 3, 5, 5), "int64")
    expect(DTypeError, lambda: so.conv2d(ints, ints), "conv2d:", "floating-point")
    n_eqns = len(graph.eqns)
    expect(ShapeError, lambda: dg.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3))),
           "conv2d:", "channels")
    assert len(graph.eqns) == n_eqns
    good_static_step(graph)
    good_dyngraph_step()


@documents("shared_ops",
           "`einsum` subscripts that do not fit the operands, repeat a letter within one "
           "operand over dims of different sizes, or give an output letter no input has",
           "`split` sizes that do not add up to the dim; `bmm` of operands that are not 3-d",
           "`gather` index of another rank than the input, or larger than it off the "
           "gathered axis",
           "`argmax` / `argmin` over an empty axis")
def test_einsum_split_bmm_gather_argmax(graph):
    a, b = sg.placeholder((2, 3), F64), sg.placeholder((3, 3), F64)
    expect(ShapeError, lambda: sg.einsum("ij,jk->ik", a, a), "einsum:", "size")
    expect(ShapeError, lambda: sg.einsum("ii->i", a), "einsum:", "'i' repeats in 'ii'")
    expect(ShapeError, lambda: sg.einsum("ij,ij->ij", a, b), "einsum:", "size 2 and 3")
    expect(ShapeError, lambda: sg.einsum("ij->k", a), "einsum:", "output subscripts")
    expect(ShapeError, lambda: sg.einsum("ijk->i", a), "einsum:", "3-d operand")
    where = here()
    expect(ShapeError, lambda: so.split(a, [1, 2]), "split:", "do not add up", where)
    expect(ShapeError, lambda: dg.bmm(dg.ones(2, 3), dg.ones(3, 2)), "bmm:", "3-d")
    idx = sg.placeholder((2,), "int64")
    expect(ShapeError, lambda: so.gather(a, idx, 1), "gather:", "1 dims")
    expect(ShapeError, lambda: so.gather(a, np.zeros((3, 1), np.int64), 1), "gather:",
           "exceeds")
    empty = sg.placeholder((0, 3), F64)
    expect(ShapeError, lambda: sg.argmax(empty, 0), "argmax:", "size 0")
    expect(ShapeError, lambda: dg.argmax(dg.zeros(0, 3), 0), "argmax")
    good_static_step(graph)
    good_dyngraph_step()


@documents("shared_ops",
           "`einsum` sublists (`einsum(a, [0, 1], b, [1, 2])`) with an entry other than an "
           "int in [0, 52) or `...`, or arguments that are not operand, sublist pairs")
def test_einsum_bad_sublists(graph):
    a = sg.placeholder((2, 3), F64)
    n_eqns = len(graph.eqns)
    where = here()
    expect(ShapeError, lambda: sg.einsum(a, [0, 52]), "einsum:", "52", "[0, 52)", where)
    where = here()
    expect(ShapeError, lambda: sg.einsum(a, [0, "i"]), "einsum:", "'i'", where)
    expect(ShapeError, lambda: sg.einsum(a, [0, 1], a), "einsum:", "output sublist",
           "Symbol")
    assert len(graph.eqns) == n_eqns
    x = dg.tensor(np.ones((2, 3)), requires_grad=True)
    where = here()
    expect(ShapeError, lambda: dg.einsum(x, [0, 1.0]), "einsum:", "1.0", where)
    where = here()
    expect(ShapeError, lambda: dg.einsum(x, x), "einsum:", "operand 0's sublist", where)
    expect(ShapeError, lambda: dg.einsum(x), "einsum:", "sublist pairs")
    expect(ShapeError, lambda: dg.einsum(x, [True, 0]), "einsum:", "True")
    assert x.grad is None
    good_static_step(graph)
    good_dyngraph_step()


@documents("shared_ops",
           "a `take` / `gather` index outside [0, size) (also `sg.gather`, "
           "`sg.nn.embedding_lookup`, `dg.index_select`, `dg.nn.functional.embedding`, "
           "`x[ids]` with a symbol `ids`), found when the op runs",
           "`take` / `gather` / `one_hot` indices that are not integers")
@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_indices_out_of_range(graph, backend):
    table = sg.Variable(np.arange(10.0).reshape(5, 2))
    ids = sg.placeholder((None,), "int64")
    rows_line = here()
    rows = table[ids]
    picked_line = here()
    picked = sg.nn.embedding_lookup(table, ids)
    with sg.Session(graph, backend=backend) as sess:
        for fetch, line in ((rows, rows_line), (picked, picked_line)):
            expect(IndexingError, lambda f=fetch: sess.run(f, {ids: np.array([1, 7])}),
                   "take:", "index 7 is out of range", line)
            expect(IndexingError, lambda f=fetch: sess.run(f, {ids: np.array([-1])}), "take:")
        np.testing.assert_array_equal(sess.run(rows, {ids: np.array([4, 0])}),
                                      [[8, 9], [0, 1]])
    expect(DTypeError, lambda: sg.gather(table, sg.placeholder((2,), F64)), "take:",
           "integers")
    expect(DTypeError, lambda: sg.one_hot(sg.placeholder((2,), F64), 3), "one_hot:",
           "integers")
    x = dg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    where = here()
    expect(IndexingError, lambda: dg.index_select(x, 0, dg.tensor([0, 3])), "take:",
           "index 3", where)
    expect(IndexingError, lambda: dg.gather(x, 1, dg.tensor([[2], [0], [0]])), "gather:",
           "index 2")
    expect(IndexingError, lambda: dg.nn.functional.embedding(dg.tensor([5]), x), "take:")
    expect(DTypeError, lambda: dg.gather(x, 1, dg.tensor([[0.5]])), "gather:", "integers")
    assert x.grad is None
    good_dyngraph_step()


@documents("dyngraph",
           "`F.one_hot` of a value outside [0, num_classes), or of a float tensor",
           "`index_select` with an index of more than one dim",
           "`F.max_pool2d` padding larger than half the kernel; `F.conv2d` groups that do "
           "not divide the channels, or `padding='same'` with a stride")
def test_dyngraph_wrappers():
    F = dg.nn.functional
    where = here()
    expect(IndexingError, lambda: F.one_hot(dg.tensor([0, 4]), 3), "one_hot:", where)
    expect(IndexingError, lambda: F.one_hot(dg.tensor([-1]), 3), "one_hot:")
    expect(IndexingError, lambda: F.one_hot(dg.tensor([0.5]), 3), "one_hot:", "integer")
    where = here()
    expect(IndexingError, lambda: dg.index_select(dg.ones(3), 0, dg.tensor([[0, 1]])),
           "index_select:", where)
    x = dg.ones(1, 4, 5, 5)
    expect(ShapeError, lambda: F.max_pool2d(x, 3, padding=2), "max_pool2d:", "half")
    expect(ShapeError, lambda: F.conv2d(x, dg.ones(6, 2, 3, 3), groups=3), "conv2d:",
           "groups=3")
    expect(ShapeError, lambda: F.conv2d(x, dg.ones(6, 4, 3, 3), stride=2, padding="same"),
           "conv2d:", "same")
    good_dyngraph_step()


@documents("staticgraph",
           "`sg.nn.conv2d` / `sg.nn.max_pool` with `'SAME'` padding and a stride above 1 over "
           "spatial dims unknown at build time, a padding string other than "
           "`'SAME'`/`'VALID'`, a `data_format` other than NHWC/NCHW, or strides of a non-1 "
           "batch/channel entry",
           "`sg.split` of a dim unknown at build time, or into pieces that do not divide it",
           "`sg.nn.embedding_lookup` of several shards with `partition_strategy='mod'`")
def test_static_tf_wrappers(graph):
    x = sg.placeholder((None, None, None, 3), F64)
    f = sg.placeholder((3, 3, 3, 4), F64)
    where = here()
    expect(ShapeError, lambda: sg.nn.conv2d(x, f, 2, "SAME"), "conv2d:", "'SAME'", where)
    expect(ShapeError, lambda: sg.nn.conv2d(x, f, 1, "FULL"), "conv2d:", "padding")
    expect(ShapeError, lambda: sg.nn.conv2d(x, f, 1, "SAME", data_format="NWHC"),
           "data_format")
    expect(ShapeError, lambda: sg.nn.max_pool(x, [2, 2, 2, 1], 1, "VALID"), "max_pool:",
           "batch and channel")
    n_eqns = len(graph.eqns)
    where = here()
    expect(ShapeError, lambda: sg.split(sg.placeholder((5, 2), F64), 2), "split:", where)
    expect(ShapeError, lambda: sg.split(x, 2), "split:", "run time")
    shards = [sg.Variable(np.zeros((2, 3))), sg.Variable(np.zeros((2, 3)))]
    where = here()
    expect(ShapeError, lambda: sg.nn.embedding_lookup(shards, [0]), "embedding_lookup:",
           "'div'", where)
    assert len(graph.eqns) == n_eqns
    good_static_step(graph)


@documents("staticgraph",
           "a float or bool symbol as an index, two symbolic indices in one `x[...]`, or "
           "entries around a symbolic index other than `:` before it and ints, slices and "
           "None after it")
def test_symbolic_index_errors(graph):
    x = sg.placeholder((4, 3), F64)
    ids = sg.placeholder((2,), "int64")
    where = here()
    expect(sg.SymbolicValueError, lambda: x[x > 0], "must hold integers", where)
    expect(sg.SymbolicValueError, lambda: x[ids, ids], "one symbolic index")
    expect(sg.SymbolicValueError, lambda: x[1:, ids], "full slices")
    expect(sg.SymbolicValueError, lambda: x[ids, np.array([0, 1])], "ints, slices")
    good_static_step(graph)
