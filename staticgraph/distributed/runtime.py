"""`ClusterRuntime`: how a `Session(cluster=...)` runs its steps on Dask.

Per request (fetches and feeds) the program is extracted, optimised with the
backend-neutral passes, cut by `partition`, and each partition is shipped
to its worker and compiled there once (`worker.install`). A step then
submits one task per partition, pinned to its worker, passing the feeds and
the futures of the partitions it reads from; Dask moves only those values
between workers, variables stay where they live. The client waits in short
slices and checks between them that every worker it uses is still in the
cluster, so a lost worker is reported within about a second.
"""

from __future__ import annotations

import itertools
import time
import uuid

import numpy as np

from ..errors import DistributedError, WorkerLostError
from ..ir import Var
from ..passes.dce import eliminate_dead_code
from ..passes.fold import fold_constants
from ..passes.partition import partition
from ..passes.pipeline import optimize
from ..passes.simplify import simplify
from ..placement import DEFAULT_DEVICE, parse_device
from ..program import extract_program
from . import wire
from . import worker as W
from .cluster import address_of, alive_workers, connect, worker_table
from .explain import describe_plan
from .plan import StepPlan, build_step_plan, worker_payload

POLL_SECONDS = 0.5
NEUTRAL_PASSES = (("dce", eliminate_dead_code), ("fold", fold_constants),
                  ("simplify", simplify), ("dce", eliminate_dead_code))


class ClusterRuntime:
    """A session's connection to its cluster: plans, steps, resident values."""

    def __init__(self, session, cluster, security=None) -> None:
        start = time.perf_counter()
        self.session = session
        self.connection = connect(cluster, security)
        self.client = self.connection.client
        self.token = uuid.uuid4().hex
        self.workers, self.gpus = worker_table(self.client)
        self.setup: dict[str, float] = {"connect": time.perf_counter() - start}
        self.opened: set[str] = set()
        self.plans: dict[tuple, tuple[int, StepPlan]] = {}
        self.compile_seconds: dict[tuple, float] = {}
        self.counters = {"steps": 0, "tasks": 0, "feed_bytes": 0, "fetch_bytes": 0}
        self.lost: str | None = None
        self._steps = itertools.count()
        self._plan_ids = itertools.count()

    # ---- devices -----------------------------------------------------------------
    def address(self, device: str) -> str:
        return address_of(device, self.workers, self.gpus)

    def backend_for(self, device: str) -> str:
        return "cuda" if parse_device(device)[0] == "cuda" else self.session.backend

    def _device_of(self, address: str) -> str:
        for kind, pool in (("worker", self.workers), ("cuda", self.gpus)):
            if address in pool:
                return f"{kind}:{pool.index(address)}"
        return address

    # ---- waiting, with a check for lost workers ------------------------------------
    def _check_alive(self, addresses) -> None:
        if self.lost is not None:
            raise WorkerLostError(self.lost)
        try:
            alive = alive_workers(self.client)
        except (OSError, TimeoutError) as exc:
            self.lost = f"the Dask scheduler cannot be reached: {exc}"
            raise WorkerLostError(self.lost) from None
        gone = [a for a in addresses if a not in alive]
        if gone:
            device = self._device_of(gone[0])
            self.lost = (f"device '{device}' ({gone[0]}) left the cluster: its worker "
                         "process died or was cut off, and the variables placed there are "
                         "lost; restore them from a checkpoint in a new session")
            raise WorkerLostError(self.lost)

    def _wait(self, futures: list, addresses, gather: list | None = None) -> list:
        """Results of `gather` (default: all `futures`) once every future is done,
        or WorkerLostError soon after a worker leaves."""
        import distributed
        while True:
            try:
                distributed.wait(futures, timeout=POLL_SECONDS)
                break
            except (TimeoutError, distributed.TimeoutError):
                try:
                    self._check_alive(addresses)
                except WorkerLostError:
                    self.client.cancel(futures)
                    raise
        failed = [f for f in futures if f.status == "error"]
        if failed:
            exc = failed[0].exception()
            if isinstance(exc, distributed.KilledWorker) or not isinstance(exc, Exception):
                self._check_alive(addresses)
                raise WorkerLostError(f"a worker died running a step: {exc}")
            raise exc
        if any(f.status == "cancelled" for f in futures):
            self._check_alive(addresses)
            raise DistributedError("a step's tasks were cancelled by the Dask scheduler")
        return self.client.gather(futures if gather is None else gather)

    def _on(self, address: str, fn, *args):
        return self.client.submit(fn, *args, workers=[address], allow_other_workers=False,
                                  pure=False)

    def _open(self, addresses) -> None:
        new = [a for a in dict.fromkeys(addresses) if a not in self.opened]
        if new:
            futures = [self._on(a, W.open_session, self.token, self.session.auto_init)
                       for a in new]
            self._wait(futures, new)
            self.opened.update(new)

    # ---- plans ------------------------------------------------------------------
    def plan(self, values: list[Var], ops: list[Var], fed: list[Var]) -> tuple[int, StepPlan]:
        """The installed plan for a request (built, shipped and compiled once)."""
        key = (tuple(v.id for v in values), tuple(v.id for v in ops), tuple(v.id for v in fed))
        found = self.plans.get(key)
        if found is not None:
            return found
        start = time.perf_counter()
        program = extract_program(self.session.graph, values, fed, effects=ops)
        optimised, _ = optimize(program, NEUTRAL_PASSES)
        step = build_step_plan(partition(optimised, DEFAULT_DEVICE))
        addresses = [self.address(p.device) for p in step.parts]
        self.setup["partition"] = self.setup.get("partition", 0.0) + time.perf_counter() - start
        self._open(addresses)
        plan_id = next(self._plan_ids)
        start = time.perf_counter()
        futures = [self._on(a, W.install, self.token, (plan_id, i),
                            wire.dumps(worker_payload(p)), self.backend_for(p.device),
                            self.session.check_numerics)
                   for i, (p, a) in enumerate(zip(step.parts, addresses))]
        seconds = self._wait(futures, addresses)
        self.setup["ship and compile"] = self.setup.get("ship and compile", 0.0) + (
            time.perf_counter() - start)
        for i, s in enumerate(seconds):
            self.compile_seconds[(plan_id, i)] = s
        self.plans[key] = (plan_id, step)
        return plan_id, step

    # ---- one step --------------------------------------------------------------------
    def run(self, plan_id: int, step: StepPlan, feeds: list[np.ndarray]) -> list:
        """One step: the fetched values, in the request's order."""
        self._check_lost()
        n = next(self._steps)
        part_futures, bundle_futures, addresses = [], [], []
        for i, p in enumerate(step.parts):
            address = self.address(p.device)
            addresses.append(address)
            remote = [bundle_futures[s][b] for s, b in p.remote]
            after = part_futures[p.after] if p.after is not None else None
            future = self.client.submit(
                W.run_partition, self.token, (plan_id, i), tuple(feeds[j] for j in p.feeds),
                remote, after, key=f"sg-{self.token[:8]}-{plan_id}-{i}-{n}",
                workers=[address], allow_other_workers=False, pure=False)
            part_futures.append(future)
            if len(p.dests) > 1:
                bundle_futures.append([self._on(address, W.select, future, b)
                                       for b in range(len(p.dests))])
            else:
                bundle_futures.append([future])
        client_bundles = [(s, b) for s, p in enumerate(step.parts)
                          for b, d in enumerate(p.dests) if d == "client"]
        wanted = [bundle_futures[s][b] for s, b in client_bundles]
        results = self._wait(part_futures + wanted, set(addresses), gather=wanted)
        got = dict(zip(client_bundles, results))
        values = []
        for fetch in step.fetches:
            if fetch[0] == "feed":
                values.append(feeds[fetch[1]])
            elif fetch[0] == "constant":
                values.append(fetch[1])
            else:
                values.append(got[(fetch[1], fetch[2])][fetch[3]])
        self._count(step, feeds, values)
        return values

    def _count(self, step: StepPlan, feeds: list, values: list) -> None:
        used = {j for p in step.parts for j in p.feeds}
        self.counters["steps"] += 1
        self.counters["tasks"] += step.tasks_per_step
        self.counters["feed_bytes"] += sum(np.asarray(feeds[j]).nbytes for j in used)
        self.counters["fetch_bytes"] += sum(np.asarray(v).nbytes for v, f in
                                            zip(values, step.fetches) if f[0] == "part")

    def _check_lost(self) -> None:
        if self.lost is not None:
            raise WorkerLostError(self.lost)

    # ---- variables -----------------------------------------------------------------
    def _variable_address(self, var: Var) -> str:
        info = self.session.graph.variables[var]
        return self.address(info.device or DEFAULT_DEVICE)

    def get(self, var: Var) -> np.ndarray:
        """A copy of a variable's value, from its worker."""
        self._check_lost()
        address = self._variable_address(var)
        self._open([address])
        initial = self.session.graph.variables[var].initial
        future = self._on(address, W.read_values, self.token, [(var.id, initial)])
        return self._wait([future], [address])[0][0]

    def set(self, var: Var, value: np.ndarray) -> None:
        """Overwrite a variable's value on its worker."""
        self._check_lost()
        address = self._variable_address(var)
        self._open([address])
        self._wait([self._on(address, W.write_values, self.token, {var.id: value})], [address])

    def cut_bytes_received(self) -> int:
        """Cut-edge bytes the session's workers have received so far (their count)."""
        self._check_lost()
        addresses = sorted(self.opened)
        futures = [self._on(a, W.bytes_received, self.token) for a in addresses]
        return int(sum(self._wait(futures, addresses)))

    def explain(self, plan_id: int, step: StepPlan) -> str:
        return describe_plan(self, plan_id, step)

    def close(self) -> None:
        """Drop the session's state on its workers; close what the session started."""
        try:
            if self.lost is None and self.opened and not self.connection.owns_client:
                futures = [self._on(a, W.close_session, self.token) for a in self.opened]
                self._wait(futures, list(self.opened))
        finally:
            self.connection.close()

