"""The "cuda" backend: a closed program optimised, lowered to device steps, run.

`CudaRunner(program)` (the factory `backend="cuda"` uses) raises the
documented BackendError unless `sg.cuda_available()`; then it runs the
shared pass list of what it declares it lowers (`capabilities()`, through
`staticgraph.passes.passes_for`: the same passes, in the same order, as the
numba backend: the scan rewrites, DCE, CSE, folding, simplification, the
GEMM update, elementwise+reduction fusion) and lowers the result to a
`Block` (block.py; each equation's step from the table in lowering.py): the
same structure as the numba backend's orchestrator, with device arrays.

Per call:
- feeds: one host-to-device copy each, into a device buffer kept per shape;
- variables: kept on the device between calls. The session's `state` holds a
  `DeviceValue` for each variable this backend touched (`np.asarray` of it,
  hence `sess.get`, copies to the host); a plain array in `state` (initial
  value, `sess.set`) is uploaded once and replaced by a `DeviceValue`;
- updates: computed into the variable's storage when the plan allows (SGD
  steps), else copied device-to-device after every read of the run;
- fetches: one device-to-host copy each (fresh arrays the caller owns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shared_ops import ShapeError, format_site

from ..errors import NumericsError
from ..graph.ir import Graph, Var
from ..passes import optimize, passes_for
from ..passes.pipeline import PassSpec
from . import arrays
from .arrays import DeviceValue
from .block import Block, Memory
from .device import device_name, require_cuda


def capabilities() -> frozenset[str]:
    """What this backend lowers, which enables passes (`passes_for`): scans
    (a host loop of device steps, scan.py) and `gemm_update` (the tiled
    matmul with the update in its epilogue, matmul.py)."""
    return frozenset({"scan_loops", "gemm_update"})


class CudaRunner:
    """Runs one closed program on the GPU (see the module doc)."""

    check_available = staticmethod(require_cuda)  # asked by backends.get_backend

    def __init__(self, program: Graph, check_numerics: bool = False,
                 passes: Sequence[PassSpec] | None = None) -> None:
        require_cuda()
        self.program = program
        self.check_numerics = check_numerics
        self.capabilities = capabilities()
        if passes is None:
            passes = passes_for(self.capabilities)
        self.optimized, self.report = optimize(program, passes)
        self.block = Block(self.optimized)
        self.memory = Memory()
        self.updates = list(self.optimized.updates)
        self.calls = 0

    # ---- state ------------------------------------------------------------------
    def _feed(self, var: Var, host: np.ndarray) -> Any:
        buf = self.memory.own(("feed", var.id), np.shape(host), np.asarray(host).dtype)
        return arrays.upload(np.asarray(host), into=buf)

    @staticmethod
    def _variable(var: Var, state: dict) -> Any:
        held = state[var]
        if isinstance(held, DeviceValue):
            return held.array
        arr = arrays.upload(np.asarray(held, dtype=var.dtype))
        state[var] = DeviceValue(arr)
        return arr

    def __call__(self, inputs: Sequence[np.ndarray], state: dict) -> list:
        prog = self.optimized
        env: dict = {v: self._feed(v, x) for v, x in zip(prog.inputs, inputs)}
        for v in prog.variables:
            if v in state:
                env[v] = self._variable(v, state)
        self.block.run(env, self.memory, self._check if self.check_numerics else None)
        outputs = [arrays.download(env[v]) for v in prog.outputs]  # before any update
        self._commit(env, state)
        self.calls += 1
        return outputs

    def _commit(self, env: dict, state: dict) -> None:
        """Write each update into its variable's device storage (after all reads)."""
        staged = []
        for var, value in self.updates:
            src = env[value]
            if tuple(src.shape) != tuple(var.aval.shape):
                raise ShapeError(f"update of variable '{var.label}' (shape {var.aval.shape}) "
                                 f"with a value of shape {tuple(src.shape)} at run time")
            held = state.get(var)
            dst = held.array if isinstance(held, DeviceValue) else None
            if dst is None or tuple(dst.shape) != tuple(var.aval.shape):
                dst = arrays.empty(tuple(var.aval.shape), var.dtype)
                state[var] = DeviceValue(dst)
            if src is not dst:
                staged.append((var, dst, src))
        dsts = [d for _, d, _ in staged]
        safe = []
        for var, dst, src in staged:  # a source another update overwrites: copy it first
            if any(arrays.same_memory(src, d) for d in dsts):
                tmp = self.memory.own(("commit", var.id), tuple(src.shape), src.dtype)
                arrays.copy_into(tmp, src)
                src = tmp
            safe.append((dst, src))
        for dst, src in safe:
            arrays.copy_into(dst, src)

    def _check(self, step: Any, env: dict) -> None:
        """check_numerics: every float output of a top-level step must be finite."""
        for var in step.outs:
            if np.dtype(var.dtype).kind != "f":
                continue
            value = arrays.download(env[var])
            if not np.isfinite(value).all():
                bad = "NaN" if np.isnan(value).any() else "Inf"
                site = format_site(step.eqn.site)
                raise NumericsError(f"check_numerics: op '{step.eqn.prim.name}'"
                                    + (f" created at {site}" if site else "")
                                    + f" produced {bad} (backend cuda)")

    # ---- reporting --------------------------------------------------------------
    @property
    def kernels(self) -> list:
        return self.block.kernels()

    @property
    def source(self) -> str:
        """The generated CUDA kernel modules, one after another."""
        seen, parts = set(), []
        for kernel in self.kernels:
            if kernel.key not in seen:
                seen.add(kernel.key)
                parts.append(f"# ===== k_{kernel.key} ({kernel.group.name})\n{kernel.source}")
        return "\n".join(parts)

    def explain(self) -> str:
        k = self.kernels
        lines = [f"backend: cuda on {device_name()}",
                 f"  {len(self.block.steps)} top-level steps, {len({x.key for x in k})} kernels"
                 f", {self.memory.nbytes() / 1e6:.2f} MB of device buffers after "
                 f"{self.calls} calls",
                 self.report.describe(), self.block.plan.describe(), "steps:"]
        lines += self.block.describe()
        lines += ["generated kernels (runner.source has them all):"]
        lines += [f"  {kernel!r}" for kernel in k]
        return "\n".join(lines)
