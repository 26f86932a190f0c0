"""Every op: `impl` agrees with `abstract_eval`; `scalar` (Numba) agrees with `impl`.

Also: NumPy 2 weak Python scalars (float32 stays float32), broadcasting with
size-1 dims, unknown (None) dims, the ShapeErrors abstract_eval raises, the
engine-neutral API on plain arrays, and `bind`'s dispatch by argument type.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from op_cases import BINARY_DOMAINS, CASES, OpCase

import shared_ops as so
from shared_ops import REGISTRY as P
from shared_ops import AbstractArray, ShapeError, aval_of

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def _impl(case: OpCase, args=None):
    return np.asarray(case.primitive.impl(*(case.args if args is None else args), **case.params))


def _eval(case: OpCase, args=None):
    args = case.args if args is None else args
    return case.primitive.abstract_eval(*[aval_of(a) for a in args], **case.params)


# ---- impl vs abstract_eval ---------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_abstract_eval_matches_impl(case):
    out, aval = _impl(case), _eval(case)
    assert isinstance(aval, AbstractArray)
    assert aval.shape == out.shape
    assert aval.dtype == out.dtype


def _to(args, dtype):
    return tuple(a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in args)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float32_stays_float32(case):
    """float32 inputs (with weak Python scalars) give float32 results, impl and eval alike."""
    args = _to(case.args, np.float32)
    out, aval = _impl(case, args), _eval(case, args)
    assert (aval.shape, aval.dtype) == (out.shape, out.dtype)
    has_f32 = any(isinstance(a, np.ndarray) and a.dtype == F32 for a in args)
    if has_f32 and out.dtype.kind == "f" and case.prim != "cast":
        assert out.dtype == F32


INT_OPS = {"add", "sub", "mul", "neg", "abs", "maximum", "minimum", "exp", "tanh", "div",
           "sum", "mean", "max", "relu", "sign", "clip", "greater", "equal", "matmul",
           "transpose", "reshape", "getitem", "concatenate", "broadcast_to", "squeeze",
           "expand_dims", "where", "sqrt", "log"}


@pytest.mark.parametrize("case", [c for c in CASES if c.prim in INT_OPS], ids=lambda c: c.id)
def test_int_inputs(case):
    """Integer operands: same dtype rule in impl and abstract_eval (ints or float64)."""
    args = tuple(np.round(np.abs(a) * 3 if case.prim in ("sqrt", "log") else a * 3).astype(
        np.int64) + (case.prim in ("sqrt", "log"))
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in case.args)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _impl(case, args)
    aval = _eval(case, args)
    assert (aval.shape, aval.dtype) == (out.shape, out.dtype)


def test_python_scalars_are_weak():
    a32 = AbstractArray((2, 3), F32)
    for name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"):
        for scalar in (2.0, 3, True):
            aval = P[name].abstract_eval(a32, scalar)
            assert aval.dtype == F32, (name, scalar)
            assert P[name].impl(np.ones((2, 3), np.float32), scalar).dtype == F32
    assert P["add"].abstract_eval(AbstractArray((2,), np.dtype(np.int32)), 2.5).dtype == F64
    assert P["add"].abstract_eval(a32, AbstractArray((3,), F64)).dtype == F64
    assert P["where"].abstract_eval(AbstractArray((3,), np.dtype(bool)), a32, 0.0).dtype == F32


@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
def test_broadcast_shapes_match_numpy(shapes):
    a, b = shapes.input_shapes
    for name in BINARY_DOMAINS:
        aval = P[name].abstract_eval(AbstractArray(a, F64), AbstractArray(b, F64))
        assert aval.shape == shapes.result_shape
    out = P["add"].impl(np.zeros(a), np.zeros(b))
    assert out.shape == shapes.result_shape


@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.data())
def test_unknown_dims_in_broadcasting(shape, data):
    """A None dim broadcasts with 1, None or any known size (NumPy rules otherwise)."""
    shape = tuple(shape)
    unknown = tuple(None if data.draw(st.booleans()) else d for d in shape)
    ones = tuple(1 for _ in shape)
    aval = P["mul"].abstract_eval(AbstractArray(unknown, F64), AbstractArray(ones, F64))
    assert aval.shape == tuple(None if u is None else 1 if s == 1 else s
                               for u, s in zip(unknown, shape))
    aval = P["mul"].abstract_eval(AbstractArray(unknown, F64), AbstractArray(shape, F64))
    assert all(d == s or (d is None and s == 1) for d, s in zip(aval.shape, shape))


def _with_unknown(args, arg_index, dim):
    avals = [aval_of(a) for a in args]
    a = avals[arg_index]
    avals[arg_index] = AbstractArray(a.shape[:dim] + (None,) + a.shape[dim + 1:], a.dtype)
    return avals


def _unknown_variants(case: OpCase):
    for i, a in enumerate(case.args):
        if isinstance(a, np.ndarray):
            for dim in range(a.ndim):
                yield i, dim


@pytest.mark.parametrize("case", [c for c in CASES if any(_unknown_variants(c))],
                         ids=lambda c: c.id)
def test_abstract_eval_accepts_unknown_dims(case):
    """Replacing any one dim by None still evaluates; known dims stay right."""
    out = _impl(case)
    prim = case.primitive
    for i, dim in _unknown_variants(case):
        avals = _with_unknown(case.args, i, dim)
        aval = prim.abstract_eval(*avals, **case.params)
        assert aval.dtype == out.dtype
        assert len(aval.shape) == out.ndim, (i, dim, aval)
        assert all(d is None or d == s for d, s in zip(aval.shape, out.shape)), (i, dim, aval)
    all_unknown = [AbstractArray((None,) * a.ndim, a.dtype) if isinstance(a, np.ndarray)
                   else a for a in case.args]
    if case.prim not in ("reshape",):  # reshape to a fixed shape needs a known size
        aval = prim.abstract_eval(*all_unknown, **case.params)
        assert len(aval.shape) == out.ndim


def test_reshape_with_unknown_dims():
    aval = P["reshape"].abstract_eval(AbstractArray((None, 3, 4), F64), shape=(-1, 12))
    assert aval.shape == (None, 12)
    aval = P["reshape"].abstract_eval(AbstractArray((None, 3), F64), shape=(3, 2))
    assert aval.shape == (3, 2)


SHAPE_ERRORS = [
    ("add", (AbstractArray((2, 3), F64), AbstractArray((4,), F64)), {}, "add"),
    ("matmul", (AbstractArray((2, 3), F64), AbstractArray((4, 5), F64)), {}, "matmul"),
    ("matmul", (AbstractArray((), F64), AbstractArray((4, 5), F64)), {}, "matmul"),
    ("matmul", (AbstractArray((2, 2, 3), F64), AbstractArray((3, 3, 1), F64)), {}, "matmul"),
    ("reshape", (AbstractArray((2, 3), F64),), {"shape": (4, 2)}, "reshape"),
    ("reshape", (AbstractArray((2, 3), F64),), {"shape": (-1, -1)}, "reshape"),
    ("reshape", (AbstractArray((2, 3), F64),), {"shape": (4, -1)}, "reshape"),
    ("transpose", (AbstractArray((2, 3), F64),), {"axes": (0, 0)}, "transpose"),
    ("broadcast_to", (AbstractArray((2, 3), F64),), {"shape": (3, 3)}, "broadcast_to"),
    ("broadcast_to", (AbstractArray((2, 3), F64),), {"shape": (3,)}, "broadcast_to"),
    ("squeeze", (AbstractArray((2, 3), F64),), {"axis": (0,)}, "squeeze"),
    ("concatenate", (AbstractArray((2, 3), F64), AbstractArray((2,), F64)), {"axis": 0},
     "concatenate"),
    ("concatenate", (AbstractArray((2, 3), F64), AbstractArray((2, 4), F64)), {"axis": 0},
     "concatenate"),
    ("getitem", (AbstractArray((2, 3), F64),), {"index": (5,)}, "getitem"),
    ("getitem", (AbstractArray((2, 3), F64),), {"index": (0, 0, 0)}, "getitem"),
    ("where", (AbstractArray((2,), np.dtype(bool)), AbstractArray((3,), F64), 0.0), {},
     "where"),
    ("sum", (AbstractArray((2, 3), F64),), {"axis": (2,), "keepdims": False}, "sum"),
]


@pytest.mark.parametrize("name, avals, params, op", SHAPE_ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(SHAPE_ERRORS)])
def test_abstract_eval_shape_errors(name, avals, params, op):
    with pytest.raises(ShapeError, match=op):
        P[name].abstract_eval(*avals, **params)


def test_api_shape_errors_name_the_op():
    x = np.zeros((2, 3))
    with pytest.raises(ShapeError, match="sum: axis 2 is out of range"):
        so.sum(x, axis=2)
    with pytest.raises(ShapeError, match="softmax"):
        so.softmax(x, axis=-3)
    with pytest.raises(ShapeError, match="repeated axis"):
        so.mean(x, axis=(0, -2))


def test_dtype_errors():
    with pytest.raises(so.DTypeError, match="add"):
        P["add"].abstract_eval(AbstractArray((2,), np.dtype("U3")), 1.0)
    with pytest.raises(so.DTypeError):
        aval_of(object())


# ---- scalar functions compiled by Numba ----------------------------------------

_JITTED: dict = {}


def _jitted_scalar(case: OpCase):
    prim = case.primitive
    key = (prim.name, repr(sorted(case.params.items())))
    if key not in _JITTED:
        fn = prim.scalar(**case.params) if prim.scalar_factory else prim.scalar
        _JITTED[key] = numba.njit(fn)
    return _JITTED[key]


def _first_elements(case: OpCase, count=4):
    """A few broadcast elements of each operand as Python scalars."""
    arrays = [np.asarray(a) for a in case.args]
    flat = [x.ravel()[:count] for x in np.broadcast_arrays(*arrays)]
    return [tuple(f[k].item() for f in flat) for k in range(min(len(f) for f in flat))]


SCALAR_CASES = [c for c in CASES if c.primitive.elementwise and c.label != "0d"]


@pytest.mark.parametrize("case", SCALAR_CASES, ids=lambda c: c.id)
def test_numba_scalar_agrees_with_impl(case):
    fn = _jitted_scalar(case)
    for values in _first_elements(case):
        expected = case.primitive.impl(*[np.asarray(v) for v in values], **case.params)
        got = fn(*values)
        np.testing.assert_allclose(float(got), float(expected), rtol=1e-12, atol=1e-15)


def test_every_elementwise_op_has_a_scalar_case():
    covered = {c.prim for c in SCALAR_CASES}
    missing = {n for n, p in P.items() if p.elementwise} - covered
    assert not {n for n in missing if P[n].abstract_eval.__module__.startswith("shared_ops")}


def test_numba_scalars_at_edges():
    log, sqrt, sigmoid = (_jitted_scalar(OpCase(n, (0.0,))) for n in ("log", "sqrt", "sigmoid"))
    assert log(0.0) == -np.inf and np.isnan(log(-1.0)) and np.isnan(sqrt(-1.0))
    assert sigmoid(-800.0) == 0.0 and sigmoid(800.0) == 1.0
    relu = _jitted_scalar(OpCase("relu", (0.0,)))
    assert relu(-2.0) == 0.0 and relu(2.5) == 2.5


# ---- the engine-neutral API on plain arrays ------------------------------------

def test_api_on_arrays_matches_numpy(rng):
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(so.softmax(x, axis=0), scipy.special.softmax(x, axis=0))
    np.testing.assert_allclose(so.log_softmax(x), scipy.special.log_softmax(x, axis=-1))
    np.testing.assert_allclose(so.matmul(x, y), x @ y)
    np.testing.assert_array_equal(so.stack([x, x + 1], axis=1), np.stack([x, x + 1], axis=1))
    np.testing.assert_array_equal(so.swapaxes(y[None], 0, 2), np.swapaxes(y[None], 0, 2))
    np.testing.assert_array_equal(so.squeeze(x[:, None]), x)
    np.testing.assert_array_equal(so.transpose(x), x.T)
    np.testing.assert_array_equal(so.expand_dims(x, -1), x[..., None])
    np.testing.assert_array_equal(so.reshape(x, 6), x.ravel())
    np.testing.assert_array_equal(so.getitem(x, np.int64(1)), x[1])
    np.testing.assert_array_equal(so.mean(x, axis=-1, keepdims=True), x.mean(-1, keepdims=True))
    np.testing.assert_array_equal(so.max(x, axis=(0, 1)), x.max())
    np.testing.assert_array_equal(so.clip(x, None, 0.1), np.minimum(x, 0.1))
    assert so.cast(x, np.float32).dtype == F32
    big = np.array([1000.0, 0.0, -1000.0])
    assert np.all(np.isfinite(so.softmax(big))) and np.all(np.isfinite(so.log_softmax(big)[:2]))
    np.testing.assert_allclose(so.log_softmax(big)[0], 0.0)


def test_api_normalises_params():
    seen = []

    class Spy:
        _gc_level = 50
        shape, dtype = (2, 3, 4), F64

        @staticmethod
        def _gc_bind(prim, args, params):
            seen.append((prim.name, params))
            return "spied"

    s = Spy()
    assert so.sum(s, axis=-1) == "spied"
    so.mean(s, axis=(2, 0), keepdims=1)
    so.softmax(s, axis=-2)
    so.transpose(s)
    so.getitem(s, np.int64(1))
    so.expand_dims(s, -1)
    assert seen[0] == ("sum", {"axis": (2,), "keepdims": False})
    assert seen[1] == ("mean", {"axis": (0, 2), "keepdims": True})
    assert seen[2] == ("softmax", {"axis": (1,)})
    assert seen[3] == ("transpose", {"axes": (2, 1, 0)})
    assert seen[4][1]["index"] == (1,) and type(seen[4][1]["index"][0]) is int
    assert seen[5] == ("expand_dims", {"axis": (3,)})


def test_bind_picks_the_highest_level_engine():
    class Low:
        _gc_level = 1

        @staticmethod
        def _gc_bind(prim, args, params):
            return "low"

    class High(Low):
        _gc_level = 2

        @staticmethod
        def _gc_bind(prim, args, params):
            return "high"

    assert so.add(Low(), High()) == "high"
    assert so.add(High(), Low()) == "high"
    assert so.add(Low(), 1.0) == "low"
    assert so.add(np.ones(2), 1.0).tolist() == [2.0, 2.0]


def test_getitem_grad_scatter_adds_repeated_indices():
    g = np.array([1.0, 2.0, 3.0, 4.0])
    out = P["getitem_grad"].impl(g, np.zeros(3), index=(np.array([0, 2, 0, 0]),))
    np.testing.assert_array_equal(out, [8.0, 0.0, 2.0])
    out = P["getitem_grad"].impl(np.ones(2), np.zeros(3), index=(np.array([True, False, True]),))
    np.testing.assert_array_equal(out, [1.0, 0.0, 1.0])


# ---- getitem's shape rule against NumPy ------------------------------------------

@st.composite
def shapes_and_indices(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    items, consumed, ellipsis = [], 0, False
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["int", "slice", "none", "ellipsis", "array", "mask"]))
        if kind == "int":
            items.append(draw(st.integers(-5, 5)))
            consumed += 1
        elif kind == "slice":
            bound = st.none() | st.integers(-5, 5)
            items.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1]))))
            consumed += 1
        elif kind == "none":
            items.append(None)
        elif kind == "ellipsis" and not ellipsis:
            items.append(Ellipsis)
            ellipsis = True
        elif kind == "array":
            size = draw(st.integers(0, 3))
            arr_shape = draw(st.sampled_from([(size,), (1, size), (size, 1)]))
            values = draw(st.lists(st.integers(-4, 3), min_size=size, max_size=size))
            items.append(np.array(values, dtype=np.int64).reshape(arr_shape))
            consumed += 1
        elif kind == "mask":
            nd = draw(st.integers(1, 2))
            mask_shape = shape[consumed:consumed + nd] or (2,)
            bits = draw(st.lists(st.booleans(), min_size=int(np.prod(mask_shape)),
                                 max_size=int(np.prod(mask_shape))))
            items.append(np.array(bits, dtype=bool).reshape(mask_shape))
            consumed += len(mask_shape)
    return shape, tuple(items)


@given(shapes_and_indices(), st.data())
def test_index_shape_matches_numpy(shape_index, data):
    from shared_ops.errors import IndexingError
    from shared_ops.ops_shape import index_shape

    shape, index = shape_index
    index = so.normalize_index(index)
    try:
        expected = np.zeros(shape)[index].shape
    except IndexError:
        with pytest.raises(IndexingError):
            index_shape(shape, index)
        return
    assert index_shape(shape, index) == expected
    unknown = data.draw(st.integers(0, len(shape) - 1))
    partial = shape[:unknown] + (None,) + shape[unknown + 1:]
    got = index_shape(partial, index)
    assert len(got) == len(expected)
    assert all(g is None or g == e for g, e in zip(got, expected))
    assert len(index_shape((None,) * len(shape), index)) == len(expected)


def test_index_shape_with_unknown_dims_does_not_allocate():
    from shared_ops.ops_shape import index_shape

    idx = (np.array([0, 1, 1]),)
    assert index_shape((None, None, None), idx) == (3, None, None)
    assert index_shape((None, 3), (slice(None), np.array([True, False, True]))) == (None, 2)
    assert index_shape((None, 3), (slice(None, None, 2),)) == (None, 3)
    # A slice's length is static only when no run-time size changes it: x[0:2]
    # has 2 elements only if x has 2 or more (an empty sequence gives 0).
    assert index_shape((None,), (slice(0, 2),)) == (None,)
    assert index_shape((None,), (slice(None, 1),)) == (None,)
    assert index_shape((None,), (slice(-1, None),)) == (None,)
    assert index_shape((None,), (slice(0, 0),)) == (0,)
    assert index_shape((None, 4), (slice(5, 2), slice(1, 3))) == (0, 2)
