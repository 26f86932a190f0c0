"""dyngraph over a Dask distributed cluster: data-parallel training.

`DataParallel` keeps one replica of an eager model per worker and trains it
the way PyTorch's DistributedDataParallel does (see `data_parallel`).
"""

from .data_parallel import DataParallel  # noqa: F401
