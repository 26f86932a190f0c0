"""The RNN scenario's peers: PyTorch eager (a Python loop) and JAX (`lax.scan`).

Both train from the same weights and data stream as the engines
(`comparisons.rnn`), so their loss curves agree too. JAX's `jit` compiles
once per distinct sequence length (shapes are static under `jit`).
"""

from __future__ import annotations

from types import ModuleType

from ..framework import Prepared, Variant
from ..harness.peers import jax_variant, torch_variant


def _torch_setup(p, torch: ModuleType) -> Prepared:
    s = p.size
    w = {k: torch.tensor(v, requires_grad=True) for k, v in p.params.items()}
    data, losses = p.stream(), []

    def cell(state, x):
        if s.cell == "tanh":
            return torch.tanh(x @ w["Wx"] + state @ w["Wh"] + w["b"])
        h, c = state
        i, f, g, o = (x @ w["Wx"] + h @ w["Wh"] + w["b"]).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def step() -> int:
        xs, ys = (torch.from_numpy(a) for a in next(data))
        h0 = torch.zeros((s.batch, s.hidden), dtype=xs.dtype)
        state, hs = ((h0, h0) if s.cell == "lstm" else h0), []
        for t in range(len(xs)):
            state = cell(state, xs[t])
            hs.append(state[0] if s.cell == "lstm" else state)
        loss = ((torch.stack(hs) @ w["Wy"] + w["by"] - ys) ** 2).mean()
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, list(w.values()))
        with torch.no_grad():
            for param, grad in zip(w.values(), grads):
                param -= s.lr * grad
        return len(xs)
    return Prepared(step, values=lambda: losses)


def _jax_setup(p, jax: ModuleType) -> Prepared:
    jnp, s = jax.numpy, p.size

    def cell(w, state, x):
        if s.cell == "tanh":
            h = jnp.tanh(x @ w["Wx"] + state @ w["Wh"] + w["b"])
            return h, h
        h, c = state
        i, f, g, o = jnp.split(x @ w["Wx"] + h @ w["Wh"] + w["b"], 4, axis=1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def loss_fn(w, xs, ys):
        h0 = jnp.zeros((s.batch, s.hidden), xs.dtype)
        state0 = (h0, h0) if s.cell == "lstm" else h0
        _, hs = jax.lax.scan(lambda st, x: cell(w, st, x), state0, xs)
        return jnp.mean((hs @ w["Wy"] + w["by"] - ys) ** 2)

    @jax.jit
    def train_step(w, xs, ys):
        loss, g = jax.value_and_grad(loss_fn)(w, xs, ys)
        return loss, {k: w[k] - s.lr * g[k] for k in w}

    state = {"w": {k: jnp.asarray(v) for k, v in p.params.items()}}
    data, losses = p.stream(), []

    def step() -> int:
        xs, ys = next(data)
        loss, state["w"] = train_step(state["w"], jnp.asarray(xs), jnp.asarray(ys))
        losses.append(float(loss))
        return len(xs)
    return Prepared(step, values=lambda: losses, compile_on_first_call=True,
                    compiles=train_step._cache_size)


def torch_loop_variant() -> Variant:
    return torch_variant("torch-eager", setup=_torch_setup, note="Python loop over time")


def jax_scan_variant() -> Variant:
    return jax_variant("jax-scan", setup=_jax_setup,
                       note="jit + lax.scan; recompiles per distinct length")
