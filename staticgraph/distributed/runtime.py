"""`ClusterRuntime`: how a `Session(cluster=...)` runs its steps on Dask.

Per request (fetches and feeds) the program is extracted, optimised with the
backend-neutral passes, cut by `partition`, and each partition is shipped
to its worker and compiled there once (`worker.install`). A step then
calls each partition once on its worker, through the session's Dask actor
there (`worker.PartitionHost`), level by level: the partitions of one level
run at once, and the client hands each one its feeds and the cut-edge values
earlier levels sent it. Variables stay where they live. The client waits in
short slices and checks between them that every worker it uses is still in
the cluster, so a lost worker is reported within about a second.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from shared_ops import format_site
from shared_ops.cluster import ActorPool, connect
from shared_ops.errors import GraphCompareError

from ..errors import DistributedError, WorkerLostError
from ..graph.ir import Var
from ..graph.placement import DEFAULT_DEVICE, parse_device
from ..passes.dce import eliminate_dead_code
from ..passes.fold import fold_constants
from ..passes.partition import partition
from ..passes.pipeline import optimize
from ..passes.simplify import simplify
from ..runtime.program import extract_program
from . import wire
from .devices import address_of, worker_table
from .explain import describe_plan
from .plan import StepPlan, build_step_plan, worker_payload
from .worker import PartitionHost

NEUTRAL_PASSES = (("dce", eliminate_dead_code), ("fold", fold_constants),
                  ("simplify", simplify), ("dce", eliminate_dead_code))


class ClusterRuntime:
    """A session's connection to its cluster: plans, steps, resident values."""

    def __init__(self, session, cluster, security=None) -> None:
        start = time.perf_counter()
        self.session = session
        self.connection = connect(cluster, security)
        self.client = self.connection.client
        try:
            self.workers, self.gpus = worker_table(self.client)
        except BaseException:
            self.connection.close()
            raise
        self.setup: dict[str, float] = {"connect (and cluster start)":
                                        time.perf_counter() - start}
        self.pool = ActorPool(self.client,
                              lambda address: (PartitionHost, (session.auto_init,)),
                              lambda address: f"device '{self._device_of(address)}'")
        self.plans: dict[tuple, tuple[int, StepPlan]] = {}
        self.compile_seconds: dict[tuple, float] = {}
        self.counters = {"steps": 0, "tasks": 0, "feed_bytes": 0, "cut_bytes": 0,
                         "fetch_bytes": 0}
        self._plan_ids = itertools.count()
        self._step_numbers = itertools.count()

    # ---- devices -----------------------------------------------------------------
    def address(self, device: str) -> str:
        return address_of(device, self.workers, self.gpus)

    def _address_of_part(self, part) -> str:
        """The partition's worker; a DistributedError naming what was placed there."""
        try:
            return self.address(part.device)
        except DistributedError as exc:
            placed = [e for e in part.program.eqns if e.device == part.device]
            variables = [v for v, info in part.program.variables.items()
                         if info.device == part.device]
            if placed:
                where = format_site(placed[0].site)
                what = f"op '{placed[0].prim.name}'" + (f" created at {where}" if where else "")
            elif variables:
                where = format_site(variables[0].site)
                what = f"variable '{variables[0].label}'" + (
                    f" created at {where}" if where else "")
            else:
                raise
            raise DistributedError(f"{exc}; {what} is placed there") from None

    def backend_for(self, device: str) -> str:
        return "cuda" if parse_device(device)[0] == "cuda" else self.session.backend

    def _device_of(self, address: str) -> str:
        for kind, pool in (("worker", self.workers), ("cuda", self.gpus)):
            if address in pool:
                return f"{kind}:{pool.index(address)}"
        return address

    # ---- plans ------------------------------------------------------------------
    def plan(self, values: list[Var], ops: list[Var], fed: list[Var]) -> tuple[int, StepPlan]:
        """The installed plan for a request (built, shipped and compiled once)."""
        self._check_lost()
        key = (tuple(v.id for v in values), tuple(v.id for v in ops), tuple(v.id for v in fed))
        found = self.plans.get(key)
        if found is not None:
            return found
        start = time.perf_counter()
        program = extract_program(self.session.graph, values, fed, effects=ops)
        optimised, _ = optimize(program, NEUTRAL_PASSES)
        step = build_step_plan(partition(optimised, DEFAULT_DEVICE))
        addresses = [self._address_of_part(p) for p in step.parts]
        self.setup["partition"] = self.setup.get("partition", 0.0) + time.perf_counter() - start
        plan_id = next(self._plan_ids)
        start = time.perf_counter()
        seconds = self.pool.call_all([
            (a, "install", ((plan_id, i), wire.dumps(worker_payload(p)),
                            self.backend_for(p.device), self.session.check_numerics))
            for i, (p, a) in enumerate(zip(step.parts, addresses))])
        for i, s in enumerate(seconds):
            self.compile_seconds[(plan_id, i)] = s
        self.setup["ship and compile"] = self.setup.get("ship and compile", 0.0) + (
            time.perf_counter() - start)
        self.plans[key] = (plan_id, step)
        return plan_id, step

    # ---- one step --------------------------------------------------------------------
    def run(self, plan_id: int, step: StepPlan, feeds: list[np.ndarray]) -> list:
        """One step: the fetched values, in the request's order. If a partition
        fails, every worker of the step restores its variables, then the error
        is raised."""
        self._check_lost()
        number = next(self._step_numbers)
        results: list = [None] * len(step.parts)
        cut_bytes, called = 0, set()
        try:
            for group in step.levels():
                calls = []
                for i in group:
                    p = step.parts[i]
                    address = self.address(p.device)
                    remote = tuple(results[s][b] for s, b in p.remote)
                    cut_bytes += sum(a.nbytes for bundle in remote for a in bundle)
                    calls.append((address, "run", ((plan_id, i), number,
                                                   tuple(feeds[j] for j in p.feeds), remote)))
                    called.add(address)
                for i, value in zip(group, self.pool.call_all(calls)):
                    results[i] = value
        except BaseException:
            self._rollback(called, number)
            raise
        values = []
        for fetch in step.fetches:
            if fetch[0] == "feed":
                values.append(feeds[fetch[1]])
            elif fetch[0] == "constant":
                values.append(fetch[1])
            else:
                values.append(results[fetch[1]][fetch[2]][fetch[3]])
        self._count(step, feeds, values, cut_bytes)
        return values

    def _rollback(self, addresses, number: int) -> None:
        if self.pool.lost is None:
            try:
                self.pool.call_all([(a, "rollback", (number,)) for a in sorted(addresses)])
            except GraphCompareError:
                pass  # a worker lost meanwhile: the session is unusable anyway

    def _count(self, step: StepPlan, feeds: list, values: list, cut_bytes: int) -> None:
        used = {j for p in step.parts for j in p.feeds}
        self.counters["steps"] += 1
        self.counters["tasks"] += step.tasks_per_step
        self.counters["feed_bytes"] += sum(np.asarray(feeds[j]).nbytes for j in used)
        self.counters["cut_bytes"] += cut_bytes
        self.counters["fetch_bytes"] += sum(np.asarray(v).nbytes for v, f in
                                            zip(values, step.fetches) if f[0] == "part")

    def _check_lost(self) -> None:
        if self.pool.lost is not None:
            raise WorkerLostError(self.pool.lost)

    # ---- variables -----------------------------------------------------------------
    def _variable_address(self, var: Var) -> str:
        info = self.session.graph.variables[var]
        return self.address(info.device or DEFAULT_DEVICE)

    def get(self, var: Var) -> np.ndarray:
        """A copy of a variable's value, from its worker."""
        self._check_lost()
        address = self._variable_address(var)
        initial = self.session.graph.variables[var].initial
        call = self.pool.call(address, "read_values", [(var.id, var.label, initial)])
        return self.pool.result(call, address)[0]

    def set(self, var: Var, value: np.ndarray) -> None:
        """Overwrite a variable's value on its worker."""
        self._check_lost()
        address = self._variable_address(var)
        self.pool.result(self.pool.call(address, "write_values", {var.id: value}), address)

    def worker_counters(self) -> dict:
        """Summed over the session's workers: cut-edge bytes received and seconds
        spent in the partitions' runners (the workers' own counts)."""
        self._check_lost()
        total = {"bytes_received": 0, "compute_seconds": 0.0}
        for counts in self.pool.call_all([(a, "counters", ()) for a in sorted(self.pool.actors)]):
            for k, v in counts.items():
                total[k] += v
        return total

    def explain(self, plan_id: int, step: StepPlan) -> str:
        return describe_plan(self, plan_id, step)

    def close(self) -> None:
        """Drop the session's actors (and with them its state on the workers);
        close what the session started."""
        try:
            self.pool.release()
        finally:
            self.connection.close()

