"""A program as readable, runnable Python (what a failing fuzz example prints).

The code runs as is with dyngraph (`cond` and `scan` are Python helpers);
for staticgraph, the comments give each input's placeholder shape, and
`cond`/`scan` become `sg.cond`/`sg.scan`.
"""

from __future__ import annotations

import numpy as np

from .program import DOMAINS, ArraySpec, Block, CallStep, CondStep, Const, Program, Ref, ScanStep

PREAMBLE = '''\
import numpy as np

import dyngraph as dg
import shared_ops.api as A


def seeded(seed, shape, kind="f", lo=-2.0, hi=2.0):
    rng = np.random.default_rng(seed)
    if kind == "f":
        return np.asarray(rng.uniform(lo, hi, shape), dtype=np.float64)
    if kind == "i":
        return np.asarray(rng.integers(-3, 4, shape), dtype=np.int64)
    return np.asarray(rng.random(shape) < 0.5)


def cond(pred, true_fn, false_fn):  # staticgraph: sg.cond
    return true_fn() if bool(pred) else false_fn()


def scan(fn, elems, initializer, reverse=False):  # staticgraph: sg.scan
    outs = [None] * elems.shape[0]
    acc = initializer
    for t in (reversed(range(len(outs))) if reverse else range(len(outs))):
        acc = outs[t] = fn(acc, A.getitem(elems, t))
    return A.stack(outs)
'''


def spec_code(spec: ArraySpec) -> str:
    args = f"{spec.seed}, {tuple(spec.shape)}"
    if spec.kind != "f":
        return f'seeded({args}, "{spec.kind}")'
    if spec.domain != "generic":
        lo, hi = DOMAINS[spec.domain]
        return f"seeded({args}, lo={lo}, hi={hi})"
    return f"seeded({args})"


def _index_item(item) -> str:
    if isinstance(item, slice):
        parts = ["" if p is None else str(p) for p in (item.start, item.stop, item.step)]
        return ":".join(parts).rstrip(":") or ":"
    if item is Ellipsis:
        return "..."
    if isinstance(item, np.ndarray):
        return f"np.array({item.tolist()})"
    return repr(item)


def literal(value) -> str:
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, Const):
        return spec_code(value.spec)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, np.dtype):
        return f'np.dtype("{value.name}")'
    if isinstance(value, tuple) and any(isinstance(i, (slice, np.ndarray)) or i is Ellipsis
                                        for i in value):
        items = [_index_item(i) for i in value]
        return "np.s_[" + ", ".join(items) + (",]" if len(items) == 1 else "]")
    return repr(value)


def _step_lines(step, indent: str) -> list[str]:
    if isinstance(step, CallStep):
        args = [literal(a) for a in step.args] + [f"{k}={literal(v)}" for k, v in step.kwargs]
        return [f"{indent}{step.out} = A.{step.op}({', '.join(args)})"]
    if isinstance(step, CondStep):
        name = step.outs[0]
        lines = _block_lines(step.true, f"{name}_true", indent)
        lines += _block_lines(step.false, f"{name}_false", indent)
        targets = ", ".join(step.outs) + ("," if len(step.outs) == 1 else "")
        return lines + [f"{indent}{targets} = cond({step.pred.name}, {name}_true, "
                        f"{name}_false)"]
    assert isinstance(step, ScanStep)
    lines = _block_lines(step.body, f"{step.out}_body", indent, single=True)
    rev = ", reverse=True" if step.reverse else ""
    return lines + [f"{indent}{step.out} = scan({step.out}_body, {step.elems.name}, "
                    f"{step.init.name}{rev})"]


def _block_lines(block: Block, name: str, indent: str, single: bool = False) -> list[str]:
    lines = [f"{indent}def {name}({', '.join(block.params)}):"]
    for step in block.steps:
        lines += _step_lines(step, indent + "    ")
    result = block.outputs[0] if single else "[" + ", ".join(block.outputs) + "]"
    return lines + [f"{indent}    return {result}"]


def to_code(program: Program) -> str:
    """The program, its inputs, and the weighted loss whose gradient is checked."""
    lines = [PREAMBLE, ""]
    lines += _block_lines(Block(tuple(i.name for i in program.inputs), program.body.steps,
                                program.body.outputs), "program", "")
    lines += ["", ""]
    for inp in program.inputs:
        static = f"  # placeholder shape {inp.static}" if inp.static != inp.spec.shape else ""
        lines.append(f"{inp.name} = {spec_code(inp.spec)}{static}")
    tensors = ", ".join(f"dg.tensor({i.name}, requires_grad=True)" if i.spec.kind == "f"
                        else f"dg.tensor({i.name})" for i in program.inputs)
    lines += [f"outputs = program({tensors})",
              f"# loss = sum_k A.sum(A.mul(outputs[k], seeded({program.seed} * 31 + k, "
              "outputs[k].shape, lo=-1.0, hi=1.0))) over the float outputs"]
    return "\n".join(lines) + "\n"
