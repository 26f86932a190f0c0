"""Custom differentiable functions: `dg.Function` with forward/backward.

As in PyTorch: subclass, write static `forward(ctx, *args)` and
`backward(ctx, *grad_outputs)`, call `MyFn.apply(*args)`. The contract is
checked: backward must return one gradient (or None) per forward input, each
shaped like its input.
"""

from __future__ import annotations

import numpy as np

from shared_ops import FunctionError, GradientError, InPlaceError, format_site
from shared_ops.errors import with_site
from shared_ops.sites import user_frame

from .dispatch import wrap
from .grad_mode import GRAD_MODE, no_grad, set_grad_enabled
from .node import Node, edge_key
from .tensor import Tensor


class FunctionCtx:
    """What forward leaves for backward (PyTorch's ctx)."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._saved_versions: tuple = ()
        self._non_differentiable: set = set()
        self._released = False
        self.materialize_grads = True
        self._where = ""  # " in 'MyFn' (created at file:line)", set when recorded

    def save_for_backward(self, *tensors) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise FunctionError(f"save_for_backward takes Tensors or None, got "
                                    f"{type(t).__name__}")
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version[0] for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise GradientError(f"saved_tensors{self._where} were freed by an earlier "
                                "backward: pass retain_graph=True to backward() to use them twice")
        for t, seen in zip(self._saved, self._saved_versions):
            if t is not None and t._version[0] != seen:
                raise InPlaceError(f"a tensor saved with save_for_backward{self._where} was "
                                   f"modified in place (version {t._version[0]}, expected {seen})")
        return self._saved

    def mark_non_differentiable(self, *outputs) -> None:
        self._non_differentiable.update(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def _release(self) -> None:
        self._saved = ()
        self._released = True


class _FunctionOp:
    """Adapter so a Function's node looks like a primitive to the engine."""

    def __init__(self, cls) -> None:
        self.cls = cls
        self.name = cls.__name__

    def run_backward(self, node: Node, grads: list, create_graph: bool):
        ctx, metas = node.params["ctx"], node.params["outputs"]
        wrapped = []
        for g, (shape, dtype) in zip(grads, metas):
            if g is None and ctx.materialize_grads:
                g = np.zeros(shape, dtype)
            wrapped.append(g if g is None or isinstance(g, Tensor) else wrap(np.asarray(g)))
        with set_grad_enabled(create_graph):
            result = self.cls.backward(ctx, *wrapped)
        return self._check(node, result if isinstance(result, tuple) else (result,),
                           create_graph)

    def _check(self, node: Node, result: tuple, create_graph: bool) -> tuple:
        where = format_site(node.site)
        shapes = node.params["input_shapes"]
        if len(result) < len(shapes) or any(r is not None for r in result[len(shapes):]):
            raise FunctionError(with_site(
                f"{self.name}.backward returned {len(result)} gradients, expected "
                f"{len(shapes)} (one per forward input, None where there is none)", where))
        out = []
        for i, (g, shape, edge) in enumerate(zip(result, shapes, node.edges)):
            if g is None or edge is None:
                out.append(None)
                continue
            data = g._data if isinstance(g, Tensor) else np.asarray(g)
            if data.shape != shape:
                raise FunctionError(with_site(
                    f"{self.name}.backward returned a gradient of shape {data.shape} for "
                    f"input {i}, expected {shape}", where))
            out.append(g if create_graph and isinstance(g, Tensor) else data)
        return tuple(out)


class Function:
    """Base class for user-defined differentiable operations."""

    @staticmethod
    def forward(ctx, *args):
        raise FunctionError("a dg.Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise FunctionError("a dg.Function subclass must define backward(ctx, *grads) "
                            "to be differentiated")

    @classmethod
    def apply(cls, *args):
        needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            result = cls.forward(ctx, *args)
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        for o in outputs:
            if not isinstance(o, Tensor):
                raise FunctionError(f"{cls.__name__}.forward must return Tensors, got "
                                    f"{type(o).__name__}")
        if not (GRAD_MODE.enabled and any(needs)):
            return result
        outputs = _attach(cls, ctx, args, outputs, needs)
        return outputs[0] if single else outputs


def _attach(cls, ctx, args, outputs, needs) -> tuple:
    """Record one node for the call; give the differentiable outputs its grad_fn."""
    edges = tuple(
        (None if not need else (a if a._edge is None else a._edge))
        for a, need in zip(args, needs))
    params = {"ctx": ctx, "outputs": [(o.shape, o.dtype) for o in outputs],
              "input_shapes": [a.shape if isinstance(a, Tensor) else np.shape(a) for a in args]}
    node = Node(_FunctionOp(cls), params, (), None, edges, (), user_frame(3), len(outputs))
    ctx._where = f" in {node.where()}"
    attached = []
    for i, o in enumerate(outputs):
        if id(o) in ctx._non_differentiable:
            attached.append(o)
            continue
        t = wrap(o._data, True)
        t._version = o._version
        t._edge = edge_key(node, i)
        attached.append(t)
    return tuple(attached)
