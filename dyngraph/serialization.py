"""`dg.save` / `dg.load`: state dicts in a NumPy `.npz` file, never a pickle.

    dg.save(model.state_dict(), "model.npz")
    model.load_state_dict(dg.load("model.npz"))

The file maps each key to one array (`np.load(path)` reads it without
dyngraph); loading runs NumPy with `allow_pickle=False`, so a file can hold
data only, never code. The same layout as staticgraph's `sg.train.Saver`.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping

import numpy as np

from shared_ops import DTypeError

from .dispatch import wrap
from .tensor import Tensor


def _arrays(obj) -> dict[str, np.ndarray]:
    if not isinstance(obj, Mapping):
        raise DTypeError(f"save: expects a state dict (a mapping of names to tensors or "
                         f"arrays), got {type(obj).__name__}")
    arrays = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise DTypeError(f"save: state dict keys must be strings, got {key!r}")
        data = value._data if isinstance(value, Tensor) else value
        if isinstance(data, (bool, int, float, np.generic)):
            data = np.asarray(data)
        if not isinstance(data, np.ndarray) or data.dtype.kind not in "biuf":
            raise DTypeError(f"save: the value of {key!r} is a {type(value).__name__}; only "
                             "tensors, numeric arrays and numbers can be saved")
        arrays[key] = np.ascontiguousarray(data)
    return arrays


def save(obj, f) -> None:
    """Write a state dict (names to tensors, arrays or numbers) to the path `f`.

    The path is used as given (no suffix is added); the file is replaced
    atomically, so a failed save leaves an earlier file intact.
    """
    arrays = _arrays(obj)
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            for name, value in arrays.items():
                with archive.open(name + ".npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, value, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(f, map_location=None, weights_only: bool = True) -> dict[str, Tensor]:
    """Read a file written by `dg.save` (or `np.savez`): {name: Tensor}.

    `map_location` may only name the CPU; `weights_only` is always true here.
    """
    if map_location is not None and str(getattr(map_location, "type", map_location)).split(
            ":")[0] != "cpu":
        raise ValueError(f"load: map_location {map_location!r} is not available; dyngraph "
                         "tensors live on the CPU")
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no file {path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load: {path!r} is not a file written by dg.save (not an .npz "
                         "archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: wrap(np.array(npz[name])) for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"load: cannot read {path!r}: {exc}") from None
