"""`sg.layers`: layers as functions (or cell objects) that create their variables.

    h = sg.layers.dense(x, 64, activation=sg.relu)       # kernel (in, 64), bias (64,)
    cell = sg.layers.LSTMCell(32)
    hs, cs = sg.scan(cell, xs, initializer=cell.zero_state(batch, xs.dtype))

Variables are always created in the top-level graph, even when the layer is
called while `sg.scan` or `sg.cond` traces a body: the body then captures
them like any other outer symbol, so gradients flow to them. Layer names
are made unique per graph (`dense`, `dense_1`, ...); variables are named
`<layer>/kernel`, `<layer>/bias`, ... Initializers are `sg.initializers`
objects (or names such as "zeros"); kernels default to glorot_uniform,
biases to zeros, as in TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shared_ops import DTypeError, ShapeError
from shared_ops import api as A

from . import initializers as inits
from .build.ops import as_symbol, sigmoid, tanh
from .build.state import Variable
from .build.symbol import Symbol
from .graph.context import get_default_graph, graph_scope
from .graph.ir import Graph


def root_graph(graph: Graph | None = None) -> Graph:
    """The top-level graph enclosing `graph` (default: the default graph)."""
    graph = graph if graph is not None else get_default_graph()
    while graph.parent is not None:
        graph = graph.parent
    return graph


def add_variable(name: str, shape: tuple, dtype, initializer, trainable: bool = True,
                 graph: Graph | None = None) -> Variable:
    """A Variable initialised by `initializer(shape, dtype)`, in the top-level graph."""
    value = inits.get(initializer)(shape, np.dtype(dtype))
    with graph_scope(root_graph(graph)):
        return Variable(value, name=name, trainable=trainable)


def _layer_name(name: str | None, default: str) -> str:
    return root_graph().unique_name(name or default)


def _float_input(x, layer: str) -> Symbol:
    x = as_symbol(x)
    if x.dtype.kind != "f":
        raise DTypeError(f"{layer}: input must be floating point, got {x.dtype}")
    if not x.shape or x.shape[-1] is None:
        raise ShapeError(f"{layer}: the input's last dim must be known at build time, "
                         f"got shape {x.shape}")
    return x


def dense(x, units: int, activation: Callable | None = None, use_bias: bool = True,
          kernel_initializer=None, bias_initializer=None, name: str | None = None,
          trainable: bool = True) -> Symbol:
    """`activation(x @ kernel + bias)`; kernel (in, units) and bias (units,) are new
    variables of x's dtype (TF1's `tf.layers.dense`)."""
    x = _float_input(x, "dense")
    scope = _layer_name(name, "dense")
    kernel = add_variable(f"{scope}/kernel", (x.shape[-1], units), x.dtype,
                          kernel_initializer or inits.glorot_uniform(), trainable)
    y = A.matmul(x, kernel)
    if use_bias:
        y = y + add_variable(f"{scope}/bias", (units,), x.dtype,
                             bias_initializer or inits.zeros(), trainable)
    return activation(y) if activation is not None else y


class LSTMCell:
    """One LSTM step, `cell((h, c), x) -> (h', c')`: the shape `sg.scan`'s body takes.

        z = x @ kernel + h @ recurrent_kernel + bias        # (batch, 4 * units)
        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the four column blocks
        c' = f * c + i * g;   h' = o * tanh(c')

    The Keras layout and gate order (also PyTorch's order: `kernel` is
    torch's `weight_ih.T`, `recurrent_kernel` is `weight_hh.T`, `bias` is
    `bias_ih + bias_hh`). The variables are made once: at construction when
    `input_size` is given, else on the first call (from x's last dim and
    dtype). `forget_bias` is added to the forget block of the bias's
    *initial value* (Keras' `unit_forget_bias`), not to the formula.
    """

    def __init__(self, units: int, input_size: int | None = None, dtype=np.float32,
                 kernel_initializer=None, recurrent_initializer=None,
                 bias_initializer=None, forget_bias: float = 1.0, name: str | None = None,
                 trainable: bool = True) -> None:
        self.units = int(units)
        self.name = _layer_name(name, "lstm_cell")
        self.kernel_initializer = kernel_initializer or inits.glorot_uniform()
        self.recurrent_initializer = recurrent_initializer or inits.glorot_uniform()
        self.bias_initializer = bias_initializer or inits.zeros()
        self.forget_bias, self.trainable = forget_bias, trainable
        self.kernel = self.recurrent_kernel = self.bias = None
        if input_size is not None:
            self.build(input_size, dtype)

    @property
    def built(self) -> bool:
        return self.kernel is not None

    @property
    def variables(self) -> list[Variable]:
        return [v for v in (self.kernel, self.recurrent_kernel, self.bias) if v is not None]

    @property
    def state_size(self) -> tuple[int, int]:
        return self.units, self.units

    def build(self, input_size: int, dtype) -> None:
        """Create kernel (input_size, 4u), recurrent_kernel (u, 4u), bias (4u,)."""
        if self.built:
            raise ValueError(f"LSTMCell {self.name!r} is already built")
        u, dtype = self.units, np.dtype(dtype)
        self.kernel = add_variable(f"{self.name}/kernel", (input_size, 4 * u), dtype,
                                   self.kernel_initializer, self.trainable)
        self.recurrent_kernel = add_variable(f"{self.name}/recurrent_kernel", (u, 4 * u),
                                             dtype, self.recurrent_initializer,
                                             self.trainable)
        self.bias = add_variable(f"{self.name}/bias", (4 * u,), dtype, self._bias_initial,
                                 self.trainable)

    def _bias_initial(self, shape: tuple, dtype) -> np.ndarray:
        value = inits.get(self.bias_initializer)(shape, dtype)
        value[self.units:2 * self.units] += np.dtype(dtype).type(self.forget_bias)
        return value

    def zero_state(self, batch_size: int, dtype=None) -> tuple[Symbol, Symbol]:
        """(h, c) of zeros, shape (batch_size, units), as constants."""
        dtype = np.dtype(dtype) if dtype is not None else (
            self.kernel.dtype if self.built else np.dtype(np.float32))
        zeros = np.zeros((batch_size, self.units), dtype)
        return as_symbol(zeros), as_symbol(zeros.copy())

    def __call__(self, state, x) -> tuple[Symbol, Symbol]:
        h, c = state
        x = _float_input(x, "LSTMCell")
        if not self.built:
            self.build(x.shape[-1], x.dtype)
        u = self.units
        z = A.matmul(x, self.kernel) + A.matmul(as_symbol(h), self.recurrent_kernel) + self.bias
        i = sigmoid(z[..., 0:u])
        f = sigmoid(z[..., u:2 * u])
        g = tanh(z[..., 2 * u:3 * u])
        o = sigmoid(z[..., 3 * u:4 * u])
        c_new = f * c + i * g
        return o * tanh(c_new), c_new

    def __repr__(self) -> str:
        return f"<LSTMCell {self.name!r}: units={self.units}, built={self.built}>"
