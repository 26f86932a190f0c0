"""`dg.compile(module)`: a module-like callable whose parameters still train.

The module's parameters are captured tensors of the trace (read by
reference at every call), so an optimizer stepping `module.parameters()`
is seen by the next call. The training flag and the identity of every
parameter are guards: `train()`/`eval()` or a replaced parameter traces
again.
"""

from __future__ import annotations

from .autograph import convert
from .compiled import CompiledFunction


class CompiledModule:
    """Calls the module's forward through one `CompiledFunction`; everything
    else (parameters(), train(), state_dict(), attributes) is the module's."""

    def __init__(self, module, *, autograph: bool = False, **options) -> None:
        call = module.__call__
        if autograph:  # the module's own forward is rewritten
            call = convert(module.forward)

        def forward(*args, **kwargs):
            return call(*args, **kwargs)
        forward.__name__ = type(module).__name__
        compiled = CompiledFunction(forward, **options)
        compiled.autograph = autograph
        compiled.extra_guard = lambda: (module.training,
                                        tuple(id(p) for p in module.parameters()))
        compiled.extra_guard_text = (f"module {type(module).__name__}: the training flag and "
                                     "the identity of every parameter")
        object.__setattr__(self, "_orig_mod", module)
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    forward = __call__

    @property
    def trace_count(self) -> int:
        return self._compiled.trace_count

    @property
    def fallback_count(self) -> int:
        return self._compiled.fallback_count

    def explain(self, file=None) -> str:
        return self._compiled.explain(file)

    def __getattr__(self, name: str):
        return getattr(self._orig_mod, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._orig_mod, name, value)

    def __repr__(self) -> str:
        return f"CompiledModule({self._orig_mod!r})"
