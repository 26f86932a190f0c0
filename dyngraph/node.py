"""Tape nodes: what an op records so that backward can run its VJP rule."""

from __future__ import annotations

import itertools
import weakref

from shared_ops import InPlaceError, format_site
from shared_ops.errors import GradientError, with_site
from shared_ops.sites import code_site

# Non-leaf tensors that asked for .grad (retain_grad): node -> {output index: weakref}.
RETAINED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# Creation order of nodes: a node is always newer than the nodes it reads, so
# backward visits pending nodes newest first (PyTorch's sequence numbers).
next_seq = itertools.count().__next__

# Count of in-place changes to any tensor. A tensor's version counter is
# [its own count of changes (PyTorch's `_version`), this count at its last
# change]; a node remembers this count when it is recorded, so a saved value
# changed after that has a larger second entry. While the count is unchanged,
# nothing can have changed, and backward skips the checks altogether.
INPLACE_COUNT = [0]


def bump_version(tensor) -> None:
    """Mark `tensor` as modified in place (its version counter and the global count)."""
    counter = tensor._version
    counter[0] += 1
    INPLACE_COUNT[0] += 1
    counter[1] = INPLACE_COUNT[0]


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

    __slots__ = ("op", "params", "inputs", "out", "edges", "needs", "versions",
                 "site_code", "site_offset", "n_out", "seq", "epoch", "__weakref__")

    def __init__(self, op, params, inputs, out, edges, versions, frame, n_out=1):
        self.op = op
        self.params = params
        self.inputs = inputs
        self.out = out
        self.edges = edges
        self.needs = tuple([e is not None for e in edges])
        self.versions = versions
        self.site_code = None if frame is None else frame.f_code
        self.site_offset = None if frame is None else frame.f_lasti
        self.n_out = n_out
        self.seq = next_seq()
        self.epoch = INPLACE_COUNT[0]

    @property
    def site(self) -> tuple[str, int] | None:
        """(filename, lineno) of the user's line that created the node.

        Recording keeps only the code object and instruction offset (cheap);
        the line number is looked up here, when an error or repr asks."""
        code = self.site_code
        return None if code is None else code_site(code, self.site_offset)

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
        for counter in self.versions:
            if counter[1] > self.epoch:
                raise InPlaceError(with_site(
                    f"a value needed to compute the gradient of '{self.op.name}' was "
                    f"modified by an in-place operation after it was saved (its version "
                    f"is now {counter[0]})", format_site(self.site)))

    def release(self) -> None:
        ctx = self.params.get("ctx") if self.params else None
        if ctx is not None:
            ctx._release()
        self.inputs = None
        self.out = None
