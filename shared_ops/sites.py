"""Find the user's line of code that called into the library.

Errors name that line, and graph nodes remember it. The walk skips frames
whose file lives inside one of the engine packages.
"""

from __future__ import annotations

import os
import sys

_LIB_DIRS: list[str] = []
_known: dict[str, bool] = {}


def register_library_dir(path: str) -> None:
    """Mark a package directory as library code (its frames are skipped)."""
    directory = os.path.dirname(os.path.abspath(path)) + os.sep
    if directory not in _LIB_DIRS:
        _LIB_DIRS.append(directory)
        _known.clear()


register_library_dir(__file__)


def _classify(filename: str) -> bool:
    full = os.path.abspath(filename)
    flag = any(full.startswith(d) for d in _LIB_DIRS) or filename.startswith("<frozen")
    _known[filename] = flag
    return flag


def user_site(depth: int = 1) -> tuple[str, int] | None:
    """(filename, lineno) of the innermost frame outside the library."""
    frame = sys._getframe(depth)
    known = _known
    while frame is not None:
        filename = frame.f_code.co_filename
        flag = known.get(filename)
        if flag is None:
            flag = _classify(filename)
        if not flag:
            return (filename, frame.f_lineno)
        frame = frame.f_back
    return None


def format_site(site: tuple[str, int] | None) -> str | None:
    """'file.py:12' relative to the working directory when short."""
    if site is None:
        return None
    filename, lineno = site
    try:
        rel = os.path.relpath(filename)
        if not rel.startswith(".."):
            filename = rel
    except ValueError:
        pass
    return f"{filename}:{lineno}"
