"""Second-order gradients (create_graph=True) and dg.gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import dyngraph as dg


def t64(values, requires_grad=True):
    return dg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def grad_np(fn, x: np.ndarray) -> np.ndarray:
    """First-order gradient of scalar fn at x via dyngraph (no graph kept)."""
    xt = t64(x)
    (g,) = dg.grad(fn(xt), xt)
    return g.numpy()


def hvp_fd(fn, x: np.ndarray, v: np.ndarray, eps=1e-5) -> np.ndarray:
    """Hessian-vector product by central differences of the gradient."""
    return (grad_np(fn, x + eps * v) - grad_np(fn, x - eps * v)) / (2 * eps)


def hvp(fn, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Hessian-vector product by double backward."""
    xt = t64(x)
    (g,) = dg.grad(fn(xt), xt, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (h,) = dg.grad((g * dg.tensor(v)).sum(), xt)
    return h.numpy()


X = np.array([-1.3, -0.2, 0.4, 1.1])


def test_second_derivative_of_tanh():
    x = t64(X)
    (g,) = dg.grad(x.tanh().sum(), x, create_graph=True)
    (gg,) = dg.grad(g.sum(), x)
    th = np.tanh(X)
    np.testing.assert_allclose(g.detach().numpy(), 1 - th ** 2, rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), -2 * th * (1 - th ** 2), rtol=1e-12)


def test_derivatives_of_cube_up_to_third_order():
    x = t64(X)
    y = (x ** 3).sum()
    (g1,) = dg.grad(y, x, create_graph=True)
    (g2,) = dg.grad(g1.sum(), x, create_graph=True)
    (g3,) = dg.grad(g2.sum(), x)
    np.testing.assert_allclose(g1.detach().numpy(), 3 * X ** 2, rtol=1e-12)
    np.testing.assert_allclose(g2.detach().numpy(), 6 * X, rtol=1e-12)
    np.testing.assert_allclose(g3.numpy(), 6.0, rtol=1e-12)


def test_backward_with_create_graph_then_grad_of_grad():
    x = t64(X)
    (x.exp() * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = dg.grad(x.grad.sum(), x)  # d/dx (exp(x)(1 + x)) = exp(x)(2 + x)
    np.testing.assert_allclose(gg.numpy(), np.exp(X) * (2 + X), rtol=1e-12)


def test_mixed_partials():
    x, y = t64(X), t64(X[::-1].copy())
    f = (x * y * x.exp()).sum()
    (gx,) = dg.grad(f, x, create_graph=True)  # y exp(x) (1 + x)
    (gxy,) = dg.grad(gx.sum(), y)
    np.testing.assert_allclose(gxy.numpy(), np.exp(X) * (1 + X), rtol=1e-12)


def test_pow_with_tensor_exponent_second_order():
    base = np.array([0.5, 1.5, 2.0])
    x, y = t64(base), t64([1.5, -0.5, 2.0])
    (gy,) = dg.grad((x ** y).sum(), y, create_graph=True)
    (gyy,) = dg.grad(gy.sum(), y)
    np.testing.assert_allclose(gyy.numpy(), base ** y.detach().numpy() * np.log(base) ** 2,
                               rtol=1e-12)


W = np.array([0.3, -1.2, 0.7, 2.0])
A = np.random.default_rng(3).standard_normal((5, 4))
FUNCTIONS = {
    "sum-softmax-w": lambda x: (x.softmax(0) * dg.tensor(W)).sum(),
    "log-sum-exp": lambda x: x.exp().sum().log(),
    "log-softmax-nll": lambda x: -(x.log_softmax(0)[2]),
    "mlp": lambda x: (dg.tensor(A) @ x).tanh().sigmoid().pow(2).mean(),
    "relu-quadratic": lambda x: ((dg.tensor(A) @ x).relu() ** 2).sum(),
    "div-sqrt": lambda x: (x / (x * x + 1).sqrt()).sum(),
    "max-mix": lambda x: (dg.maximum(x, x * 0.5) * x).sum() + x.max() ** 2,
    "getitem-repeat": lambda x: (x[np.array([0, 0, 3, 1])] ** 3).sum(),
    "clamp-abs": lambda x: (x.clamp(-1.0, 1.0) * x.abs() ** 1.5).sum(),
    "cat-stack": lambda x: (dg.stack([x, x ** 2]) @ dg.cat([x[2:], x[:2]]) * 0.3).exp().sum(),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_hessian_vector_product(name):
    fn = FUNCTIONS[name]
    v = np.array([0.2, -0.5, 1.0, 0.3])
    np.testing.assert_allclose(hvp(fn, X, v), hvp_fd(fn, X, v), rtol=1e-6, atol=1e-8)


def test_full_hessian_of_sum_softmax_w():
    """Hessian of sum(softmax(x) * w) against its closed form."""
    x = t64(X)
    fn = FUNCTIONS["sum-softmax-w"]
    (g,) = dg.grad(fn(x), x, create_graph=True)
    rows = [dg.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(4)]
    s = np.exp(X - X.max())
    s /= s.sum()
    wbar = s @ W
    # d/dx_j [s_i (w_i - wbar)] = (d_ij s_i - s_i s_j)(w_i - wbar) - s_i s_j (w_j - wbar)
    expected = (np.diag(s) - np.outer(s, s)) * (W - wbar)[:, None] - np.outer(s, s * (W - wbar))
    np.testing.assert_allclose(np.stack(rows), expected, rtol=1e-10, atol=1e-12)


@given(array_shapes(min_dims=1, max_dims=2, max_side=3), st.integers(0, 2**32 - 1))
def test_hvp_of_broadcast_product(shape, seed):
    """HVP of sum(tanh(x * c + b)) with c, b broadcast along the last dim."""
    rng = np.random.default_rng(seed)
    c, b = rng.standard_normal(shape[-1:]), rng.standard_normal((1,) * len(shape))
    fn = lambda x: (x * dg.tensor(c) + dg.tensor(b)).tanh().sum()  # noqa: E731
    x, v = rng.standard_normal(shape), rng.standard_normal(shape)
    np.testing.assert_allclose(hvp(fn, x, v), hvp_fd(fn, x, v), rtol=1e-6, atol=1e-8)


def test_grad_of_grad_through_a_function():
    class Cube(dg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g  # differentiable ops: double backward works

    x = t64(X)
    (g,) = dg.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = dg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * X, rtol=1e-12)


# ---- gradcheck -------------------------------------------------------------------

@pytest.mark.parametrize("fn, shapes", [
    (lambda x: x.softmax(-1).log(), [(2, 3)]),
    (lambda a, b: (a @ b).tanh(), [(2, 3), (3, 2)]),
    (lambda a, b: a ** b, [(3,), (1,)]),
    (lambda x: x[np.array([0, 2, 0])].sigmoid(), [(3, 2)]),
    (lambda x, y: (dg.maximum(x, y), (x / y).sum(0)), [(2, 3), (3,)]),
], ids=["softmax-log", "matmul-tanh", "pow", "getitem", "two-outputs"])
def test_gradcheck_passes(fn, shapes):
    rng = np.random.default_rng(1)
    inputs = [t64(rng.uniform(0.5, 2.0, s)) for s in shapes]
    assert dg.gradcheck(fn, inputs)


class WrongBackward(dg.Function):
    """exp with a wrong gradient (forgot the chain rule factor)."""

    @staticmethod
    def forward(ctx, x):
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        return g


class RightBackward(dg.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_gradcheck_catches_a_wrong_backward():
    x = t64([0.3, -0.4, 1.2])
    assert dg.gradcheck(RightBackward.apply, [x])
    with pytest.raises(dg.GradientError, match="Jacobian mismatch for input 0"):
        dg.gradcheck(WrongBackward.apply, [x])
    assert dg.gradcheck(WrongBackward.apply, [x], raise_exception=False) is False
    np.testing.assert_array_equal(x.detach().numpy(), [0.3, -0.4, 1.2])  # inputs restored


def test_gradcheck_needs_float64():
    with pytest.raises(dg.GradientError, match="float64"):
        dg.gradcheck(lambda x: x * 2, [dg.tensor([1.0, 2.0], requires_grad=True)])
