"""`dg.nn.init`: fill a tensor in place with seeded values (torch.nn.init's names).

The draws are the same as staticgraph's `sg.initializers` (docs/training.md,
"Same draws"):

- `normal_(t, mean, std)`:     `rng.standard_normal(shape) * std + mean`
- `uniform_(t, a, b)`:         `rng.uniform(a, b, shape)`
- `xavier_uniform_(t, gain)`:  `rng.uniform(-limit, limit, shape)` with
  `limit = gain * sqrt(6 / (fan_in + fan_out))`

computed in float64, then cast to the tensor's dtype. `rng` is
`np.random.default_rng(seed)` when `seed` is given, else `generator` when
given, else the generator `dg.manual_seed` resets. Each function runs outside
the tape (like torch's, which run under `no_grad`) and returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from .creation import generator as _default_generator
from .node import bump_version
from .tensor import Tensor


def _rng(generator: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    if seed is not None:
        return np.random.default_rng(seed)
    return generator if generator is not None else _default_generator()


def _fill(tensor: Tensor, values) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init expects a dg.Tensor, got {type(tensor).__name__}")
    tensor._data[...] = np.asarray(values, dtype=np.float64).astype(tensor._data.dtype)
    bump_version(tensor)
    return tensor


def calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """PyTorch's layout: weights are (out, in, *kernel); needs at least 2 dims."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("fan in and fan out can not be computed for tensor with fewer "
                         f"than 2 dimensions (shape {shape})")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, np.full(tensor.shape, val, dtype=np.float64))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None, seed: int | None = None) -> Tensor:
    """N(mean, std^2) draws (same as `sg.initializers.normal(std, seed, mean)`)."""
    draws = _rng(generator, seed).standard_normal(tuple(tensor.shape)) * std + mean
    return _fill(tensor, draws)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None, seed: int | None = None) -> Tensor:
    """U(a, b) draws (same as `sg.initializers.uniform(a, b, seed)`)."""
    return _fill(tensor, _rng(generator, seed).uniform(a, b, tuple(tensor.shape)))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: np.random.Generator | None = None,
                    seed: int | None = None) -> Tensor:
    """Glorot uniform (same as `sg.initializers.glorot_uniform(seed)` for 2-D shapes)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    limit = gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return _fill(tensor, _rng(generator, seed).uniform(-limit, limit, tuple(tensor.shape)))
