"""The dyngraph Tensor: an ndarray plus autograd state, with PyTorch's methods.

The class body holds the state, autograd and conversion members; the op
methods come from mixins, one module per concern: `tensor_math`
(operators, elementwise ops, reductions), `tensor_shape` (reshaping,
indexing, dtype conversions), `tensor_inplace` (`add_`, `x[i] = v`, ...)
and `device`. Ops run through `dispatch.apply_primitive`, the engine's
`bind` handler, which creates every tensor as an instance of this class.
"""

from __future__ import annotations

import weakref

import numpy as np

from shared_ops import DTypeError, GradientError, ShapeError

from .device import TensorDeviceMixin
from .dispatch import DEFAULT_DTYPE, TensorBase, as_array, set_tensor_class, wrap
from .engine import backward
from .hooks import RemovableHandle, register_hook
from .node import RETAINED
from .tensor_inplace import TensorInplaceMixin
from .tensor_math import TensorMathMixin
from .tensor_shape import TensorShapeMixin


class Tensor(TensorMathMixin, TensorShapeMixin, TensorInplaceMixin, TensorDeviceMixin,
             TensorBase):
    """An ndarray plus autograd state (`grad`, `requires_grad`, `grad_fn`)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = False, dtype=None) -> None:
        self._data = as_array(data, dtype)
        self._requires_grad = False
        self.grad = None
        self._edge = None
        self._version = [0, 0]
        if requires_grad:
            self.requires_grad_(True)

    # ---- autograd state ---------------------------------------------------
    # `_edge` says where this tensor's gradient goes: None for a leaf, else the
    # node that made it (output 0) or (node, output index); see Node.edges.
    @property
    def grad_fn(self):
        """The node that created this tensor (None for a leaf)."""
        edge = self._edge
        return edge[0] if type(edge) is tuple else edge

    @property
    def _out_index(self) -> int:
        edge = self._edge
        return edge[1] if type(edge) is tuple else 0

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for backward."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Make a leaf start (or stop) recording operations on it."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise GradientError(
                    "requires_grad_(False) on a non-leaf tensor: use .detach() instead")
            return self
        if requires_grad and self._data.dtype.kind != "f":
            raise DTypeError(f"only floating-point tensors can require gradients, "
                             f"got dtype {self._data.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """True for a tensor not made by a recorded op (user-created, or requires_grad=False)."""
        return self._edge is None

    @property
    def data(self) -> Tensor:
        """A tensor sharing storage, outside the tape (changes are not tracked)."""
        return wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        self._data = value._data if isinstance(value, Tensor) else as_array(value)

    def detach(self) -> Tensor:
        """Same storage and version counter, no history, no grad."""
        t = wrap(self._data)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        """Detach this tensor from the tape in place: no history, no grad; returns self."""
        self._edge = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward."""
        if self.grad_fn is None:
            return
        RETAINED.setdefault(self.grad_fn, {})[self._out_index] = weakref.ref(self)

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`."""
        backward([self], None if gradient is None else [gradient],
                 retain_graph, create_graph, inputs)

    # ---- array views --------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """The tensor's shape as a tuple of ints."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        """The tensor's NumPy dtype."""
        return self._data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def size(self, dim: int | None = None):
        """The shape (a tuple), or the length of dim `dim` when given, as torch.Tensor.size."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        """The number of dimensions (same as `ndim`)."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array sharing memory; refused while it requires grad."""
        if self._requires_grad:
            raise GradientError("numpy() on a tensor that requires grad: use "
                                "tensor.detach().numpy()")
        return self._data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ShapeError(f"item(): tensor has {self._data.size} elements, not 1")
        return self._data.item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        """NumPy's conversion protocol (NumPy 2). `copy=True` gives a new array.
        Otherwise the tensor's memory is shared, as `numpy()` shares it; for a
        tensor that requires grad only as a read-only view (writing through it
        would change the gradient's inputs unseen; PyTorch refuses `numpy()`
        there, as `numpy()` does here). `copy=False` where a dtype conversion
        needs a copy raises ValueError (NumPy's rule)."""
        data = self._data
        if copy:
            return np.array(data, dtype=dtype, copy=True)
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError(f"cannot convert a {data.dtype} tensor to {np.dtype(dtype)} "
                                 "without a copy (copy=False)")
            return data.astype(dtype)
        if self._requires_grad:
            view = data.view()
            view.flags.writeable = False
            return view
        return data

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype != DEFAULT_DTYPE[0]:
            extra += f", dtype={self._data.dtype.name}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name()}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def register_hook(self, hook) -> RemovableHandle:
        """Call `hook(grad)` with this tensor's gradient during backward; a returned
        Tensor replaces the gradient. Returns a handle with `.remove()`."""
        return register_hook(self, hook)


set_tensor_class(Tensor)


def is_tensor(x) -> bool:
    """True if `x` is a dyngraph Tensor."""
    return isinstance(x, Tensor)
