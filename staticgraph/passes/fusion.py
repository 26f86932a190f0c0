"""Elementwise fusion: connected elementwise equations become one `fused` op.

Rules (each chosen to keep the loop simple and the result exact):
1. A *fusible* equation applies a registered elementwise primitive that has
   a `scalar` to Vars and literal Python scalars, with one output of a
   bool/int/float dtype.
2. Groups grow along data flow, in program order: an equation joins the
   groups of the producers of its inputs when those groups' loop shape (the
   static output shape all their members share) equals its own output shape.
   Inputs may broadcast into the loop (`x[?, 10] + b[10]`), but a value is
   never recomputed in a larger loop than its own (a `[10]` value feeding a
   `[?, 10]` op is a group input, not a member).
3. No cycles: a merge is refused when a path leaves the candidate group and
   comes back into it through a non-member (in the graph where the groups
   formed so far are single nodes).
4. After all elementwise groups are formed, a reduction (`sum`, `mean`,
   `max`) whose operand is computed in a group joins that group as its one
   fused reduction when: the group has no reduction yet, the loop shape has
   no static size-1 dim (the compiler needs the operand at the loop's full
   shape), no member reads the reduction's result, and rule 3 holds. The
   operand may have other users: it is then also an elementwise output, and
   the kernel writes it and reduces it in the same pass.
5. Groups with fewer than `min_size` equations (the reduction counts) stay
   unfused (default 2: a lone op gains nothing from fusion; pass
   `min_size=1` to make every elementwise op a `fused` kernel).
6. A group's compile cost (the sum of `compile_cost` over its members: one
   unit per op compiled as an expression, more for the vector-math functions
   inlined into the loop) stays within `max_cost`: Numba's compile time grows
   faster than linearly in the size of one kernel, so a long chain becomes a
   sequence of bounded kernels (each still one pass over memory for many
   ops). Structurally equal pieces share one compiled kernel.
The fused equations are placed by a stable topological sort of the groups.
"""

from __future__ import annotations

import heapq

import numpy as np

from shared_ops import is_registered

from ..compiler.group import REDUCTION_KINDS, compile_cost
from ..graph.ir import Eqn, Graph, Var
from .common import map_subgraphs
from .fused_op import make_fused_eqn

MAX_GROUP_COST = 64  # compile-cost units per fused group (rule 6)


def fusible(eqn: Eqn) -> bool:
    """Rule 1: a registered elementwise op the compiler can put in a loop."""
    prim = eqn.prim
    # A group step names its primitive; the compiler finds it in REGISTRY.
    if not is_registered(prim) or not prim.elementwise or prim.scalar is None:
        return False
    if len(eqn.outputs) != 1 or not compiled_dtype(eqn.outputs[0].dtype):
        return False
    return all(compiled_dtype(x.dtype) for x in eqn.in_vars)


def compiled_dtype(dtype) -> bool:
    """Whether compiled loops take the dtype: bool, ints, float32/64 (float16
    runs the reference impl, which computes as NumPy does)."""
    dt = np.dtype(dtype)
    return dt.kind in "biu" or dt in (np.dtype(np.float32), np.dtype(np.float64))


def fusible_reduction(eqn: Eqn) -> bool:
    """Rule 4's candidates: a reduction the compiler's loop templates take
    (`REDUCTION_KINDS`) of one Var, in dtypes compiled loops take."""
    prim = eqn.prim
    return (prim in REDUCTION_KINDS and len(eqn.inputs) == 1 and isinstance(eqn.inputs[0], Var)
            and compiled_dtype(eqn.inputs[0].dtype) and compiled_dtype(eqn.outputs[0].dtype))


class Clusters:
    """Union-find over equation indices, with the cycle check of rule 3."""

    def __init__(self, eqns: list[Eqn]) -> None:
        self.eqns = eqns
        self.parent = list(range(len(eqns)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(eqns))}
        self.reduction: dict[int, int] = {}
        self.cost: dict[int, int] = {i: compile_cost(e.prim) for i, e in enumerate(eqns)}
        producer = {v: i for i, e in enumerate(eqns) for v in e.outputs}
        self.producer = producer
        self.consumers: list[list[int]] = [[] for _ in eqns]
        for i, eqn in enumerate(eqns):
            for x in eqn.in_vars:
                if x in producer and i not in self.consumers[producer[x]]:
                    self.consumers[producer[x]].append(i)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, roots: list[int]) -> int:
        root = min(roots)
        for r in roots:
            if r != root:
                self.parent[r] = root
                self.members[root].extend(self.members.pop(r))
                self.cost[root] += self.cost.pop(r)
                if r in self.reduction:
                    self.reduction[root] = self.reduction.pop(r)
        self.members[root].sort()
        return root

    def loop_shape(self, root: int) -> tuple:
        first = self.eqns[self.members[root][0]]
        return tuple(first.outputs[0].shape)

    def creates_cycle(self, group: set[int], limit: int) -> bool:
        """Does a path leave `group` and re-enter it (indices <= limit only)?"""
        stack = [c for i in group for c in self.consumers[i] if c not in group]
        seen: set[int] = set()
        while stack:
            j = stack.pop()
            if j in seen or j > limit:
                continue
            if j in group:
                return True
            seen.add(j)
            for k in self.members[self.find(j)]:
                seen.add(k)
                stack.extend(c for c in self.consumers[k] if c not in seen)
        return False


def _grow(cl: Clusters, i: int, max_cost: int) -> None:
    """Rules 2, 3 and 6: equation `i` joins its producers' groups where legal."""
    eqn = cl.eqns[i]
    shape = tuple(eqn.outputs[0].shape)
    group = {i}
    roots = [i]
    cost = cl.cost[i]
    for x in eqn.in_vars:
        p = cl.producer.get(x)
        if p is None or not fusible(cl.eqns[p]):
            continue
        root = cl.find(p)
        if root in roots or cl.loop_shape(root) != shape or cost + cl.cost[root] > max_cost:
            continue
        candidate = group | set(cl.members[root])
        if not cl.creates_cycle(candidate, i):
            group, roots, cost = candidate, roots + [root], cost + cl.cost[root]
    if len(roots) > 1:
        cl.union(roots)


def _attach_reduction(cl: Clusters, r: int) -> None:
    """Rule 4: reduction `r` joins the group computing its operand."""
    p = cl.producer.get(cl.eqns[r].inputs[0])
    if p is None or not fusible(cl.eqns[p]):
        return
    root = cl.find(p)
    shape = cl.loop_shape(root)
    if root in cl.reduction or 1 in shape or tuple(cl.eqns[p].outputs[0].shape) != shape:
        return
    members = set(cl.members[root])
    if any(c in members for c in cl.consumers[r]):
        return
    if not cl.creates_cycle(members | {r}, len(cl.eqns)):
        root = cl.union([root, r])
        cl.reduction[root] = r


def _escaping(cl: Clusters, members: list[int], red: int | None, graph: Graph) -> list[Var]:
    """Values of the group used outside it, in step order, the reduction last."""
    inside = set(members)
    roots = set(graph.outputs) | {value for _, value in graph.updates}
    outs = [cl.eqns[i].outputs[0] for i in members if i != red and (
        cl.eqns[i].outputs[0] in roots or any(c not in inside for c in cl.consumers[i]))]
    return outs + ([cl.eqns[red].outputs[0]] if red is not None else [])


def _place(cl: Clusters, nodes: dict[int, Eqn]) -> list[Eqn]:
    """Stable topological order of the groups (keyed by their first member)."""
    deps: dict[int, set[int]] = {root: set() for root in nodes}
    for root in nodes:
        for i in cl.members[root]:
            for x in cl.eqns[i].in_vars:
                p = cl.producer.get(x)
                if p is not None and cl.find(p) != root:
                    deps[root].add(cl.find(p))
    users: dict[int, list[int]] = {root: [] for root in nodes}
    for root, ds in deps.items():
        for d in ds:
            users[d].append(root)
    waiting = {root: len(ds) for root, ds in deps.items()}
    ready = [root for root, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        root = heapq.heappop(ready)
        order.append(nodes[root])
        for u in users[root]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        raise AssertionError("fuse_elementwise: the fused groups form a cycle")
    return order


def _dissolve(cl: Clusters, root: int) -> None:
    cl.reduction.pop(root, None)
    for i in cl.members.pop(root):
        cl.parent[i] = i
        cl.members[i] = [i]
        cl.cost[i] = compile_cost(cl.eqns[i].prim)


def _fused_or_none(members: list[Eqn], outputs: list[Var]) -> Eqn | None:
    if not outputs:
        return None
    try:
        return make_fused_eqn(members, outputs)
    except ValueError:  # the compiler's FusedGroup cannot describe it: leave unfused
        return None


def fuse_elementwise(graph: Graph, min_size: int = 2, reductions: bool = True,
                     max_cost: int = MAX_GROUP_COST) -> Graph:
    """`graph` with elementwise groups (each as large as rules 2-6 allow)
    replaced by `fused` equations."""
    eqns = [map_subgraphs(e, lambda g: fuse_elementwise(g, min_size, reductions, max_cost))
            for e in graph.eqns]
    cl = Clusters(eqns)
    for i, eqn in enumerate(eqns):
        if fusible(eqn):
            _grow(cl, i, max_cost)
    if reductions:
        for i, eqn in enumerate(eqns):
            if fusible_reduction(eqn):
                _attach_reduction(cl, i)
    nodes: dict[int, Eqn] = {}
    for root in list(cl.members):
        red = cl.reduction.get(root)
        members = [i for i in cl.members[root] if i != red] + ([red] if red is not None else [])
        fused = None
        if len(members) >= min_size and any(fusible(eqns[i]) for i in members):
            fused = _fused_or_none([eqns[i] for i in members], _escaping(cl, members, red, graph))
        if fused is None:
            _dissolve(cl, root)
            for i in members:
                nodes[i] = eqns[i]
        else:
            nodes[root] = fused
    out = graph.copy()
    out.eqns = _place(cl, nodes)
    return out
