"""Every runnable example in README.md and docs/ runs as written."""

from __future__ import annotations

import pytest
from docs_examples import Example, examples, run_example

RUNNABLE = examples()


def test_the_docs_have_runnable_examples():
    assert len(RUNNABLE) >= 5
    assert examples("listing"), "listings are tagged, not dropped"


def test_fences_with_unknown_tags_are_refused():
    every = [e for e in _all() if e.tags]
    unknown = [e.name for e in every if set(e.tags) != {"listing"}]
    assert not unknown, f"unknown python fence tags (only 'listing' is known): {unknown}"


def _all() -> list[Example]:
    from docs_examples import FENCE, ROOT, doc_files
    found = []
    for path in doc_files():
        text = path.read_text()
        for m in FENCE.finditer(text):
            found.append(Example(str(path.relative_to(ROOT)), 0, tuple(m.group(1).split()), ""))
    return found


@pytest.mark.parametrize("example", RUNNABLE, ids=[e.name for e in RUNNABLE])
def test_example_runs(example: Example, tmp_path):
    run_example(example, tmp_path)
