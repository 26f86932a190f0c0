"""The op cases: math, reductions, indexing, einsum (string and sublist forms),
bmm, embedding, convolution and pooling, as in PyTorch and staticgraph."""

from __future__ import annotations

import numpy as np

import shared_ops as so
import staticgraph as sg

from .cases import Case


def _f(m):
    return m.nn.functional


def _unpool(m, x):
    values, indices = _f(m).max_pool2d(x, 2, return_indices=True)
    return _f(m).max_unpool2d(values, indices, 2, output_size=(6, 5))


def _sg_unpool(x):
    return so.max_unpool2d(so.max_pool2d(x, 2), so.max_pool2d_argmax(x, 2), (6, 5))


GATHER_INDEX = [[0, 0], [3, 1], [2, 2]]
CONV_ARGS = {  # stride, padding, dilation, groups; the static spelling where it has one
    "conv2d": ((1, 0, 1, 1), True),
    "conv2d-strided": (((2, 1), (1, 2), 1, 1), True),
    "conv2d-groups": ((2, 1, (2, 1), 2), False),
    "conv2d-same": ((1, "same", 2, 1), False),
}


def _conv_case(name: str) -> Case:
    (stride, padding, dilation, groups), static = CONV_ARGS[name]
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}

    def sg_fn(x, w, b):
        out = so.conv2d(x, w, stride, padding, dilation)
        return out + sg.reshape(b, (1, 6, 1, 1))

    return Case(name, ((2, 4, 7, 6), (6, 4 // groups, 3, 2), (6,)),
                lambda m, x, w, b: _f(m).conv2d(x, w, b, **kw),
                sg_fn=sg_fn if static else None)


OP_CASES = [
    Case("log1p", ((4, 3),), lambda m, x: m.log1p(x.abs()),
         sg_fn=lambda x: sg.log1p(sg.abs(x))),
    Case("expm1", ((4, 3),), lambda m, x: m.expm1(x), sg_fn=sg.expm1),
    Case("sin-cos", ((4, 3),), lambda m, x: m.sin(x) * m.cos(x),
         sg_fn=lambda x: sg.sin(x) * sg.cos(x)),
    Case("logsumexp", ((3, 4, 2),), lambda m, x: m.logsumexp(x, 1, keepdim=True),
         sg_fn=lambda x: sg.reduce_logsumexp(x, 1, keepdims=True)),
    Case("var", ((3, 4),), lambda m, x: x.var(1), sg_fn=lambda x: so.var(x, 1)),
    Case("var-biased", ((3, 4),), lambda m, x: x.var(0, unbiased=False, keepdim=True),
         sg_fn=lambda x: sg.reduce_variance(x, 0, keepdims=True)),
    Case("std", ((3, 4),), lambda m, x: m.std(x, correction=0), sg_fn=sg.reduce_std),
    Case("gather", ((3, 4),), lambda m, x: m.gather(x, 1, m.tensor(GATHER_INDEX)),
         sg_fn=lambda x: so.gather(x, np.array(GATHER_INDEX), 1)),
    Case("index_select", ((4, 3),), lambda m, x: x.index_select(0, m.tensor([3, 0, 3])),
         sg_fn=lambda x: sg.gather(x, [3, 0, 3])),
    Case("split", ((5, 2),), lambda m, x: x.split(2)[2] * 3 + x.split([1, 4])[0],
         sg_fn=lambda x: sg.split(x, [2, 2, 1])[2] * 3 + sg.split(x, [1, 4])[0]),
    Case("einsum", ((2, 3, 4),), lambda m, x: m.einsum("bij,bkj->bik", x, x),
         sg_fn=lambda x: sg.einsum("bij,bkj->bik", x, x)),
    Case("einsum-diagonal", ((2, 3, 3),),
         lambda m, x: m.einsum("bii->bi", x) * m.einsum("bjj", x)[:, None],
         sg_fn=lambda x: sg.einsum("bii->bi", x) * sg.einsum("bjj", x)[:, None]),
    Case("einsum-repeat-contract", ((3, 3, 3),), lambda m, x: m.einsum("iij,jk->ik", x, x[0]),
         sg_fn=lambda x: sg.einsum("iij,jk->ik", x, x[0])),
    Case("einsum-broadcast", ((2, 3, 4),),
         lambda m, x: m.einsum("...ij,...kj->...ik", x, x[:1]),
         sg_fn=lambda x: sg.einsum("...ij,...kj->...ik", x, x[:1])),
    Case("einsum-sublist", ((2, 3), (3, 4)),
         lambda m, a, b: m.einsum(a, [0, 1], b, [1, 27], [27, 0]),
         sg_fn=lambda a, b: sg.einsum(a, [0, 1], b, [1, 27], [27, 0])),
    Case("einsum-sublist-implicit", ((2, 3, 4),), lambda m, x: m.einsum(x, [1, 2, 0]),
         sg_fn=lambda x: sg.einsum(x, [1, 2, 0])),
    Case("einsum-sublist-ellipsis", ((2, 3, 4), (1, 4, 2)),
         lambda m, a, b: m.einsum(a, [..., 0, 1], b, [..., 1, 2], [..., 2, 0]),
         sg_fn=lambda a, b: sg.einsum(a, [..., 0, 1], b, [..., 1, 2], [..., 2, 0])),
    Case("max_unpool2d", ((2, 3, 6, 5),), _unpool, sg_fn=_sg_unpool),
    Case("bmm", ((2, 3, 3),), lambda m, x: m.bmm(x, x), sg_fn=lambda x: sg.matmul(x, x)),
    Case("embedding", ((5, 3),),
         lambda m, x: _f(m).embedding(m.tensor([[0, 4], [4, 1]]), x, padding_idx=1)),
    # ceil_mode's extra window is explicit end padding in the static spelling
    Case("max_pool2d", ((2, 3, 7, 6),),
         lambda m, x: _f(m).max_pool2d(x, 3, 2, 1, ceil_mode=True),
         sg_fn=lambda x: so.max_pool2d(x, 3, 2, ((1, 1), (1, 2)))),
    Case("max_pool2d-dilation", ((1, 2, 7, 7),),
         lambda m, x: _f(m).max_pool2d(x, 2, 1, dilation=2),
         sg_fn=lambda x: so.max_pool2d(x, 2, 1, 0, 2)),
    *[_conv_case(name) for name in CONV_ARGS],
]
