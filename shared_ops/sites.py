"""Find the user's line of code that called into the library.

Errors name that line, and graph nodes remember it. The walk skips frames
whose file lives inside one of the engine packages.
"""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType

_LIB_DIRS: list[str] = []
# filename -> whether it lies in a library dir (filled by `classify_file`); an
# engine's hot path may read it before calling `classify_file`.
FILE_IS_LIBRARY: dict[str, bool] = {}
# The code objects of the last two user frames an engine found, newest first (a
# hot path checks them before classifying the file: a loop calling ops from its
# body and from a helper alternates between two); reset whenever the library
# dirs change.
last_user_code: list = [None, None]


def register_library_dir(path: str) -> None:
    """Mark a package directory as library code (its frames are skipped)."""
    directory = os.path.dirname(os.path.abspath(path)) + os.sep
    if directory not in _LIB_DIRS:
        _LIB_DIRS.append(directory)
        FILE_IS_LIBRARY.clear()
        last_user_code[:] = [None, None]


register_library_dir(__file__)


def classify_file(filename: str) -> bool:
    """Whether `filename` is library code (its frames are skipped); cached in
    FILE_IS_LIBRARY."""
    full = os.path.abspath(filename)
    flag = any(full.startswith(d) for d in _LIB_DIRS) or filename.startswith("<frozen")
    FILE_IS_LIBRARY[filename] = flag
    return flag


def user_frame(depth: int = 1) -> FrameType | None:
    """The innermost frame outside the library, starting at `sys._getframe(depth)`
    as seen from here (1: the caller of this function)."""
    frame = sys._getframe(depth)
    known = FILE_IS_LIBRARY
    while frame is not None:
        filename = frame.f_code.co_filename
        flag = known.get(filename)
        if flag is None:
            flag = classify_file(filename)
        if not flag:
            return frame
        frame = frame.f_back
    return None


def user_site(depth: int = 1) -> tuple[str, int] | None:
    """(filename, lineno) of the innermost frame outside the library."""
    frame = user_frame(depth + 1)  # +1: this function's own frame
    return None if frame is None else (frame.f_code.co_filename, frame.f_lineno)


def code_site(code: CodeType, offset: int) -> tuple[str, int]:
    """(filename, lineno) of the instruction at byte `offset` of `code`.

    Lets a hot path keep just `frame.f_code` and `frame.f_lasti` (cheap to
    read) and find the line only when an error or a repr needs it.
    """
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return code.co_filename, line
    return code.co_filename, code.co_firstlineno


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
