"""dyngraph's new ops against PyTorch itself, values and gradients (float64).

PyTorch is not part of the test extra: this module is skipped where it is
not installed. The op cases are the shared table of tests/torch_reference/,
whose stored results tests/test_torch_reference.py checks everywhere;
tests/test_nn_ops.py checks the same semantics against NumPy references.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch_reference import CASES, OP_CASES
from torch_reference.cases import check, run_dyngraph
from torch_reference.generate import case_arrays

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


@pytest.mark.parametrize("name", [case.name for case in OP_CASES])
def test_op_agrees_with_torch(name):
    case = CASES[name]
    arrays = case_arrays(case, torch)
    check(case, run_dyngraph(case, arrays), arrays)


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
