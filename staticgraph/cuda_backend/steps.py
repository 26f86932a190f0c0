"""The steps an equation lowers to on the device (the table is `lowering.STEPS`).

Each class is one way to run an equation: a generated kernel (`KernelStep`:
a fused group, one elementwise op, a reduction), the tiled matmul and the
GEMM update with its scaled-subtract epilogue (`MatmulStep`,
`GemmUpdateStep`), zero-copy views (`ViewStep`), copies into views
(`GetitemGradStep`, `ConcatStep`), softmax as three kernels, cond on the
host's reading of its predicate, and the host fallback (`HostStep`). The
scan step is in scan.py.

A step's `run(env, mem)` reads device arrays from `env`, writes its outputs
into `block.out(...)` buffers (a value that would alias memory the plan may
hand to another value is copied there instead) and stores them in `env`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shared_ops import REGISTRY, Primitive, format_site

from ..build.creation import identity_p
from ..compiler import GroupBuilder, compile_group
from ..compiler.group import FusedGroup, GroupInput, Reduction, Ref
from ..graph.ir import Eqn
from ..passes import make_fused_eqn
from ..passes.fused_op import fused_p
from ..runtime.interpreter import Evaluator
from . import arrays
from .matmul import gemm_update_into, matmul_into
from .step import Step, is_device, with_ellipsis

RESHAPES = (REGISTRY["reshape"], REGISTRY["reshape_like"])  # a device reshape
LOG_SOFTMAX = REGISTRY["log_softmax"]

# A device view per view primitive (reshapes: `arrays.reshape`). Every key
# declares `views`; a declared view missing here runs on the host
# (checked_labels checks its labels, custom_gradient has several outputs).
VIEW_OPS: dict[Primitive, object] = {
    REGISTRY["transpose"]: lambda a, p, shape: a.transpose(p["axes"]),
    REGISTRY["expand_dims"]: lambda a, p, shape: np.expand_dims(a, p["axis"]),
    REGISTRY["squeeze"]: lambda a, p, shape: np.squeeze(a, p["axis"]),
    REGISTRY["broadcast_to"]: lambda a, p, shape: np.broadcast_to(a, shape),
    REGISTRY["getitem"]: lambda a, p, shape: a[with_ellipsis(p["index"])],
    REGISTRY["stop_gradient"]: lambda a, p, shape: a,
    identity_p: lambda a, p, shape: a,
}


class KernelStep(Step):
    """A fused group (or one elementwise op as a one-step group): one kernel."""

    kind = "kernel"

    def __init__(self, eqn: Eqn, block: Any, index: int, group: FusedGroup | None = None) -> None:
        super().__init__(eqn, block, index)
        fused = eqn if eqn.prim is fused_p or group is not None else \
            make_fused_eqn([eqn], list(eqn.outputs))
        self.fused = fused
        self.ins = [x for x in fused.inputs]
        self.kernel = compile_group(group or fused.params["group"], arrays._target())

    def run(self, env: dict, mem: Any) -> None:
        vals = [env[x] for x in self.ins]
        outs = self.buffers(env, mem, self.out_shapes(vals, self.fused))
        self.kernel(*vals, out=outs)
        env.update(zip(self.outs, outs))

    def describe(self) -> list[str]:
        g = self.kernel.group
        what = " ".join(s.prim for s in g.steps)
        if g.reduction is not None:
            what += f" + {g.reduction.kind} over {g.reduction.axes}"
        name = self.eqn.params.get("name", self.eqn.prim.name)
        sites = self.eqn.params.get("sites") or ([format_site(self.eqn.site)]
                                                if self.eqn.site else [])
        return [f"{name}: kernel k_{self.kernel.key[:12]} ({what.strip()}) "
                f"variants {', '.join(self.kernel.fns)}" + (f"  [{', '.join(sites)}]"
                                                           if sites else "")]

    def kernels(self) -> list:
        return [self.kernel]


def reduction_group(eqn: Eqn) -> FusedGroup:
    """sum/mean/max of one input as a group with no element steps."""
    x = eqn.inputs[0]
    nd = len(x.shape)
    axes = eqn.params.get("axis")
    axes = tuple(range(nd)) if axes is None else tuple(sorted(axes))
    red = Reduction(eqn.prim.name, Ref("in", 0), axes, bool(eqn.params.get("keepdims")),
                    format_site(eqn.site) or None)
    name = f"{eqn.prim.name}_{np.dtype(x.dtype).name}_{nd}d"
    return FusedGroup((GroupInput(nd, np.dtype(x.dtype)),), (), (), red, name)


class MatmulStep(Step):
    kind = "matmul"

    def __init__(self, eqn: Eqn, block: Any, index: int) -> None:
        super().__init__(eqn, block, index)
        self.path = "not run yet"

    def run(self, env: dict, mem: Any) -> None:
        a, b = self.values(env)
        out = self.buffers(env, mem, self.out_shapes([a, b]))[0]
        self.path = matmul_into(out, a, b)
        env[self.outs[0]] = out

    def describe(self) -> list[str]:
        return [f"{self.label()}: tiled shared-memory kernel (last run: {self.path})"]


class GemmUpdateStep(Step):
    """`c + sign * scale * (a @ b)`: one tiled matmul whose epilogue reads `c`
    and writes the output, which the plan may put in `c`'s own buffer (an
    SGD update lands in the variable's storage)."""

    kind = "gemm_update"

    def __init__(self, eqn: Eqn, block: Any, index: int) -> None:
        super().__init__(eqn, block, index)
        self.path = "not run yet"

    def run(self, env: dict, mem: Any) -> None:
        a, b, c = self.values(env)
        out = self.buffers(env, mem, self.out_shapes([a, b, c]))[0]
        p = self.eqn.params
        self.path = gemm_update_into(out, a, b, c, p["scale"], p["sign"])
        env[self.outs[0]] = out

    def describe(self) -> list[str]:
        sign = "-" if self.eqn.params["sign"] < 0 else "+"
        where = "in place" if self.outs[0] in self.block.plan.in_place or \
            self.outs[0] in self.block.plan.into_variable else "into its buffer"
        return [f"{self.label()}: tiled matmul with the epilogue c {sign} scale * acc, "
                f"{where} (last run: {self.path})"]


class ViewStep(Step):
    """A zero-copy view; copied into its buffer when the plan gave it one."""

    kind = "view"

    def __init__(self, eqn: Eqn, block: Any, index: int) -> None:
        super().__init__(eqn, block, index)
        self.alias = eqn.outputs[0] in block.plan.views

    def run(self, env: dict, mem: Any) -> None:
        vals = self.values(env)
        shape = self.out_shapes(vals)[0]
        prim, params = self.eqn.prim, self.eqn.params
        if prim in RESHAPES:
            result = arrays.reshape(vals[0], shape)
        else:
            result = arrays.view(vals[0], lambda a: VIEW_OPS[prim](a, params, shape))
        if not self.alias:
            out = self.buffers(env, mem, [shape])[0]
            arrays.copy_into(out, result)
            result = out
        env[self.outs[0]] = result

    def describe(self) -> list[str]:
        return [f"{self.label()}: {'device view' if self.alias else 'device copy'}"]


class AxisSizeStep(Step):
    kind = "axis_size"

    def run(self, env: dict, mem: Any) -> None:
        x = env[self.eqn.inputs[0]]
        value = math.prod(x.shape[a] for a in self.eqn.params["axes"])
        var = self.outs[0]
        key = ("axis_size", self.index, var.id)
        out = mem.own(key, (), var.dtype)
        if mem.meta.get(key) != value:
            out = arrays.upload(np.asarray(value, dtype=var.dtype), into=out)
            mem.meta[key] = value
        env[var] = out

    def describe(self) -> list[str]:
        return [f"{self.label()}: 0-d device value (uploaded when the size changes)"]


class GetitemGradStep(Step):
    kind = "scatter"

    def run(self, env: dict, mem: Any) -> None:
        g, x = self.values(env)
        out = self.buffers(env, mem, self.out_shapes([g, x]))[0]
        arrays.fill_zeros(out)
        index = with_ellipsis(self.eqn.params["index"])
        arrays.copy_into(arrays.view(out, lambda a: a[index]), g)
        env[self.outs[0]] = out

    def describe(self) -> list[str]:
        return [f"{self.label()}: zero fill + copy into a device view"]


class ConcatStep(Step):
    kind = "concatenate"

    def run(self, env: dict, mem: Any) -> None:
        vals = self.values(env)
        out = self.buffers(env, mem, self.out_shapes(vals))[0]
        axis, start = self.eqn.params["axis"], 0
        for part in vals:
            size = part.shape[axis]
            index = (slice(None),) * axis + (slice(start, start + size), Ellipsis)
            arrays.copy_into(arrays.view(out, lambda a, i=index: a[i]), part)
            start += size
        env[self.outs[0]] = out

    def describe(self) -> list[str]:
        return [f"{self.label()}: copies into device views"]


class SoftmaxStep(Step):
    """softmax / log_softmax as three kernels: max, exp(x - max) with its sum, the quotient."""

    kind = "softmax"

    def __init__(self, eqn: Eqn, block: Any, index: int) -> None:
        super().__init__(eqn, block, index)
        x = eqn.inputs[0]
        nd, dt, axes = len(x.shape), np.dtype(x.dtype), tuple(sorted(eqn.params["axis"]))
        log = eqn.prim is LOG_SOFTMAX
        target = arrays._target()
        self.max = compile_group(FusedGroup((GroupInput(nd, dt),), (), (), Reduction(
            "max", Ref("in", 0), axes, True), f"{eqn.prim.name}_max"), target)
        b = GroupBuilder(f"{eqn.prim.name}_exp")
        xi, mi = b.input(nd, dt), b.input(nd, dt, axes)
        shifted = b.op("sub", xi, mi)
        e = b.op("exp", shifted)
        self.exp = compile_group(b.build(outputs=[shifted if log else e],
                                         reduce=("sum", e, axes, True)), target)
        b = GroupBuilder(f"{eqn.prim.name}_out")
        ei, si = b.input(nd, dt), b.input(nd, dt, axes)
        out = b.op("sub", ei, b.op("log", si)) if log else b.op("div", ei, si)
        self.out = compile_group(b.build(outputs=[out]), target)

    def run(self, env: dict, mem: Any) -> None:
        x = env[self.eqn.inputs[0]]
        shape = tuple(x.shape)
        kept = tuple(1 if d in self.eqn.params["axis"] else n for d, n in enumerate(shape))
        m = mem.own(("softmax_max", self.index), kept, x.dtype)
        s = mem.own(("softmax_sum", self.index), kept, x.dtype)
        e = mem.own(("softmax_exp", self.index), shape, x.dtype)
        out = self.buffers(env, mem, [shape])[0]
        self.max(x, out=(m,))
        self.exp(x, m, out=(e, s))
        self.out(e, s, out=(out,))
        env[self.outs[0]] = out

    def describe(self) -> list[str]:
        last = "x - max - log(sum)" if self.eqn.prim is LOG_SOFTMAX else "exp / sum"
        return [f"{self.label()}: kernels max, exp + sum, {last}"]

    def kernels(self) -> list:
        return [self.max, self.exp, self.out]


class CondStep(Step):
    """Reads the predicate (one scalar to the host) and runs the taken branch."""

    kind = "cond"

    def __init__(self, eqn: Eqn, block: Any, index: int) -> None:
        super().__init__(eqn, block, index)
        self.branches = [block.nested(eqn.params["true_graph"], "true"),
                         block.nested(eqn.params["false_graph"], "false")]

    def run(self, env: dict, mem: Any) -> None:
        pred, *operands = self.values(env)
        taken = 0 if bool(arrays.download(pred).reshape(())) else 1
        branch = self.branches[taken]
        outs = branch.run(dict(zip(branch.graph.inputs, operands)),
                          mem.child(("cond", self.index, taken)))
        for var, arr in zip(self.outs, outs):
            dst = self.block.out(mem, env, var, tuple(arr.shape))
            arrays.copy_into(dst, arr)
            env[var] = dst

    def describe(self) -> list[str]:
        lines = [f"{self.label()}: predicate to the host, then the taken branch"]
        for branch in self.branches:
            lines.append(f"{branch.name} branch:")
            lines += branch.describe("  ")
        return lines

    def kernels(self) -> list:
        return self.branches[0].kernels() + self.branches[1].kernels()


HOST = Evaluator()


class HostStep(Step):
    """Fallback: inputs to the host, the NumPy `impl`, outputs back to the device."""

    kind = "host fallback"

    def run(self, env: dict, mem: Any) -> None:
        vals = [arrays.download(v) if is_device(v) else v for v in self.values(env)]
        results = HOST.apply(self.eqn, vals)  # the interpreter's errors, naming the op
        for var, value in zip(self.outs, results):
            value = np.asarray(value, dtype=var.dtype)
            dst = self.block.out(mem, env, var, value.shape)
            env[var] = arrays.upload(value, into=dst)

    def describe(self) -> list[str]:
        return [f"{self.label()}: HOST FALLBACK (device -> host, NumPy impl, host -> device)"]
