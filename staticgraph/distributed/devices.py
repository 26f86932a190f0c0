"""Devices of a cluster: which worker runs `worker:N` and `cuda:N`.

`worker:N` is the N-th worker in the order of their names when every name
is an integer (a LocalCluster's 0, 1, ...; `dask worker --name 3`), else in
the order of their addresses; `cuda:N` is the N-th worker, in that order,
that declares the Dask resource `GPU`.
"""

from __future__ import annotations

from shared_ops.cluster import ordered_workers, workers_now

from ..errors import DistributedError
from ..graph.placement import parse_device


def worker_table(client) -> tuple[list[str], list[str]]:
    """(CPU worker addresses in device order, GPU worker addresses in order)."""
    workers = workers_now(client)
    ordered = ordered_workers(workers)
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
