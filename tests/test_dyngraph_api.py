"""dyngraph's user API: creation dtypes, indexing gradients, in-place ops and
versions, detach/.data, grad modes, retain_grad, dg.grad, accumulation."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg


def t64(values, requires_grad=True):
    return dg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ---- creation and dtypes ----------------------------------------------------------

def test_python_data_defaults_to_float32():
    assert dg.tensor(1.5).dtype == np.float32
    assert dg.tensor([1.0, 2.0]).dtype == np.float32
    assert dg.tensor([[1, 2.5]]).dtype == np.float32
    assert dg.tensor([1, 2]).dtype == np.int64
    assert dg.tensor([True, False]).dtype == np.bool_
    assert dg.tensor([1.0], dtype=dg.float64).dtype == np.float64


def test_numpy_data_keeps_its_dtype():
    assert dg.tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert dg.tensor(np.float64(2.0)).dtype == np.float64
    assert dg.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert dg.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert dg.tensor(np.ones(2), dtype=np.float32).dtype == np.float32


def test_set_default_dtype():
    dg.set_default_dtype(np.float64)
    try:
        assert dg.tensor([1.0]).dtype == np.float64
        assert dg.zeros(2).dtype == np.float64 and dg.randn(2).dtype == np.float64
    finally:
        dg.set_default_dtype(np.float32)
    assert dg.get_default_dtype() == np.float32


def test_python_scalar_does_not_promote_float32():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 2.0, x + 1, 3.0 / x, x ** 2.0, x - True):
        assert y.dtype == np.float32
    y = (x * 0.5).sum()
    y.backward()
    assert x.grad.dtype == np.float32


def test_factories():
    assert dg.zeros(2, 3).shape == (2, 3) and dg.zeros(2, 3).dtype == np.float32
    assert dg.ones((2, 3), dtype=dg.float64).dtype == np.float64
    assert dg.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert dg.arange(4).tolist() == [0, 1, 2, 3]
    z = dg.zeros(3, requires_grad=True)
    assert z.requires_grad and z.is_leaf and z.grad is None
    dg.manual_seed(5)
    a = dg.randn(3, 2, dtype=dg.float64)
    dg.manual_seed(5)
    b = dg.randn(3, 2, dtype=dg.float64)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    r = dg.rand(100)
    assert r.shape == (100,) and 0 <= r.numpy().min() and r.numpy().max() < 1
    assert dg.zeros_like(a).shape == (3, 2) and dg.ones_like(a).dtype == np.float64


def test_tensor_copies_but_from_numpy_shares():
    data = np.zeros(3)
    copied, shared = dg.tensor(data), dg.from_numpy(data)
    data[0] = 5.0
    assert copied.numpy()[0] == 0.0 and shared.numpy()[0] == 5.0
    with pytest.raises(TypeError):
        dg.from_numpy([1.0])


def test_tensor_properties():
    x = t64(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2 and x.numel() == 6
    assert x.size() == (2, 3) and x.size(1) == 3 and len(x) == 2
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert np.asarray(x.detach()).shape == (2, 3)
    assert x.sum().item() == 15.0 and float(x[1, 2]) == 5.0
    assert "requires_grad=True" in repr(x)
    y = x * 2
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward" and "grad_fn" in repr(y)
    assert y.grad_fn.next_functions == ((x, 0), None)
    with pytest.raises(dg.ShapeError, match="item"):
        x.item()


def test_requires_grad_setters():
    x = dg.tensor([1.0])
    x.requires_grad = True
    assert x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad


# ---- indexing --------------------------------------------------------------------

def test_basic_slice_gradient():
    x = t64(np.arange(12.0).reshape(3, 4))
    (x[1:, ::2] * 2).sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 2
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_integer_array_index_with_repeats_scatter_adds():
    x = t64([10.0, 20.0, 30.0])
    idx = np.array([0, 2, 0, 0, 1])
    y = x[idx]
    np.testing.assert_array_equal(y.detach().numpy(), [10, 30, 10, 10, 20])
    (y * dg.tensor(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1 + 3 + 4, 5, 2])


def test_two_integer_arrays_and_tensor_index():
    x = t64(np.arange(9.0).reshape(3, 3))
    rows, cols = dg.tensor([0, 0, 2]), np.array([1, 1, 0])
    x[rows, cols].sum().backward()
    expected = np.zeros((3, 3))
    expected[0, 1], expected[2, 0] = 2, 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_boolean_mask_gradient():
    x = t64([-1.0, 2.0, -3.0, 4.0])
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad
    (x[mask] ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 4.0, 0.0, 8.0])


def test_setitem_on_non_leaf_is_recorded():
    x, v = t64([1.0, 2.0, 3.0]), t64(10.0)
    y = x * 1
    y[1] = v * 2  # overwritten position: no gradient to x there; v gets it
    assert y._version[0] == 1
    (y * dg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 20.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 3.0])
    assert v.grad.item() == 4.0
    w = t64([[1.0, 2.0], [3.0, 4.0]])
    z = w * 1
    z[:, 0] = t64([5.0, 6.0]).exp()  # a row of values, broadcast over a slice
    z.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0.0, 1.0], [0.0, 1.0]])


def test_setitem_without_grad():
    x = dg.zeros(3, dtype=dg.float64)
    x[np.array([True, False, True])] = 5.0
    assert x.tolist() == [5.0, 0.0, 5.0] and x._version[0] == 1


# ---- in-place ops and versions ---------------------------------------------------

def test_inplace_ops_bump_version_and_keep_identity():
    x = dg.tensor(np.ones(3))
    original = x
    assert x._version[0] == 0
    x += 1
    x -= 0.5
    x *= 4
    x /= 2
    assert x is original and x._version[0] == 4
    np.testing.assert_array_equal(x.numpy(), 3.0)
    assert x.add_(1) is x and x.sub_(1) is x and x.mul_(2) is x and x.div_(2) is x
    assert x.zero_() is x and x.fill_(2.0) is x and x.copy_(np.arange(3.0)) is x
    assert x._version[0] == 11
    np.testing.assert_array_equal(x.numpy(), [0.0, 1.0, 2.0])


def test_inplace_dtype_and_shape_rules():
    x = dg.tensor(np.ones(3, np.float32))
    x += 2.5
    assert x.dtype == np.float32
    with pytest.raises(dg.ShapeError):
        x += np.ones(4)


def test_zero_and_fill_on_non_leaf_are_recorded():
    x = t64([1.0, 2.0])
    y = x * 3
    y.zero_()
    (y + x).sum().backward()  # y no longer depends on x
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    x.grad = None
    z = x * 3
    z.copy_(x * x)
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_weight_update_under_no_grad():
    w = t64([1.0, 2.0])
    (w * w).sum().backward()
    with dg.no_grad():
        w -= 0.1 * w.grad
        w.grad.zero_()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert w.is_leaf and w.requires_grad and w.grad.tolist() == [0.0, 0.0]
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.6, 3.2])


# ---- detach and .data ------------------------------------------------------------

def test_detach_shares_storage_and_version_but_not_history():
    x = t64([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d[0] = 7.0
    assert y.detach().numpy()[0] == 7.0 and y._version[0] == 1
    z = (x.detach() * x).sum()  # the detached factor is a constant
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])


def test_data_shares_storage_outside_the_tape():
    x = t64([1.0, 2.0])
    d = x.data
    assert not d.requires_grad and d.grad_fn is None
    d.mul_(3)
    np.testing.assert_array_equal(x.detach().numpy(), [3.0, 6.0])
    assert x._version[0] == 0  # .data changes are not tracked
    x.data = np.array([5.0, 5.0])
    np.testing.assert_array_equal(x.detach().numpy(), 5.0)
    assert x.requires_grad


def test_detach_in_place():
    y = t64([1.0]) * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad


# ---- grad modes --------------------------------------------------------------------

def test_no_grad_and_enable_grad():
    x = t64([1.0])
    with dg.no_grad():
        assert not dg.is_grad_enabled()
        y = x * 2
        with dg.enable_grad():
            assert dg.is_grad_enabled()
            z = x * 2
        assert not dg.is_grad_enabled()
    assert dg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_decorator_and_exception_safety():
    @dg.no_grad()
    def step(t):
        return t * 2, dg.is_grad_enabled()

    y, enabled = step(t64([1.0]))
    assert not enabled and not y.requires_grad and dg.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with dg.no_grad():
            raise ZeroDivisionError
    assert dg.is_grad_enabled()


def test_set_grad_enabled():
    x = t64([1.0])
    with dg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert dg.is_grad_enabled()
    dg.set_grad_enabled(False)
    try:
        assert not dg.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        dg.set_grad_enabled(True)
    with dg.no_grad(), dg.set_grad_enabled(True):
        assert (x * 2).requires_grad


# ---- retain_grad, dg.grad, accumulation ------------------------------------------

def test_retain_grad_on_intermediate():
    x = t64([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    k = h * h  # not retained
    k.sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * np.array([3.0, 6.0]))
    assert k.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 18 * np.array([1.0, 2.0]))
    x.retain_grad()  # a leaf: no-op


def test_grad_returns_without_accumulating():
    x, y = t64([1.0, 2.0]), t64([3.0])
    out = (x * y).sum()
    gx, gy = dg.grad(out, [x, y], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gy.numpy(), [3.0])
    assert x.grad is None and y.grad is None
    (gx_only,) = dg.grad(out, [x])
    np.testing.assert_allclose(gx_only.numpy(), [3.0, 3.0])


def test_grad_with_respect_to_an_intermediate_and_grad_outputs():
    x = t64([1.0, 2.0])
    h = x.exp()
    y = h * 2
    (gh,) = dg.grad(y, [h], grad_outputs=dg.tensor(np.array([1.0, -1.0])))
    np.testing.assert_allclose(gh.numpy(), [2.0, -2.0])


def test_grad_allow_unused():
    x, unused = t64([1.0]), t64([2.0])
    gx, gu = dg.grad((x * 4).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.tolist() == [4.0]


def test_grad_of_several_outputs_sums():
    x = t64([1.0, 2.0])
    a, b = (x * 2).sum(), (x * x).sum()
    (g,) = dg.grad([a, b], [x])
    np.testing.assert_allclose(g.numpy(), 2 + 2 * np.array([1.0, 2.0]))


def test_gradients_accumulate_until_zeroed():
    x = t64([1.0, 2.0])
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
    x.grad.zero_()
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_backward_inputs_restricts_accumulation():
    x, y = t64([1.0]), t64([2.0])
    (x * y).sum().backward(inputs=[x])
    assert x.grad.tolist() == [2.0] and y.grad is None


def test_broadcast_leaf_gets_its_own_shape():
    b = t64([[1.0], [2.0]])
    x = t64(np.ones((2, 3)))
    (x * b).sum().backward()
    assert b.grad.shape == (2, 1) and b.grad.tolist() == [[3.0], [3.0]]


def test_leaf_used_as_root():
    x = t64(3.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_dg_backward_function_with_several_roots():
    x = t64([1.0, 2.0])
    dg.backward([(x * 2).sum(), (x * 3).sum()])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
