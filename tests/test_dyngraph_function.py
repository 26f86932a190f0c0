"""dg.Function: forward/backward pairs, ctx, multiple outputs, non-differentiable outputs."""

from __future__ import annotations

import numpy as np

import dyngraph as dg


def t64(values, requires_grad=True):
    return dg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


class ScaledMul(dg.Function):
    """(x * y * scale); records what ctx saw for the tests."""

    seen: dict = {}

    @staticmethod
    def forward(ctx, x, y, scale):
        ScaledMul.seen["needs"] = ctx.needs_input_grad
        ScaledMul.seen["grad_enabled"] = dg.is_grad_enabled()
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        return x * y * scale

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.scale if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.scale if ctx.needs_input_grad[1] else None
        return gx, gy, None


def test_save_for_backward_and_needs_input_grad():
    x, y = t64([1.0, 2.0]), t64([3.0, -1.0], requires_grad=False)
    z = ScaledMul.apply(x, y, 2.0)
    assert ScaledMul.seen["needs"] == (True, False, False)
    assert ScaledMul.seen["grad_enabled"] is False  # forward runs outside the tape
    assert z.requires_grad and not z.is_leaf and z.grad_fn.name() == "ScaledMulBackward"
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, -2.0])
    assert y.grad is None


def test_function_result_used_twice_accumulates():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    z = ScaledMul.apply(x, y, 1.0)
    (z * z + z).sum().backward()
    zv = np.array([3.0, 8.0])
    np.testing.assert_allclose(x.grad.numpy(), (2 * zv + 1) * [3.0, 4.0])
    np.testing.assert_allclose(y.grad.numpy(), (2 * zv + 1) * [1.0, 2.0])


def test_function_under_no_grad_records_nothing():
    x = t64([1.0])
    with dg.no_grad():
        z = ScaledMul.apply(x, x, 1.0)
    assert z.grad_fn is None and not z.requires_grad


def test_function_without_inputs_requiring_grad():
    z = ScaledMul.apply(t64([1.0], False), t64([2.0], False), 3.0)
    assert z.grad_fn is None and not z.requires_grad
    np.testing.assert_allclose(z.numpy(), [6.0])


class SplitAndSort(dg.Function):
    """Two differentiable outputs (x*2, x**2) and a non-differentiable argsort."""

    @staticmethod
    def forward(ctx, x):
        order = dg.tensor(np.argsort(x.detach().numpy()))
        ctx.mark_non_differentiable(order)
        ctx.save_for_backward(x)
        return x * 2, x * x, order

    @staticmethod
    def backward(ctx, g_double, g_square, g_order):
        (x,) = ctx.saved_tensors
        assert g_order is not None  # materialised as zeros
        np.testing.assert_array_equal(g_order.numpy(), 0)
        return g_double * 2 + g_square * 2 * x


def test_multiple_outputs_and_mark_non_differentiable():
    x = t64([3.0, -1.0, 2.0])
    double, square, order = SplitAndSort.apply(x)
    assert double.requires_grad and square.requires_grad
    assert not order.requires_grad and order.grad_fn is None
    np.testing.assert_array_equal(order.numpy(), [1, 2, 0])
    (double.sum() + (square * 3).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 6 * np.array([3.0, -1.0, 2.0]))


def test_only_one_output_used_materialises_zeros_for_the_other():
    x = t64([3.0, -1.0])
    double, _, _ = SplitAndSort.apply(x)
    double.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_set_materialize_grads_false_passes_none():
    class Pair(dg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            assert g2 is None
            return g1

    x = t64([1.0, 2.0])
    a, _ = Pair.apply(x)
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0)


def test_function_in_a_longer_chain_with_builtin_ops():
    class Exp(dg.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    x0 = np.array([[0.1, -0.3], [0.5, 0.2]])
    x = t64(x0)
    out = (Exp.apply(x @ x) * x).sum()
    out.backward()
    ref = t64(x0)
    ((ref @ ref).exp() * ref).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), rtol=1e-12)


def test_backward_may_return_numpy_arrays():
    class Double(dg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.numpy() * 2

    x = t64([1.0, 2.0])
    Double.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_tutorial_relu_function():
    from comparisons.tutorial import MyReLU

    x = t64([-1.0, 0.5, 2.0, -0.1])
    (MyReLU.apply(x) * dg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 2.0, 3.0, 0.0])
    assert dg.gradcheck(MyReLU.apply, [t64([-1.0, 0.5, 2.0])])
