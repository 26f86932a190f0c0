"""Tiered execution: run on the interpreter while a compiled backend compiles.

`TieredRunner(program, backend)` is a Runner (see `backends`). Its first call
starts a background thread that builds the compiled runner and calls it once
on copies of that call's inputs and of the state it reads (that call is where
a compiled backend compiles its kernels), and runs the call itself on the
interpreter. Every later call runs on the interpreter until the compiled
runner is ready, then on the compiled runner; both read and write the same
session state, so a training loop carries on across the switch. The
interpreter is the reference every backend agrees with, so the numbers a run
gives do not depend on which tier ran it beyond the backends' own agreement
(vector math within a few ulp).

`Session(..., tiered=True)` wraps its numba runners in one (the default for
backend "numba"; `$GRAPHCOMPARE_TIERED=0` turns the default off).
`explain()` says which tier ran each call so far and, once compiled, shows
the compiled program. A failure to build the compiled runner is raised by
the next call (before it runs, so it changes nothing); a failure of the
background warm-up call only means the kernels compile on the first
compiled call instead.

`COMPILE_HOOKS` are called in the background thread, with the program,
before the compile starts (tests hold the compile there, or make it fail).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..graph.ir import Graph, Var
from .interpreter import InterpretRunner

ENV_VAR = "GRAPHCOMPARE_TIERED"
TIERED_BACKENDS = ("numba",)
COMPILE_HOOKS: list[Callable[[Graph], None]] = []


def tiered_by_default(backend: str) -> bool:
    """Is a session on `backend` tiered when it does not say ($GRAPHCOMPARE_TIERED=0: never)?"""
    return backend in TIERED_BACKENDS and os.environ.get(ENV_VAR, "1") != "0"


def _copy_state(program: Graph, state: dict[Var, np.ndarray]) -> dict[Var, np.ndarray]:
    return {v: np.array(state[v], copy=True) for v in program.variables if v in state}


class TieredRunner:
    """The interpreter until the compiled runner is ready, then the compiled runner."""

    def __init__(self, program: Graph, factory: Callable[..., Any], *,
                 backend: str = "numba", check_numerics: bool = False) -> None:
        self.program = program
        self.backend = backend
        self.check_numerics = check_numerics
        self.interpreter = InterpretRunner(program, check_numerics)
        self.tiers: list[str] = []  # which tier ran each call, in order
        self.compile_seconds: float | None = None
        self._factory = factory
        self._compiled: Any = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the background compile ---------------------------------------------
    def _start(self, inputs: Sequence[np.ndarray], state: dict[Var, np.ndarray]) -> None:
        args = ([np.array(a, copy=True) for a in inputs], _copy_state(self.program, state))
        self._thread = threading.Thread(target=self._compile, args=args, daemon=True,
                                        name=f"compile {self.program.name or 'program'}")
        self._thread.start()

    def _compile(self, inputs: list[np.ndarray], state: dict[Var, np.ndarray]) -> None:
        start = time.perf_counter()
        try:
            for hook in list(COMPILE_HOOKS):
                hook(self.program)
            compiled = self._factory(self.program, check_numerics=self.check_numerics)
        except BaseException as exc:  # raised by the next call, on the caller's thread
            self._error = exc
            self._done.set()
            return
        try:
            with np.errstate(all="ignore"):
                compiled(inputs, state)  # compiles (or loads) the kernels
        except Exception:  # the caller's own call meets whatever this was
            pass
        self.compile_seconds = time.perf_counter() - start
        self._compiled = compiled
        self._done.set()

    @property
    def ready(self) -> bool:
        """Has the background compile finished (successfully or not)?"""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the compile has finished (True) or `timeout` passed (False)."""
        if self._thread is None:
            return False
        return self._done.wait(timeout)

    # ---- running --------------------------------------------------------------
    def __call__(self, inputs: Sequence[np.ndarray], state: dict[Var, np.ndarray]) -> list:
        if self._done.is_set():
            if self._error is not None:
                error, self._error = self._error, None
                self._done.clear()
                self._thread = None  # the call after this one tries again
                raise error
            outs = self._compiled(inputs, state)
            self.tiers.append(self.backend)
            return outs
        if self._thread is None:
            self._start(inputs, state)
        outs = self.interpreter(inputs, state)
        self.tiers.append("interpret")
        return outs

    @property
    def tier(self) -> str:
        """The tier the next call runs on."""
        return self.backend if self._done.is_set() and self._error is None else "interpret"

    def describe_tiers(self) -> str:
        """One line: the calls per tier so far and the state of the compile."""
        interpreted = self.tiers.count("interpret")
        compiled = len(self.tiers) - interpreted
        if self._compiled is not None:
            state = (f"{self.backend} ready after {self.compile_seconds:.2f} s in the "
                     f"background")
        elif self._error is not None:
            state = f"{self.backend} compile failed: {type(self._error).__name__}"
        elif self._thread is not None:
            state = f"{self.backend} compiling in the background"
        else:
            state = f"{self.backend} compile starts with the first run"
        return (f"tiered: {interpreted} run(s) on the interpreter, {compiled} on "
                f"{self.backend}; {state}; next run: {self.tier}")

    def explain(self) -> str:
        runner = self._compiled if self._compiled is not None else self.interpreter
        return f"{self.describe_tiers()}\n\n{runner.explain()}"

    def __getattr__(self, name: str) -> Any:
        """Compiled-runner attributes (`kernels`, `source`, ...) once it is ready."""
        compiled = self.__dict__.get("_compiled")
        if compiled is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(compiled, name)
