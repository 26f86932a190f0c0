"""Hand-written NumPy forward and BPTT for the tanh RNN and the LSTM.

The reference every engine's RNN is checked against (float64, tight
tolerance). The input projection `xs @ Wx + b` does not depend on the
recurrence, so it is hoisted out of the time loop: one (T*B, D) @ (D, H)
matmul forward, and one each for `dWx` and `dxs` backward. Only `h @ Wh`
(and the gate arithmetic) runs per step.

Model (gates of the LSTM in the order i, f, g, o along the 4H axis):

    tanh: h_t = tanh(x_t Wx + h_{t-1} Wh + b)
    lstm: z = x_t Wx + h_{t-1} Wh + b; c_t = f*c_{t-1} + i*g; h_t = o*tanh(c_t)
    readout: pred_t = h_t Wy + by; loss = mean((pred - y)^2)
"""

from __future__ import annotations

import numpy as np

CELLS = ("tanh", "lstm")


def init_params(cell: str, d_in: int, hidden: int, rng: np.random.Generator,
                dtype=np.float64, d_out: int = 1) -> dict[str, np.ndarray]:
    """torch.nn.RNN/LSTM-style uniform(-1/sqrt(H), 1/sqrt(H)) weights, plus a readout."""
    gates = 4 if cell == "lstm" else 1
    bound = 1 / np.sqrt(hidden)
    shapes = {"Wx": (d_in, gates * hidden), "Wh": (hidden, gates * hidden),
              "b": (gates * hidden,), "Wy": (hidden, d_out), "by": (d_out,)}
    return {k: rng.uniform(-bound, bound, s).astype(dtype) for k, s in shapes.items()}


def zero_state(cell: str, batch: int, hidden: int, dtype=np.float64):
    """The initial state: h0, or (h0, c0) for the LSTM."""
    h0 = np.zeros((batch, hidden), dtype)
    return (h0, h0.copy()) if cell == "lstm" else h0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def forward(cell: str, p: dict, xs: np.ndarray, state0) -> tuple[np.ndarray, dict]:
    """Hidden states (T, B, H) and what `backward` needs."""
    proj = xs @ p["Wx"] + p["b"]  # hoisted: every step's input projection at once
    if cell == "tanh":
        hs, h = np.empty(proj.shape, proj.dtype), state0
        for t in range(len(xs)):
            h = np.tanh(proj[t] + h @ p["Wh"])
            hs[t] = h
        return hs, {"hs": hs}
    (h, c), hidden = state0, state0[0].shape[-1]
    gates = np.empty(proj.shape, proj.dtype)
    hs, cs = (np.empty(proj.shape[:-1] + (hidden,), proj.dtype) for _ in range(2))
    for t in range(len(xs)):
        z = proj[t] + h @ p["Wh"]
        i, f, g, o = (z[:, k * hidden:(k + 1) * hidden] for k in range(4))
        i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        hs[t], cs[t] = h, c
    return hs, {"hs": hs, "cs": cs, "gates": gates}


def readout(p: dict, hs: np.ndarray, ys: np.ndarray) -> tuple[float, np.ndarray, dict]:
    """Mean squared error of `hs @ Wy + by` against ys; (loss, d loss/d hs, grads)."""
    diff = hs @ p["Wy"] + p["by"] - ys
    g = 2 * diff / diff.size
    hidden = hs.shape[-1]
    grads = {"Wy": hs.reshape(-1, hidden).T @ g.reshape(-1, g.shape[-1]),
             "by": g.reshape(-1, g.shape[-1]).sum(0)}
    return float(np.mean(diff * diff)), g @ p["Wy"].T, grads


def _tanh_steps(p: dict, state0, cache: dict, g_hs: np.ndarray):
    hs, gh = cache["hs"], np.zeros_like(state0)
    g_proj, g_wh = np.empty_like(g_hs), np.zeros_like(p["Wh"])
    for t in range(len(hs) - 1, -1, -1):
        dz = (gh + g_hs[t]) * (1 - hs[t] * hs[t])
        g_wh += (hs[t - 1] if t else state0).T @ dz
        g_proj[t] = dz
        gh = dz @ p["Wh"].T
    return g_proj, g_wh, gh


def _lstm_steps(p: dict, state0, cache: dict, g_hs: np.ndarray):
    hs, cs, gates = cache["hs"], cache["cs"], cache["gates"]
    (h0, c0), hidden = state0, state0[0].shape[-1]
    gh, gc = np.zeros_like(h0), np.zeros_like(c0)
    g_proj, g_wh = np.empty_like(gates), np.zeros_like(p["Wh"])
    for t in range(len(hs) - 1, -1, -1):
        i, f, g, o = (gates[t][:, k * hidden:(k + 1) * hidden] for k in range(4))
        tc = np.tanh(cs[t])
        gh = gh + g_hs[t]
        gc = gc + gh * o * (1 - tc * tc)
        c_prev = cs[t - 1] if t else c0
        dz = np.concatenate([gc * g * i * (1 - i), gc * c_prev * f * (1 - f),
                             gc * i * (1 - g * g), gh * tc * o * (1 - o)], axis=1)
        g_wh += (hs[t - 1] if t else h0).T @ dz
        g_proj[t] = dz
        gh, gc = dz @ p["Wh"].T, gc * f
    return g_proj, g_wh, (gh, gc)


def backward(cell: str, p: dict, xs: np.ndarray, state0, cache: dict,
             g_hs: np.ndarray) -> dict:
    """BPTT: gradients of `sum(hs * g_hs)` w.r.t. Wx, Wh, b, xs and the initial state."""
    steps = _tanh_steps if cell == "tanh" else _lstm_steps
    g_proj, g_wh, g_state = steps(p, state0, cache, g_hs)
    d_in, width = p["Wx"].shape
    grads = {"Wx": xs.reshape(-1, d_in).T @ g_proj.reshape(-1, width),  # hoisted again
             "Wh": g_wh, "b": g_proj.reshape(-1, width).sum(0), "xs": g_proj @ p["Wx"].T}
    if cell == "lstm":
        grads["h0"], grads["c0"] = g_state
    else:
        grads["h0"] = g_state
    return grads


def loss_and_grads(cell: str, p: dict, xs: np.ndarray, ys: np.ndarray,
                   state0=None) -> tuple[float, dict]:
    """Training loss and its gradient for every parameter (and xs, h0)."""
    if state0 is None:
        state0 = zero_state(cell, xs.shape[1], p["Wh"].shape[0], xs.dtype)
    hs, cache = forward(cell, p, xs, state0)
    loss, g_hs, grads = readout(p, hs, ys)
    grads.update(backward(cell, p, xs, state0, cache, g_hs))
    return loss, grads
