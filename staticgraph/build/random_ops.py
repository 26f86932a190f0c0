"""TF1 random ops: `random_normal`, `random_uniform`, `truncated_normal`.

Each random op owns a stream: a NumPy generator seeded from the graph-level
seed (`sg.set_random_seed`) and the op-level `seed`, as TF1 combines them:

- both set: the pair seeds the stream;
- only the graph seed: the op's number in its graph stands in for the op seed
  (so rebuilding the same program gives the same draws);
- only the op seed: a fixed default graph seed is used;
- neither: the stream is seeded from the operating system (a different
  sequence every process).

Every run that computes the op draws fresh values: the stream advances. A new
`sg.Session` on the graph restarts every stream, so each session sees the
same sequence (TF1's behaviour). The primitive declares `Effect.RANDOM`,
which keeps it out of constant folding and common-subexpression merging;
every backend runs its NumPy impl.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, DTypeError, Effect, Primitive, ShapeError, format_site

from ..graph.context import get_default_graph
from ..graph.ir import Graph
from .ops import as_symbol, placeholder_dims
from .symbol import Symbol, bind_symbolic, current_site

DEFAULT_GRAPH_SEED = 87654321


class RandomStream:
    """The draws of one random op: a generator restartable from its seed."""

    def __init__(self, seed: tuple[int, int] | None) -> None:
        self.seed = seed
        self.entropy = None if seed is not None else np.random.SeedSequence().entropy
        self.generator = self._fresh()

    def _fresh(self) -> np.random.Generator:
        key = self.seed if self.seed is not None else self.entropy
        return np.random.default_rng(key)

    def reset(self) -> None:
        """Start the sequence again from its first draw."""
        self.generator = self._fresh()

    def __repr__(self) -> str:
        return f"RandomStream(seed={self.seed})"


def _random_eval(*like, kind, shape, dtype, stream, a, b):
    out_shape = like[0].shape if like else shape
    return AbstractArray(tuple(out_shape), np.dtype(dtype))


def _truncated(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal draws, redrawn until every value lies within 2 stddevs."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out


def _random_impl(*like, kind, shape, dtype, stream, a, b):
    shape = np.shape(like[0]) if like else shape
    rng = stream.generator
    dtype = np.dtype(dtype)
    if kind == "uniform":
        if dtype.kind in "iu":
            return rng.integers(a, b, shape, dtype=dtype)
        return rng.uniform(a, b, shape).astype(dtype)
    draws = _truncated(rng, shape) if kind == "truncated_normal" else rng.standard_normal(shape)
    return (draws * b + a).astype(dtype)


random_p = Primitive(
    name="random", impl=_random_impl, abstract_eval=_random_eval, differentiable=False,
    effect=Effect.RANDOM,
    doc="fresh random values every run (normal, uniform or truncated normal)")


def op_seed(seed: int | None, graph: Graph) -> tuple[int, int] | None:
    """The (graph seed, op seed) pair a new random op of `graph` uses (TF1's rule)."""
    graph_seed = getattr(graph, "random_seed", None)
    count = getattr(graph, "random_op_count", 0)
    graph.random_op_count = count + 1
    if graph_seed is None and seed is None:
        return None
    if graph_seed is None:
        return DEFAULT_GRAPH_SEED, int(seed)
    return int(graph_seed), count if seed is None else int(seed)


def reset_streams(graph: Graph) -> None:
    """Restart the stream of every random op in `graph` (a new session does this)."""
    for _, eqn in graph.walk():
        stream = eqn.params.get("stream") if eqn.prim is random_p else None
        if stream is not None:
            stream.reset()


def _float_dtype(dtype, what: str, ints: bool = False) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{what}: {dtype!r} is not a dtype") from None
    if dtype.kind != "f" and not (ints and dtype.kind in "iu"):
        kinds = "a float or int" if ints else "a float"
        raise DTypeError(f"{what}: dtype must be {kinds} dtype, got {dtype}")
    return dtype


def _random(kind: str, shape, dtype, seed, a, b, what: str, like=None) -> Symbol:
    graph = get_default_graph() if like is None else like.graph
    if like is None:
        if isinstance(shape, Symbol):
            where = format_site(current_site())
            raise ShapeError(f"{what}: the shape must be known when the graph is built (a "
                             "tuple of ints); for the shape of a symbol x use "
                             f"sg.{what}_like(x)" + (f" (at {where})" if where else ""))
        shape = placeholder_dims(shape)
        if None in shape:
            raise ShapeError(f"{what}: every dim must be known, got {shape} (use "
                             f"sg.{what}_like(x) for the run-time shape of x)")
    params = dict(kind=kind, shape=() if like is not None else shape, dtype=dtype,
                  stream=RandomStream(op_seed(seed, graph)), a=a, b=b)
    args = () if like is None else (like,)
    return _bind(graph, args, params)


def _bind(graph: Graph, args: tuple, params: dict) -> Symbol:
    if args:
        return bind_symbolic(random_p, args, params)
    with graph.as_default():
        return bind_symbolic(random_p, args, params)


def random_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype="float32",
                  seed: int | None = None, name: str | None = None) -> Symbol:
    """Normal draws `mean + stddev * N(0, 1)`, fresh every run (TF1's `tf.random_normal`)."""
    dtype = _float_dtype(dtype, "random_normal")
    return _named(_random("normal", shape, dtype, seed, float(mean), float(stddev),
                          "random_normal"), name)


def truncated_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype="float32",
                     seed: int | None = None, name: str | None = None) -> Symbol:
    """Normal draws with values beyond two stddevs redrawn (TF1's `tf.truncated_normal`)."""
    dtype = _float_dtype(dtype, "truncated_normal")
    return _named(_random("truncated_normal", shape, dtype, seed, float(mean), float(stddev),
                          "truncated_normal"), name)


def random_uniform(shape, minval=0, maxval=None, dtype="float32", seed: int | None = None,
                   name: str | None = None) -> Symbol:
    """Uniform draws in [minval, maxval) (TF1's `tf.random_uniform`).

    maxval defaults to 1 for float dtypes; int dtypes need it.
    """
    dtype = _float_dtype(dtype, "random_uniform", ints=True)
    if maxval is None:
        if dtype.kind != "f":
            raise DTypeError(f"random_uniform: an int dtype ({dtype}) needs maxval")
        maxval = 1.0
    if not maxval > minval:
        raise ValueError(f"random_uniform: need minval < maxval, got {minval} and {maxval}")
    lo, hi = (float(minval), float(maxval)) if dtype.kind == "f" else (int(minval), int(maxval))
    return _named(_random("uniform", shape, dtype, seed, lo, hi, "random_uniform"), name)


def random_uniform_like(x, minval: float = 0.0, maxval: float = 1.0,
                        seed: int | None = None) -> Symbol:
    """Uniform float draws with the (run-time) shape and float dtype of `x`."""
    x = as_symbol(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    return _random("uniform", None, dtype, seed, float(minval), float(maxval),
                   "random_uniform", like=x)


def random_normal_like(x, mean: float = 0.0, stddev: float = 1.0,
                       seed: int | None = None) -> Symbol:
    """Normal float draws with the (run-time) shape and float dtype of `x`."""
    x = as_symbol(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    return _random("normal", None, dtype, seed, float(mean), float(stddev),
                   "random_normal", like=x)


def _named(sym: Symbol, name: str | None) -> Symbol:
    if name:
        sym.var.name = sym.graph.unique_name(name)
    return sym
