"""dyngraph's new ops against PyTorch itself, values and gradients (float64).

PyTorch is not part of the test extra: this module is skipped where it is
not installed; tests/test_nn_ops.py checks the same semantics against
NumPy references everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
TF = torch.nn.functional
F = dg.nn.functional


def _both(rng, *shapes):
    values = [rng.standard_normal(s) for s in shapes]
    return ([dg.tensor(v, requires_grad=True) for v in values],
            [torch.tensor(v, requires_grad=True) for v in values])


def _agree(ours, theirs, ours_in, theirs_in, rng):
    """Same values; same gradients of a random weighted sum."""
    theirs_value = theirs.detach().numpy()
    np.testing.assert_allclose(ours.detach().numpy(), theirs_value, rtol=1e-10, atol=1e-12)
    weights = rng.standard_normal(theirs_value.shape)
    (ours * dg.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours_in, theirs_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


CASES = {
    "log1p": ((4, 3), lambda d, x: d.log1p(x.abs()), lambda t, x: t.log1p(x.abs())),
    "expm1": ((4, 3), lambda d, x: d.expm1(x), lambda t, x: t.expm1(x)),
    "sin-cos": ((4, 3), lambda d, x: d.sin(x) * d.cos(x), lambda t, x: t.sin(x) * t.cos(x)),
    "logsumexp": ((3, 4, 2), lambda d, x: d.logsumexp(x, 1, keepdim=True),
                  lambda t, x: t.logsumexp(x, 1, keepdim=True)),
    "var": ((3, 4), lambda d, x: x.var(1), lambda t, x: x.var(1)),
    "var-biased": ((3, 4), lambda d, x: x.var(0, unbiased=False, keepdim=True),
                   lambda t, x: x.var(0, unbiased=False, keepdim=True)),
    "std": ((3, 4), lambda d, x: d.std(x, correction=0), lambda t, x: t.std(x, correction=0)),
    "gather": ((3, 4), lambda d, x: d.gather(x, 1, dg.tensor([[0, 0], [3, 1], [2, 2]])),
               lambda t, x: t.gather(x, 1, torch.tensor([[0, 0], [3, 1], [2, 2]]))),
    "index_select": ((4, 3), lambda d, x: x.index_select(0, dg.tensor([3, 0, 3])),
                     lambda t, x: x.index_select(0, torch.tensor([3, 0, 3]))),
    "split": ((5, 2), lambda d, x: x.split(2)[2] * 3 + x.split([1, 4])[0],
              lambda t, x: x.split(2)[2] * 3 + x.split([1, 4])[0]),
    "einsum": ((2, 3, 4), lambda d, x: d.einsum("bij,bkj->bik", x, x),
               lambda t, x: t.einsum("bij,bkj->bik", x, x)),
    "einsum-diagonal": ((2, 3, 3),
                        lambda d, x: d.einsum("bii->bi", x) * d.einsum("bjj", x)[:, None],
                        lambda t, x: t.einsum("bii->bi", x) * t.einsum("bjj", x)[:, None]),
    "einsum-repeat-contract": ((3, 3, 3), lambda d, x: d.einsum("iij,jk->ik", x, x[0]),
                               lambda t, x: t.einsum("iij,jk->ik", x, x[0])),
    "einsum-broadcast": ((2, 3, 4), lambda d, x: d.einsum("...ij,...kj->...ik", x, x[:1]),
                         lambda t, x: t.einsum("...ij,...kj->...ik", x, x[:1])),
    "max_unpool2d": ((2, 3, 6, 5), lambda d, x: F.max_unpool2d(
        *F.max_pool2d(x, 2, return_indices=True), 2, output_size=(6, 5)),
        lambda t, x: TF.max_unpool2d(*TF.max_pool2d(x, 2, return_indices=True), 2,
                                     output_size=(6, 5))),
    "bmm": ((2, 3, 3), lambda d, x: d.bmm(x, x), lambda t, x: t.bmm(x, x)),
    "embedding": ((5, 3), lambda d, x: F.embedding(dg.tensor([[0, 4], [4, 1]]), x,
                                                   padding_idx=1),
                  lambda t, x: TF.embedding(torch.tensor([[0, 4], [4, 1]]), x,
                                            padding_idx=1)),
    "max_pool2d": ((2, 3, 7, 6), lambda d, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
                   lambda t, x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    "max_pool2d-dilation": ((1, 2, 7, 7), lambda d, x: F.max_pool2d(x, 2, 1, dilation=2),
                            lambda t, x: TF.max_pool2d(x, 2, 1, dilation=2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_agrees_with_torch(name, rng):
    shape, ours, theirs = CASES[name]
    (x,), (tx,) = _both(rng, shape)
    _agree(ours(dg, x), theirs(torch, tx), [x], [tx], rng)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), ((2, 1), (1, 2), 1, 1), (2, 1, (2, 1), 2), (1, "same", 2, 1)])
def test_conv2d_agrees_with_torch(stride, padding, dilation, groups, rng):
    (x, w, b), (tx, tw, tb) = _both(rng, (2, 4, 7, 6), (6, 4 // groups, 3, 2), (6,))
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    _agree(F.conv2d(x, w, b, **kw), TF.conv2d(tx, tw, tb, **kw), [x, w, b], [tx, tw, tb],
           rng)


def test_argmax_argmin_one_hot_agree_with_torch(rng):
    xv = np.round(rng.standard_normal((4, 5)), 0)  # ties
    for dim in (None, 0, 1):
        np.testing.assert_array_equal(dg.argmax(dg.tensor(xv), dim).numpy(),
                                      torch.argmax(torch.tensor(xv), dim).numpy())
    np.testing.assert_array_equal(dg.tensor(xv).argmin(1).numpy(),
                                  torch.tensor(xv).argmin(1).numpy())
    labels = np.array([2, 0, 3])
    np.testing.assert_array_equal(F.one_hot(dg.tensor(labels)).numpy(),
                                  TF.one_hot(torch.tensor(labels)).numpy())


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", [
    (2, 2, 0, 1, False), (3, 2, 1, 1, True), (2, 1, 0, 2, False), ((3, 2), (1, 2), 1, 1, False)])
def test_max_pool2d_indices_agree_with_torch(rng, kernel, stride, padding, dilation,
                                              ceil_mode):
    (x,), (tx,) = _both(rng, (2, 3, 7, 6))
    values, indices = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode,
                                   return_indices=True)
    want_values, want_indices = TF.max_pool2d(tx, kernel, stride, padding, dilation,
                                              ceil_mode, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), want_indices.numpy())
    _agree(values, want_values, [x], [tx], rng)
