"""`sg.initializers`: seeded initial values for variables (TF1's `*_initializer`).

An initializer is a callable `init(shape, dtype=float32) -> np.ndarray`; the
layers (`sg.layers`) call it once, at build time, to make a variable's
initial value. The draws are the same as dyngraph's `dg.nn.init` functions:

- `normal(stddev, seed, mean)`:   `rng.standard_normal(shape) * stddev + mean`
- `uniform(minval, maxval, seed)`: `rng.uniform(minval, maxval, shape)`
- `glorot_uniform(seed)`:         `rng.uniform(-limit, limit, shape)` with
  `limit = sqrt(6 / (fan_in + fan_out))`

computed in float64, then cast to `dtype`. `rng` is
`np.random.default_rng(seed)` when a seed is given (so every call with that
seed gives the same array), else the staticgraph generator that
`set_random_seed` resets (TF1's graph-level seed; it starts as
`default_rng(0)`, like `dg.manual_seed`'s). See docs/training.md, "Same
draws", for what that promises across the two engines.
"""

from __future__ import annotations

import math

import numpy as np

from .graph.context import get_default_graph

_RNG = [np.random.default_rng(0)]


def set_random_seed(seed: int) -> np.random.Generator:
    """Reset the generator that initializers without a seed draw from, and set
    the default graph's seed, from which its random ops made afterwards derive
    their streams (TF1's graph-level seed; see `sg.random_normal`)."""
    _RNG[0] = np.random.default_rng(seed)
    graph = get_default_graph()
    graph.random_seed = int(seed)
    graph.random_op_count = 0
    return _RNG[0]


def generator() -> np.random.Generator:
    """The generator unseeded initializers draw from (see `set_random_seed`)."""
    return _RNG[0]


def _rng(seed: int | None) -> np.random.Generator:
    return _RNG[0] if seed is None else np.random.default_rng(seed)


def _shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d is None or int(d) < 0 for d in shape):
        raise ValueError(f"initializer: every dim must be known and >= 0, got {shape}")
    return tuple(int(d) for d in shape)


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) in TensorFlow's layout: kernels are (..., in, out).

    For 2-D shapes fan_in + fan_out equals PyTorch's (out, in) count, so the
    glorot limit is the same in both engines.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: `init(shape, dtype=float32)` returns a new array."""

    def __call__(self, shape, dtype=np.float32) -> np.ndarray:
        return np.asarray(self.draw(_shape(shape)), dtype=np.float64).astype(dtype)

    def draw(self, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Constant(Initializer):
    """Every element `value`."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def draw(self, shape):
        return np.full(shape, self.value, dtype=np.float64)


class Zeros(Constant):
    def __init__(self) -> None:
        super().__init__(0.0)


class Ones(Constant):
    def __init__(self) -> None:
        super().__init__(1.0)


class Normal(Initializer):
    """`standard_normal * stddev + mean` (TF1's random_normal_initializer)."""

    def __init__(self, stddev: float = 1.0, seed: int | None = None, mean: float = 0.0) -> None:
        self.stddev, self.seed, self.mean = stddev, seed, mean

    def draw(self, shape):
        return _rng(self.seed).standard_normal(shape) * self.stddev + self.mean


class Uniform(Initializer):
    """U(minval, maxval) (TF1's random_uniform_initializer)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: int | None = None) -> None:
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def draw(self, shape):
        return _rng(self.seed).uniform(self.minval, self.maxval, shape)


class GlorotUniform(Initializer):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def draw(self, shape):
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
        return _rng(self.seed).uniform(-limit, limit, shape)


def zeros() -> Initializer:
    return Zeros()


def ones() -> Initializer:
    return Ones()


def constant(value: float = 0.0) -> Initializer:
    return Constant(value)


def normal(stddev: float = 1.0, seed: int | None = None, mean: float = 0.0) -> Initializer:
    return Normal(stddev, seed, mean)


def uniform(minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> Initializer:
    return Uniform(minval, maxval, seed)


def glorot_uniform(seed: int | None = None) -> Initializer:
    return GlorotUniform(seed)


def get(init) -> Initializer:
    """An initializer from an Initializer, a name ('zeros', 'glorot_uniform', ...) or None."""
    if isinstance(init, Initializer) or (callable(init) and not isinstance(init, str)):
        return init
    names = {"zeros": zeros, "ones": ones, "normal": normal, "uniform": uniform,
             "glorot_uniform": glorot_uniform}
    if init not in names:
        raise ValueError(f"unknown initializer {init!r}; known: {', '.join(names)}")
    return names[init]()


# TF1 spellings (TF1's argument order)
zeros_initializer, ones_initializer, constant_initializer = zeros, ones, constant
glorot_uniform_initializer = glorot_uniform


def random_normal_initializer(mean: float = 0.0, stddev: float = 1.0,
                              seed: int | None = None) -> Initializer:
    return Normal(stddev, seed, mean)


def random_uniform_initializer(minval: float = -0.05, maxval: float = 0.05,
                               seed: int | None = None) -> Initializer:
    return Uniform(minval, maxval, seed)
