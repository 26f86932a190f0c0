"""The backward walk: order by creation sequence, edge forms, skipped version checks.

backward visits nodes newest first from a heap (no separate topological
sort); edges are the node itself for output 0, (node, index) for other
outputs, or the leaf; version checks are skipped while no in-place change
happened anywhere. These tests pin each of those shortcuts to the answer
NumPy gives.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import dyngraph as dg
from shared_ops import InPlaceError

FILE = os.path.basename(__file__)


def here(offset: int = 0) -> tuple[str, int]:
    frame = sys._getframe(1)
    return frame.f_code.co_filename, frame.f_lineno + offset


def t64(values, grad: bool = True) -> dg.Tensor:
    return dg.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


def test_diamond_with_uneven_depths_matches_hand_gradient():
    """x feeds a long branch and a short one; the join must wait for both."""
    x = t64([0.3, -0.7, 1.1])
    short = x * 2.0
    long = (x.tanh() * x).exp() + 1.0
    y = (short * long).sum()
    y.backward()
    xv = x.detach().numpy()
    e = np.exp(np.tanh(xv) * xv)
    d_long = e * ((1 - np.tanh(xv) ** 2) * xv + np.tanh(xv))
    expected = 2.0 * (e + 1.0) + 2.0 * xv * d_long
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_reused_intermediate_gets_every_consumers_gradient():
    """h is read by nodes created long after it; its gradient is their sum."""
    x = t64([0.5, 2.0])
    h = x * x
    chain = h
    for _ in range(5):
        chain = chain + 0.5 * h
    (chain * h).sum().backward()
    xv = x.detach().numpy()
    # chain = h * (1 + 2.5) = 3.5 h; loss = 3.5 h^2 = 3.5 x^4
    np.testing.assert_allclose(x.grad.numpy(), 14.0 * xv ** 3, rtol=1e-12)


class SplitTwo(dg.Function):
    """(a, b) -> (a + b, a * b): a node with two outputs."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b

    @staticmethod
    def backward(ctx, g_sum, g_prod):
        a, b = ctx.saved_tensors
        return g_sum + g_prod * b, g_sum + g_prod * a


@pytest.mark.parametrize("use", ["both", "first", "second", "second_twice"])
def test_multi_output_node_runs_once_with_each_outputs_gradient(use):
    a, b = t64([1.5, -2.0]), t64([0.25, 3.0])
    s, p = SplitTwo.apply(a, b)
    loss = {"both": lambda: (s * p).sum(), "first": lambda: (s * 3.0).sum(),
            "second": lambda: p.exp().sum(),
            "second_twice": lambda: (p * 2.0).sum() + p.tanh().sum()}[use]()
    loss.backward()
    av, bv = a.detach().numpy(), b.detach().numpy()
    sv, pv = av + bv, av * bv
    g_s, g_p = {"both": (pv, sv), "first": (3.0, 0.0), "second": (0.0, np.exp(pv)),
                "second_twice": (0.0, 2.0 + 1 - np.tanh(pv) ** 2)}[use]
    np.testing.assert_allclose(a.grad.numpy(), g_s + g_p * bv, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), g_s + g_p * av, rtol=1e-12)
    assert s.grad_fn.next_functions == ((a, 0), (b, 0))


def test_edges_name_the_producing_output():
    a, b = t64([1.0]), t64([2.0])
    s, p = SplitTwo.apply(a, b)
    z = s * p
    assert z.grad_fn.next_functions == ((s.grad_fn, 0), (s.grad_fn, 1))
    w = z + a
    assert w.grad_fn.next_functions == ((z.grad_fn, 0), (a, 0))


def test_inplace_elsewhere_does_not_break_an_untouched_graph():
    x = t64([0.2, 0.4])
    y = x.exp().sum()
    other = dg.tensor(np.zeros(2))
    other += 1.0  # an in-place change, but not to anything y's graph saved
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.2, 0.4]), rtol=1e-12)


def test_inplace_to_a_saved_value_is_still_caught_after_other_changes():
    x = t64([0.2, 0.4])
    h = x * 1.0
    e = h.exp()
    loss = (e * 2.0).sum()
    unrelated = dg.tensor(np.ones(2))
    unrelated *= 3.0
    with dg.no_grad():
        e += 1.0  # the mul node (newest) saved e; exp's gradient reads it too
    with pytest.raises(InPlaceError, match=r"gradient of 'mul' was modified by an "
                       r"in-place operation after it was saved \(its version is now 1\)"):
        loss.backward()


def test_each_entry_point_records_the_callers_line():
    x, w = t64([[0.5, 1.0]]), t64([[2.0], [3.0]])
    operator = x @ w; line_operator = here()  # noqa: E702
    method = x.tanh(); line_method = here()  # noqa: E702
    function = dg.exp(x); line_function = here()  # noqa: E702
    reduction = x.sum(dim=1); line_reduction = here()  # noqa: E702
    for t, line in [(operator, line_operator), (method, line_method),
                    (function, line_function), (reduction, line_reduction)]:
        assert t.grad_fn.site == line, t.grad_fn


def test_library_module_records_the_users_line_not_its_own():
    layer = dg.nn.Linear(2, 1, dtype=np.float64)
    out = layer(t64([[1.0, 2.0]], grad=False)); line = here()  # noqa: E702
    assert out.grad_fn.site == line


def test_ops_at_the_top_level_of_a_script_record_its_line():
    """A shallow stack (module level, no enclosing function) is the tightest case."""
    import subprocess

    script = ("import dyngraph as dg\n"
              "x = dg.tensor([1.0], requires_grad=True)\n"
              "y = x * 2.0\n"
              "z = dg.exp(y)\n"
              "w = -z\n"
              "print(y.grad_fn.site[1], z.grad_fn.site[1], w.grad_fn.site[1])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "4", "5"]


def test_the_tape_keeps_only_values_a_rule_reads():
    """Large values no VJP reads (a sum's operands, tanh's input, an add's output)
    are freed with their tensors; the ones backward needs stay alive."""
    import weakref
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((32, 64)))
    w = t64(rng.standard_normal((64, 128)))
    b = t64(rng.standard_normal(128))
    projected = x @ w          # read by nothing below but the add
    pre = projected + b        # tanh reads its output, not this
    h = pre.tanh()
    gone = [weakref.ref(projected._data), weakref.ref(pre._data)]
    kept = weakref.ref(h._data)
    del projected, pre
    assert [r() for r in gone] == [None, None]
    assert kept() is not None
    (h * h).sum().backward()
    hv = np.tanh(x.numpy() @ w.detach().numpy() + b.detach().numpy())
    np.testing.assert_allclose(b.grad.numpy(), (2 * hv * (1 - hv ** 2)).sum(0), rtol=1e-12)


def test_the_tape_keeps_small_unread_values_as_they_are():
    """An unread value up to SMALL_VALUE_BYTES stays on the tape (a stand-in would
    cost more than it frees); a larger one is replaced by its shape."""
    from dyngraph.dispatch import SMALL_VALUE_BYTES
    for n, kept in ((SMALL_VALUE_BYTES // 8, True), (SMALL_VALUE_BYTES // 8 + 1, False)):
        x = dg.tensor(np.ones(n), requires_grad=True)
        y = x * 2.0
        z = y + 1.0
        assert (z.grad_fn.inputs[0] is y._data) is kept
        z.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full(n, 2.0))


def test_site_cache_follows_new_library_dirs(tmp_path, monkeypatch):
    """The recorder remembers the last user code objects; registering a library
    dir afterwards must make that code count as library again."""
    import importlib.util

    from shared_ops import sites

    monkeypatch.setattr(sites, "_LIB_DIRS", list(sites._LIB_DIRS))
    path = tmp_path / "helper_lib.py"
    path.write_text("def double(x):\n    return x * 2\n")
    spec = importlib.util.spec_from_file_location("helper_lib", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = t64([1.0])
    assert module.double(x).grad_fn.site == (str(path), 2)
    sites.register_library_dir(str(path))
    try:
        y = module.double(x); line = here()  # noqa: E702
        assert y.grad_fn.site == line
    finally:
        sites.FILE_IS_LIBRARY.clear()
        sites.last_user_code[:] = [None, None]


@pytest.mark.parametrize("make_view", [lambda t: t.reshape(4, 2), lambda t: t.t(),
                                       lambda t: t[:, 1:], lambda t: t.unsqueeze(0)],
                         ids=["reshape", "transpose", "slice", "unsqueeze"])
def test_views_share_the_version_counter_of_their_base(make_view):
    """As in PyTorch: a change through the base is seen by a node that saved the view."""
    base = dg.tensor(np.arange(8.0).reshape(2, 4))
    view = make_view(base)
    assert view._version is base._version
    y = (view * t64(np.ones(view.shape))).sum()
    with dg.no_grad():
        base.add_(1.0)
    with pytest.raises(InPlaceError, match="mul"):
        y.backward()
    copied = base.t().reshape(8)  # a transpose flattened: NumPy has to copy
    assert copied._version is not base._version


def test_a_basic_index_is_a_view_that_shares_the_version_counter():
    """As in PyTorch: changing the base in place is seen through the view's saved value."""
    xs = dg.tensor(np.arange(6.0).reshape(3, 2))
    w = t64([[1.0], [2.0]])
    step = xs[1]
    y = (step @ w).sum()
    assert step._version is xs._version
    xs[0] = 5.0  # through the base
    with pytest.raises(InPlaceError, match="matmul"):
        y.backward()
    picked = xs[np.array([0, 2])]  # integer arrays copy: a counter of its own
    assert picked._version is not xs._version


def test_the_shared_empty_params_stay_empty():
    """Operators share one params dict: nothing along the way may write to it."""
    import importlib
    shared = importlib.import_module("dyngraph.dispatch").NO_PARAMS
    x = t64([0.5, 1.5])
    y = (-(x * x).tanh() + x).exp().sum()
    (gx,) = dg.grad(y, [x], create_graph=True)
    gx.sum().backward()
    assert shared == {} and x.grad is not None
