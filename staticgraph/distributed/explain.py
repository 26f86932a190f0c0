"""The text `Session.explain` prints for a session with a cluster."""

from __future__ import annotations

from .plan import StepPlan, nbytes_of


def _bytes(n: int | None) -> str:
    if n is None:
        return "? B (a dim known at run time)"
    for unit, size in (("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _total(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def describe_plan(runtime, plan_id: int, step: StepPlan) -> str:
    """Partitions, devices, cut edges, bytes moved and tasks per step, setup."""
    parts = step.parts
    devices = sorted({p.device for p in parts})
    lines = [f"distributed: {len(parts)} partitions on {len(devices)} devices, "
             f"{step.tasks_per_step} tasks per step, backend {runtime.session.backend}"]
    for d in devices:
        lines.append(f"  {d:<10} {runtime.address(d)}  backend {runtime.backend_for(d)}")
    feeds = {step.graph.inputs[j] for p in parts for j in p.feeds}
    feed_bytes = _total(nbytes_of(v) for v in feeds)
    cut_bytes = _total(nbytes_of(e.var) for e in step.cut_edges)
    fetched = [step.graph.outputs[k] for k, f in enumerate(step.fetches) if f[0] == "part"]
    fetch_bytes = _total(nbytes_of(v) for v in fetched)
    lines.append("partitions (one task each, in run order):")
    for i, p in enumerate(parts):
        prog = p.program
        reads = ", ".join(v.label for v in prog.variables) or "-"
        after = f", after #{p.after}" if p.after is not None else ""
        compiled = runtime.compile_seconds.get((plan_id, i))
        ms = f", compiled in {compiled * 1e3:.0f} ms" if compiled is not None else ""
        lines.append(f"  #{i} {p.device} level {p.level}: {len(prog.eqns)} eqns, "
                     f"{len(p.feeds)} feeds, resident variables {reads}, "
                     f"{len(prog.updates)} updates{after}{ms}")
    lines.append(f"cut edges ({len(step.cut_edges)}):")
    for e in step.cut_edges:
        src, dst = parts[e.source], parts[e.target]
        lines.append(f"  {e.var.label}:{e.var.aval}  #{e.source} {src.device} -> "
                     f"#{e.target} {dst.device}  {_bytes(nbytes_of(e.var))}")
    lines.append(f"bytes moved per step: feeds {_bytes(feed_bytes)}, cut edges "
                 f"{_bytes(cut_bytes)}, fetches {_bytes(fetch_bytes)}")
    setup = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in runtime.setup.items())
    lines.append(f"setup: {setup}")
    for i, p in enumerate(parts):
        lines.append(f"-- partition #{i} ({p.device}, level {p.level}) --")
        lines.append(p.program.to_text())
    return "\n".join(lines)
