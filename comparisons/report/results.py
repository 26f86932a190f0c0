"""results.json: what ran, on what, and how to compare two runs.

The document is strict JSON (no NaN or Infinity tokens: missing figures are
null) with a `schema_version`, the machine, the versions of the libraries
involved, the git commit of the checkout when there is one, and a
timezone-aware timestamp. `compare(old, new)` reports per-variant ratios of
step and setup time and names the variants that got slower beyond noise.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..harness.machine import cpu_model

SCHEMA_VERSION = 2
LIBRARIES = ("numpy", "numba", "llvmlite", "scipy", "torch", "jax", "jaxlib", "matplotlib")
STEP_FLOOR = 0.2  # a step slower by less than 20% is never flagged
SETUP_FACTOR = 2.0  # setup: flagged when over twice as slow ...
SETUP_MIN_S = 0.01  # ... and at least 10 ms slower


class ResultsError(ValueError):
    """A results file that cannot be read or compared (missing, not strict JSON,
    another schema)."""


def library_versions() -> dict[str, str | None]:
    """Installed versions (from package metadata; nothing is imported), None if absent."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict | None:
    """{"commit", "dirty"} of the checkout this package runs from, or None."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=here, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())} if commit else None


def machine() -> dict:
    """What ran the comparison: Python, OS, CPU, core count, thread settings."""
    threads = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                              "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.machine(), "cpu": cpu_model(), "cpus": os.cpu_count(),
            "threads": threads}


def timestamp() -> str:
    """Now, in ISO 8601 with the UTC offset."""
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(
        timespec="seconds")


def header(options: dict) -> dict:
    """Everything of the document but the scenarios."""
    return {"schema_version": SCHEMA_VERSION, "timestamp": timestamp(), "machine": machine(),
            "libraries": library_versions(), "git": git_commit(), "options": options}


def dumps(document: dict) -> str:
    """Strict JSON text (raises ValueError on a NaN or infinity left in)."""
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def _reject(token: str):
    raise ResultsError(f"not strict JSON: {token}")


def load(path: Path) -> dict:
    """A results document, checked for strict JSON and this schema version."""
    try:
        document = json.loads(Path(path).read_text(), parse_constant=_reject)
    except OSError as exc:
        raise ResultsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        found = document.get("schema_version") if isinstance(document, dict) else None
        raise ResultsError(f"{path}: schema_version {found!r}, expected {SCHEMA_VERSION} "
                           "(written by another version of graphcompare; run it again)")
    return document


@dataclass
class Change:
    """One variant's figures in two runs."""

    scenario: str
    variant: str
    step_ratio: float | None
    setup_ratio: float | None
    tolerance: float
    regressed: list[str]


def _noise(row: dict) -> float:
    """Relative uncertainty of a row's median step: its spread over sqrt(samples)."""
    spread = (row.get("spread_pct") or 0.0) / 100
    return spread / math.sqrt(max(row.get("samples") or 1, 1))


def _ratio(new: float | None, old: float | None) -> float | None:
    return new / old if new is not None and old else None


def compare_row(scenario: str, old: dict, new: dict, same_cache: bool) -> Change:
    """Ratios new/old; a regression when the step is slower than the noise of both
    medians allows (three standard errors, at least STEP_FLOOR), or the setup
    is over SETUP_FACTOR slower in runs of the same cache state."""
    step = _ratio(new.get("step_s"), old.get("step_s"))
    setup = _ratio(new.get("setup_s"), old.get("setup_s"))
    tolerance = max(STEP_FLOOR, 3 * math.hypot(_noise(old), _noise(new)))
    regressed = []
    if step is not None and step > 1 + tolerance:
        regressed.append("step")
    if (same_cache and setup is not None and setup > SETUP_FACTOR
            and new["setup_s"] - old["setup_s"] > SETUP_MIN_S):
        regressed.append("setup")
    return Change(scenario, new["variant"], step, setup, tolerance, regressed)


def compare(old: dict, new: dict) -> list[Change]:
    """One Change per variant measured (status ok) in both documents."""
    same_cache = old.get("options", {}).get("cold") == new.get("options", {}).get("cold")
    changes = []
    for name, scenario in new.get("scenarios", {}).items():
        before = {r["variant"]: r for r in old.get("scenarios", {}).get(name, {}).get("rows", [])
                  if r.get("status") == "ok"}
        for row in scenario.get("rows", []):
            if row.get("status") == "ok" and row["variant"] in before:
                changes.append(compare_row(name, before[row["variant"]], row, same_cache))
    return changes


def format_changes(changes: list[Change]) -> str:
    """A table of ratios, regressions marked."""
    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"
    lines = [f"{'scenario':12s} {'variant':34s} {'step':>8s} {'setup':>8s}  noise  verdict"]
    for c in changes:
        verdict = "REGRESSED (" + ", ".join(c.regressed) + ")" if c.regressed else "ok"
        lines.append(f"{c.scenario:12s} {c.variant:34s} {ratio(c.step_ratio):>8s} "
                     f"{ratio(c.setup_ratio):>8s}  ±{c.tolerance * 100:3.0f}%  {verdict}")
    return "\n".join(lines)
