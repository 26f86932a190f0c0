"""Scenario "dynamic_net": the tutorial's DynamicNet (control flow + weight sharing).

Each forward pass draws a depth 0-3 and applies the *same* middle Linear
layer that many times (`for _ in range(depth)`). Every variant draws the
depths from its own RNG seeded alike, so all see one sequence; all start
from the same seeded weights and train with SGD (lr, momentum) on a summed
squared error, so their loss curves agree.

In dyngraph the loop is plain Python: the tape is rebuilt every step with
whatever depth was drawn. A static graph needs a control-flow op (`cond` /
`switch` over depths, or a `scan` with a mask) built once; the JAX peer uses
`lax.switch`.

    from comparisons import dynamic_net
    rows = dynamic_net.run(batch=64, d_in=1000, hidden=100, d_out=10, steps=200)

A static variant registers a setup that builds the graph once, with the depth
as a fed scalar driving `cond`/`switch` (or a masked `scan`), compiles it, and
returns `Prepared(step, values=lambda: losses, build_s=..., compile_s={...})`
where `step()` draws `depth = problem.draw(rng)` from `rng = problem.depths()`
and runs the graph with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dyngraph as dg

from .framework import Plan, Prepared, Variant
from .harness.peers import jax_variant, torch_variant
from .scenarios import Scenario

LAYERS = ("input_linear", "middle_linear", "output_linear")


@dataclass(frozen=True)
class Size:
    batch: int = 64
    d_in: int = 1000
    hidden: int = 100
    d_out: int = 10
    steps: int = 300
    lr: float = 1e-4
    momentum: float = 0.9
    max_depth: int = 3
    seed: int = 0


@dataclass
class Problem:
    """Seeded inputs, targets and initial weights (torch.nn.Linear layout)."""

    size: Size
    dtype: np.dtype
    x: np.ndarray
    y: np.ndarray
    params: dict[str, np.ndarray]

    def depths(self) -> np.random.Generator:
        """A fresh RNG for the per-step depth draws (same sequence every time)."""
        return np.random.default_rng(self.size.seed + 1)

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(0, self.size.max_depth + 1))


def make_problem(size: Size, dtype: np.dtype) -> Problem:
    rng = np.random.default_rng(size.seed)
    x = rng.standard_normal((size.batch, size.d_in)).astype(dtype)
    y = rng.standard_normal((size.batch, size.d_out)).astype(dtype)
    params = {}
    dims = ((size.d_in, size.hidden), (size.hidden, size.hidden), (size.hidden, size.d_out))
    for name, (fan_in, fan_out) in zip(LAYERS, dims):
        bound = 1 / np.sqrt(fan_in)  # torch.nn.Linear's default init
        params[f"{name}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)
        params[f"{name}.bias"] = rng.uniform(-bound, bound, (fan_out,)).astype(dtype)
    return Problem(size, dtype, x, y, params)


def plan(size: Size) -> Plan:
    return Plan(warmup=1, samples=max(size.steps - 1, 1), inner=1, instrument_steps=4)


SCENARIO = Scenario(
    name="dynamic_net", title="DynamicNet: random depth 0-3, one shared middle layer",
    order=3, full=Size(), quick=Size(steps=60), make_problem=make_problem, plan=plan,
    curve="loss",
    summary="Control flow in the model: a Python loop in dyngraph; a static graph needs "
            "a control-flow op (cond/switch or scan) to express it once.")
run = SCENARIO.run


def _numpy_setup(p: Problem) -> Prepared:
    """Forward, backward through the shared layer, and momentum SGD by hand."""
    w = {k: v.copy() for k, v in p.params.items()}
    bufs: dict[str, np.ndarray] = {}
    rng, losses = p.depths(), []
    s = p.size

    def step() -> None:
        depth = p.draw(rng)
        h = p.x @ w["input_linear.weight"].T + w["input_linear.bias"]
        relu, saved = np.maximum(h, 0), [(p.x, h)]
        for _ in range(depth):
            hm = relu @ w["middle_linear.weight"].T + w["middle_linear.bias"]
            saved.append((relu, hm))
            relu = np.maximum(hm, 0)
        diff = relu @ w["output_linear.weight"].T + w["output_linear.bias"] - p.y
        losses.append(float(np.sum(diff * diff)))
        g = 2 * diff
        grads = {"output_linear.weight": g.T @ relu, "output_linear.bias": g.sum(0)}
        g = g @ w["output_linear.weight"]
        for i in range(len(saved) - 1, -1, -1):
            a, pre = saved[i]
            g = g * (pre > 0)
            name = "middle_linear" if i else "input_linear"
            gw, gb = g.T @ a, g.sum(0)
            if name + ".weight" in grads:
                gw, gb = grads[name + ".weight"] + gw, grads[name + ".bias"] + gb
            grads[name + ".weight"], grads[name + ".bias"] = gw, gb
            if i:
                g = g @ w["middle_linear.weight"]
        for name, grad in grads.items():  # torch.optim.SGD; unused layers keep still
            buf = bufs.get(name)
            bufs[name] = grad.copy() if buf is None else s.momentum * buf + grad
            w[name] -= s.lr * bufs[name]
    return Prepared(step, values=lambda: losses)


class DynamicNet(dg.nn.Module):
    """The tutorial's DynamicNet, in dyngraph (PyTorch's names)."""

    def __init__(self, p: Problem) -> None:
        super().__init__()
        s = p.size
        self.input_linear = dg.nn.Linear(s.d_in, s.hidden, dtype=p.dtype)
        self.middle_linear = dg.nn.Linear(s.hidden, s.hidden, dtype=p.dtype)
        self.output_linear = dg.nn.Linear(s.hidden, s.d_out, dtype=p.dtype)
        self.load_state_dict(p.params)

    def forward(self, x: dg.Tensor, depth: int) -> dg.Tensor:
        h_relu = self.input_linear(x).clamp(min=0)
        for _ in range(depth):
            h_relu = self.middle_linear(h_relu).clamp(min=0)
        return self.output_linear(h_relu)


@SCENARIO.variant("numpy", engine="numpy", kind="reference")
def numpy_variant(p: Problem) -> Prepared:
    return _numpy_setup(p)


@SCENARIO.variant("dyngraph", engine="dyngraph", kind="eager")
def dyngraph_variant(p: Problem) -> Prepared:
    model = DynamicNet(p)
    criterion = dg.nn.MSELoss(reduction="sum")
    optimizer = dg.optim.SGD(model.parameters(), lr=p.size.lr, momentum=p.size.momentum)
    x, y = dg.from_numpy(p.x), dg.from_numpy(p.y)
    rng, losses = p.depths(), []

    def step() -> None:
        loss = criterion(model(x, p.draw(rng)), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Prepared(step, values=lambda: losses)


def _torch_setup(p: Problem, torch) -> Prepared:
    nn = torch.nn
    dt = torch.float64 if p.dtype == np.float64 else torch.float32
    s = p.size
    layers = {n: nn.Linear(*dims, dtype=dt) for n, dims in zip(
        LAYERS, ((s.d_in, s.hidden), (s.hidden, s.hidden), (s.hidden, s.d_out)))}
    model = nn.ModuleDict(layers)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in p.params.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum)
    x, y = torch.from_numpy(p.x), torch.from_numpy(p.y)
    rng, losses = p.depths(), []

    def step() -> None:
        h = model["input_linear"](x).clamp(min=0)
        for _ in range(p.draw(rng)):
            h = model["middle_linear"](h).clamp(min=0)
        loss = (model["output_linear"](h) - y).pow(2).sum()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Prepared(step, values=lambda: losses)


def _jax_setup(p: Problem, jax) -> Prepared:
    """One jitted step; the depth is a run-time operand selecting a `lax.switch` branch."""
    jnp, s = jax.numpy, p.size
    linear = lambda w, name, h: h @ w[name + ".weight"].T + w[name + ".bias"]  # noqa: E731

    def branch(depth: int):
        def forward(w, x):
            h = jnp.maximum(linear(w, "input_linear", x), 0)
            for _ in range(depth):
                h = jnp.maximum(linear(w, "middle_linear", h), 0)
            return linear(w, "output_linear", h)
        return forward

    branches = [branch(d) for d in range(s.max_depth + 1)]

    def loss_fn(w, x, y, depth):
        return jnp.sum((jax.lax.switch(depth, branches, w, x) - y) ** 2)

    @jax.jit
    def train_step(w, bufs, x, y, depth):
        loss, g = jax.value_and_grad(loss_fn)(w, x, y, depth)
        used = {k: jnp.logical_or(depth > 0, not k.startswith("middle")) for k in w}
        bufs = {k: jnp.where(used[k], s.momentum * bufs[k] + g[k], bufs[k]) for k in w}
        w = {k: jnp.where(used[k], w[k] - s.lr * bufs[k], w[k]) for k in w}
        return loss, w, bufs

    state = {"w": {k: jnp.asarray(v) for k, v in p.params.items()}}
    state["bufs"] = {k: jnp.zeros_like(v) for k, v in state["w"].items()}
    x, y, rng, losses = jnp.asarray(p.x), jnp.asarray(p.y), p.depths(), []

    def step() -> None:
        loss, state["w"], state["bufs"] = train_step(state["w"], state["bufs"], x, y,
                                                     p.draw(rng))
        losses.append(float(loss))
    return Prepared(step, values=lambda: losses, compile_on_first_call=True)


SCENARIO.add(torch_variant("torch-eager", setup=_torch_setup))
SCENARIO.add(jax_variant("jax-jit", setup=_jax_setup, note="lax.switch over the depths"))


STATIC_BACKENDS = ("interpret", "numba")


def _static_setup(backend: str):
    def setup(p: Problem) -> Prepared:
        from .static_models import dynamic_net_setup
        return dynamic_net_setup(p, backend)
    return setup


for _backend in STATIC_BACKENDS:
    SCENARIO.add(Variant(f"staticgraph-{_backend}", engine="staticgraph", backend=_backend,
                         kind="static", setup=_static_setup(_backend),
                         note="depth fed at run time to a chain of sg.cond"))


def _register_compiled() -> None:
    """dg.compile(DynamicNet): a trace per depth drawn, and AutoGraph's one trace."""
    from .compiled_variants import dynamic_net_variants
    for variant in dynamic_net_variants(DynamicNet):
        SCENARIO.add(variant)


_register_compiled()
