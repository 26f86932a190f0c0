"""Helpers the bad-input tests share: tie a test to docs/errors.md, expect an error."""

from __future__ import annotations

import pytest


def documents(section: str, *whens: str):
    """Tie a test to rows of docs/errors.md (checked by test_bad_inputs_catalogue.py)."""
    def mark(fn):
        fn.documents = [(section, w) for w in whens]
        return fn
    return mark


def expect(error: type, fn, *parts: str) -> str:
    """fn() raises `error` whose message holds every one of `parts`; the message."""
    with pytest.raises(error) as info:
        fn()
    msg = str(info.value)
    for part in parts:
        assert part in msg, (part, msg)
    return msg
