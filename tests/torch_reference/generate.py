"""Compute every case of the table with PyTorch (float64) and store the inputs,
parameters, weights, values and gradients in references.npz, with torch's
version. Needs torch: `make torch-reference`, or from the repository root
`PYTHONPATH=tests python -m torch_reference.generate`.

Keys: '<case>/x<i>' the inputs, '<case>/param/<name>' a module's parameters,
'<case>/weights' the output's weights, '<case>/value' the output and
'<case>/grad/<x<i> or parameter name>' the gradients; 'torch_version'.
"""

from __future__ import annotations

import numpy as np

from . import CASES
from .cases import REFERENCE_FILE, Case, parameter_values, run_eager


def case_arrays(case: Case, torch) -> dict:
    """One case's arrays computed with torch, keyed as in the file less '<case>/'."""
    inputs = case.inputs()
    params = parameter_values(case, case.module(torch)) if case.module is not None else {}
    value = run_eager(case, torch, inputs, params, None).value
    weights = np.random.default_rng(case.seed + 2000).standard_normal(value.shape)
    result = run_eager(case, torch, inputs, params, weights)
    arrays = {f"x{i}": a for i, a in enumerate(inputs)}
    arrays.update({f"param/{k}": v for k, v in params.items()})
    arrays.update({"weights": weights, "value": result.value})
    arrays.update({f"grad/{k}": v for k, v in result.grads.items()})
    return {k: np.asarray(v) for k, v in arrays.items()}


def reference_arrays() -> dict:
    """Every case's arrays and 'torch_version', computed now (imports torch)."""
    import torch

    arrays = {"torch_version": np.array(torch.__version__)}
    for case in CASES.values():
        arrays.update({f"{case.name}/{k}": v for k, v in case_arrays(case, torch).items()})
    return arrays


def main() -> None:
    """Write references.npz next to this file."""
    arrays = reference_arrays()
    np.savez_compressed(REFERENCE_FILE, **arrays)
    print(f"wrote {REFERENCE_FILE} ({REFERENCE_FILE.stat().st_size} bytes, "
          f"{len(CASES)} cases, torch {arrays['torch_version']})")


if __name__ == "__main__":
    main()
