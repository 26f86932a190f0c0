"""Every documented dyngraph error (docs/errors.md): type, message naming the op,
and the user's line that created the tape node involved. After each error a
good step runs and gives the right numbers (no corrupted state)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import dyngraph as dg
from shared_ops.errors import IndexingError

FILE = os.path.basename(__file__)


def here() -> str:
    """'test_dyngraph_errors.py:LINE' of the caller's line."""
    return f"{FILE}:{sys._getframe(1).f_lineno}"


def line_below(n: int = 1) -> str:
    """'test_dyngraph_errors.py:LINE' of the line n below the caller's."""
    return f"{FILE}:{sys._getframe(1).f_lineno + n}"


def leaf(values=(0.5, -1.0, 2.0)):
    return dg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def assert_good_step(x=None):
    """A fresh forward/backward works and is right: d/dx sum(x**2 * 3) = 6x."""
    x = leaf() if x is None else x
    x.grad = None
    (x ** 2 * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())
    assert dg.is_grad_enabled()


# ---- backward a second time --------------------------------------------------

def test_backward_twice_without_retain_graph():
    x = leaf()
    loss, site = (x.exp() * 2).sum(), here()
    loss.backward()
    first = x.grad.numpy().copy()
    with pytest.raises(dg.GradientError) as err:
        loss.backward()
    msg = str(err.value)
    assert "'sum'" in msg and site in msg and "retain_graph=True" in msg
    np.testing.assert_array_equal(x.grad.numpy(), first)  # nothing accumulated by the failure
    assert_good_step(x)


def test_backward_twice_names_the_freed_intermediate():
    x = leaf()
    y, site = x.exp(), here()
    (y * 2).sum().backward()
    with pytest.raises(dg.GradientError) as err:
        (y * 3).sum().backward()  # new nodes, but exp's saved values are gone
    assert "'exp'" in str(err.value) and site in str(err.value)
    assert_good_step()


def test_retain_graph_allows_a_second_backward():
    x = leaf()
    loss = (x.exp() * 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp(x.detach().numpy()))


def test_second_backward_through_a_function_node():
    class Square(dg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf()
    y, site = Square.apply(x), here()
    y.sum().backward()
    with pytest.raises(dg.GradientError) as err:
        (y * 1).sum().backward()  # new nodes above the released Function node
    assert "'Square'" in str(err.value) and site in str(err.value)
    assert_good_step()


# ---- backward on a non-scalar without `gradient` -----------------------------

def test_backward_on_non_scalar_needs_gradient():
    x = leaf()
    y, site = x * 2, here()
    with pytest.raises(dg.GradientError) as err:
        y.backward()
    msg = str(err.value)
    assert "non-scalar" in msg and "(3,)" in msg and "'mul'" in msg and site in msg
    assert x.grad is None
    y.backward(gradient=dg.tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    assert_good_step()


def test_backward_gradient_of_the_wrong_shape():
    x = leaf()
    y = x * 2
    with pytest.raises(dg.ShapeError, match=r"backward: gradient shape \(2,\)"):
        y.backward(gradient=np.ones(2))
    assert_good_step()


# ---- backward on a tensor that does not require grad ---------------------------

def test_backward_on_tensor_not_requiring_grad():
    x = dg.tensor(np.array([1.0, 2.0]))
    y = (x * 2).sum()
    with pytest.raises(dg.GradientError, match="does not require grad"):
        y.backward()
    with dg.no_grad():
        z = (leaf() * 2).sum()
    with pytest.raises(dg.GradientError, match="requires_grad=True"):
        z.backward()
    assert_good_step()


def test_grad_on_input_not_requiring_grad():
    x, c = leaf(), dg.tensor(np.ones(3))
    with pytest.raises(dg.GradientError, match="does not require grad"):
        dg.grad((x * c).sum(), [c])
    assert_good_step(x)


def test_grad_on_unused_input():
    x, unused = leaf(), leaf()
    with pytest.raises(dg.GradientError, match="allow_unused=True"):
        dg.grad((x * 2).sum(), [x, unused])
    gx, gu = dg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), 2.0)


# ---- in-place change to a value backward needs (version counters) --------------

def test_inplace_under_no_grad_on_a_saved_intermediate():
    a = leaf()
    b = a * 2
    c, site = b.pow(2), here()  # pow's VJP reads its input
    with dg.no_grad():
        b.add_(1)
    with pytest.raises(dg.InPlaceError) as err:
        c.sum().backward()
    msg = str(err.value)
    assert "'pow'" in msg and site in msg and "in-place" in msg and "version" in msg
    assert isinstance(err.value, dg.GradientError)
    assert a.grad is None  # no partial accumulation
    b = a * 2
    b.exp().sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp(2 * a.detach().numpy()))


def test_inplace_recorded_on_a_saved_intermediate():
    a = leaf()
    b = a * 2
    c, site = b.pow(2), here()
    b.mul_(3)  # recorded: b is now a * 2 * 3, but pow saved the old b
    with pytest.raises(dg.InPlaceError) as err:
        c.sum().backward()
    assert "'pow'" in str(err.value) and site in str(err.value)
    b.sum().backward()  # the in-place op itself has a correct gradient
    np.testing.assert_allclose(a.grad.numpy(), 6.0)


def test_inplace_on_a_saved_output():
    a = leaf()
    c, site = a.exp(), here()  # exp's VJP uses its output
    c.add_(1)  # recorded, but exp's saved output has changed
    with pytest.raises(dg.InPlaceError) as err:
        c.sum().backward()
    assert "'exp'" in str(err.value) and site in str(err.value)
    assert_good_step()


def test_inplace_on_an_output_no_vjp_reads_is_fine():
    """As in PyTorch: matmul's VJP does not read its output, so `h += b` is allowed."""
    x = dg.tensor(np.ones((2, 3)))
    w = dg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    b = dg.tensor(np.array([1.0, -1.0]), requires_grad=True)
    h = x @ w
    h += b
    h *= 2
    (h * h).sum().backward()
    h_ref = 2 * (np.ones((2, 3)) @ np.arange(6.0).reshape(3, 2) + [1.0, -1.0])
    np.testing.assert_allclose(w.grad.numpy(), np.ones((2, 3)).T @ (4 * h_ref))
    np.testing.assert_allclose(b.grad.numpy(), (4 * h_ref).sum(0))


def test_inplace_on_a_leaf_under_no_grad_after_use():
    w = leaf()
    y, site = (w * w), here()
    with dg.no_grad():
        w -= 0.1
    with pytest.raises(dg.InPlaceError) as err:
        y.sum().backward()
    assert "'mul'" in str(err.value) and site in str(err.value)
    assert_good_step(w)


def test_inplace_through_detach_is_seen_but_not_through_data():
    a = leaf()
    c, site = a.pow(3), here()  # pow's VJP reads its input
    a.detach().add_(0.0)  # shares the version counter
    with pytest.raises(dg.InPlaceError, match="pow") as err:
        c.sum().backward()
    assert site in str(err.value)
    a = leaf()
    c = a.pow(3)
    a.data.add_(0.0)  # .data is outside the tape: not tracked, as in PyTorch
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 3 * a.detach().numpy() ** 2)


def test_inplace_on_tensor_saved_by_a_function():
    class Keep(dg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g

    x = leaf()
    b = x * 2
    y, site = Keep.apply(b), here()
    with dg.no_grad():
        b.add_(1)
    with pytest.raises(dg.InPlaceError) as err:
        y.sum().backward()
    assert "Keep" in str(err.value) and site in str(err.value)
    assert_good_step()


# ---- in-place on a leaf that requires grad (outside no_grad) -------------------

@pytest.mark.parametrize("update, op", [
    (lambda x: x.__iadd__(1.0), "add"),
    (lambda x: x.__isub__(1.0), "sub"),
    (lambda x: x.__imul__(2.0), "mul"),
    (lambda x: x.__itruediv__(2.0), "div"),
    (lambda x: x.add_(1.0), "add"),
    (lambda x: x.zero_(), "fill_"),
    (lambda x: x.fill_(3.0), "fill_"),
    (lambda x: x.copy_(np.ones(3)), "copy_"),
    (lambda x: x.__setitem__(0, 5.0), "index assignment"),
], ids=["iadd", "isub", "imul", "idiv", "add_", "zero_", "fill_", "copy_", "setitem"])
def test_inplace_on_leaf_requiring_grad(update, op):
    x = leaf()
    before = x.detach().numpy().copy()
    with pytest.raises(dg.GradientError) as err:
        update(x)
    assert op in str(err.value) and "leaf" in str(err.value) and "no_grad" in str(err.value)
    np.testing.assert_array_equal(x.detach().numpy(), before)  # untouched
    assert x._version[0] == 0 and x.is_leaf
    with dg.no_grad():
        update(x)  # allowed there: that is how optimizers update weights
    assert x._version[0] == 1 and x.is_leaf and x.requires_grad
    assert_good_step(x)


# ---- shape mismatch in an op ----------------------------------------------------

@pytest.mark.parametrize("make, op", [
    (lambda a, b: a + b, "add"),
    (lambda a, b: a * b.T, "mul"),
    (lambda a, b: a @ b, "matmul"),
    (lambda a, b: a.reshape(4, 2), "reshape"),
    (lambda a, b: dg.cat([a, b.T], 1), "concatenate"),
    (lambda a, b: dg.where(a > 0, a, b), "where"),
    (lambda a, b: a.expand(3, 3), "broadcast_to"),
    (lambda a, b: a.squeeze(0).exp() + b[:, :2], "add"),
], ids=["add", "mul", "matmul", "reshape", "cat", "where", "expand", "add-after-ops"])
def test_shape_error_names_op_and_line(make, op):
    a = dg.tensor(np.ones((2, 3)), requires_grad=True)
    b = dg.tensor(np.ones((4, 3)))
    with pytest.raises(dg.ShapeError) as err:
        make(a, b)
    msg = str(err.value)
    assert msg.startswith(op + ":") and "(2, 3)" in msg
    assert f"(at tests/{FILE}:" in msg or f"{FILE}:" in msg  # the lambda's line, above
    assert isinstance(err.value, ValueError)
    assert_good_step()


def test_shape_error_points_at_the_calling_line():
    a, b = dg.tensor(np.ones((2, 3))), dg.tensor(np.ones(4))
    site = line_below(2)
    with pytest.raises(dg.ShapeError) as err:
        a + b
    assert site in str(err.value), (site, str(err.value))
    site = line_below(2)
    with pytest.raises(dg.ShapeError, match="matmul") as err:
        a.exp() @ a
    assert site in str(err.value)


def test_index_errors():
    a = dg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexingError, match="getitem") as err:
        a[5]
    assert isinstance(err.value, dg.ShapeError) and isinstance(err.value, IndexError)
    assert FILE in str(err.value)
    with pytest.raises(IndexingError):
        a[np.array([True, False, True])]  # mask of the wrong length
    assert_good_step()


def test_dtype_errors():
    with pytest.raises(dg.DTypeError, match="floating-point"):
        dg.tensor([1, 2], requires_grad=True)
    with pytest.raises(dg.DTypeError):
        dg.tensor("text")
    with pytest.raises(dg.DTypeError):
        dg.tensor(np.ones(2)) + "text"
    assert_good_step()


def test_non_leaf_requires_grad_false():
    y = leaf() * 2
    with pytest.raises(dg.GradientError, match="detach"):
        y.requires_grad_(False)


def test_numpy_on_tensor_requiring_grad():
    with pytest.raises(dg.GradientError, match="detach"):
        leaf().numpy()


# ---- custom Function contract: tests/test_bad_inputs_dyngraph.py (the catalogue) ----------


def test_error_hierarchy():
    for exc in (dg.ShapeError, dg.DTypeError, dg.GradientError, dg.InPlaceError,
                dg.FunctionError):
        assert issubclass(exc, dg.GraphCompareError)
    assert issubclass(dg.InPlaceError, dg.GradientError)
    assert issubclass(dg.FunctionError, dg.GradientError)
    assert issubclass(dg.ShapeError, ValueError) and issubclass(dg.DTypeError, TypeError)
    assert issubclass(dg.GradientError, RuntimeError)
