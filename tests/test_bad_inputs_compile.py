"""Bad inputs to dg.compile (docs/errors.md, section dyngraph compile).

Each test makes the bad call, checks the type, the message and this file's
line, then checks that nothing was cached and a good compiled call on the
same tensors gives the right numbers.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
from bad_inputs_util import documents, expect

import dyngraph as dg

FILE = os.path.basename(__file__)
SECTION = "dyngraph compile"


def here(offset: int = 0) -> str:
    return f"{FILE}:{sys._getframe(1).f_lineno + offset}"


def weight() -> dg.Tensor:
    return dg.tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)


def good_call(w: dg.Tensor) -> None:
    """A compiled sum((x @ w)^2) and its gradient on the same weight."""
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    f = dg.compile(lambda x: (x @ w).pow(2).sum(), backend="interpret")
    w.grad = None
    f(dg.tensor(x)).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * x.T @ (x @ w.detach().numpy()))


def _untraced(compiled) -> None:
    assert compiled.trace_count == 0 and not compiled.entries


@documents(SECTION, "`.item()`, `float(t)`, `int(t)`, `.numpy()`, `.tolist()`, `bool(t)` "
           "(an `if` or `while` on a tensor) in a compiled function, `fullgraph=True`")
def test_values_of_traced_tensors():
    w = weight()
    uses = [lambda x: x * (x @ w).sum().item(),  # line of each use: here(+offset) below
            lambda x: x * float((x @ w).sum()),
            lambda x: x * int((x @ w).sum()),
            lambda x: dg.tensor((x @ w).detach().numpy()),
            lambda x: dg.tensor((x @ w).tolist()),
            lambda x: x if (x @ w).sum() > 0 else -x]
    line = sys._getframe().f_lineno - 6
    for k, use in enumerate(uses):
        f = dg.compile(use, backend="interpret")
        expect(dg.TraceError, lambda f=f: f(dg.tensor(np.ones((2, 2)))), "dg.compile:",
               f"{FILE}:{line + k}", "fullgraph=False")
        _untraced(f)
    good_call(w)


@documents(SECTION, "printing a traced tensor")
def test_printing():
    w = weight()
    f = dg.compile(lambda x: print(x @ w) or x, backend="interpret")
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), "printing", here(-1))
    _untraced(f)
    good_call(w)


@documents(SECTION, "an optimizer other than `dg.optim.SGD` steps inside a compiled "
           "function")
def test_unsupported_optimizer_step():
    w = weight()
    opt = dg.optim.Adam([w], lr=0.1)

    def train(x):
        opt.zero_grad()
        (x @ w).pow(2).sum().backward()
        opt.step()
    before = w.detach().numpy().copy()
    f = dg.compile(train, backend="interpret")
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), "Adam.step()", here(-3))
    _untraced(f)
    np.testing.assert_array_equal(w.detach().numpy(), before)
    assert w.grad is None and opt.state == {}
    good_call(w)


@documents(SECTION, "in-place update of a tensor from outside the function while a "
           "gradient is recorded")
def test_inplace_on_captured_with_grad():
    w = weight()
    counts = dg.tensor(np.zeros(2))

    def leaky(x):
        h = x @ w
        counts.add_(h.sum(0))
        return h
    f = dg.compile(leaky, backend="interpret")
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), "'add_'", "no_grad",
           here(-4))
    _untraced(f)
    np.testing.assert_array_equal(counts.numpy(), 0.0)
    good_call(w)


@documents(SECTION, "a compiled function changes tensors in place and returns a result "
           "that needs a gradient")
def test_state_change_with_differentiable_result():
    w = weight()
    steps = dg.tensor(np.zeros(()))

    def counted(x):
        with dg.no_grad():
            steps.add_(1.0)
        return (x @ w).sum()
    f = dg.compile(counted, backend="interpret")
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), "'counted'",
           "call backward() inside")
    _untraced(f)
    assert steps.item() == 0.0
    good_call(w)


@documents(SECTION, "`dg.randn` / `dg.rand` inside a compiled function")
def test_random_draws():
    w = weight()
    for draw in (dg.randn, dg.rand):
        f = dg.compile(lambda x, draw=draw: x @ w + draw(2, dtype=np.float64),
                       backend="interpret")
        expect(dg.TraceError, lambda f=f: f(dg.tensor(np.ones((2, 2)))), draw.__name__,
               "pass the tensor in", here(-3))
        _untraced(f)
    noise = dg.randn(2, dtype=np.float64)  # outside: an argument, read at every call
    f = dg.compile(lambda x, noise: (x @ w + noise).sum(), backend="interpret")
    np.testing.assert_allclose(f(dg.tensor(np.ones((2, 2))), noise).item(),
                               (np.ones((2, 2)) @ w.detach().numpy() + noise.numpy()).sum())
    good_call(w)


@documents(SECTION, "`backward()` in a compiled function: a trace that fails after it")
def test_failed_trace_after_backward_changes_nothing():
    w = weight()
    w.grad = dg.tensor(np.full((2, 2), 7.0))
    grad = w.grad

    def train(x):
        loss = (x @ w).sum()
        loss.backward()
        return x * w.grad.sum().item()
    f = dg.compile(train, backend="interpret")
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), ".item()", here(-2))
    _untraced(f)
    assert w.grad is grad
    np.testing.assert_array_equal(w.grad.numpy(), 7.0)
    good_call(w)


@documents(SECTION, "a compiled function returns something other than tensors, Python "
           "scalars or None")
def test_bad_return():
    w = weight()
    f = dg.compile(lambda x: np.ones(2), backend="interpret")
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), "returned a ndarray")
    _untraced(f)
    ok = dg.compile(lambda x: ((x @ w).sum(), 3, None), backend="interpret")
    total, three, none = ok(dg.tensor(np.ones((2, 2))))
    assert three == 3 and none is None and total.requires_grad
    good_call(w)


@documents(SECTION, "`autograph=True`: a name set in one branch only of an `if` on a tensor "
           "and used by the other, or a function whose source is not available")
def test_autograph_errors():
    w = weight()

    flag = False

    def one_branch(x):
        h = x @ w
        if h.sum() > 0:
            y = h * 2
        else:
            if flag:  # a Python bool: plain Python, and y stays unset here
                y = h
        return y
    f = dg.compile(one_branch, backend="interpret", autograph=True)
    expect(dg.TraceError, lambda: f(dg.tensor(np.ones((2, 2)))), "'y' has no value")
    _untraced(f)
    built = eval("lambda x: x")  # noqa: S307  (a lambda: nothing to convert, no error)
    assert dg.compile(built, backend="interpret", autograph=True)(dg.tensor(1.0)).item() == 1.0
    namespace: dict = {}
    exec("def made(x):\n    return x\n", namespace)  # noqa: S102  (no source file)
    with pytest.raises(dg.TraceError, match="source of 'made' is not available"):
        dg.compile(namespace["made"], autograph=True)
    good_call(w)


@documents(SECTION, "`backward(create_graph=True)` through a compiled function")
def test_create_graph():
    w = weight()
    f = dg.compile(lambda x: (x @ w).pow(2).sum(), backend="interpret")
    out = f(dg.tensor(np.ones((2, 2))))
    expect(dg.GradientError, lambda: dg.grad(out, w, create_graph=True), "create_graph=True",
           "compiled_<lambda>")
    assert w.grad is None
    good_call(w)


@documents(SECTION, "`fullgraph=False` and a call that cannot be traced")
def test_fallback_warning():
    w = weight()
    f = dg.compile(lambda x: x * float((x @ w).sum()), backend="interpret", fullgraph=False)
    x = dg.tensor(np.ones((2, 2)))
    with pytest.warns(dg.CompileWarning, match=FILE):
        out = f(x)
    total = (np.ones((2, 2)) @ w.detach().numpy()).sum()
    np.testing.assert_allclose(out.numpy(), np.ones((2, 2)) * total)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(x)
    assert f.fallback_count == 2 and f.trace_count == 0
    good_call(w)
