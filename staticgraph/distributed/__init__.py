"""Running one static graph over the workers of a Dask distributed cluster.

`sg.Session(backend=..., cluster=...)` creates a `ClusterRuntime`: placement
(`sg.device`) decides where ops and variables live, the `partition` pass
cuts each request's program by device, every partition is compiled once on
its worker and kept there, and a step is one Dask task per partition.
`wire` ships programs, `worker` is what runs inside the workers, `plan`
wires partitions into a step, `devices` names the workers
(`shared_ops.cluster` connects).
"""

from .devices import worker_table  # noqa: F401
from .runtime import ClusterRuntime  # noqa: F401
