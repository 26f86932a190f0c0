"""Tape nodes: what an op records so that backward can run its VJP rule."""

from __future__ import annotations

import itertools
import weakref

from shared_ops import InPlaceError, format_site
from shared_ops.errors import GradientError, with_site

# Non-leaf tensors that asked for .grad (retain_grad): node -> {output index: weakref}.
RETAINED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# Creation order of nodes: a node is always newer than the nodes it reads, so
# backward visits pending nodes newest first (PyTorch's sequence numbers).
next_seq = itertools.count().__next__

# Count of in-place changes to any tensor. A node remembers the count when it
# was recorded; while it is unchanged, no saved value can have been modified
# and backward skips the per-input version checks.
INPLACE_COUNT = [0]


def bump_version(tensor) -> None:
    """Mark `tensor` as modified in place (its version counter and the global count)."""
    tensor._version[0] += 1
    INPLACE_COUNT[0] += 1


def edge_key(target, index: int):
    """The edge to output `index` of `target` (a node or leaf): itself for output 0."""
    return target if index == 0 else (target, index)


def edge_target(edge) -> tuple:
    """(node or leaf tensor, output index) of a non-None edge."""
    return edge if type(edge) is tuple else (edge, 0)


class Node:
    """One recorded op (PyTorch's grad_fn).

    `edges[i]` is None when input i needs no gradient; else where its
    cotangent goes: the producing Node (its output 0), a (Node, index) tuple
    for another output of a multi-output node, or the leaf Tensor that
    accumulates `.grad`. An edge is also the key of that gradient while
    backward runs. `inputs`/`out` are the raw values the VJP rule may use;
    they are dropped after a backward without retain_graph.
    """

    __slots__ = ("op", "params", "inputs", "out", "edges", "needs", "versions", "site",
                 "n_out", "seq", "epoch", "__weakref__")

    def __init__(self, op, params, inputs, out, edges, versions, site, n_out=1):
        self.op = op
        self.params = params
        self.inputs = inputs
        self.out = out
        self.edges = edges
        self.needs = tuple([e is not None for e in edges])
        self.versions = versions
        self.site = site
        self.n_out = n_out
        self.seq = next_seq()
        self.epoch = INPLACE_COUNT[0]

    def name(self) -> str:
        camel = "".join(part[:1].upper() + part[1:] for part in self.op.name.split("_"))
        return f"{camel}Backward"  # log_softmax -> LogSoftmaxBackward, MyReLU -> MyReLUBackward

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple:
        """(node or leaf, output index) per input, as in PyTorch."""
        return tuple(e if e is None else edge_target(e) for e in self.edges)

    def where(self) -> str:
        return f"'{self.op.name}'" + (f" (created at {format_site(self.site)})"
                                      if self.site else "")

    @property
    def released(self) -> bool:
        """True once a backward without retain_graph freed the saved values."""
        return self.inputs is None

    def check_usable(self) -> None:
        """Raise if saved values were freed or modified in place since saving."""
        if self.inputs is None:
            raise GradientError(
                f"backward through the graph a second time: the saved values of "
                f"{self.where()} were freed by an earlier backward; pass "
                f"retain_graph=True to the first backward() if you need to call it twice")
        versions = self.versions
        for i in range(0, len(versions), 2):
            counter, seen = versions[i], versions[i + 1]
            if counter[0] != seen:
                raise InPlaceError(with_site(
                    f"a value needed to compute the gradient of '{self.op.name}' was "
                    f"modified by an in-place operation (its version is {counter[0]}, "
                    f"expected {seen})", format_site(self.site)))

    def release(self) -> None:
        ctx = self.params.get("ctx") if self.params else None
        if ctx is not None:
            ctx._release()
        self.inputs = None
        self.out = None
