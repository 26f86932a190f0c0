"""`CompiledFunction.explain()`: traces, guards, graphs, passes and compile costs."""

from __future__ import annotations

from .guards import describe_key


def _runner_text(label: str, runner) -> list[str]:
    lines = [f"  {label} program: {len(runner.program.eqns)} equations, "
             f"{len(runner.program.inputs)} inputs, {len(runner.program.outputs)} outputs"]
    report = getattr(runner, "report", None)
    if report is not None:
        lines.append(f"  {label} passes:")
        lines += ["    " + line for line in report.describe().splitlines()]
    phases = getattr(runner, "phases", None)
    if phases:
        lines.append(f"  {label} compile phases: " + ", ".join(
            f"{name} {seconds * 1e3:.1f} ms" for name, seconds in phases.items()))
    return lines


def _slot_text(slot) -> str:
    before = "empty" if slot.var is None else f"{slot.var.aval.dtype}{list(slot.var.aval.shape)}"
    after = "emptied" if slot.current is None else ("changed" if slot.written else "read")
    return f"{slot.kind} (was {before}; {after})"


def _guard_text(slot) -> str:
    zeros = getattr(slot, "zeros", None) is not None
    held = "all zeros" if zeros else ("empty" if slot.var is None else "set")
    return f"  guard: {slot.kind} is {held}, as traced"


def _state_text(entry) -> list[str]:
    """A stateful entry: its one program and the state it reads and writes."""
    cg = entry.compiled
    lines = [f"  traced graph: {len(cg.graph.eqns)} equations, one program with "
             f"{len(cg.runner.program.updates)} state updates (backward, in-place "
             "updates and optimizer steps run inside it)"]
    lines += [f"  state: {_slot_text(s)}" for s in entry.slots]
    lines += [_guard_text(s) for s in entry.guard_slots if s.kind != "value"]
    lines += [f"  guard: optimizer hyper-parameters == {value!r}"
              for _, value in entry.value_guards]
    return lines + _runner_text("step", cg.runner)


def describe(compiled) -> str:
    """The text explain() prints."""
    lines = [f"dg.compile('{compiled.__name__}', backend={compiled.backend!r}, "
             f"dynamic={compiled.dynamic}, fullgraph={compiled.fullgraph}, "
             f"autograph={compiled.autograph})",
             f"traces: {compiled.trace_count}   eager fallback calls: "
             f"{compiled.fallback_count}"]
    for event in compiled.events:
        lines.append(f"  - {event}")
    for n, entry in enumerate(compiled.entries, 1):
        kind = "eager (not traced)" if entry.compiled is None else "compiled"
        lines.append(f"entry {n}: {kind}, {entry.calls} calls ({entry.reason})")
        lines += ["  guard: " + g for g in describe_key(entry.key)]
        if compiled.extra_guard_text:
            lines.append(f"  guard: {compiled.extra_guard_text}")
        for spec in entry.capture_specs:
            lines.append(f"  guard: captured tensor {spec[0]} {spec[1][1:]} "
                         f"requires_grad={spec[2]} (read by reference at each call)")
        if entry.compiled is None:
            continue
        cg = entry.compiled
        lines.append("  phases: " + ", ".join(
            f"{name} {seconds * 1e3:.1f} ms" for name, seconds in entry.seconds.items()))
        if entry.slots or entry.guard_slots or entry.value_guards:
            lines += _state_text(entry)
            continue
        lines.append(f"  traced graph: {len(cg.graph.eqns)} equations "
                     f"({len(cg.diff_inputs)} inputs differentiated, "
                     f"{cg.n_saved + len(cg.saved_inputs)} values saved for backward)")
        lines += _runner_text("forward", cg.forward)
        if cg.backward is not None:
            lines += _runner_text("backward", cg.backward)
    return "\n".join(lines)
