"""`explain()` of the numba backend: what a call runs and what compiling it cost."""

from __future__ import annotations

from typing import Any


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def compile_costs(runner: Any) -> list[str]:
    """One line per phase, then the kernels' own records."""
    lines = [f"compile costs (total {_ms(runner.compile_seconds)}):"]
    for name, seconds in runner.phases.items():
        lines.append(f"  {name:<44} {_ms(seconds):>10}")
    if not runner.comp.first_call:
        lines.append("  (kernels compile, or load from the disk cache, on the first call)")
    state = runner.program_cache
    lines.append(f"  program cache: {state.status} ({state.path})")
    return lines


def kernel_lines(runner: Any) -> list[str]:
    """Each kernel: its group with user lines, its cache entry and compile records."""
    lines = [f"fused kernels ({len(runner.kernels)}):"]
    for k in runner.kernels:
        sites = sorted({s.site for s in k.group.steps if s.site})
        lines.append(f"  {k.record.line()}")
        if sites:
            lines.append(f"    from {', '.join(sites)}")
    return lines


def describe(runner: Any) -> str:
    """The full text: passes, fused groups, memory plan, costs, notes, source."""
    parts = [f"backend: numba (program {runner.program.name or 'graph'}: "
             f"{len(runner.program.eqns)} eqns -> {len(runner.optimized.eqns)} after passes)",
             runner.report.describe(), runner.plan.describe(), "\n".join(kernel_lines(runner)),
             "\n".join(compile_costs(runner))]
    keys = runner.lowered.describe_keys()
    parts.append("run-time dims seen (buffers allocated once per key; kernels are "
                 "size-generic):\n" + ("\n".join(keys) if keys else "  none yet"))
    if runner.comp.notes:
        parts.append("notes:\n" + "\n".join(f"  {n}" for n in runner.comp.notes))
    parts.append("generated source:\n" + runner.source)
    return "\n\n".join(parts)
