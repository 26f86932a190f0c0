"""Op properties are declared once, on the Primitive, and every pass and
backend agrees with the declaration: views, effects, commutativity."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES
from test_passes_util import program

import shared_ops as so
import staticgraph as sg
from shared_ops import REGISTRY, Effect, Primitive
from staticgraph.build.cond import cond_p
from staticgraph.build.creation import identity_p
from staticgraph.build.custom_gradient import custom_gradient_p
from staticgraph.build.random_ops import random_p
from staticgraph.build.state import assign_p, group_p
from staticgraph.build.while_loop import while_p
from staticgraph.compiler.group import REDUCTION_KINDS
from staticgraph.cuda_backend.steps import RESHAPES, VIEW_OPS
from staticgraph.graph.ir import Eqn, Var
from staticgraph.nn import checked_labels_p
from staticgraph.numba_backend.eqn_lowering import VIEWS
from staticgraph.numba_backend.hooks import LOWERINGS
from staticgraph.passes import plan_memory
from staticgraph.passes.memory import is_view
from staticgraph.passes.simplify_rules import RULES, RuleContext, apply_rules
from staticgraph.passes.symbolic import DIM_RULES
from staticgraph.scan import scan_p
from staticgraph.scan.loop.emit import EMITTERS
from staticgraph.scan.passes.hoist import SHIFT_PARAMS

STATIC_PRIMS = [identity_p, custom_gradient_p, checked_labels_p, random_p, assign_p, group_p,
                cond_p, scan_p, while_p]
ALL_PRIMS = list(REGISTRY.values()) + STATIC_PRIMS
DECLARED_VIEWS = {p for p in ALL_PRIMS if p.views}
# Declared views a backend runs through its impl: checked_labels checks its
# labels first, custom_gradient has several outputs.
RUN_BY_IMPL = {checked_labels_p, custom_gradient_p}


def _shares_memory(out, args) -> bool:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return any(isinstance(o, np.ndarray) and isinstance(a, np.ndarray) and a.size
               and np.shares_memory(o, a) for o in outs for a in args)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_an_impl_returning_a_view_declares_it(case):
    """An impl whose output shares memory with an input must declare `views`
    (engines reuse or overwrite that memory otherwise)."""
    args = tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in case.args)
    out = case.primitive.impl(*args, **case.params)
    if _shares_memory(out, args):
        assert case.primitive.views and case.primitive.views_for(case.params), case.id


def test_the_memory_planner_treats_every_declared_view_as_one():
    x = Var(so.AbstractArray((2, 3), np.dtype("float64")))
    for prim in DECLARED_VIEWS - {custom_gradient_p}:
        params = {"index": (slice(None), 1)} if prim is REGISTRY["getitem"] else {}
        out = Var(so.AbstractArray((2, 3), np.dtype("float64")))
        assert is_view(Eqn(prim, (x, x), params, (out,))), prim
    advanced = {"index": (np.array([0, 1]),)}
    assert not is_view(Eqn(REGISTRY["getitem"], (x,), advanced, (Var(x.aval),)))


def test_backend_view_tables_agree_with_the_declarations():
    assert set(VIEWS) <= DECLARED_VIEWS
    assert DECLARED_VIEWS - set(VIEWS) == RUN_BY_IMPL
    cuda_views = set(VIEW_OPS) | set(RESHAPES)
    assert cuda_views <= DECLARED_VIEWS
    assert DECLARED_VIEWS - cuda_views == RUN_BY_IMPL


def test_every_registered_view_has_a_compiled_scan_form():
    for prim in DECLARED_VIEWS & set(REGISTRY.values()):
        assert prim in EMITTERS, prim


def test_effects_and_control_flow_are_declared():
    assert random_p.effect is Effect.RANDOM
    assert assign_p.effect is group_p.effect is Effect.STATE
    assert all(p.control and p.eval_with is not None and p.multiple_results
               for p in (cond_p, scan_p, while_p))
    assert [p for p in REGISTRY.values() if p.effect is not Effect.NONE] == []


def test_commutative_ops_are_binary_elementwise():
    commutative = [p for p in REGISTRY.values() if p.commutative]
    assert {p.name for p in commutative} >= {"add", "mul"}
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    for prim in commutative:
        assert prim.elementwise
        np.testing.assert_array_equal(prim.impl(a, b), prim.impl(b, a))


def test_random_draws_are_not_merged_or_folded():
    def fn(x):
        r1 = sg.random_normal((3,), seed=1)
        r2 = sg.random_normal((3,), seed=1)
        return r1 + r2 + x
    graph = sg.passes.optimize(program(fn, ((3,), "float64")))[0]
    assert sum(e.prim is random_p for e in graph.eqns) == 2


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_identity_and_stop_gradient_views_keep_their_values(backend):
    """A view of a value whose buffer is then reused must still read the old value."""
    g = sg.Graph()
    with g.as_default():
        p = sg.placeholder((4, 4), "float64")
        a = sg.exp(p)
        b = sg.identity(a)
        c = sg.stop_gradient(a)
        d = sg.exp(b)
        out = sg.reduce_sum(sg.matmul(d, b) + c)
    x = np.random.default_rng(0).random((4, 4))
    want = np.sum(np.exp(np.exp(x)) @ np.exp(x) + np.exp(x))
    with sg.Session(g, backend=backend, tiered=False) as sess:
        np.testing.assert_allclose(sess.run(out, {p: x}), want, rtol=1e-12)
    assert plan_memory(sg.extract_program(g, [out.var], [p.var])).views


def test_pass_and_backend_tables_are_keyed_by_primitives():
    tables = {"simplify": RULES, "symbolic dims": DIM_RULES, "scan emitters": EMITTERS,
              "scan hoisting": SHIFT_PARAMS, "fused reductions": REDUCTION_KINDS,
              "numba lowerings": LOWERINGS, "numba views": VIEWS}
    for label, table in tables.items():
        assert table and all(isinstance(key, Primitive) for key in table), label
    assert set(REDUCTION_KINDS) <= set(EMITTERS)


def test_an_op_named_like_a_built_in_gets_none_of_its_rules():
    mul = REGISTRY["mul"]
    twin = Primitive(name="mul", impl=mul.impl, abstract_eval=mul.abstract_eval,
                     elementwise=True, scalar=mul.scalar)
    aval = so.AbstractArray((3,), np.dtype("float64"))
    x, out = Var(aval), Var(aval)
    ctx = RuleContext()
    assert apply_rules(Eqn(mul, (x, 1.0), {}, (out,)), ctx) is x
    kept = Eqn(twin, (x, 1.0), {}, (out,))
    assert apply_rules(kept, ctx) is kept
