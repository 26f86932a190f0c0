"""Generators of the math, reduction, indexing, einsum, convolution and pooling
steps: log1p, expm1, sin, cos, logsumexp, var, argmax, argmin, take, gather,
one_hot, einsum, add_n, conv2d, max_pool2d, and the gradient, index and unpool
ops beside them.

Index operands are tuples of ints inside the indexed dim (every engine makes
them constants); conv2d and max_pool2d get a small 4-d operand (an existing
one or a new input). Bounds live in `values.NN_BOUNDS`.
"""

from __future__ import annotations

import numpy as np

import shared_ops.api as A
from shared_ops.ops_conv import conv_shape

from .builder import Builder
from .gen_elementwise import FLOAT, array_operand, bounded, positive, reduction, unary
from .program import Ref
from .values import MAX_SIZE


def gen_var(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    ndim = b.info[x].ndim
    axis = tuple(a for a in range(ndim) if b.c.boolean(0.5)) or None
    return b.emit("var", [Ref(x)], {"axis": axis, "keepdims": b.c.boolean(0.4),
                                    "correction": 0})


def arg_reduction(op: str):
    def gen(b: Builder) -> str | None:
        x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
        ndim = b.info[x].ndim
        axis = None if ndim == 0 or b.c.boolean(0.3) else b.c.integer(0, ndim - 1)
        made = b.emit(op, [Ref(x)], {"axis": axis, "keepdims": b.c.boolean(0.3)})
        if made is None or b.c.boolean(0.3):
            return made
        other = b.pick(lambda i: FLOAT(i) and _fits(i.shape, b.info[made].shape))
        return other and b.emit("mul", [Ref(other), Ref(made)])  # int64 meets float64
    gen.__name__ = f"gen_{op}"
    return gen


def _fits(a: tuple, c: tuple) -> bool:
    try:
        return int(np.prod(np.broadcast_shapes(a, c))) <= MAX_SIZE
    except ValueError:
        return False


def gen_take(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    info = b.info[x]
    if info.ndim == 0:
        return None
    axis = b.c.integer(0, info.ndim - 1)
    n = info.shape[axis]
    indices = tuple(b.c.integer(0, n - 1) for _ in range(b.c.integer(1, 3)))
    return b.emit("take", [Ref(x), indices], {"axis": axis})


def gen_gather(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    shape = b.info[x].shape
    if not shape:
        return None
    axis = b.c.integer(0, len(shape) - 1)
    index_shape = shape[:axis] + (b.c.integer(1, 3),) + shape[axis + 1:]
    flat = [b.c.integer(0, shape[axis] - 1) for _ in range(int(np.prod(index_shape)))]
    index = np.array(flat, dtype=np.int64).reshape(index_shape).tolist()
    return b.emit("gather", [Ref(x), _nested_tuple(index), axis])


def _nested_tuple(value):
    return tuple(_nested_tuple(v) for v in value) if isinstance(value, list) else value


def gen_one_hot(b: Builder) -> str | None:
    ids = b.operand(lambda i: i.kind == "i" and i.ndim <= 2, kind="i")
    return b.emit("one_hot", [Ref(ids), b.c.integer(2, 4)], {"dtype": np.dtype(np.float64)})


LETTERS = "abcd"


def gen_einsum(b: Builder) -> str | None:
    """x with a partner sharing some of x's letters plus a new one (or x alone)."""
    x = b.operand(FLOAT)
    shape = b.info[x].shape
    subs = LETTERS[:len(shape)]
    sizes = dict(zip(subs, shape))
    operands = [Ref(x)]
    specs = [subs]
    if b.c.boolean(0.7):
        shared = [s for s in subs if b.c.boolean(0.6)]
        partner = "".join(shared) + "z"
        sizes["z"] = b.c.integer(1, 3)
        operands.append(array_operand(b, tuple(sizes[s] for s in partner)))
        specs.append(partner)
    letters = "".join(sizes)
    out = "".join(s for s in letters if b.c.boolean(0.5))
    return b.emit("einsum", [",".join(specs) + "->" + out, *operands])


def gen_add_n(b: Builder) -> str | None:
    x = b.operand(FLOAT)
    shape = b.info[x].shape
    others = [array_operand(b, shape) for _ in range(b.c.integer(1, 2))]
    return b.emit("add_n", [[Ref(x), *others]])


def image(b: Builder) -> str:
    """A 4-d float value (N, C, H, W) of at most MAX_SIZE elements."""
    name = b.pick(lambda i: FLOAT(i) and i.ndim == 4 and min(i.shape[2:]) >= 2)
    if name is not None and b.c.boolean(0.6):
        return name
    n, c = b.c.integer(1, 2), b.c.integer(1, 2)
    h = b.c.integer(2, 4)
    w = max(2, min(4, MAX_SIZE // (n * c * h)))
    return b.new_input((n, c, h, w))


def gen_conv2d(b: Builder) -> str | None:
    x = image(b)
    _, c, h, w = b.info[x].shape
    kernel = (b.c.integer(1, min(2, h)), b.c.integer(1, min(2, w)))
    weight = array_operand(b, (b.c.integer(1, 2), c) + kernel)
    return b.emit("conv2d", [Ref(x), weight], {"stride": b.c.integer(1, 2),
                                                 "padding": b.c.integer(0, 1)})


def gen_max_pool2d(b: Builder) -> str | None:
    x = image(b)
    kernel = b.c.integer(1, 2)
    return b.emit("max_pool2d", [Ref(x), kernel], {"stride": b.c.integer(1, 2),
                                                    "padding": b.c.integer(0, kernel // 2)})


# ---- the gradient ops, with a cotangent of the forward op's output shape ----------

def gen_take_grad(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    shape = b.info[x].shape
    if not shape:
        return None
    axis = b.c.integer(0, len(shape) - 1)
    indices = tuple(b.c.integer(0, shape[axis] - 1) for _ in range(b.c.integer(1, 3)))
    g = array_operand(b, shape[:axis] + (len(indices),) + shape[axis + 1:])
    return b.emit("take_grad", [g, Ref(x), indices, axis])


def gen_gather_grad(b: Builder) -> str | None:
    x = b.operand(lambda i: FLOAT(i) and i.ndim >= 1)
    shape = b.info[x].shape
    if not shape:
        return None
    axis = b.c.integer(0, len(shape) - 1)
    index_shape = shape[:axis] + (b.c.integer(1, 3),) + shape[axis + 1:]
    flat = [b.c.integer(0, shape[axis] - 1) for _ in range(int(np.prod(index_shape)))]
    index = _nested_tuple(np.array(flat, dtype=np.int64).reshape(index_shape).tolist())
    return b.emit("gather_grad", [array_operand(b, index_shape), Ref(x), index, axis])


def _window(b: Builder, x: str, kernel: tuple) -> dict | None:
    """Normalised window params for x and kernel; None when no window fits."""
    params = A.window_params("fuzz", b.c.integer(1, 2), b.c.integer(0, 1) * min(kernel) // 2,
                             1)
    out = [(n + sum(p) - k) // s + 1 for n, k, s, p in zip(
        b.info[x].shape[2:], kernel, params["stride"], params["padding"])]
    return params if min(out) >= 1 else None


def gen_conv2d_grads(b: Builder) -> str | None:
    x = image(b)
    n, c, h, w = b.info[x].shape
    kernel = (b.c.integer(1, min(2, h)), b.c.integer(1, min(2, w)))
    params = _window(b, x, kernel)
    if params is None:
        return None
    weight_shape = (b.c.integer(1, 2), c) + kernel
    out = conv_shape("conv2d", (n, c, h, w), kernel, **params)
    g = array_operand(b, (n, weight_shape[0]) + out)
    if b.c.boolean(0.5):
        return b.emit("conv2d_input_grad", [g, array_operand(b, weight_shape), Ref(x)], params)
    return b.emit("conv2d_weight_grad", [Ref(x), g, array_operand(b, weight_shape)], params)


def gen_max_pool2d_grads(b: Builder) -> str | None:
    x = image(b)
    kernel = (b.c.integer(1, 2), b.c.integer(1, 2))
    params = _window(b, x, kernel)
    if params is None:
        return None
    params["kernel"] = kernel
    if b.c.boolean(0.5):
        return b.emit("max_pool2d_pick", [array_operand(b, b.info[x].shape), Ref(x)], params)
    n, c, h, w = b.info[x].shape
    out = conv_shape("max_pool2d", (n, c, h, w), kernel, stride=params["stride"],
                     padding=params["padding"], dilation=params["dilation"])
    return b.emit("max_pool2d_grad", [array_operand(b, (n, c) + out), Ref(x)], params)


def gen_einsum_embed(b: Builder) -> str | None:
    """x written onto a diagonal: its first letter repeated in the target."""
    x = b.operand(lambda i: FLOAT(i) and 1 <= i.ndim <= 2)
    shape = b.info[x].shape
    if not 1 <= len(shape) <= 2:
        return None
    subs = LETTERS[:len(shape)]
    target = array_operand(b, (shape[0],) + shape)
    return b.emit("einsum_embed", [Ref(x), target, f"{subs}->{subs[0]}{subs}"])


def gen_max_pool2d_argmax(b: Builder) -> str | None:
    x = image(b)
    kernel = b.c.integer(1, 2)
    return b.emit("max_pool2d_argmax", [Ref(x), kernel], {
        "stride": b.c.integer(1, 2), "padding": b.c.integer(0, kernel // 2),
        "layout": ("hw", "hwc", "nhwc")[b.c.integer(0, 2)]})


def _plane_indices(b: Builder, shape: tuple, plane: int, distinct: bool) -> tuple:
    """Constant int indices of `shape` into a plane of `plane` elements (distinct
    within each (n, c) plane when asked)."""
    n, c, h, w = shape
    if distinct:
        offset = b.c.integer(0, plane - h * w)
        flat = [offset + k for _ in range(n * c) for k in range(h * w)]
    else:
        flat = [b.c.integer(0, plane - 1) for _ in range(n * c * h * w)]
    return _nested_tuple(np.array(flat, dtype=np.int64).reshape(shape).tolist())


def gen_max_unpool2d(b: Builder) -> str | None:
    x = image(b)
    shape = b.info[x].shape
    size = (shape[2] + b.c.integer(0, 1), shape[3] + b.c.integer(0, 1))
    indices = _plane_indices(b, shape, size[0] * size[1], distinct=True)
    return b.emit("max_unpool2d", [Ref(x), indices, size])


def gen_max_unpool2d_pick(b: Builder) -> str | None:
    g = image(b)
    n, c, h, w = b.info[g].shape
    picked = (n, c, b.c.integer(1, h), b.c.integer(1, w))
    return b.emit("max_unpool2d_pick", [Ref(g), _plane_indices(b, picked, h * w, False)])


def gen_max_unpool2d_scatter_add(b: Builder) -> str | None:
    like = image(b)
    n, c, h, w = b.info[like].shape
    shape = (n, c, b.c.integer(1, h), b.c.integer(1, w))
    indices = _plane_indices(b, shape, h * w, False)
    return b.emit("max_unpool2d_scatter_add", [array_operand(b, shape), indices, Ref(like)])


GENERATORS = {
    "log1p": lambda b: (lambda x: x and b.emit("log1p", [Ref(x)]))(positive(b)),
    "expm1": lambda b: (lambda x: x and b.emit("expm1", [Ref(x)]))(bounded(b)),
    "sin": unary("sin"), "cos": unary("cos"),
    "logsumexp": reduction("logsumexp"), "var": gen_var,
    "argmax": arg_reduction("argmax"), "argmin": arg_reduction("argmin"),
    "take": gen_take, "gather": gen_gather, "one_hot": gen_one_hot, "einsum": gen_einsum,
    "add_n": gen_add_n, "conv2d": gen_conv2d, "max_pool2d": gen_max_pool2d,
    "take_grad": gen_take_grad, "gather_grad": gen_gather_grad,
    "conv2d_input_grad": gen_conv2d_grads, "conv2d_weight_grad": gen_conv2d_grads,
    "max_pool2d_grad": gen_max_pool2d_grads, "max_pool2d_pick": gen_max_pool2d_grads,
    "einsum_embed": gen_einsum_embed, "max_pool2d_argmax": gen_max_pool2d_argmax,
    "max_unpool2d": gen_max_unpool2d, "max_unpool2d_pick": gen_max_unpool2d_pick,
    "max_unpool2d_scatter_add": gen_max_unpool2d_scatter_add,
}
