"""docs/errors.md and the bad-input tests stay in step.

Every table row of docs/errors.md (its "when" cell, under its `##` section)
is named by at least one test in tests/test_bad_inputs_*.py (their
`@documents(section, when)` decorator), and every row a test names exists.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import dyngraph as dg
import staticgraph as sg
from staticgraph.compiler import KernelCacheWarning

TESTS = Path(__file__).parent
DOC = TESTS.parent / "docs" / "errors.md"
MIN_ENTRIES = 30


def doc_rows(text: str) -> list[tuple[str, str]]:
    """(section, when) for each row of each table with a 'when' column."""
    rows, section, column = [], "", None
    for line in text.splitlines():
        if line.startswith("## "):
            section, column = line[3:].strip().lower(), None
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith(
            "|") else None
        if cells is None:
            column = None
        elif "when" in cells:
            column = cells.index("when")
        elif column is not None and not set(line) <= set("|-: "):
            rows.append((section, cells[column]))
    return rows


def rows_named_by_tests() -> dict[tuple[str, str], list[str]]:
    """(section, when) -> the tests that name it."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(TESTS.glob("test_bad_inputs_*.py")):
        module = importlib.import_module(path.stem)
        for name, fn in vars(module).items():
            for section, when in getattr(fn, "documents", ()):
                found.setdefault((section.lower(), when), []).append(f"{path.stem}::{name}")
    return found


def test_every_documented_error_has_a_test_and_every_test_a_row():
    rows, tested = doc_rows(DOC.read_text()), rows_named_by_tests()
    untested = [r for r in rows if r not in tested]
    undocumented = {r: t for r, t in tested.items() if r not in rows}
    assert not untested, "rows of docs/errors.md without a test:\n" + "\n".join(map(str,
                                                                                  untested))
    assert not undocumented, f"tests naming rows docs/errors.md lacks: {undocumented}"
    assert len(set(rows)) >= MIN_ENTRIES


def test_every_exception_type_is_documented():
    """Each exception class the packages export has a heading or tree entry in the doc."""
    text = DOC.read_text()
    types = {dg.ShapeError, dg.DTypeError, dg.GradientError, dg.InPlaceError,
             dg.FunctionError, dg.GraphCompareError, sg.IndexingError, sg.GraphError,
             sg.InvalidGraphError, sg.SymbolicValueError, sg.UninitializedVariableError,
             sg.FeedError, sg.NumericsError, sg.BackendError, sg.train.CheckpointError,
             KernelCacheWarning}
    missing = [t.__name__ for t in types if not re.search(rf"\b{t.__name__}\b", text)]
    assert not missing, missing


@pytest.mark.parametrize("text, expected", [
    ("## a\n\n| when | example |\n|---|---|\n| x | `m` |\n", [("a", "x")]),
    ("## b\n| type | when | example |\n|---|---|---|\n| T | y | `m` |\n\n| z |\n", [("b", "y")]),
])
def test_doc_rows_parser(text, expected):
    assert doc_rows(text) == expected
