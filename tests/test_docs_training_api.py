"""Every ```python block of docs/api-tf1.md and docs/api-pytorch.md runs as
it stands (each in a fresh namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"


def _blocks():
    for name in ("api-tf1.md", "api-pytorch.md"):
        text = (DOCS / name).read_text()
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S)):
            yield pytest.param(block, id=f"{name}-{i}")


@pytest.mark.parametrize("source", list(_blocks()))
def test_docs_block_runs(source, capsys):
    exec(compile(source, "<docs>", "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out  # every block prints what it shows


def test_both_pages_have_blocks():
    assert len(list(_blocks())) >= 9
