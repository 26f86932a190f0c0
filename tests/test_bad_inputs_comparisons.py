"""Bad input to the comparison's command line and API (docs/errors.md, "comparisons"):
one-line usage errors listing the valid choices (exit 2, no traceback), or a
built-in exception naming the scenario and field, before anything runs."""

from __future__ import annotations

import pytest
from bad_inputs_util import documents

from comparisons import rnn
from comparisons.__main__ import main
from comparisons.report import results


def one_line_usage_error(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@documents("comparisons", "`run` with an unknown scenario, variant or backend")
@pytest.mark.parametrize("argv, message", [
    (["run", "rnn", "--backend", "gpu"], "unknown backend(s) gpu; valid: interpret, numba, cuda"),
    (["run", "no_such"], "unknown scenario(s) no_such; valid: tutorial"),
    (["run", "rnn", "--variant", "nope"], "unknown variant(s) nope; valid: dyngraph"),
])
def test_unknown_choices(capsys, argv, message):
    one_line_usage_error(capsys, argv, message)


@documents("comparisons", "`run --set` with no `=`, a field no selected scenario has, a value "
                          "of the wrong type or out of range")
@pytest.mark.parametrize("argv, message", [
    (["run", "rnn", "--set", "steps"], "--set expects FIELD=VALUE"),
    (["run", "rnn", "--set", "nope=1"], "no selected scenario has size field(s) nope; valid: "),
    (["run", "rnn", "--set", "steps=abc"], "size field steps takes an integer (default 150)"),
    (["run", "rnn", "--set", "cell=gru"], "must be one of tanh, lstm"),
    (["run", "rnn", "--set", "max_len=1"], "max_len (1) must be >= min_len"),
    (["run", "rnn", "--set", "steps=0"], "steps must be >= 1"),
])
def test_bad_set_values(capsys, argv, message):
    one_line_usage_error(capsys, argv, message)


@documents("comparisons", "a scenario's `run()` with an unknown size field or a value of the "
                          "wrong type")
def test_api_size_types():
    with pytest.raises(TypeError, match=r"rnn: unknown size field\(s\) \['hidden_units'\]"):
        rnn.run(hidden_units=3)
    with pytest.raises(TypeError, match="rnn: size field batch takes an integer"):
        rnn.run(batch=2.5)
    rows = rnn.run(quick=True, peers=False, only=["numpy"], steps=2)  # a good run after
    assert rows[0]["status"] == "ok"


@documents("comparisons", "a scenario's `run()` with a size value out of range or not among "
                          "its choices")
def test_api_size_values():
    with pytest.raises(ValueError, match="rnn: size field cell must be one of tanh, lstm"):
        rnn.run(cell="gru")
    with pytest.raises(ValueError, match="rnn: size field hidden must be >= 1"):
        rnn.run(hidden=0)


@documents("comparisons", "a results file that cannot be read, is not strict JSON (`NaN`), or "
                          "has another `schema_version`")
@pytest.mark.parametrize("text, message", [
    ('{"schema_version": 2, "x": NaN}', "not strict JSON"),
    ('{"schema_version": 1}', "schema_version 1, expected 2"),
    ("not json", "is not JSON"),
    (None, "cannot read"),
])
def test_bad_results_files(tmp_path, capsys, text, message):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    if text is not None:
        bad.write_text(text)
    good.write_text(results.dumps(results.header({})))
    with pytest.raises(results.ResultsError, match=message):
        results.load(bad)
    one_line_usage_error(capsys, ["compare", str(bad), str(good)], message)
