"""Identity for functions made by factories (`_unary("exp")` and the like).

A function defined inside a factory is named after the factory's inner
`def` and belongs to the factory's module. `as_defined_here` renames it to
the name it is bound to and moves it to the module that called the factory,
so `help()`, `inspect` and the API reference show it as if that module had
written `def exp(x): ...` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def as_defined_here(fn: Callable, name: str, doc: str | None) -> Callable:
    """`fn` named `name`, documented by `doc`, and placed in the module that
    called the factory calling this function (two frames up)."""
    caller = sys._getframe(2).f_globals.get("__name__")
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    if caller:
        fn.__module__ = caller
    return fn
