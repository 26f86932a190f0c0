"""staticgraph.compiler: group description and target-neutral generation (no compiling)."""

from __future__ import annotations

import numpy as np
import pytest

from shared_ops import REGISTRY
from staticgraph.compiler import CpuTarget, GroupBuilder, generate_element
from staticgraph.compiler.cache import cache_key
from staticgraph.compiler.codegen import inline_expression, literal_source
from staticgraph.compiler.cpu_skeleton import index_expr


def chain(dtype, name="chain"):
    b = GroupBuilder(name)
    x, a, c = b.input(1, dtype), b.scalar(float), b.scalar(float)
    t = b.op("tanh", b.op("add", b.op("mul", x, a, site="model.py:3"), c))
    y = b.op("sub", b.op("mul", t, b.op("sigmoid", x)), b.op("exp", b.op("neg", x)))
    return b.build(outputs=[y])


def test_types_follow_abstract_eval_and_weak_scalars():
    b = GroupBuilder()
    x, i = b.input(2, np.float32), b.input(1, np.int32)
    m = b.op("mul", x, 2.0)  # weak literal keeps float32
    c = b.op("greater", i, 1.5)  # int32 vs weak float compares in float64
    d = b.op("div", i, 2)  # true division of ints is float64
    g = b.build(outputs=[m, c, d])
    assert g.step_dtype(0) == np.float32 and g.op_dtype(0) == np.float32
    assert g.step_dtype(1) == np.bool_ and g.op_dtype(1) == np.float64
    assert g.step_dtype(2) == np.float64
    assert g.ndim == 2


def test_broadcast_pattern_of_steps():
    b = GroupBuilder()
    col = b.input(2, np.float64, broadcast=(1,))
    row = b.input(1, np.float64)
    s = b.op("add", col, 1.0)
    t = b.op("mul", s, row)
    g = b.build(outputs=[s, t])
    assert g.step_pattern(0) == (2, (1,))
    assert g.step_pattern(1) == (2, ())


@pytest.mark.parametrize("bad", [
    lambda b, x: b.build(outputs=[b.op("sum", x)]),  # not elementwise
    lambda b, x: b.build(outputs=[]),  # nothing to compute
    lambda b, x: b.build(outputs=[x], reduce=("sum", x, (0,), False)),  # output is an input
    lambda b, x: b.build(reduce=("prod", b.op("exp", x), (0,), False)),
    lambda b, x: b.build(reduce=("sum", b.op("exp", x), (3,), False)),
])
def test_invalid_groups_are_rejected(bad):
    b = GroupBuilder()
    x = b.input(2, np.float64)
    with pytest.raises((ValueError, AttributeError)):
        bad(b, x)


def test_reduction_of_a_broadcast_value_is_rejected():
    b = GroupBuilder()
    x, col = b.input(2, np.float64), b.input(2, np.float64, broadcast=(1,))
    b.op("add", x, 1.0)
    s = b.op("exp", col)
    with pytest.raises(ValueError, match="full shape"):
        b.build(reduce=("sum", s, (0,), False))


def test_inline_expression_substitutes_args_and_closure_constants():
    assert inline_expression(REGISTRY["add"].scalar, ["t0", "v1"]) == "t0 + v1"
    assert inline_expression(REGISTRY["sigmoid"].scalar, ["v0"]) is None  # several statements
    clip = REGISTRY["clip"].scalar(lo=None, hi=2.5)
    want = "-math.inf if v0 < -math.inf else 2.5 if v0 > 2.5 else v0"
    assert inline_expression(clip, ["v0"]) == want
    cast = REGISTRY["cast"].scalar(dtype=np.float32)
    assert inline_expression(cast, ["t3"]) == "np.float32(t3)"


def test_literal_source():
    assert literal_source(float("inf")) == "math.inf"
    assert literal_source(float("nan")) == "math.nan"
    assert literal_source(np.dtype("float32")) == "np.dtype('float32')"
    assert literal_source(np.int16) == "np.int16"
    assert literal_source(True) == "True"


def test_generated_element_names_sites_and_converts():
    code = generate_element(chain(np.float32), CpuTarget())
    text = "\n".join(code.body)
    assert "# mul  model.py:3" in text
    assert "np.float32(v0 * np.float32(v1))" in text  # weak scalar computes in float32
    assert "_vm.tanh32" in text and "_vm.sigmoid32" in text  # vectorisable math on CPU
    exact = "\n".join(generate_element(chain(np.float32), CpuTarget(vector_math=False)).body)
    assert "_vm." not in exact and "math.tanh" in exact and "_s_sigmoid" in exact


def test_call_mode_binds_scalar_functions_once():
    b = GroupBuilder()
    x = b.input(1, np.float64)
    y = b.op("add", b.op("sigmoid", x), b.op("sigmoid", b.op("neg", x)))
    code = generate_element(b.build(outputs=[y]), CpuTarget(inline=False, vector_math=False))
    assert sum("scalar_fn('sigmoid')" in line for line in code.prelude) == 1
    assert any("_s_add" in line for line in code.body)


def test_dead_steps_are_not_generated():
    b = GroupBuilder()
    x = b.input(1, np.float64)
    b.op("exp", x)  # unused
    y = b.op("neg", x)
    code = generate_element(b.build(outputs=[y]), CpuTarget())
    assert code.live == [1]


def test_index_expression_aligns_right_and_pins_broadcast_dims():
    loop = ["i0", "i1", "i2"]
    assert index_expr(3, (), 3, loop) == "i0, i1, i2"
    assert index_expr(1, (), 3, loop) == "i2"
    assert index_expr(2, (0,), 3, loop) == "0, i2"


def test_key_depends_on_dtype_not_on_size():
    target = CpuTarget()
    k32 = cache_key(target.render_module(chain(np.float32)), target.cache_tag())
    k64 = cache_key(target.render_module(chain(np.float64)), target.cache_tag())
    again = cache_key(target.render_module(chain(np.float32)), target.cache_tag())
    exact = CpuTarget(vector_math=False)
    k_exact = cache_key(exact.render_module(chain(np.float32)), exact.cache_tag())
    assert k32 == again and len({k32, k64, k_exact}) == 3


def test_module_source_is_deterministic_and_parses():
    src = CpuTarget().render_module(chain(np.float64))
    compile(src, "<generated>", "exec")
    assert src == CpuTarget().render_module(chain(np.float64))
    assert "VARIANTS = ('flat', 'flat_par', 'nd', 'nd_par', 'rows')" in src


def test_input_like_reads_the_broadcast_pattern_from_a_static_shape():
    from shared_ops import AbstractArray
    b = GroupBuilder()
    x = b.input_like(AbstractArray((None, 1, 4), np.dtype(np.float32)))
    assert b.inputs[x.index].broadcast == (1,) and b.inputs[x.index].ndim == 3


def test_reduction_site_is_named_in_the_source():
    b = GroupBuilder()
    x = b.input(2, np.float64)
    g = b.build(reduce=("sum", b.op("exp", x), (1,), False, "loss.py:7"))
    assert "# sum  loss.py:7" in CpuTarget().render_module(g)
