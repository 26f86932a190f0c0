"""Is a CUDA GPU usable here? (`sg.cuda_available()`), and the clear error when not.

Nothing here imports `numba.cuda` at module import: `staticgraph` imports this
module, and a CPU-only install must not need numba-cuda. The first call of
`cuda_available()` imports it and launches one tiny probe kernel (that also
proves NVVM/libdevice are found); the answer is cached for the process.

Under the Numba CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`) kernels run in
Python threads on the CPU: that is no GPU, so `cuda_available()` is False
unless the process opts in with `allow_simulator()` or the environment
variable `GRAPHCOMPARE_CUDA_SIMULATOR=1` (the simulator tests do).
"""

from __future__ import annotations

import functools
import os
import warnings

from ..errors import BackendError

SIMULATOR_ENV = "GRAPHCOMPARE_CUDA_SIMULATOR"
_allow_sim = False


def simulator_enabled() -> bool:
    """Does Numba run CUDA kernels in its simulator in this process?"""
    from numba.core import config
    return bool(config.ENABLE_CUDASIM)


def allow_simulator(flag: bool = True) -> None:
    """Let `backend="cuda"` run on the Numba CUDA simulator (tests, --tiny checks)."""
    global _allow_sim
    _allow_sim = bool(flag)


def _simulator_allowed() -> bool:
    return _allow_sim or os.environ.get(SIMULATOR_ENV) == "1"


@functools.cache
def _probe() -> str | None:
    """None when a real GPU compiles and runs a kernel; else why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from numba import cuda
    except Exception as exc:  # noqa: BLE001 - any import failure means "not usable"
        return f"numba.cuda cannot be imported ({type(exc).__name__}: {exc})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not cuda.is_available():
                return "numba.cuda.is_available() is False (no CUDA driver or no GPU)"
            import numpy as np

            @cuda.jit
            def _add_one(x):
                i = cuda.grid(1)
                if i < x.size:
                    x[i] += 1.0

            arr = cuda.to_device(np.zeros(4, np.float32))
            _add_one[1, 4](arr)
            if not (arr.copy_to_host() == 1.0).all():
                return "a probe kernel ran but gave wrong results"
    except Exception as exc:  # noqa: BLE001 - driver, NVVM or launch failures
        return f"a probe kernel failed ({type(exc).__name__}: {exc})"
    return None


def cuda_status() -> tuple[bool, str]:
    """(usable, reason or device description)."""
    try:
        sim = simulator_enabled()
    except Exception as exc:  # noqa: BLE001
        return False, f"numba is unusable ({exc})"
    if sim:
        if _simulator_allowed():
            try:
                from numba import cuda  # noqa: F401
            except Exception as exc:  # noqa: BLE001 - a numba without its CUDA target
                return False, (f"numba.cuda cannot be imported ({exc}); "
                               "pip install numba-cuda")
            return True, "Numba CUDA simulator (opted in)"
        return False, ("the Numba CUDA simulator is active (NUMBA_ENABLE_CUDASIM=1); it is "
                       f"not a GPU (tests opt in with {SIMULATOR_ENV}=1)")
    reason = _probe()
    if reason is not None:
        return False, reason
    return True, device_name()


def cuda_available() -> bool:
    """True only where a real CUDA GPU is usable through numba-cuda.

    False on machines without a GPU or driver, without numba-cuda's
    compiler libraries, and under the CUDA simulator unless a test opted in
    (`allow_simulator()` or GRAPHCOMPARE_CUDA_SIMULATOR=1).
    """
    return cuda_status()[0]


def device_name() -> str:
    """The current device's name (or that the simulator runs)."""
    if simulator_enabled():
        return "Numba CUDA simulator"
    from numba import cuda
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    return f"{name} (compute capability {dev.compute_capability[0]}.{dev.compute_capability[1]})"


def require_cuda() -> None:
    """Raise the documented BackendError unless `backend="cuda"` can run here."""
    ok, reason = cuda_status()
    if not ok:
        raise BackendError(
            f"backend 'cuda' needs a usable NVIDIA GPU: {reason}. Install the cuda extra "
            "(pip install -e '.[cuda]') on a machine with a GPU, or use backend='numba' "
            "(or 'auto', which picks cuda only where sg.cuda_available() is True)")
