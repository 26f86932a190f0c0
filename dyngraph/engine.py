"""Backward: a topological walk of the tape calling the shared VJP rules.

With create_graph=False the rules run on raw ndarrays (fast, nothing
recorded; matmul and the ops of `array_rules.ARRAY_RULES` take the rules
written for arrays there). With
create_graph=True they run on Tensors with grad mode on, so the gradient
computation is itself recorded (higher-order gradients).
"""

from __future__ import annotations

from heapq import heappop, heappush

import numpy as np

from shared_ops import GradientError, Primitive, ShapeError

from .array_rules import ARRAY_RULES, MATMUL, matmul_grads
from .dispatch import TensorBase, active_trace_state, wrap
from .grad_mode import set_grad_enabled
from .hooks import ANOMALY, NODE_HOOKS, apply_leaf_hooks, apply_node_hooks, check_gradients
from .node import INPLACE_COUNT, RETAINED, Node, bump_version, edge_key


def _seed(root: TensorBase, gradient, create_graph: bool):
    if not root._requires_grad:
        raise GradientError("backward on a tensor that does not require grad and has no "
                            "grad_fn: did you forget requires_grad=True?")
    if gradient is None:
        if root._data.size != 1:
            made_by = f" made by {root.grad_fn.where()}" if root.grad_fn is not None else ""
            raise GradientError(
                f"backward on a non-scalar tensor of shape {root.shape}{made_by} needs "
                "`gradient` (grad can be created implicitly only for scalar outputs)")
        g = np.ones_like(root._data)
    else:
        g = gradient._data if isinstance(gradient, TensorBase) else np.asarray(gradient,
                                                                           root.dtype)
        if g.shape != root.shape:
            raise ShapeError(f"backward: gradient shape {g.shape} differs from the "
                             f"tensor's shape {root.shape}")
        if create_graph and isinstance(gradient, TensorBase):
            return gradient
    return wrap(g) if create_graph else g


def _materialize(node: Node, inputs, create_graph: bool):
    """Raw values (create_graph=False) or Tensors rebuilt on the tape."""
    if not create_graph:
        return inputs, node.out
    values = []
    for data, edge in zip(inputs, node.edges):
        if edge is None:
            values.append(data)
        elif type(edge) is Node or type(edge) is tuple:
            t = wrap(data, True)
            t._edge = edge
            values.append(t)
        else:
            values.append(edge)  # the leaf itself
    out = wrap(node.out, True)
    out._edge = node
    return values, out


def _call_rule(node: Node, grads: list, create_graph: bool):
    """Input cotangents of one node, given its output cotangents."""
    node.check_usable()
    if not isinstance(node.op, Primitive):  # a custom Function
        return node.op.run_backward(node, grads, create_graph)
    if create_graph:
        inputs, out = _materialize(node, node.inputs, create_graph)
        return node.op.vjp(grads[0], out, *inputs, needs=node.needs, **node.params)
    return node.op.vjp(grads[0], node.out, *node.inputs, needs=node.needs, **node.params)


def run_backward(roots, seeds, retain_graph: bool, create_graph: bool, capture=None):
    """Propagate seeds from roots; return ({leaf: grad}, {key: grad}, walked nodes).

    Nodes with a pending gradient wait in a heap and run newest first: a node
    is newer than every node it reads, so all of its consumers have run by
    then (a topological order without a separate sort). The hot path holds
    one newly queued node beside the heap, so a chain never touches it.
    `capture` holds the keys of non-leaf tensors whose total gradient the
    caller wants (dg.grad). Nothing is changed on the way: `retain_grad`
    tensors get their gradients and the walked nodes free their saved values
    (without retain_graph) only in `commit_backward`, once the caller's checks
    passed, so a failed backward leaves the tape as it was.
    """
    pending: dict = {}
    leaves: dict = {}
    heap: list = []
    owned: set = set()  # leaves whose gradient sum is a buffer this walk made
    for root, g in zip(roots, seeds):
        _route_one(root if root._edge is None else root._edge, g, pending, leaves, heap, owned)
    captured: dict = {}
    walked: list = []
    observed: dict = {}  # node -> {output index: gradient} for retain_grad tensors
    observe = capture is not None or bool(RETAINED) or bool(NODE_HOOKS)  # fixed for the walk
    anomaly = ANOMALY.enabled
    fast = not create_graph and not observe and not anomaly
    inplace = INPLACE_COUNT
    transposes: dict = {}  # matmul_grads' contiguous transposes of reused operands
    held = None  # the newest node just queued, kept out of the heap (chains)
    while True:
        if held is not None and (not heap or held.seq > -heap[0][0]):
            node, held = held, None
        elif heap:
            if held is not None:
                heappush(heap, (-held.seq, held))
                held = None
            node = heappop(heap)[1]
        else:
            break
        op = node.op
        if node.n_out == 1:
            g = pending.pop(node)
            if fast and type(op) is Primitive:
                # The hot path: a primitive's VJP on raw arrays.
                if node.epoch != inplace[0] or node.inputs is None:
                    node.check_usable()
                if op is MATMUL:
                    in_grads = matmul_grads(g, *node.inputs, node.needs, transposes)
                else:
                    rule = ARRAY_RULES.get(op)
                    if rule is not None:
                        in_grads = rule(g, node.out, node.inputs, node.needs)
                    else:
                        in_grads = op.vjp(g, node.out, *node.inputs, needs=node.needs,
                                          **node.params)
                walked.append(node)
                for edge, g in zip(node.edges, in_grads):
                    if edge is None or g is None:
                        continue
                    kind = type(edge)
                    if kind is Node and edge.n_out == 1:
                        prev = pending.get(edge)
                        if prev is not None:
                            pending[edge] = prev + g
                            continue
                        pending[edge] = g
                        if held is None:
                            held = edge
                        else:
                            heappush(heap, (-edge.seq, edge))
                    else:  # a leaf, or an output of a multi-output node
                        _route_one(edge, g, pending, leaves, heap, owned)
                continue
            grads = [g]
        else:
            pending.pop((node, -1))
            grads = [pending.pop(edge_key(node, i), None) for i in range(node.n_out)]
        if observe:
            _observe(node, grads, capture, captured, observed)
        in_grads = _call_rule(node, grads, create_graph)
        if anomaly:
            check_gradients(node, in_grads)
        walked.append(node)
        _route(node.edges, in_grads, pending, leaves, heap, owned)
    return leaves, captured, (walked, observed)


def commit_backward(done: tuple, retain_graph: bool) -> None:
    """After a successful walk (`done` from run_backward): fill `retain_grad`
    tensors, free the walked nodes' saved values unless retain_graph."""
    walked, observed = done
    for node, grads in observed.items():
        retained = RETAINED.get(node) or {}
        for i, g in grads.items():
            if i in retained:
                _retain(retained[i](), g)
    if not retain_graph:
        for node in walked:
            node.release()


def _route(edges, in_grads, pending: dict, leaves: dict, heap: list, owned: set) -> None:
    """Route each input cotangent of a node along its edge."""
    for edge, g in zip(edges, in_grads):
        if edge is not None and g is not None:
            _route_one(edge, g, pending, leaves, heap, owned)


def _route_one(edge, g, pending: dict, leaves: dict, heap: list, owned: set) -> None:
    """Add a cotangent to its edge's pending sum (queueing a new node) or its leaf's."""
    if type(edge) is Node or type(edge) is tuple:
        prev = pending.get(edge)
        if prev is None:
            pending[edge] = g
            _enqueue(edge if type(edge) is Node else edge[0], pending, heap)
        else:
            pending[edge] = prev + g
        return
    prev = leaves.get(edge)
    if prev is None:
        leaves[edge] = g  # a rule's result, maybe shared with another edge: not written to
    elif edge in owned and type(g) is np.ndarray and g.shape == prev.shape and \
            g.dtype == prev.dtype:
        np.add(prev, g, out=prev)  # a weight shared by T steps: no new buffer per step
    else:
        leaves[edge] = total = prev + g
        if type(total) is np.ndarray:
            owned.add(edge)


def _enqueue(node: Node, pending: dict, heap: list) -> None:
    """Queue a node for the walk; a multi-output node only once (a marker key)."""
    if node.n_out > 1:
        marker = (node, -1)
        if marker in pending:
            return
        pending[marker] = None
    heappush(heap, (-node.seq, node))


def _observe(node: Node, grads: list, capture, captured: dict, observed: dict) -> None:
    """Run the hooks on the gradients flowing into a node's outputs (replacing them
    in `grads`), then record them for dg.grad / retain_grad."""
    apply_node_hooks(node, grads)
    for i, g in enumerate(grads):
        if g is None:
            continue
        key = edge_key(node, i)
        if capture is not None and key in capture:
            captured[key] = g
        retained = RETAINED.get(node)
        if retained and i in retained:
            observed.setdefault(node, {})[i] = g


def _retain(tensor, g) -> None:
    if tensor is None:
        return
    g = g if isinstance(g, TensorBase) else wrap(np.asarray(g))
    tensor.grad = g if tensor.grad is None else tensor.grad + g


def _checked(leaf: TensorBase, g, create_graph: bool):
    """A leaf's gradient as an array of its dtype (a tensor with create_graph)."""
    if isinstance(g, TensorBase):
        g = g if create_graph else g._data
    if not isinstance(g, TensorBase):
        g = np.asarray(g)
        if g.dtype != leaf.dtype:
            g = g.astype(leaf.dtype)
        if g.shape != leaf.shape:  # a VJP rule bug: never hide it by broadcasting
            raise GradientError(f"internal error: gradient of shape {g.shape} for a leaf "
                                f"of shape {leaf.shape}; please report it")
    return g


def _accumulate(leaf: TensorBase, g, create_graph: bool) -> None:
    """leaf.grad += g (in place when the buffer is ours, as PyTorch does); `g` from
    `_checked`."""
    if leaf.grad is None:
        leaf.grad = g if isinstance(g, TensorBase) else wrap(np.array(g, copy=True))
    elif create_graph or isinstance(g, TensorBase) or leaf.grad._requires_grad:
        leaf.grad = leaf.grad + g
    else:
        np.add(leaf.grad._data, g, out=leaf.grad._data)
        bump_version(leaf.grad)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """Accumulate gradients of `tensors` into the leaves' `.grad` (torch semantics)."""
    tensors = [tensors] if isinstance(tensors, TensorBase) else list(tensors)
    trace = active_trace_state()
    if trace is not None:
        if create_graph:
            raise GradientError("backward(create_graph=True) inside a compiled function: "
                                "differentiate twice without dg.compile")
        seeds = None if grad_tensors is None else (
            [grad_tensors] if isinstance(grad_tensors, TensorBase) else list(grad_tensors))
        trace.backward(tensors, seeds, inputs)
        return
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    retain = create_graph if retain_graph is None else retain_graph
    with set_grad_enabled(create_graph):
        seeds = [_seed(t, g, create_graph) for t, g in zip(tensors, grad_tensors)]
        leaves, _, done = run_backward(tensors, seeds, retain, create_graph)
        apply_leaf_hooks(leaves)
        allowed = None if inputs is None else {id(t) for t in inputs}
        chosen = [(leaf, _checked(leaf, g, create_graph)) for leaf, g in leaves.items()
                  if allowed is None or id(leaf) in allowed]
        commit_backward(done, retain)
        for leaf, g in chosen:
            _accumulate(leaf, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of outputs w.r.t. inputs, returned (not accumulated)."""
    outputs = [outputs] if isinstance(outputs, TensorBase) else list(outputs)
    single = isinstance(inputs, TensorBase)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, TensorBase):
        grad_outputs = [grad_outputs] * len(outputs)
    trace = active_trace_state()
    if trace is not None:
        if create_graph:
            raise GradientError("dg.grad(create_graph=True) inside a compiled function: "
                                "differentiate twice without dg.compile")
        return trace.grad(outputs, inputs, list(grad_outputs), allow_unused)
    retain = create_graph if retain_graph is None else retain_graph
    keys = [t if t._edge is None else t._edge for t in inputs]
    for t in inputs:
        if not t._requires_grad:
            raise GradientError("grad: one of the inputs does not require grad")
    with set_grad_enabled(create_graph):
        seeds = [_seed(t, g, create_graph) for t, g in zip(outputs, grad_outputs)]
        inner = {key for t, key in zip(inputs, keys) if t._edge is not None}
        leaves, captured, done = run_backward(outputs, seeds, retain, create_graph,
                                                inner or None)
        apply_leaf_hooks(leaves)
    results = []
    for t, key in zip(inputs, keys):
        g = leaves.get(t) if t._edge is None else captured.get(key)
        if g is None and not allow_unused:
            raise GradientError("grad: one of the differentiated tensors was not used in "
                                "the graph (pass allow_unused=True to get None for it)")
        if g is not None and not isinstance(g, TensorBase):
            g = wrap(np.array(np.broadcast_to(g, t.shape), dtype=t.dtype))
        results.append(g)
    commit_backward(done, retain)
    return tuple(results)
