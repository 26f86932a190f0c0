"""Bad inputs to dyngraph (docs/errors.md, section dyngraph): one test per entry.

Each test makes the bad call, checks the documented type, that the message
names the op (or method) and, where a tape node is involved, this file's
line; then runs a good forward/backward with the same tensors and checks
the numbers: a failure leaves no partial gradients, no stale tape, no
changed values, and grad mode on.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import dyngraph as dg
from shared_ops.errors import IndexingError

FILE = os.path.basename(__file__)


def here() -> str:
    return f"{FILE}:{sys._getframe(1).f_lineno}"


def leaf(values=(0.5, -1.0, 2.0)) -> dg.Tensor:
    return dg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def good_step(x: dg.Tensor) -> None:
    """d/dx sum(3 x^2) = 6x, on the same leaf; grad mode still on."""
    x.grad = None
    (x ** 2 * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())
    assert dg.is_grad_enabled()


# ---- ShapeError / IndexingError / DTypeError in an op ---------------------------------

@documents("dyngraph", "shapes do not fit an op")
def test_shapes_that_do_not_fit():
    x = leaf()
    expect(dg.ShapeError, lambda: x * dg.tensor(np.ones(4)), "mul:", "(3,), (4,)", here())
    expect(dg.ShapeError, lambda: x.reshape(2, 2), "reshape:", here())
    good_step(x)


@documents("dyngraph", "`max` (a reduction with no identity) over an empty dim")
def test_empty_tensors():
    empty = dg.tensor(np.zeros((0, 3)), requires_grad=True)
    expect(dg.ShapeError, lambda: empty.max(0), "max:", "(0, 3)", here())
    total = (empty * 2).sum()  # reductions with an identity are fine
    total.backward()
    assert float(total.item()) == 0.0 and empty.grad.shape == (0, 3)
    good_step(leaf())


@documents("dyngraph", "an index out of range")
def test_index_out_of_range():
    x = leaf()
    expect(IndexingError, lambda: x[3], "getitem:", "out of bounds", here())
    expect(IndexingError, lambda: x[np.array([0, 5])], "getitem:", here())
    good_step(x)


@documents("dyngraph", "`backward(gradient=...)` of the wrong shape")
def test_backward_gradient_of_the_wrong_shape():
    x = leaf()
    y = x * 2
    expect(dg.ShapeError, lambda: y.backward(np.ones(2)), "backward:", "(2,)", "(3,)")
    assert x.grad is None
    y.backward(np.ones(3))  # the tape is intact: the same y still differentiates
    np.testing.assert_allclose(x.grad.numpy(), 2.0)
    good_step(x)


@documents("dyngraph", "`item()` on a tensor with more than one element")
def test_item_of_many_elements():
    x = leaf()
    expect(dg.ShapeError, lambda: x.item(), "item()", "3 elements")
    assert (x * 1).sum().item() == pytest.approx(1.5)
    good_step(x)


@documents("dyngraph", "`requires_grad=True` on an integer tensor")
def test_integer_tensor_cannot_require_grad():
    expect(dg.DTypeError, lambda: dg.tensor([1, 2], requires_grad=True), "int64")
    ints = dg.tensor([1, 2])
    expect(dg.DTypeError, lambda: ints.requires_grad_(), "floating-point")
    assert not ints.requires_grad
    good_step(leaf())


@documents("dyngraph", "`dg.tensor` from unsupported data")
@pytest.mark.parametrize("data", ["text", [object()], [[1, 2], [3]], {"a": 1}, None],
                         ids=["str", "object", "ragged", "dict", "none"])
def test_tensor_from_unsupported_data(data):
    expect(dg.DTypeError, lambda: dg.tensor(data), "tensor:")
    good_step(leaf())


# ---- GradientError -------------------------------------------------------------------

@documents("dyngraph", "backward a second time through freed saved values "
           "(no `retain_graph=True` the first time)")
def test_backward_twice():
    x = leaf()
    y, site = x.exp(), here()
    loss = (y * 2).sum()
    loss.backward()
    first = x.grad.numpy().copy()
    expect(dg.GradientError, loss.backward, "'sum'", "retain_graph=True")
    expect(dg.GradientError, lambda: (y * 3).sum().backward(), "'exp'", site)
    np.testing.assert_array_equal(x.grad.numpy(), first)  # nothing accumulated
    good_step(x)


@documents("dyngraph", "backward on a non-scalar without `gradient`")
def test_backward_on_a_non_scalar():
    x = leaf()
    y, site = x * 2, here()
    expect(dg.GradientError, y.backward, "shape (3,)", "'mul'", site, "gradient")
    y.sum().backward()  # the same node, now through a scalar
    np.testing.assert_allclose(x.grad.numpy(), 2.0)
    good_step(x)


@documents("dyngraph", "backward on a tensor that does not require grad")
def test_backward_on_a_constant():
    c = dg.tensor(np.ones(3)).sum()
    expect(dg.GradientError, c.backward, "does not require grad")
    with dg.no_grad():
        y = (leaf() * 2).sum()
    expect(dg.GradientError, y.backward, "requires_grad=True")
    good_step(leaf())


@documents("dyngraph", "in-place op (`+=`, `-=`, `*=`, `/=`, `add_`, `zero_`, `fill_`, "
           "`copy_`, index assignment) on a leaf that requires grad, outside `no_grad`")
def test_inplace_on_a_leaf_that_requires_grad():
    x = leaf()
    before = x.detach().numpy().copy()

    def iadd():
        nonlocal x
        x += 1.0
    expect(dg.GradientError, iadd, "in-place 'add'", "leaf", "no_grad")
    expect(dg.GradientError, lambda: x.__setitem__(0, 5.0), "index assignment")
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.is_leaf and x._version[0] == 0
    good_step(x)


@documents("dyngraph", "`dg.grad` w.r.t. a tensor the outputs do not use",
           "`dg.grad` w.r.t. a tensor that does not require grad")
def test_grad_of_unused_or_constant_inputs():
    x, unused = leaf(), leaf()
    loss = (x * x).sum()
    expect(dg.GradientError, lambda: dg.grad(loss, [x, unused], retain_graph=True),
           "not used", "allow_unused=True")
    expect(dg.GradientError, lambda: dg.grad(loss, [dg.tensor(np.ones(3))],
                                             retain_graph=True), "does not require grad")
    gx, gu = dg.grad(loss, [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), 2 * x.detach().numpy())
    assert gu is None and x.grad is None
    good_step(x)


@documents("dyngraph", "`requires_grad_(False)` on a non-leaf")
def test_requires_grad_false_on_a_non_leaf():
    x = leaf()
    y = x * 2
    expect(dg.GradientError, lambda: y.requires_grad_(False), "non-leaf", "detach")
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


@documents("dyngraph", "`numpy()` on a tensor that requires grad")
def test_numpy_of_a_tensor_that_requires_grad():
    x = leaf()
    expect(dg.GradientError, x.numpy, "detach().numpy()")
    np.testing.assert_allclose(x.detach().numpy(), [0.5, -1.0, 2.0])
    good_step(x)


@documents("dyngraph", "`dg.gradcheck` on float32 inputs, or a Jacobian mismatch")
def test_gradcheck_misuse_and_mismatch():
    class WrongGrad(dg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x32 = dg.tensor(np.ones(3, np.float32), requires_grad=True)
    expect(dg.GradientError, lambda: dg.gradcheck(lambda t: t * 2, (x32,)), "float32")
    x = leaf()
    expect(dg.GradientError, lambda: dg.gradcheck(WrongGrad.apply, (x,)), "mismatch")
    assert dg.gradcheck(lambda t: (t * t).sum(), (x,))
    good_step(x)


# ---- InPlaceError ----------------------------------------------------------------------

@documents("dyngraph", "a value a node saved was changed in place before backward")
def test_saved_value_changed_in_place():
    x = leaf()
    h = x * 2
    y, site = h.exp(), here()
    with dg.no_grad():
        y.add_(1.0)  # exp's gradient reads its output
    msg = expect(dg.InPlaceError, lambda: y.sum().backward(), "'exp'", site, "version")
    assert "in-place" in msg and x.grad is None
    good_step(x)


def test_changing_a_value_no_rule_reads_is_allowed():
    """As in PyTorch: exp keeps its output, not its input, so changing the input
    in place does not stop the backward (and the gradient is exp's output)."""
    x = leaf()
    h = x * 2
    y = h.exp()
    with dg.no_grad():
        h.add_(1.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * y.detach().numpy())


@documents("dyngraph", "a tensor saved with `ctx.save_for_backward` was changed in place")
def test_function_saved_tensor_changed_in_place():
    class Square(dg.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return 2 * t * g

    x = leaf()
    h = x * 1
    y, site = Square.apply(h), here()
    with dg.no_grad():
        h.mul_(3.0)
    expect(dg.InPlaceError, lambda: y.sum().backward(), "Square", site)
    Square.apply(x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


# ---- FunctionError ---------------------------------------------------------------------

class TwoInputs(dg.Function):
    """x * y whose backward is replaced in the subclasses below."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x


class TooFew(TwoInputs):
    @staticmethod
    def backward(ctx, g):
        return g


class TooMany(TwoInputs):
    @staticmethod
    def backward(ctx, g):
        return g, g, g


class WrongShape(TwoInputs):
    @staticmethod
    def backward(ctx, g):
        return g.sum(), g


class ExtraNone(TwoInputs):
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x, None  # trailing Nones are allowed


@documents("dyngraph", "`backward` returns the wrong number of gradients",
           "`backward` returns a gradient of the wrong shape")
@pytest.mark.parametrize("fn, pattern", [
    (TooFew, "returned 1 gradients, expected 2"),
    (TooMany, "returned 3 gradients, expected 2"),
    (WrongShape, "returned a gradient of shape () for input 0, expected (3,)")])
def test_function_backward_breaks_its_contract(fn, pattern):
    x, y = leaf(), leaf((1.0, 2.0, 3.0))
    z, site = fn.apply(x, y), here()
    expect(dg.FunctionError, lambda: z.sum().backward(), fn.__name__, pattern, site)
    assert x.grad is None and y.grad is None  # nothing accumulated
    ExtraNone.apply(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())
    np.testing.assert_allclose(y.grad.numpy(), x.detach().numpy())


@documents("dyngraph", "`forward` returns something other than Tensors")
def test_function_forward_returns_an_array():
    class Raw(dg.Function):
        @staticmethod
        def forward(ctx, t):
            return t.detach().numpy() * 2

    expect(dg.FunctionError, lambda: Raw.apply(leaf()), "Raw.forward must return Tensors")
    good_step(leaf())


@documents("dyngraph", "the subclass has no `backward` (or no `forward`)")
def test_function_without_forward_or_backward():
    class NoBackward(dg.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

    class NoForward(dg.Function):
        pass

    x = leaf()
    y = NoBackward.apply(x)
    expect(dg.FunctionError, lambda: y.sum().backward(), "backward")
    expect(dg.FunctionError, lambda: NoForward.apply(x), "forward")
    assert x.grad is None
    good_step(x)


@documents("dyngraph", "`save_for_backward` gets something other than Tensors or None")
def test_save_for_backward_of_an_array():
    class SavesArray(dg.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t.detach().numpy())
            return t * 1

    expect(dg.FunctionError, lambda: SavesArray.apply(leaf()), "save_for_backward",
           "ndarray")
    good_step(leaf())
