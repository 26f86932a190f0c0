"""`explain()` of the numba backend: what a call runs and what compiling it cost.

Compile costs are a tree (`compiler.stats.PhaseTree`): a phase's time includes
the phases indented under it, so the tree's top level adds up to the total,
and "(other)" is a phase's time outside its listed children.
"""

from __future__ import annotations

from typing import Any

from .blas import features

BRIEF_DEPTH = 3


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _row(label: str, seconds: float) -> str:
    return f"  {label:<52} {_ms(seconds):>10}"


def compile_costs(runner: Any, max_depth: int | None = None) -> list[str]:
    """The compile phases as an indented tree, then the cache state."""
    lines = [f"compile costs (total {_ms(runner.compile_seconds)}; nested phases are "
             "part of the one above them):"]
    lines += [_row(name, seconds) for name, seconds in runner.extra_phases.items()]
    lines += ["  " + line for line in runner.comp.tree.format(max_depth)]
    other = runner.phases["runner setup (other)"]
    lines.append(_row("runner setup (other)", other))
    lines += [_row(name, seconds) for name, seconds in runner.first_call_phases.items()]
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


def _header(runner: Any) -> str:
    return (f"backend: numba (program {runner.program.name or 'graph'}: "
            f"{len(runner.program.eqns)} eqns -> {len(runner.optimized.eqns)} after passes)")


def blas_lines() -> list[str]:
    """The BLAS features a call uses, and each one that is off here, with why."""
    return ["BLAS:"] + [f"  {line}" for line in features()]


def describe_brief(runner: Any) -> str:
    """One screen: the program, kernel count, compile costs two levels deep."""
    hits = sum(s.from_cache for k in runner.kernels for s in k.record.specialisations)
    specs = sum(len(k.record.specialisations) for k in runner.kernels)
    parts = [_header(runner),
             f"fused kernels: {len(runner.kernels)} ({hits} of {specs} compiled "
             "specialisations loaded from the disk cache)",
             "\n".join(blas_lines()),
             "\n".join(compile_costs(runner, BRIEF_DEPTH)),
             "(explain() without brief=True adds the passes, memory plan, every kernel, "
             "the full cost tree and the generated source)"]
    return "\n".join(parts)


def describe(runner: Any, brief: bool = False) -> str:
    """The full text: passes, fused groups, memory plan, costs, notes, source."""
    if brief:
        return describe_brief(runner)
    parts = [_header(runner), runner.report.describe(), runner.plan.describe(),
             "\n".join(kernel_lines(runner)), "\n".join(blas_lines()),
             "\n".join(compile_costs(runner))]
    keys = runner.lowered.describe_keys()
    parts.append("run-time dims seen (buffers allocated once per key; kernels are "
                 "size-generic):\n" + ("\n".join(keys) if keys else "  none yet"))
    if runner.comp.notes:
        parts.append("notes:\n" + "\n".join(f"  {n}" for n in runner.comp.notes))
    parts.append("generated source:\n" + runner.source)
    return "\n\n".join(parts)
