"""Scenario "rnn": a tanh RNN learns a running sum from sequences of varying length.

Every training step draws a sequence length T and a batch of sequences
(`Problem.stream`, one seeded RNG per variant, so all see the same data),
predicts `0.3 * cumsum(x[..., 0])` at every step from the hidden state, and
takes an SGD step on the mean squared error. All variants start from the
same weights, so their loss curves agree (float64: to rounding).

The variants show the seed's central contrast:

- numpy: hand-written BPTT, input projection hoisted out of the loop (reference);
- dyngraph: a Python loop; every length records its own tape;
- staticgraph-scan: `sg.scan`, one graph and one compile for every length;
- staticgraph-unrolled: a graph (tower) and a compile per distinct length
  (each new length is a recompile: its time is in the total and the
  cumulative curve, not in the steady step time);
- torch-eager / jax-scan: peers, when installed.

The LSTM version is the "lstm" scenario (`comparisons/lstm.py`), made by
`make_scenario` below, with both static variants on every backend of
`STATIC_BACKENDS` (on "numba" each scan runs as one compiled loop,
`staticgraph/scan/loop/`; "cuda" rows read "skipped" with the reason
where there is no GPU). Another backend adds its static rows by name:

    from comparisons import rnn
    rnn.SCENARIO.add(rnn.scan_variant("mybackend"))
    rnn.SCENARIO.add(rnn.unrolled_variant("mybackend"))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import dyngraph as dg

from ..framework import Plan, Prepared, Variant, availability
from ..scenarios import Column, Scenario
from . import models as rm
from . import numpy_steps as rn


@dataclass(frozen=True)
class Size:
    cell: str = "tanh"
    batch: int = 16
    d_in: int = 4
    hidden: int = 32
    steps: int = 150
    min_len: int = 5
    max_len: int = 25
    lr: float = 0.03
    seed: int = 0


# numba: each scan one compiled loop (staticgraph/scan/loop/);
# cuda: rows say why when there is no GPU
STATIC_BACKENDS = ("interpret", "numba", "cuda")
QUICK = Size(batch=4, d_in=2, hidden=8, steps=12, min_len=2, max_len=6, lr=0.2)


@dataclass
class Problem:
    """Seeded initial weights; `stream()` gives the per-step data, the same every time."""

    size: Size
    dtype: np.dtype
    params: dict[str, np.ndarray]

    def stream(self):
        """Yields (xs, ys) batches: T drawn in [min_len, max_len], targets the running sum."""
        s = self.size
        rng = np.random.default_rng(s.seed + 1)
        while True:
            length = int(rng.integers(s.min_len, s.max_len + 1))
            xs = rng.standard_normal((length, s.batch, s.d_in)).astype(self.dtype)
            yield xs, (0.3 * np.cumsum(xs[..., :1], axis=0)).astype(self.dtype)


def validate(size: Size) -> None:
    """Sizes the model and the data stream can run (ValueError naming the field)."""
    for name in ("batch", "d_in", "hidden", "min_len"):
        if getattr(size, name) < 1:
            raise ValueError(f"rnn: size field {name} must be >= 1, not {getattr(size, name)}")
    if size.max_len < size.min_len:
        raise ValueError(f"rnn: size field max_len ({size.max_len}) must be >= min_len "
                         f"({size.min_len})")


def make_problem(size: Size, dtype: np.dtype) -> Problem:
    rng = np.random.default_rng(size.seed)
    return Problem(size, dtype, rn.init_params(size.cell, size.d_in, size.hidden, rng, dtype))


def plan(size: Size) -> Plan:
    return Plan(warmup=1, samples=max(size.steps - 1, 1), inner=1, instrument_steps=3)


def _prepared(train_step, losses: list, extra: dict | None = None) -> Prepared:
    """Steps return the sequence length they trained on (the scenario's unit)."""
    return Prepared(train_step, values=lambda: losses, extra=extra if extra is not None else {})


def numpy_setup(p: Problem) -> Prepared:
    """NumPy BPTT by hand (numpy_steps), plain SGD."""
    w, data, losses = {k: v.copy() for k, v in p.params.items()}, p.stream(), []

    def step() -> int:
        xs, ys = next(data)
        loss, grads = rn.loss_and_grads(p.size.cell, w, xs, ys)
        losses.append(loss)
        for k in w:
            w[k] -= p.size.lr * grads[k]
        return len(xs)
    return _prepared(step, losses)


def dyngraph_setup(p: Problem) -> Prepared:
    """A Python loop over time; `loss.backward()`; dg.optim.SGD."""
    s = p.size
    w = rm.dyngraph_params(p.params)
    state0 = rm.dyngraph_state(rn.zero_state(s.cell, s.batch, s.hidden, p.dtype))
    optimizer = dg.optim.SGD(list(w.values()), lr=s.lr)
    data, losses = p.stream(), []

    def step() -> int:
        xs, ys = next(data)
        loss = rm.dyngraph_loss(s.cell, w, xs, ys, state0)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return len(xs)
    return _prepared(step, losses)


def static_setup(mode: str, backend: str, tiered: bool | None = None):
    """A staticgraph variant's setup: `StaticRNN` in `mode` on `backend`
    (`tiered`: the session's choice, None: the environment's)."""
    def setup(p: Problem) -> Prepared:
        s = p.size
        model = rm.StaticRNN(s.cell, p.params, s.batch, mode, backend, lr=s.lr, tiered=tiered)
        data, losses, extra = p.stream(), [], {}

        def step() -> int:
            xs, ys = next(data)
            losses.append(model.train_step(xs, ys))
            extra["graphs_built"] = model.graphs_built
            if "first_call_phases" not in extra:
                extra["first_call_phases"] = compile_phases(model.session)
            return len(xs)
        if mode == "scan":
            model.tower(s.min_len)  # the one graph; unrolled towers come with new lengths
        prep = _prepared(step, losses, extra)
        prep.build_s = model.build_s
        prep.compiles = lambda: model.graphs_built
        return prep
    return setup


def compile_phases(session) -> dict[str, float]:
    """The top-level compile phases of a session's compiled plans (empty for the
    interpreter, which compiles nothing): what the first call spent compiling."""
    phases: dict[str, float] = {}
    for plan in getattr(session, "_plans", {}).values():
        for name, seconds in getattr(plan.runner, "phases", {}).items():
            phases[name] = phases.get(name, 0.0) + seconds
    return phases


def scan_variant(backend: str = "interpret") -> Variant:
    """staticgraph with `sg.scan` on `backend`: one graph for every length."""
    return Variant(f"staticgraph-scan-{backend}", engine="staticgraph", backend=backend,
                   kind="static", setup=static_setup("scan", backend),
                   available=availability(backend), note="sg.scan: one graph, any length")


def tiered_scan_variant(backend: str = "numba") -> Variant:
    """The scan variant on a tiered session: the interpreter runs the first steps
    while `backend` compiles in the background; the cumulative curve shows the switch.

    Not registered by default: its background compile shares the CPU with the
    other variants' interleaved steps and would slow their rows. Add it alone:
    `rnn.SCENARIO.add(rnn.tiered_scan_variant())`, then
    `rnn.run(only=["dyngraph", "staticgraph-scan-numba-tiered"])`.
    """
    return Variant(f"staticgraph-scan-{backend}-tiered", engine="staticgraph", backend=backend,
                   kind="static", setup=static_setup("scan", backend, tiered=True),
                   available=availability(backend),
                   note="interpreted until the background compile is ready")


def unrolled_variant(backend: str = "interpret") -> Variant:
    """staticgraph unrolled at build time on `backend`: a graph per length."""
    return Variant(f"staticgraph-unrolled-{backend}", engine="staticgraph", backend=backend,
                   kind="static", setup=static_setup("unrolled", backend),
                   available=availability(backend),
                   note="a tower built and compiled per distinct length")


def _sweep_plots(rows: list[dict], out) -> list:
    """`--out` also gets the time-vs-sequence-length sweep (comparisons/rnn/sweep.py)."""
    from .sweep import extra_plots
    return extra_plots(rows, out)


def make_scenario(name: str, cell: str, order: int, lr: float = 0.03) -> Scenario:
    """The RNN scenario for one cell (full size at learning rate `lr`), with the
    engine variants registered."""
    from .peer_steps import jax_scan_variant, torch_loop_variant
    scenario = Scenario(
        name=name, title=f"{cell} RNN learning a running sum, sequence length varies per step",
        order=order, full=Size(cell=cell, lr=lr), quick=dataclasses.replace(QUICK, cell=cell),
        make_problem=make_problem, plan=plan, curve="loss",
        columns=[Column("graphs_built", "graphs", "{:.0f}")], unit="time step",
        choices={"cell": tuple(rm.CELL_FNS)}, validate=validate,
        summary="dyngraph loops in Python (a tape per length); staticgraph's scan runs "
                "every length with one graph; the unrolled graph is rebuilt per length.",
        extra_plots=_sweep_plots)
    scenario.add(Variant("numpy", engine="numpy", kind="reference", setup=numpy_setup,
                         note="BPTT by hand, input projection hoisted"))
    scenario.add(Variant("dyngraph", engine="dyngraph", kind="eager", setup=dyngraph_setup,
                         note="Python loop over time"))
    for backend in STATIC_BACKENDS:
        scenario.add(scan_variant(backend))
        scenario.add(unrolled_variant(backend))
    scenario.add(torch_loop_variant())
    scenario.add(jax_scan_variant())
    from .compiled import rnn_variants
    for variant in rnn_variants():
        scenario.add(variant)
    return scenario


SCENARIO = make_scenario("rnn", "tanh", order=4)
run = SCENARIO.run
