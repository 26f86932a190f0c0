"""`sg.train.Saver`: variable values to and from a NumPy `.npz` file.

    saver = sg.train.Saver()              # every variable of the session's graph
    path = saver.save(sess, "ckpt")       # writes ckpt.npz, returns its path
    saver.restore(sess, path)

The file maps each variable's name (`w`, `dense/kernel`, `w/Adam/m`, ...) to
its value; `np.load(path)` reads it back without staticgraph. Optimizer
slots are variables too, so they are saved unless `var_list` leaves them
out. `restore` checks the whole file first: names, shapes and dtypes must
match the variables exactly, else it raises `CheckpointError` and changes
nothing.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..build.state import Variable, global_variables
from ..errors import GraphError
from .optimizer import as_variable


class CheckpointError(GraphError):
    """A checkpoint does not match the variables (names, shapes, dtypes), or is
    not a readable .npz file."""


def _npz_path(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


class Saver:
    """Saves and restores variables by name (TF1's `tf.train.Saver`).

    `var_list`: None (every variable of the session's graph, looked up at each
    save/restore, so optimizer slots made later are included), a list of
    variables, or a dict {name in the file: variable}.
    """

    def __init__(self, var_list=None, max_to_keep: int | None = 5) -> None:
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep < 0):
            raise ValueError(f"Saver: max_to_keep must be an int >= 0 or None, got "
                             f"{max_to_keep!r}")
        self.max_to_keep = max_to_keep
        self.last_checkpoints: list[str] = []
        self._var_list: dict | list | None = None
        if isinstance(var_list, dict):
            self._var_list = {str(k): as_variable(v, "Saver") for k, v in var_list.items()}
        elif var_list is not None:
            self._var_list = [as_variable(v, "Saver") for v in var_list]

    def _named(self, sess) -> dict[str, Variable]:
        if self._var_list is None:
            return {v.name: v for v in global_variables(sess.graph)}
        if isinstance(self._var_list, dict):
            return dict(self._var_list)
        return {v.name: v for v in self._var_list}

    def save(self, sess, path, global_step=None) -> str:
        """Write the variables' current values to `path` (".npz" is appended when
        missing); returns the path written. The file is replaced atomically.

        With `global_step` (an int, or a variable read from `sess`) the file is
        `path-<step>.npz`, as in TF1. Each save is recorded in a `checkpoint`
        file beside it (read by `latest_checkpoint`); beyond `max_to_keep`
        saves (None or 0: keep all), the oldest file this Saver wrote is deleted.
        """
        sess.check_open("Saver.save")
        if global_step is not None:
            step = sess.get(global_step) if isinstance(global_step, Variable) else global_step
            path = f"{os.fspath(path)}-{int(step)}"
        path = _npz_path(path)
        self._write(sess, path)
        self._record(path)
        return str(path)

    def _record(self, path: Path) -> None:
        """Remember `path`, delete files beyond max_to_keep, rewrite the state file."""
        name = str(path)
        if name in self.last_checkpoints:
            self.last_checkpoints.remove(name)
        self.last_checkpoints.append(name)
        keep = self.max_to_keep
        while keep and len(self.last_checkpoints) > keep:
            old = Path(self.last_checkpoints.pop(0))
            if old.exists():
                old.unlink()
        write_checkpoint_state(path.parent, [Path(p) for p in self.last_checkpoints
                                             if Path(p).parent == path.parent])

    def _write(self, sess, path: Path) -> None:
        values = {name: sess.get(var) for name, var in self._named(sess).items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                for name, value in values.items():  # np.savez's layout: one .npy per key
                    with archive.open(name + ".npy", "w", force_zip64=True) as f:
                        np.lib.format.write_array(f, np.asarray(value, order="C"),
                                                  allow_pickle=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def restore(self, sess, path) -> None:
        """Set the variables from `path`, after checking names, shapes and dtypes."""
        sess.check_open("Saver.restore")
        path = _npz_path(path)
        if not path.exists():
            raise FileNotFoundError(f"Saver.restore: no checkpoint file {str(path)!r}")
        named = self._named(sess)
        stored = _read(path)
        _check_names(path, set(named), set(stored))
        for name, var in named.items():
            _check_value(path, name, var, stored[name])
        for name, var in named.items():
            sess.set(var, stored[name])


def _read(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"Saver.restore: cannot read {str(path)!r} as a .npz "
                              "checkpoint: it is not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"Saver.restore: cannot read {str(path)!r} as a .npz "
                              f"checkpoint: {exc}") from None


def _check_names(path: Path, expected: set, stored: set) -> None:
    missing, unexpected = sorted(expected - stored), sorted(stored - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"Saver.restore: {str(path)!r} does not match the variables: "
            f"missing from the file {missing}, not in the graph {unexpected}")


def _check_value(path: Path, name: str, var: Variable, value: np.ndarray) -> None:
    if value.shape != tuple(var.shape):
        raise CheckpointError(
            f"Saver.restore: variable '{name}' has shape {tuple(var.shape)}, but "
            f"{str(path)!r} holds shape {value.shape}")
    if value.dtype != var.dtype:
        raise CheckpointError(
            f"Saver.restore: variable '{name}' has dtype {var.dtype}, but "
            f"{str(path)!r} holds {value.dtype}")


CHECKPOINT_STATE = "checkpoint"


def write_checkpoint_state(directory: Path, paths: list[Path]) -> None:
    """Write TF1's `checkpoint` text file: the newest path and all kept ones."""
    if not paths:
        return
    lines = [f'model_checkpoint_path: "{paths[-1].name}"']
    lines += [f'all_model_checkpoint_paths: "{p.name}"' for p in paths]
    fd, tmp = tempfile.mkstemp(dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, directory / CHECKPOINT_STATE)


def latest_checkpoint(checkpoint_dir) -> str | None:
    """The newest checkpoint a Saver recorded in `checkpoint_dir`, or None
    (TF1's `tf.train.latest_checkpoint`); pass it to `Saver.restore`."""
    state = Path(checkpoint_dir) / CHECKPOINT_STATE
    if not state.is_file():
        return None
    for line in state.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            path = Path(value.strip().strip('"'))
            path = path if path.is_absolute() else Path(checkpoint_dir) / path
            return str(path) if path.exists() else None
    return None
