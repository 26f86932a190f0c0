"""Reaching a Dask distributed cluster, for both engines' distributed runs.

`connect(cluster, security)` accepts what `sg.Session(cluster=...)` and
`dyngraph.distributed.DataParallel(cluster=...)` take: an int N (a
`LocalCluster` of N worker processes, one thread each, that listens on
127.0.0.1 only and is closed with its owner), a scheduler address
("tcp://host:port", "tls://host:port"), or a `distributed.Client` (used as
it is, never closed). `security` is a Dask `Security` (TLS) object.

Dask is imported only when a cluster is asked for, so the package works
without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DistributedError, GraphCompareError, WorkerLostError


@dataclass
class Connection:
    """A client, and the LocalCluster the session started (None otherwise)."""

    client: object
    local_cluster: object | None
    owns_client: bool

    def close(self) -> None:
        if self.owns_client:
            self.client.close()
        if self.local_cluster is not None:
            self.local_cluster.close()


def _distributed():
    try:
        import distributed
    except ImportError:
        raise DistributedError("running on a cluster needs Dask distributed: "
                               "pip install 'dask[distributed]'") from None
    return distributed


def connect(cluster, security=None, timeout: float = 30.0) -> Connection:
    """A Connection for the `cluster` argument of a Session (see module doc)."""
    distributed = _distributed()
    if isinstance(cluster, distributed.Client):
        return Connection(cluster, None, owns_client=False)
    if isinstance(cluster, bool) or not isinstance(cluster, (int, str)):
        raise DistributedError(f"cluster must be None, a number of local workers, a scheduler "
                               f"address or a distributed.Client, got {cluster!r}")
    if isinstance(cluster, int):
        if cluster < 1:
            raise DistributedError(f"cluster={cluster}: a local cluster needs at least one "
                                   "worker")
        local = distributed.LocalCluster(
            n_workers=cluster, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
            security=security, silence_logs=40, scheduler_kwargs={"dashboard": False})
        try:
            client = distributed.Client(local, security=security, timeout=timeout)
        except BaseException:
            local.close()
            raise
        return Connection(client, local, owns_client=True)
    try:
        client = distributed.Client(cluster, security=security, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise DistributedError(f"cannot reach the Dask scheduler at {cluster!r}: {exc}") from None
    return Connection(client, None, owns_client=True)


def ordered_workers(workers: dict) -> list[str]:
    """Worker addresses ordered by name when every name is an integer, else by
    address (`workers` as in `client.scheduler_info()["workers"]`)."""
    names = {addr: info.get("name") for addr, info in workers.items()}
    if all(isinstance(n, int) or (isinstance(n, str) and n.isdigit()) for n in names.values()):
        return sorted(workers, key=lambda a: int(names[a]))
    return sorted(workers)


def workers_now(client) -> dict:
    """The scheduler's current worker table (address -> info), asked for now.

    Not `client.scheduler_info()`: that returns an attribute a periodic
    callback of the client overwrites with a summary without workers, so it
    can come back empty under load."""
    return client.sync(client.scheduler.identity, n_workers=-1)["workers"]


def worker_addresses(client) -> list[str]:
    """The cluster's worker addresses, in `ordered_workers` order."""
    return ordered_workers(workers_now(client))


def alive_workers(client) -> set[str]:
    """Addresses of the workers the scheduler knows now."""
    return set(workers_now(client))


POLL_SECONDS = 0.5


class ActorPool:
    """One Dask actor per worker address, called directly on its worker.

    Waits are cut into `POLL_SECONDS` slices; between them the pool asks the
    scheduler whether the worker is still there, so a lost worker becomes a
    `WorkerLostError` (worded by `describe(address)`) within about a second,
    never a hang. Once a worker is lost every later call raises at once.
    """

    def __init__(self, client, make_actor, describe) -> None:
        self.client = client
        self.make_actor = make_actor  # address -> (class, args)
        self.describe = describe  # address -> how the error names it
        self.actors: dict[str, object] = {}
        self.futures: list = []
        self.lost: str | None = None

    def check_alive(self, addresses) -> None:
        """WorkerLostError if any of `addresses` left the cluster (or one did before)."""
        if self.lost is not None:
            raise WorkerLostError(self.lost)
        try:
            alive = alive_workers(self.client)
        except (OSError, TimeoutError) as exc:
            self.lost = f"the Dask scheduler cannot be reached: {exc}"
            raise WorkerLostError(self.lost) from None
        gone = [a for a in addresses if a not in alive]
        if gone:
            self.lost = (f"{self.describe(gone[0])} ({gone[0]}) left the cluster: its worker "
                         "process died or was cut off, and the state it held is lost")
            raise WorkerLostError(self.lost)

    def result(self, future, address: str):
        """The future's (or actor call's) result; WorkerLostError if `address` leaves."""
        import distributed
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except (TimeoutError, distributed.TimeoutError):
                self.check_alive([address])
            except GraphCompareError:
                raise
            except (OSError, distributed.comm.CommClosedError, distributed.KilledWorker) as exc:
                self.check_alive([address])
                raise DistributedError(f"the worker at {address} failed: "
                                       f"{type(exc).__name__}: {exc}") from None

    def actor(self, address: str):
        """The actor on `address`, created on first use."""
        actor = self.actors.get(address)
        if actor is None:
            cls, args = self.make_actor(address)
            future = self.client.submit(cls, *args, actor=True, workers=[address],
                                        allow_other_workers=False)
            self.futures.append(future)
            actor = self.actors[address] = self.result(future, address)
        return actor

    def call(self, address: str, method: str, *args):
        """Start `method(*args)` on the actor at `address`; returns its future."""
        import distributed
        if self.lost is not None:
            raise WorkerLostError(self.lost)
        actor = self.actor(address)
        try:
            return getattr(actor, method)(*args)
        except (RuntimeError, OSError, distributed.comm.CommClosedError) as exc:
            self.check_alive([address])
            raise DistributedError(f"the worker at {address} failed: "
                                   f"{type(exc).__name__}: {exc}") from None

    def call_all(self, calls: list[tuple[str, str, tuple]]) -> list:
        """Start every (address, method, args) call, then wait for all; results in order."""
        started = [(self.call(a, m, *args), a) for a, m, args in calls]
        return [self.result(future, a) for future, a in started]

    def release(self) -> None:
        """Forget the actors (Dask drops them from their workers once released)."""
        self.actors.clear()
        if self.lost is None and self.futures:
            self.client.cancel(self.futures)
        self.futures.clear()
