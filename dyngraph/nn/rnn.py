"""dg.nn.LSTMCell: one LSTM step, with torch.nn.LSTMCell's names and layout.

    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh   # (batch, 4*hidden)
    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the four column blocks
    c' = f * c + i * g;   h' = o * tanh(c')

staticgraph's `sg.layers.LSTMCell` computes the same step with the Keras
layout: `kernel = weight_ih.T`, `recurrent_kernel = weight_hh.T`,
`bias = bias_ih + bias_hh` (same gate order i, f, g, o).
"""

from __future__ import annotations

import math

import numpy as np

from .. import functions as F
from ..creation import generator
from ..dispatch import DEFAULT_DTYPE
from ..tensor import Tensor
from .modules import Module, Parameter


class LSTMCell(Module):
    """`cell(input, (h, c)) -> (h', c')`; init U(-1/sqrt(hidden), 1/sqrt(hidden)) as torch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype=None) -> None:
        super().__init__()
        dtype = DEFAULT_DTYPE[0] if dtype is None else np.dtype(dtype)
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1.0 / math.sqrt(hidden_size) if hidden_size else 0.0

        def draw(*shape):
            return Parameter(generator().uniform(-bound, bound, shape).astype(dtype))
        self.weight_ih = draw(4 * hidden_size, input_size)
        self.weight_hh = draw(4 * hidden_size, hidden_size)
        self.bias_ih = draw(4 * hidden_size) if bias else None
        self.bias_hh = draw(4 * hidden_size) if bias else None

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        if hx is None:
            zeros = np.zeros((input.shape[0], self.hidden_size), input.dtype)
            hx = (Tensor(zeros), Tensor(zeros.copy()))
        h, c = hx
        gates = F.matmul(input, F.t(self.weight_ih))
        if self.bias_ih is not None:
            gates = gates + self.bias_ih
        recurrent = F.matmul(h, F.t(self.weight_hh))
        if self.bias_hh is not None:
            recurrent = recurrent + self.bias_hh
        gates = gates + recurrent
        n = self.hidden_size
        i = F.sigmoid(gates[..., 0:n])
        f = F.sigmoid(gates[..., n:2 * n])
        g = F.tanh(gates[..., 2 * n:3 * n])
        o = F.sigmoid(gates[..., 3 * n:4 * n])
        c_new = f * c + i * g
        return o * F.tanh(c_new), c_new

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, "
                f"bias={self.bias_ih is not None}")
