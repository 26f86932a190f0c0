"""Data and state in dyngraph (docs/errors.md, section "data and state"): a failed
backward or dg.grad leaves the tape as it was; optimizers reject bad
hyper-parameters and a failed step changes no parameter or optimizer state;
`Tensor.__array__` never hands out a writable alias of a tensor that requires
grad and honours `copy`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import dyngraph as dg


def leaf(values) -> dg.Tensor:
    return dg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


# ---- a failed backward leaves the tape as it was -------------------------------------------

@documents("data and state", "a failed `backward` / `dg.grad` (an unused input, a custom "
           "Function whose backward raises or returns a bad gradient)")
def test_a_failed_grad_can_be_retried_without_retain_graph():
    a, unused = leaf([1.0, 2.0]), leaf([3.0])
    loss = (a * a).sum()
    expect(dg.GradientError, lambda: dg.grad(loss, [a, unused]), "not used in the graph")
    (ga,) = dg.grad(loss, [a])  # the saved values are still there
    np.testing.assert_array_equal(ga.numpy(), [2.0, 4.0])
    expect(dg.GradientError, lambda: dg.grad(loss, [a]), "freed")  # now they are freed


class Flaky(dg.Function):
    """y = 2x; backward raises (or returns a bad gradient) while `mode` says so."""

    mode = "raise"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if Flaky.mode == "raise":
            raise RuntimeError("backward failed")
        if Flaky.mode == "shape":
            return g.sum()
        return g * 2.0


@pytest.mark.parametrize("mode, error", [("raise", RuntimeError),
                                         ("shape", dg.FunctionError)])
def test_a_custom_backward_that_fails_leaves_the_tape_and_grads_as_they_were(mode, error):
    x, b = leaf([1.0, 2.0]), leaf([0.5, 0.5])
    mid = x * 3.0
    mid.retain_grad()
    loss = (Flaky.apply(mid) ** 2).sum() + (b * b).sum()
    Flaky.mode = mode
    try:
        with pytest.raises(error):
            loss.backward()
        assert x.grad is None and b.grad is None and mid.grad is None
        Flaky.mode = "ok"
        loss.backward()
    finally:
        Flaky.mode = "raise"
    np.testing.assert_allclose(x.grad.numpy(), 72.0 * np.array([1.0, 2.0]))
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(mid.grad.numpy(), 24.0 * np.array([1.0, 2.0]))


def test_a_failed_backward_with_create_graph_can_be_retried():
    x = leaf([1.0, 2.0])
    loss = (Flaky.apply(x.exp()) ** 2).sum()
    with pytest.raises(RuntimeError):
        loss.backward(create_graph=True)
    Flaky.mode = "ok"
    try:
        (g,) = dg.grad(loss, [x])
    finally:
        Flaky.mode = "raise"
    np.testing.assert_allclose(g.numpy(), 8.0 * np.exp(2 * np.array([1.0, 2.0])))


# ---- optimizers ------------------------------------------------------------------------------

@documents("data and state", "a dyngraph optimizer's hyper-parameter out of range or NaN "
           "(lr, momentum, dampening, weight_decay, betas, eps)")
@pytest.mark.parametrize("make, part", [
    (lambda p: dg.optim.SGD(p, lr=-1.0), "learning rate"),
    (lambda p: dg.optim.SGD(p, lr=math.nan), "learning rate"),
    (lambda p: dg.optim.SGD(p, lr="fast"), "learning rate"),
    (lambda p: dg.optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: dg.optim.SGD(p, lr=0.1, momentum=math.nan), "momentum"),
    (lambda p: dg.optim.SGD(p, lr=0.1, weight_decay=-1.0), "weight_decay"),
    (lambda p: dg.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: dg.optim.Adam(p, lr=-1e-3), "learning rate"),
    (lambda p: dg.optim.Adam(p, lr=math.nan), "learning rate"),
    (lambda p: dg.optim.Adam(p, betas=(1.0, 0.999)), "beta1"),
    (lambda p: dg.optim.Adam(p, betas=(0.9, math.nan)), "beta2"),
    (lambda p: dg.optim.Adam(p, eps=-1.0), "epsilon"),
])
def test_optimizers_reject_bad_hyper_parameters(make, part):
    expect(ValueError, lambda: make([leaf([1.0])]), part)


def test_a_learning_rate_made_bad_later_fails_the_step_and_changes_nothing():
    p = leaf([1.0, 2.0])
    opt = dg.optim.SGD([p], lr=0.1)
    p.grad = dg.tensor(np.ones(2))
    opt.param_groups[0]["lr"] = math.nan
    expect(ValueError, opt.step, "learning rate")
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 2.0])


def _params():
    return [leaf([1.0, 2.0]), leaf([[1.0, -1.0]]), leaf([3.0])]


@pytest.mark.parametrize("make", [
    lambda p: dg.optim.SGD(p, lr=0.1),
    lambda p: dg.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: dg.optim.Adam(p, lr=0.1, weight_decay=0.01),
])
@pytest.mark.parametrize("bad", ["shape", "dtype"])
def test_a_step_that_fails_on_one_parameter_changes_none(make, bad):
    params, twins = _params(), _params()
    opt, ref = make(params), make(twins)
    for ps, o in ((params, opt), (twins, ref)):  # one good step: state exists
        for p in ps:
            p.grad = dg.tensor(np.ones(p.shape))
        o.step()
    values = [p.detach().numpy().copy() for p in params]
    params[1].grad = dg.tensor(np.ones(3) if bad == "shape" else np.ones((1, 2), np.int64))
    error = dg.ShapeError if bad == "shape" else dg.DTypeError
    expect(error, opt.step, "no parameter was changed")
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p.detach().numpy(), v)
    for ps, o in ((params, opt), (twins, ref)):  # the next good step: as if none failed
        for p in ps:
            p.grad = dg.tensor(np.full(p.shape, 0.5))
        o.step()
    for p, t in zip(params, twins):
        np.testing.assert_array_equal(p.detach().numpy(), t.detach().numpy())


class HalfwaySGD(dg.optim.SGD):
    """Momentum SGD whose step fails after updating the first parameter: any
    subclass's step is all-or-nothing, however it fails."""

    def step(self) -> None:
        super().step.__wrapped__(self)  # the plain update of every parameter...
        raise FloatingPointError("failed after the update")  # ...then a failure


def test_a_subclass_step_that_fails_part_way_is_undone():
    params = _params()
    opt = HalfwaySGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = dg.tensor(np.ones(p.shape))
    values = [p.detach().numpy().copy() for p in params]
    with pytest.raises(FloatingPointError):
        opt.step()
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p.detach().numpy(), v)
    assert opt.state == {}  # no momentum buffer was kept
    dg.optim.SGD.step.__wrapped__(opt)  # the plain update from the restored state
    np.testing.assert_allclose(params[0].detach().numpy(), values[0] - 0.1)


# ---- Tensor.__array__ ------------------------------------------------------------------------

@documents("data and state", "`np.asarray(t, dtype=..., copy=False)` where the dtype "
           "conversion needs a copy")
def test_array_protocol_honours_copy():
    t = dg.tensor(np.array([1.0, 2.0]))
    assert not np.shares_memory(np.array(t, copy=True), t.numpy())
    assert not np.shares_memory(np.array(t), t.numpy())  # np.array copies by default
    assert np.shares_memory(np.asarray(t), t.numpy())  # as PyTorch's np.asarray(t)
    assert np.shares_memory(np.asarray(t, copy=False), t.numpy())
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    expect(ValueError, lambda: np.asarray(t, dtype=np.float32, copy=False), "without a copy")


def test_a_tensor_that_requires_grad_is_never_a_writable_alias():
    a = leaf([1.0, 2.0])
    loss = (a * a).sum()
    view = np.asarray(a)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0] = 100.0
    copy = np.array(a, copy=True)
    copy[0] = 100.0  # a copy is the caller's
    loss.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0])
    expect(dg.GradientError, a.numpy, "requires grad")
    assert np.asarray(a.detach()).flags.writeable
