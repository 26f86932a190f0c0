"""Reaching a Dask cluster and naming its workers as devices.

`connect(cluster, security)` accepts what `sg.Session(cluster=...)` takes:
an int N (a `LocalCluster` of N worker processes, one thread each, that
listens on 127.0.0.1 only and is closed with the session), a scheduler
address ("tcp://host:port", "tls://host:port"), or a `distributed.Client`
(used as it is, never closed by the session).

Devices: `worker:N` is the N-th worker in the order of their names when every
name is an integer (a LocalCluster's 0, 1, ...; `dask worker --name 3`),
else in the order of their addresses; `cuda:N` is the N-th worker, in that
order, that declares the Dask resource `GPU`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DistributedError
from ..placement import parse_device


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
        raise DistributedError("sg.Session(cluster=...) needs Dask distributed: "
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


def _order(workers: dict) -> list[str]:
    names = {addr: info.get("name") for addr, info in workers.items()}
    if all(isinstance(n, int) or (isinstance(n, str) and n.isdigit()) for n in names.values()):
        return sorted(workers, key=lambda a: int(names[a]))
    return sorted(workers)


def worker_table(client) -> tuple[list[str], list[str]]:
    """(CPU worker addresses in device order, GPU worker addresses in order)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    ordered = _order(workers)
    gpus = [a for a in ordered if workers[a].get("resources", {}).get("GPU", 0) > 0]
    return ordered, gpus


def address_of(device: str, workers: list[str], gpus: list[str]) -> str:
    """The worker address that runs `device`; DistributedError if there is none."""
    kind, index = parse_device(device)
    pool = workers if kind == "worker" else gpus
    if index >= len(pool):
        what = "workers" if kind == "worker" else "workers with the resource GPU"
        raise DistributedError(f"device '{device}' does not exist: the cluster has "
                               f"{len(pool)} {what}")
    return pool[index]


def alive_workers(client) -> set[str]:
    """Addresses of the workers the scheduler knows now."""
    return set(client.scheduler_info(n_workers=-1)["workers"])
