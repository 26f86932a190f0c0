"""Sample inputs for every primitive, shared by the op-level tests.

`CASES` holds fixed, seeded cases (float64 unless a case is about dtypes)
that together touch every primitive in `shared_ops.REGISTRY`, including
broadcasting with size-1 dims. Inputs stay away from points where an op is
not differentiable (kinks of abs/relu/maximum/clip, log/sqrt of <= 0), so
the finite-difference VJP checks are meaningful. `DOMAINS` gives the same
samplers to the hypothesis tests, which draw the shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import shared_ops as so

_RNG = np.random.default_rng(1234)


@dataclass
class OpCase:
    """One call `prim(*args, **params)` with raw NumPy inputs."""

    prim: str
    args: tuple
    params: dict = field(default_factory=dict)
    label: str = ""
    nondiff: tuple = ()  # float inputs that carry no gradient (shape-only operands)

    @property
    def id(self) -> str:
        return f"{self.prim}-{self.label}" if self.label else self.prim

    @property
    def primitive(self) -> so.Primitive:
        return so.REGISTRY[self.prim]

    def diff_inputs(self) -> list[int]:
        """Positions of the float array inputs a gradient flows to."""
        return [i for i, a in enumerate(self.args)
                if isinstance(a, np.ndarray) and a.dtype.kind == "f" and i not in self.nondiff]


# ---- samplers: values of a given shape, away from nondifferentiable points ----

def generic(rng, shape):
    return np.asarray(rng.uniform(-2.0, 2.0, shape))


def positive(rng, shape):
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def away_from(kinks, margin=0.15):
    """Sampler of generic values pushed at least `margin` away from each kink."""
    def sample(rng, shape):
        x = np.asarray(generic(rng, shape), dtype=np.float64)
        for k in kinks:
            close = np.abs(x - k) < margin
            x[close] = k + np.where(x[close] >= k, 2 * margin, -2 * margin)
        return x
    return sample


away_zero = away_from([0.0])


def even_grid(rng, shape):
    """Values near even integers; `odd_grid` values are always >= 0.6 apart."""
    return np.asarray(2.0 * rng.integers(-1, 2, shape) + rng.uniform(-0.2, 0.2, shape))


def odd_grid(rng, shape):
    return np.asarray(2.0 * rng.integers(-1, 2, shape) + 1.0 + rng.uniform(-0.2, 0.2, shape))


def boolean(rng, shape):
    return np.asarray(rng.random(shape) < 0.5)


# Per-op samplers for the elementwise ops (one per input).
UNARY_DOMAINS: dict[str, Callable] = {
    "neg": generic, "exp": generic, "log": positive, "sqrt": positive, "abs": away_zero,
    "tanh": generic, "sigmoid": generic, "relu": away_zero,
}
BINARY_DOMAINS: dict[str, tuple] = {
    "add": (generic, generic), "sub": (generic, generic), "mul": (generic, generic),
    "div": (generic, away_from([0.0], 0.4)), "pow": (positive, generic),
    "maximum": (even_grid, odd_grid), "minimum": (even_grid, odd_grid),
}
CLIP_DOMAIN = away_from([-0.5, 0.5])


def _g(shape, sampler=generic):
    return np.asarray(sampler(_RNG, shape), dtype=np.float64)


def _build() -> list[OpCase]:
    cases: list[OpCase] = []
    add = cases.append

    # elementwise, including broadcasting with size-1 dims and Python scalars
    for name, (sa, sb) in BINARY_DOMAINS.items():
        add(OpCase(name, (_g((2, 3), sa), _g((2, 3), sb)), label="same"))
        add(OpCase(name, (_g((2, 1, 3), sa), _g((4, 1), sb)), label="bcast"))
        add(OpCase(name, (_g((3,), sa), _g((2, 1), sb)), label="bcast-rank"))
        add(OpCase(name, (_g((), sa), _g((2, 3), sb)), label="0d"))
    add(OpCase("mul", (_g((2, 3)), 2.5), label="pyscalar"))
    add(OpCase("add", (1.5, _g((2, 3))), label="pyscalar-left"))
    add(OpCase("div", (1.0, _g((3, 1), positive)), label="pyscalar-num"))
    add(OpCase("sub", (_g((2, 2)), 3), label="pyint"))
    add(OpCase("pow", (_g((2, 3)), 3.0), label="pyscalar-exp"))
    add(OpCase("pow", (_g((2, 3)), 2), label="pyint-exp"))
    add(OpCase("pow", (2.0, _g((2, 3))), label="pyscalar-base"))
    add(OpCase("pow", (_g((2, 3), positive), 0.5), label="sqrt-exp"))
    for name, sampler in UNARY_DOMAINS.items():
        add(OpCase(name, (_g((2, 3), sampler),)))
        add(OpCase(name, (_g((), sampler),), label="0d"))
    add(OpCase("where", (boolean(_RNG, (2, 3)), _g((2, 3)), _g((2, 3))), label="same"))
    add(OpCase("where", (boolean(_RNG, (3,)), _g((2, 1)), _g((1, 3))), label="bcast"))
    add(OpCase("where", (boolean(_RNG, (2, 1)), _g((2, 3)), 0.0), label="scalar"))
    add(OpCase("clip", (_g((3, 4), CLIP_DOMAIN),), {"lo": -0.5, "hi": 0.5}, "both"))
    add(OpCase("clip", (_g((3, 4), CLIP_DOMAIN),), {"lo": -0.5, "hi": None}, "lo"))
    add(OpCase("clip", (_g((3, 4), CLIP_DOMAIN),), {"lo": None, "hi": 0.5}, "hi"))
    add(OpCase("cast", (_g((2, 3)),), {"dtype": np.dtype(np.float64)}, "f64"))
    add(OpCase("cast", (_g((2, 3)),), {"dtype": np.dtype(np.float32)}, "f32"))
    add(OpCase("cast", (_g((2, 3)).astype(np.float32),), {"dtype": np.dtype(np.float64)},
               "f32-f64"))
    add(OpCase("cast", (_g((2, 3)),), {"dtype": np.dtype(np.int64)}, "int"))

    # not differentiable: values and shapes only
    for name in ("sign", "zeros_like", "stop_gradient", "logical_not"):
        arg = boolean(_RNG, (2, 3)) if name == "logical_not" else _g((2, 3))
        add(OpCase(name, (arg,)))
    for name in ("greater", "less", "equal", "not_equal", "greater_equal", "less_equal"):
        a = np.round(_g((2, 1, 3)))
        add(OpCase(name, (a, np.round(_g((4, 1))))))
        add(OpCase(name, (a, 0.0), label="pyscalar"))
    for name in ("logical_and", "logical_or"):
        add(OpCase(name, (boolean(_RNG, (2, 3)), boolean(_RNG, (1, 3)))))
    add(OpCase("axis_size", (_g((2, 3, 4)),), {"axes": (0, 2)}))

    # reductions and softmax
    x = _g((2, 3, 4))
    for name in ("sum", "mean", "max"):
        for axis, keep in (((0, 1, 2), False), ((1,), False), ((0, 2), True), ((2,), True),
                           ((), False)):
            add(OpCase(name, (x,), {"axis": axis, "keepdims": keep}, f"{axis}-{keep}"))
        add(OpCase(name, (_g(()),), {"axis": (), "keepdims": False}, "0d"))
    for name in ("softmax", "log_softmax"):
        for axis in (0, 1, 2):
            add(OpCase(name, (x,), {"axis": (axis,)}, f"axis{axis}"))
        add(OpCase(name, (_g((5,)) * 30,), {"axis": (0,)}, "large"))

    # matmul: 2-d, batched with broadcast batch dims, NumPy's vector cases
    for la, lb in (((2, 3), (3, 4)), ((2, 1, 3, 4), (3, 4, 2)), ((3,), (3, 4)),
                   ((2, 3), (3,)), ((3,), (3,)), ((2, 2, 3), (3,)), ((3,), (2, 3, 4)),
                   ((1, 2, 3), (4, 3, 2))):
        add(OpCase("matmul", (_g(la), _g(lb)), label=f"{la}@{lb}"))

    # shapes
    add(OpCase("reshape", (_g((2, 3, 4)),), {"shape": (6, 4)}, "2d"))
    add(OpCase("reshape", (_g((2, 3, 4)),), {"shape": (4, -1)}, "minus1"))
    add(OpCase("reshape", (_g((6,)),), {"shape": (1, 2, 3)}))
    add(OpCase("reshape_like", (_g((2, 6)), _g((3, 4))), nondiff=(1,)))
    add(OpCase("transpose", (_g((2, 3, 4)),), {"axes": (2, 0, 1)}))
    add(OpCase("transpose", (_g((2, 3)),), {"axes": (1, 0)}, "2d"))
    add(OpCase("broadcast_to", (_g((3, 1)),), {"shape": (2, 3, 4)}))
    add(OpCase("broadcast_to", (_g(()),), {"shape": (2, 3)}, "0d"))
    add(OpCase("expand_dims", (_g((2, 3)),), {"axis": (0, 3)}))
    add(OpCase("squeeze", (_g((1, 3, 1)),), {"axis": (0, 2)}))
    add(OpCase("squeeze", (_g((2, 1)),), {"axis": (1,)}, "one"))
    add(OpCase("concatenate", (_g((2, 3)), _g((1, 3)), _g((4, 3))), {"axis": 0}))
    add(OpCase("concatenate", (_g((2, 1, 3)), _g((2, 2, 3))), {"axis": 1}, "axis1"))
    indices = {
        "slice": (slice(1, None), slice(None, None, 2)),
        "negstep": (slice(None, None, -1),),
        "int": (1, slice(None), -1),
        "none-ellipsis": (None, Ellipsis, 0),
        "intarray-repeat": (np.array([1, 0, 1, 1]),),
        "intarray-2": (np.array([[0, 1], [1, 1]]), slice(None), np.array([3, 3])),
        "mask": (np.array([[True, False, True], [False, False, True]]),),
        "mask-axis1": (slice(None), np.array([True, False, True])),
    }
    x = _g((2, 3, 4))
    for label, index in indices.items():
        add(OpCase("getitem", (x,), {"index": index}, label))
    add(OpCase("getitem_grad", (_g((4, 3, 4)), x), {"index": indices["intarray-repeat"]},
               "intarray-repeat", nondiff=(1,)))
    add(OpCase("getitem_grad", (_g((1, 2)), x), {"index": (slice(1, None), 0, slice(1, 3))},
               "slice", nondiff=(1,)))
    add(OpCase("getitem_grad", (_g((3, 4)), x), {"index": indices["mask"]}, "mask",
               nondiff=(1,)))
    add(OpCase("add_n", (_g((2, 3)), _g((2, 3)), _g((2, 3)))))
    add(OpCase("add_n", (_g(()),), {}, "one"))
    return cases


NN_UNARY_DOMAINS: dict[str, Callable] = {
    "log1p": lambda rng, shape: np.asarray(rng.uniform(-0.6, 2.0, shape)),
    "expm1": generic, "sin": generic, "cos": generic}


def _build_nn() -> list[OpCase]:
    """Cases of the reductions, indexing, einsum, convolution and pooling ops."""
    cases: list[OpCase] = []
    add = cases.append
    for name, sampler in NN_UNARY_DOMAINS.items():
        add(OpCase(name, (_g((2, 3), sampler),)))
        add(OpCase(name, (_g((), sampler),), label="0d"))
    x = _g((2, 3, 4))
    for axis, keep in (((0, 1, 2), False), ((1,), False), ((0, 2), True), ((2,), True)):
        add(OpCase("logsumexp", (x,), {"axis": axis, "keepdims": keep}, f"{axis}-{keep}"))
        for corr in (0, 1):
            add(OpCase("var", (x,), {"axis": axis, "keepdims": keep, "correction": corr},
                       f"{axis}-{keep}-{corr}"))
    add(OpCase("logsumexp", (_g((5,)) * 400,), {"axis": (0,), "keepdims": False}, "large"))
    for name in ("argmax", "argmin"):
        add(OpCase(name, (x,), {"axis": 1, "keepdims": False}, "axis1"))
        add(OpCase(name, (x,), {"axis": 2, "keepdims": True}, "keep"))
        add(OpCase(name, (x,), {"axis": None, "keepdims": False}, "flat"))
    rows = np.array([[0, 2], [2, 2], [1, 0]])
    add(OpCase("take", (_g((3, 4)), rows), {"axis": 0}, "axis0-repeat"))
    add(OpCase("take", (x, np.array([3, 0, 3])), {"axis": 2}, "axis2"))
    add(OpCase("take_grad", (_g((3, 2, 4)), _g((3, 4)), rows), {"axis": 0}, nondiff=(1,)))
    index = np.array([[0, 0, 3], [2, 1, 1]])
    add(OpCase("gather", (_g((2, 4)), index), {"axis": 1}, "axis1"))
    add(OpCase("gather", (_g((4, 5)), np.array([[3, 0, 1], [3, 3, 2]])), {"axis": 0},
               "axis0-smaller"))
    add(OpCase("gather_grad", (_g((2, 3)), _g((2, 4)), index), {"axis": 1}, nondiff=(1,)))
    add(OpCase("one_hot", (np.array([[0, 3], [5, -1]]),),
               {"depth": 4, "dtype": np.dtype(np.float64)}))
    einsums = {"ij,jk->ik": ((2, 3), (3, 4)), "bij,bjk->bik": ((2, 3, 4), (2, 4, 2)),
               "ij->": ((2, 3),), "i,j->ij": ((3,), (4,)), "ij,k->i": ((2, 3), (4,)),
               "ij,jk,kl->li": ((2, 3), (3, 4), (4, 2)), "ijk->kij": ((2, 3, 4),),
               "ii->i": ((3, 3),), "ii->": ((3, 3),), "bii->bi": ((2, 3, 3),),
               "iij,jk->ik": ((3, 3, 2), (2, 4)), "iji,ik->jk": ((2, 3, 2), (2, 4)),
               "ij,ij->ij": ((1, 3), (4, 3)), "aij,ajk->aik": ((1, 2, 3), (5, 3, 4))}
    for spec, shapes in einsums.items():
        add(OpCase("einsum", tuple(_g(s) for s in shapes), {"spec": spec}, spec))
    for spec, shapes in {"ij->iij": ((3, 2), (3, 3, 2)), "j->iji": ((2,), (3, 2, 3)),
                         "i->ii": ((4,), (4, 4))}.items():
        add(OpCase("einsum_embed", tuple(_g(s) for s in shapes), {"spec": spec}, spec,
                   nondiff=(1,)))
    add(OpCase("add_n", (_g((2, 3)), _g((2, 3)), _g((2, 3)))))
    add(OpCase("add_n", (_g((3,)),), label="one"))
    convs = {"plain": (1, ((0, 0), (0, 0)), 1), "stride-pad": ((2, 1), ((1, 1), (2, 0)), 1),
             "dilation": ((1, 2), ((1, 0), (0, 1)), (2, 1))}
    image, weight = _g((2, 3, 6, 5)), _g((4, 3, 3, 2))
    for label, (stride, padding, dilation) in convs.items():
        p = so.window_params("conv2d", stride, padding, dilation)
        out = so.conv2d(image, weight, **p)
        add(OpCase("conv2d", (image, weight), p, label))
        add(OpCase("conv2d_input_grad", (_g(out.shape), weight, image), p, label,
                   nondiff=(2,)))
        add(OpCase("conv2d_weight_grad", (image, _g(out.shape), weight), p, label,
                   nondiff=(2,)))
        pool = {**p, "kernel": (3, 2), "padding": ((1, 0), (0, 1)) if label != "plain"
                else p["padding"]}
        pooled = so.max_pool2d(image, **pool)
        add(OpCase("max_pool2d", (image,), pool, label))
        add(OpCase("max_pool2d_grad", (_g(pooled.shape), image), pool, label, nondiff=(1,)))
        add(OpCase("max_pool2d_pick", (_g(image.shape), image), pool, label, nondiff=(1,)))
        for layout in ("hw", "hwc", "nhwc"):
            add(OpCase("max_pool2d_argmax", (image,), {**pool, "layout": layout},
                       f"{label}-{layout}"))
    _add_unpool_cases(add, image)
    return cases


def _add_unpool_cases(add, image) -> None:
    """max_unpool2d of non-overlapping windows' indices (each index once); its
    pick and scatter-add also of overlapping ones (repeated indices)."""
    for label, kernel, stride in (("plain", 2, 2), ("overlap", 3, 1)):
        pool = so.window_params("max_pool2d", stride, 0, 1)
        indices = so.max_pool2d_argmax(image, (kernel, kernel), layout="hw", **pool)
        if label == "plain":
            add(OpCase("max_unpool2d", (_g(indices.shape), indices),
                       {"size": image.shape[2:]}, label))
        add(OpCase("max_unpool2d_pick", (_g(image.shape), indices), {}, label))
        add(OpCase("max_unpool2d_scatter_add", (_g(indices.shape), indices,
                                                _g(image.shape)), {}, label, nondiff=(2,)))


CASES: list[OpCase] = _build() + _build_nn()
UNARY_DOMAINS.update(NN_UNARY_DOMAINS)


def cases_for(predicate) -> list[OpCase]:
    return [c for c in CASES if predicate(c)]


def differentiable_cases() -> list[OpCase]:
    """Cases where at least one float input gets a gradient through a VJP rule."""
    return [c for c in CASES if c.primitive.differentiable and c.diff_inputs()
            and np.asarray(c.primitive.impl(*c.args, **c.params)).dtype.kind == "f"]


def shared_ops_primitives() -> list[str]:
    """Primitives defined by shared_ops itself (other packages may register more)."""
    return [name for name, p in so.REGISTRY.items()
            if getattr(p.abstract_eval, "__module__", "").startswith("shared_ops")]
