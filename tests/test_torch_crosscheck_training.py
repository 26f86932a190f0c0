"""Cross-checks of dyngraph's training-level API against PyTorch itself.

The NumPy-reference tests (test_dyngraph_training_api.py,
test_dyngraph_recurrent.py) carry the guarantees; these compare with torch
where it is installed (it is not part of the test extra) and skip otherwise.
The modules, losses and optimizer trajectories are the training cases of the
shared table (tests/torch_reference/), whose stored results
tests/test_torch_reference.py checks everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch_reference import CASES, TRAINING_CASES
from torch_reference.cases import check, run_dyngraph
from torch_reference.generate import case_arrays

import dyngraph as dg

torch = pytest.importorskip("torch")


def _pair(a):
    a = np.asarray(a, np.float64)
    return dg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _close(d, t, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", [case.name for case in TRAINING_CASES])
def test_training_case_agrees_with_torch(name):
    case = CASES[name]
    arrays = case_arrays(case, torch)
    check(case, run_dyngraph(case, arrays), arrays)


@pytest.mark.parametrize("make", [
    lambda m: m.nn.RNN(3, 4, num_layers=2, bidirectional=True, dtype=m.float64),
    lambda m: m.nn.LSTM(3, 4, num_layers=2, dtype=m.float64),
    lambda m: m.nn.GRU(3, 4, bias=False, dtype=m.float64),
    lambda m: m.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=m.float64),
    lambda m: m.nn.Embedding(7, 3, padding_idx=2, dtype=m.float64)])
def test_parameter_names_and_shapes_match_torch(make):
    ours = [(n, tuple(p.shape)) for n, p in make(dg).named_parameters()]
    theirs = [(n, tuple(p.shape)) for n, p in make(torch).state_dict().items()]
    assert ours == theirs


def test_clip_grad_norm_matches_torch(rng):
    te = torch.nn.Embedding(7, 3, padding_idx=2, dtype=torch.float64)
    de = dg.nn.Embedding(7, 3, padding_idx=2, dtype=np.float64)
    de.load_state_dict({"weight": te.weight.detach().numpy()})
    ids = np.array([[2, 1, 6], [6, 2, 0]])
    (de(ids) ** 2).sum().backward()
    (te(torch.tensor(ids)) ** 2).sum().backward()
    total_d = dg.nn.utils.clip_grad_norm_(de.parameters(), 0.5)
    total_t = torch.nn.utils.clip_grad_norm_(te.parameters(), 0.5)
    assert total_d.item() == pytest.approx(total_t.item(), rel=1e-12)
    _close(de.weight.grad, te.weight.grad)


def test_hooks_match_torch():
    xd, xt = _pair([1.0, -2.0, 3.0])
    yd, yt = xd * xd, xt * xt
    yd.register_hook(lambda g: g * 2.0)
    yt.register_hook(lambda g: g * 2.0)
    xd.register_hook(lambda g: g - 1.0)
    xt.register_hook(lambda g: g - 1.0)
    (yd.sum() * 3.0).backward()
    (yt.sum() * 3.0).backward()
    _close(xd.grad, xt.grad)
