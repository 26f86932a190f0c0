"""A tiered session whose background compile fails (docs/errors.md, section
"tiered sessions"): the next run raises the compile's error and changes
nothing; the run after it starts a new compile and the session goes on."""

from __future__ import annotations

import numpy as np
import pytest
from bad_inputs_util import documents
from numba_backend_util import numba_cache_dir  # noqa: F401
from test_tiered import feed, plan_runner, run_steps, training_graph

import staticgraph as sg
from staticgraph.errors import BackendError
from staticgraph.runtime import tiered


@documents("tiered sessions", "the background compile of a tiered session failed")
def test_a_failed_compile_is_raised_by_the_next_run_which_changes_nothing():
    g, x, y, w, loss, train = training_graph()
    def fail(program):
        raise BackendError("no compiler today")
    tiered.COMPILE_HOOKS.append(fail)
    try:
        sess = sg.Session(g, backend="numba", tiered=True)
        run_steps(sess, x, y, loss, train, range(1))
        assert sess.wait_compiled(60)
        before = sess.get(w)
        assert "compile failed: BackendError" in plan_runner(sess).describe_tiers()
        with pytest.raises(BackendError, match="no compiler today"):
            sess.run([loss, train], feed(x, y, 1))
        np.testing.assert_array_equal(sess.get(w), before)
    finally:
        tiered.COMPILE_HOOKS.remove(fail)
    run_steps(sess, x, y, loss, train, range(1, 2))  # tries again (interpreted meanwhile)
    assert sess.wait_compiled(60)
    run_steps(sess, x, y, loss, train, range(2, 3))
    assert plan_runner(sess).tiers == ["interpret", "interpret", "numba"]
