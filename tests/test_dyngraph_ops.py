"""Every op through dyngraph's user API (functions, methods, operators) equals NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import dyngraph as dg

_R = np.random.default_rng(7)
A = _R.uniform(-2, 2, (2, 3, 4))
B = _R.uniform(-2, 2, (3, 1))  # broadcasts against A
P = _R.uniform(0.5, 2, (2, 3, 4))  # positive
M1, M2 = _R.standard_normal((2, 3)), _R.standard_normal((3, 4))
V = _R.standard_normal(3)
COND = _R.random((3, 4)) < 0.5

# (id, dyngraph function of tensors, NumPy reference of arrays, inputs)
OPS = [
    ("add", lambda a, b: a + b, np.add, (A, B)),
    ("add-fn", dg.add, np.add, (A, B)),
    ("radd-scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, (A,)),
    ("sub", lambda a, b: a - b, np.subtract, (A, B)),
    ("rsub-scalar", lambda a: 1 - a, lambda a: 1 - a, (A,)),
    ("mul", lambda a, b: a * b, np.multiply, (A, B)),
    ("mul-fn", dg.mul, np.multiply, (A, B)),
    ("div", lambda a, b: a / b, np.divide, (A, P)),
    ("rdiv-scalar", lambda a: 3 / a, lambda a: 3 / a, (P,)),
    ("pow-tensor", lambda a, b: a ** b, np.power, (P, A)),
    ("pow-scalar", lambda a: a ** 3, lambda a: a ** 3, (A,)),
    ("pow-method", lambda a: a.pow(2.5), lambda a: a ** 2.5, (P,)),
    ("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, (A,)),
    ("neg", lambda a: -a, np.negative, (A,)),
    ("neg-fn", dg.neg, np.negative, (A,)),
    ("exp", lambda a: a.exp(), np.exp, (A,)),
    ("exp-fn", dg.exp, np.exp, (A,)),
    ("log", lambda a: a.log(), np.log, (P,)),
    ("sqrt", lambda a: a.sqrt(), np.sqrt, (P,)),
    ("abs", lambda a: a.abs(), np.abs, (A,)),
    ("abs-builtin", abs, np.abs, (A,)),
    ("tanh", lambda a: a.tanh(), np.tanh, (A,)),
    ("sigmoid", lambda a: a.sigmoid(), scipy.special.expit, (A,)),
    ("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), (A,)),
    ("relu-nn", dg.nn.functional.relu, lambda a: np.maximum(a, 0), (A,)),
    ("sign", lambda a: a.sign(), np.sign, (A,)),
    ("maximum", dg.maximum, np.maximum, (A, B)),
    ("minimum", lambda a, b: a.minimum(b), np.minimum, (A, B)),
    ("clamp", lambda a: a.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), (A,)),
    ("clamp-min", lambda a: a.clamp(min=0), lambda a: np.maximum(a, 0), (A,)),
    ("clamp-max", lambda a: dg.clamp(a, max=0.1), lambda a: np.minimum(a, 0.1), (A,)),
    ("where", lambda a, b: dg.where(dg.tensor(COND), a[0], b),
     lambda a, b: np.where(COND, a[0], b), (A, B)),
    ("gt", lambda a, b: a > b, np.greater, (A, B)),
    ("lt", lambda a, b: a < b, np.less, (A, B)),
    ("ge", lambda a, b: a >= b, np.greater_equal, (A, B)),
    ("le", lambda a, b: a <= b, np.less_equal, (A, B)),
    ("eq", lambda a: a == a[0], lambda a: a == a[0], (A,)),
    ("ne", lambda a: a != a[0], lambda a: a != a[0], (A,)),
    ("logical", lambda a: (a > 0) & ~(a > 1) | (a < -1),
     lambda a: (a > 0) & ~(a > 1) | (a < -1), (A,)),
    ("sum-all", lambda a: a.sum(), np.sum, (A,)),
    ("sum-dim", lambda a: a.sum(1), lambda a: a.sum(1), (A,)),
    ("sum-dims-keep", lambda a: a.sum((0, 2), keepdim=True),
     lambda a: a.sum((0, 2), keepdims=True), (A,)),
    ("sum-fn-neg", lambda a: dg.sum(a, dim=-1), lambda a: a.sum(-1), (A,)),
    ("mean-all", lambda a: a.mean(), np.mean, (A,)),
    ("mean-dim", lambda a: a.mean(dim=0, keepdim=True), lambda a: a.mean(0, keepdims=True),
     (A,)),
    ("max-all", lambda a: a.max(), np.max, (A,)),
    ("max-dim-values", lambda a: a.max(dim=2)[0], lambda a: a.max(2), (A,)),
    ("max-dim-indices", lambda a: a.max(dim=2)[1], lambda a: a.argmax(2), (A,)),
    ("min-all", lambda a: a.min(), np.min, (A,)),
    ("min-dim", lambda a: a.min(1, keepdim=True)[0], lambda a: a.min(1, keepdims=True), (A,)),
    ("argmax", lambda a: a.argmax(1), lambda a: a.argmax(1), (A,)),
    ("softmax", lambda a: a.softmax(1), lambda a: scipy.special.softmax(a, 1), (A,)),
    ("softmax-fn", lambda a: dg.softmax(a, dim=-1), lambda a: scipy.special.softmax(a, -1),
     (A,)),
    ("log_softmax", lambda a: a.log_softmax(0), lambda a: scipy.special.log_softmax(a, 0),
     (A,)),
    ("matmul", lambda a, b: a @ b, np.matmul, (M1, M2)),
    ("matmul-batched", lambda a, b: a @ b, np.matmul, (A, A.transpose(0, 2, 1))),
    ("matmul-vec", dg.matmul, np.matmul, (M1, V)),
    ("matmul-vecvec", lambda a: a @ a, lambda a: a @ a, (V,)),
    ("rmatmul-array", lambda b: M1 @ b, lambda b: M1 @ b, (M2,)),
    ("mm", lambda a, b: a.mm(b), np.matmul, (M1, M2)),
    ("t", lambda a: a.t(), np.transpose, (M1,)),
    ("T", lambda a: a.T, np.transpose, (A,)),
    ("mT", lambda a: a.mT, lambda a: np.swapaxes(a, -1, -2), (A,)),
    ("transpose", lambda a: a.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2), (A,)),
    ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), (A,)),
    ("reshape", lambda a: a.reshape(6, -1), lambda a: a.reshape(6, -1), (A,)),
    ("reshape-tuple", lambda a: a.reshape((4, 6)), lambda a: a.reshape(4, 6), (A,)),
    ("view", lambda a: a.view(-1), np.ravel, (A,)),
    ("flatten", lambda a: a.flatten(1), lambda a: a.reshape(2, -1), (A,)),
    ("squeeze", lambda a: a.squeeze(), np.squeeze, (B,)),
    ("squeeze-noop", lambda a: a.squeeze(0), lambda a: a, (B,)),
    ("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a[..., None], (A,)),
    ("expand", lambda a: a.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), (B,)),
    ("expand-minus1", lambda a: a.expand(-1, 5), lambda a: np.broadcast_to(a, (3, 5)), (B,)),
    ("cat", lambda a, b: dg.cat([a, b], 1), lambda a, b: np.concatenate([a, b], 1), (M1, M1)),
    ("stack", lambda a: dg.stack([a, a * 2], dim=-1), lambda a: np.stack([a, a * 2], -1),
     (M1,)),
    ("getitem-slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], (A,)),
    ("getitem-int", lambda a: a[-1, 0], lambda a: a[-1, 0], (A,)),
    ("getitem-ellipsis-none", lambda a: a[..., None, 1], lambda a: a[..., None, 1], (A,)),
    ("getitem-intarray", lambda a: a[[0, 0, 1]], lambda a: a[[0, 0, 1]], (A,)),
    ("getitem-tensor-index", lambda a: a[dg.tensor([2, 0])], lambda a: a[[2, 0]], (M2,)),
    ("getitem-mask", lambda a: a[a > 0], lambda a: a[a > 0], (A,)),
    ("cast-float", lambda a: a.float(), lambda a: a.astype(np.float32), (A,)),
    ("cast-long", lambda a: a.long(), lambda a: a.astype(np.int64), (A,)),
    ("cast-to", lambda a: a.to(dg.float64), lambda a: a, (A,)),
    ("clone", lambda a: a.clone(), lambda a: a, (A,)),
]


@pytest.mark.parametrize("name, fn, ref, inputs", OPS, ids=[o[0] for o in OPS])
@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
def test_op_matches_numpy(name, fn, ref, inputs, requires_grad):
    tensors = [dg.tensor(x, requires_grad=requires_grad) for x in inputs]
    out = fn(*tensors)
    expected = np.asarray(ref(*inputs))
    got = out.detach().numpy()
    assert isinstance(out, dg.Tensor)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    if requires_grad and got.dtype.kind == "f":
        assert out.requires_grad == (name != "sign")  # sign is not differentiable
    if got.dtype.kind in "biu":
        assert not out.requires_grad, "integer and boolean results carry no gradient"


def test_float32_tensor_ops_stay_float32():
    x = dg.tensor([1.0, 2.0, 3.0])
    assert x.dtype == np.float32
    for y in (x + 1, x * 2.5, 2.0 - x, x / 3, x ** 2, 2 ** x, x.exp(), x.sum(), x.mean(),
              x.softmax(0), x.clamp(0.5, 1.5), dg.maximum(x, 0.0), dg.where(x > 1, x, 0.0)):
        assert y.dtype == np.float32, y
    assert (x + dg.tensor(np.ones(3))).dtype == np.float64
    i = dg.tensor([1, 2, 3])
    assert i.dtype == np.int64 and (i + 1).dtype == np.int64 and (i / 2).dtype == np.float64


def test_numpy_arrays_mix_with_tensors():
    x = dg.tensor(M1, requires_grad=True)
    for y in (M1 + x, x + M1, M1 * x, M1 - x, x @ M2, M1 @ x.T):
        assert isinstance(y, dg.Tensor) and y.requires_grad
    np.testing.assert_allclose((M1 - x).detach().numpy(), 0.0)
    np.testing.assert_allclose(np.asarray(x.detach()), M1)
