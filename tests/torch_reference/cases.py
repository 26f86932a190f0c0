"""One table of cases run on PyTorch (to make the stored references) and on
dyngraph and staticgraph (to check against them).

A case draws its float64 inputs (and a module's parameters) from its own
seed. `fn(m, *inputs)` runs on a module `m` that is either `dyngraph` or
`torch` (they share PyTorch's names); `torch_fn` replaces it on torch where
the spelling differs. With `module`, `fn(m, module, *inputs)` gets the
module `module(m)` builds, its parameters loaded from the case's. `sg_fn`
builds the same computation on staticgraph symbols (placeholders for the
inputs), where staticgraph has the op. A differentiable case also checks the
gradients of sum(output * weights) for seeded weights, with respect to the
inputs and the module's parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REFERENCE_FILE = Path(__file__).with_name("references.npz")
REGENERATE = "stale: regenerate with `make torch-reference` (needs torch)"


@dataclass(frozen=True)
class Case:
    """One computation, its inputs' shapes and seed, and its spelling per engine."""

    name: str
    shapes: tuple
    fn: Callable
    torch_fn: Callable | None = None
    sg_fn: Callable | None = None
    module: Callable | None = None
    differentiable: bool = True
    seed: int = 0
    rtol: float = 1e-10
    atol: float = 1e-12

    def inputs(self) -> list[np.ndarray]:
        """The case's float64 inputs, drawn from its seed."""
        rng = np.random.default_rng(self.seed)
        return [rng.standard_normal(s) for s in self.shapes]

    def spelling(self, m) -> Callable:
        """The function to run on module m (dyngraph or torch)."""
        return self.torch_fn if self.torch_fn is not None and m.__name__ == "torch" else self.fn


@dataclass
class Result:
    """What one engine computed for a case: the output and the gradients, named
    'x0', 'x1', ... for the inputs and by parameter name for a module's."""

    value: np.ndarray
    grads: dict


def parameter_values(case: Case, torch_module) -> dict:
    """Seeded values for the parameters of a case's torch module, in its order."""
    rng = np.random.default_rng(case.seed + 1000)
    return {name: 0.5 * rng.standard_normal(tuple(p.shape))
            for name, p in torch_module.named_parameters()}


def run_eager(case: Case, m, inputs: list, params: dict, weights: np.ndarray | None) -> Result:
    """Run a case on dyngraph or torch (module m); weights None: value only."""
    xs = [m.tensor(a, requires_grad=case.differentiable) for a in inputs]
    module = None
    if case.module is not None:
        module = case.module(m)
        module.load_state_dict({k: m.tensor(v) for k, v in params.items()})
    out = case.spelling(m)(m, *([module] if module is not None else []), *xs)
    value = out.detach().numpy().copy()
    if not case.differentiable or weights is None:
        return Result(value, {})
    (out * m.tensor(weights)).sum().backward()
    leaves = [(f"x{i}", x) for i, x in enumerate(xs)]
    leaves += list(module.named_parameters()) if module is not None else []
    grads = {name: (np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy().copy())
             for name, t in leaves}
    return Result(value, grads)


def run_static(case: Case, inputs: list, weights: np.ndarray, backend: str,
               feed_weights: bool = False) -> Result:
    """Run a case's sg_fn on a staticgraph session of the given backend: the output
    and the gradients (sg.gradients with the weights as grad_ys) of its inputs."""
    import staticgraph as sg

    graph = sg.Graph(case.name)
    with graph.as_default():
        holders = [sg.placeholder(a.shape, sg.float64, name=f"x{i}")
                   for i, a in enumerate(inputs)]
        out = case.sg_fn(*holders)
        grads = sg.gradients(out, holders, grad_ys=weights) if case.differentiable else []
    with sg.Session(graph, backend=backend) as sess:
        got = sess.run([out, *grads], dict(zip(holders, inputs)))
    return Result(np.asarray(got[0]),
                  {f"x{i}": np.asarray(g) for i, g in enumerate(got[1:])})



def run_dyngraph(case: Case, arrays: dict) -> Result:
    """A case on dyngraph, with the inputs, parameters and weights of its arrays."""
    import dyngraph as dg

    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    inputs = [arrays[f"x{i}"] for i in range(len(case.shapes))]
    return run_eager(case, dg, inputs, params, arrays["weights"])


def check(case: Case, got: Result, arrays: dict) -> None:
    """got's value and gradients equal the arrays' within the case's tolerance."""
    np.testing.assert_allclose(got.value, arrays["value"], rtol=case.rtol, atol=case.atol)
    want = {k[len("grad/"):]: v for k, v in arrays.items() if k.startswith("grad/")}
    assert sorted(got.grads) == sorted(want)
    for name, grad in got.grads.items():
        np.testing.assert_allclose(grad, want[name], rtol=case.rtol, atol=case.atol,
                                   err_msg=f"gradient of {name}")


def load_references() -> dict:
    """Every array of the stored file, keyed '<case>/...', and 'torch_version'."""
    with np.load(REFERENCE_FILE, allow_pickle=False) as data:
        return dict(data)


def stored_case_arrays(stored: dict, name: str) -> dict:
    """One case's stored arrays, keyed without the '<case>/' prefix."""
    prefix = f"{name}/"
    arrays = {k[len(prefix):]: v for k, v in stored.items() if k.startswith(prefix)}
    assert arrays, f"no stored references for case {name!r}: {REGENERATE}"
    return arrays
