"""dg.nn.RNN, LSTM and GRU: torch.nn's multi-layer recurrent modules.

Parameter names, shapes, gate order and `state_dict` keys are PyTorch's
(`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, `..._reverse`
for the backward direction), so a PyTorch state_dict's arrays load with
`load_state_dict`. Inputs are (L, N, H_in), or (N, L, H_in) with
`batch_first=True`, or unbatched (L, H_in); states are
(num_layers * directions, N, H). Each step runs dyngraph ops, so the
backward pass is the tape's (backpropagation through time).

    RNN:  h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)   (or relu)
    LSTM: gates i, f, g, o;  c' = f c + i g;  h' = o tanh(c')
    GRU:  gates r, z, n;  n = tanh(x_n + r (h W_hn^T + b_hn));  h' = (1 - z) n + z h
"""

from __future__ import annotations

import math

import numpy as np

from shared_ops import ShapeError, format_site, user_site

from .. import functions as F
from ..creation import generator
from ..dispatch import DEFAULT_DTYPE
from ..tensor import Tensor
from . import functional as NF
from .modules import Module, Parameter

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """The shared machinery: parameters per layer and direction, the time loop."""

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype=None) -> None:
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout should be a number in range [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"hidden_size and num_layers must be > 0, got {hidden_size} "
                             f"and {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        dtype = DEFAULT_DTYPE[0] if dtype is None else np.dtype(dtype)
        bound = 1.0 / math.sqrt(hidden_size)
        rows = GATES[self.mode] * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * self.directions
            for suffix in self._suffixes(layer):
                shapes = [("weight_ih", (rows, width)), ("weight_hh", (rows, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                for name, shape in shapes:
                    value = generator().uniform(-bound, bound, shape).astype(dtype)
                    setattr(self, name + suffix, Parameter(value))

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def _weights(self, suffix: str) -> tuple:
        get = self.__dict__.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix),
                get("bias_ih" + suffix), get("bias_hh" + suffix))

    def _initial(self, hx, batch: int, dtype, unbatched: bool) -> Tensor:
        shape = (self.num_layers * self.directions, batch, self.hidden_size)
        if hx is None:
            return Tensor(np.zeros(shape, dtype))
        if unbatched:
            hx = F.unsqueeze(hx, 1)
        if tuple(hx.shape) != shape:
            where = format_site(user_site())
            raise ShapeError(f"{type(self).__name__}: expected hidden state of shape {shape}, "
                             f"got {tuple(hx.shape)}" + (f" (at {where})" if where else ""))
        return hx

    def _check_input(self, input: Tensor) -> bool:
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            where = format_site(user_site())
            raise ShapeError(f"{type(self).__name__}: input must be (L, N, {self.input_size})"
                             f"{' (batch_first: N, L, ...)' if self.batch_first else ''} or "
                             f"(L, {self.input_size}), got {tuple(input.shape)}"
                             + (f" (at {where})" if where else ""))
        return input.ndim == 2

    def _run(self, input: Tensor, states: list) -> tuple[Tensor, list]:
        """Run every layer and direction. `states[k]`: tuple of (N, H) tensors for
        layer-direction k. Returns the top layer's output (L, N, D*H) and final states."""
        finals = []
        x = input
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.directions + d
                seq, final = self._direction(x, states[k], self._weights(suffix), d == 1)
                outs.append(seq)
                finals.append(final)
            x = outs[0] if len(outs) == 1 else F.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = NF.dropout(x, self.dropout, True)
        return x, finals

    def _direction(self, x: Tensor, state: tuple, weights: tuple, reverse: bool):
        w_ih, w_hh, b_ih, b_hh = weights
        projected = F.matmul(x, F.t(w_ih))  # all time steps at once
        if b_ih is not None:
            projected = projected + b_ih
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            state = self._cell(projected[t], state, w_hh, b_hh)
            outputs[t] = state[0]
        return F.stack(outputs, dim=0), state

    def _cell(self, xw: Tensor, state: tuple, w_hh: Tensor, b_hh) -> tuple:
        hw = F.matmul(state[0], F.t(w_hh))
        if b_hh is not None:
            hw = hw + b_hh
        pre = xw + hw
        return (F.relu(pre) if self.mode == "RNN_RELU" else F.tanh(pre),)

    def forward(self, input: Tensor, hx=None):
        unbatched = self._check_input(input)
        if unbatched:
            input = F.unsqueeze(input, 1)
        elif self.batch_first:
            input = F.transpose(input, 0, 1)
        h0 = self._initial(hx, input.shape[1], input.dtype, unbatched)
        out, finals = self._run(input, [(h0[k],) for k in range(h0.shape[0])])
        return self._outputs(out, F.stack([f[0] for f in finals], dim=0), unbatched)

    def _outputs(self, out: Tensor, h_n: Tensor, unbatched: bool):
        if unbatched:
            return F.squeeze(out, 1), F.squeeze(h_n, 1)
        if self.batch_first:
            out = F.transpose(out, 0, 1)
        return out, h_n

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        for flag in ("batch_first", "bidirectional"):
            if getattr(self, flag):
                text += f", {flag}=True"
        return text


class RNN(RNNBase):
    """Elman RNN, `nonlinearity` 'tanh' (default) or 'relu'; returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}': use 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity


class GRU(RNNBase):
    """Gated recurrent unit (gate order r, z, n); returns (output, h_n)."""

    mode = "GRU"

    def _cell(self, xw: Tensor, state: tuple, w_hh: Tensor, b_hh) -> tuple:
        h = state[0]
        hw = F.matmul(h, F.t(w_hh))
        if b_hh is not None:
            hw = hw + b_hh
        n = self.hidden_size
        r = F.sigmoid(xw[..., 0:n] + hw[..., 0:n])
        z = F.sigmoid(xw[..., n:2 * n] + hw[..., n:2 * n])
        cand = F.tanh(xw[..., 2 * n:] + r * hw[..., 2 * n:])
        return ((1.0 - z) * cand + z * h,)


class LSTM(RNNBase):
    """Long short-term memory (gate order i, f, g, o); returns (output, (h_n, c_n))."""

    mode = "LSTM"

    def _cell(self, xw: Tensor, state: tuple, w_hh: Tensor, b_hh) -> tuple:
        h, c = state
        gates = xw + F.matmul(h, F.t(w_hh))
        if b_hh is not None:
            gates = gates + b_hh
        n = self.hidden_size
        i = F.sigmoid(gates[..., 0:n])
        f = F.sigmoid(gates[..., n:2 * n])
        g = F.tanh(gates[..., 2 * n:3 * n])
        o = F.sigmoid(gates[..., 3 * n:])
        c_new = f * c + i * g
        return o * F.tanh(c_new), c_new

    def forward(self, input: Tensor, hx=None):
        unbatched = self._check_input(input)
        if unbatched:
            input = F.unsqueeze(input, 1)
        elif self.batch_first:
            input = F.transpose(input, 0, 1)
        h0, c0 = (None, None) if hx is None else hx
        h0 = self._initial(h0, input.shape[1], input.dtype, unbatched)
        c0 = self._initial(c0, input.shape[1], input.dtype, unbatched)
        out, finals = self._run(input, [(h0[k], c0[k]) for k in range(h0.shape[0])])
        h_n = F.stack([f[0] for f in finals], dim=0)
        c_n = F.stack([f[1] for f in finals], dim=0)
        out, h_n = self._outputs(out, h_n, unbatched)
        return out, (h_n, F.squeeze(c_n, 1) if unbatched else c_n)
