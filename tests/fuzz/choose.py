"""Where the generator's random decisions come from.

`HypothesisChooser` draws from hypothesis (so failures shrink: the first
option of a list, the low end of a range and `False` are the simple ends);
`RandomChooser` uses `random.Random` (fast, no hypothesis machinery), for
the coverage test and quick experiments.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, lo: int, hi: int) -> int: ...

    def boolean(self, p: float = 0.5) -> bool: ...


class HypothesisChooser:
    """Decisions drawn with hypothesis' `draw` (inside `st.composite` or `st.data()`).

    Hypothesis skews integer draws towards small values (70% of draws from
    0..65535 fall below 10000), which would make every choice pick the first
    options and every program stop early. So each decision draws 32 bits and
    scrambles them with a multiplicative hash: near uniform, and 0 still maps
    to the simplest answer (the first option, the low end, False), which is
    where shrinking goes.
    """

    def __init__(self, draw: Callable) -> None:
        self.draw = draw

    def _below(self, n: int) -> int:
        bits = self.draw(st.integers(0, 2**32 - 1))
        return (((bits * _MIX) % 2**32) * n) >> 32

    def choice(self, options: Sequence[T]) -> T:
        options = list(options)
        return options[self._below(len(options))]

    def integer(self, lo: int, hi: int) -> int:
        return lo + self._below(hi - lo + 1)

    def boolean(self, p: float = 0.5) -> bool:
        """True with probability p; shrinks to False."""
        return self._below(1000) >= 1000 - round(1000 * p)


_MIX = 0x9E3779B1  # Knuth's multiplicative hash constant (odd: a bijection mod 2**32)


class RandomChooser:
    """Decisions from a seeded `random.Random`."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return self.rng.choice(list(options))

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def boolean(self, p: float = 0.5) -> bool:
        return self.rng.random() < p
