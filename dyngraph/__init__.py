"""dyngraph: define-by-run autodiff with PyTorch's names.

Tensors record a tape as ops run; `backward()` walks it with the shared VJP
rules from `shared_ops`.
"""

from __future__ import annotations

import numpy as np

from shared_ops import __version__  # noqa: F401
from shared_ops import register_library_dir as _register

_register(__file__)

from shared_ops import (  # noqa: E402,F401
    DTypeError,
    FunctionError,
    GradientError,
    GraphCompareError,
    InPlaceError,
    ShapeError,
)

from .creation import (  # noqa: E402,F401
    arange,
    empty,
    from_numpy,
    full,
    get_default_dtype,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)
from .custom_function import Function, FunctionCtx  # noqa: E402,F401
from .engine import backward, grad  # noqa: E402,F401
from .functions import *  # noqa: E402,F401,F403
from .functions import abs, max, min, pow, sum  # noqa: E402,F401
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402,F401
from .gradcheck import gradcheck  # noqa: E402,F401
from .tensor import Tensor, is_tensor  # noqa: E402,F401

float32, float64, float16 = np.float32, np.float64, np.float16
int32, int64, bool_ = np.int32, np.int64, np.bool_
float, double, long = np.float32, np.float64, np.int64

from shared_ops.errors import DistributedError, WorkerLostError  # noqa: E402,F401

from . import autograd, nn, optim  # noqa: E402,F401  (dg.autograd as torch.autograd)
from .compile import (  # noqa: E402,F401,A001
    CompiledFunction,
    CompiledModule,
    CompileWarning,
    TraceError,
    compile,
)
from .device import device  # noqa: E402,F401
from .functions_nn import (  # noqa: E402,F401
    argmin,
    bmm,
    conv2d,
    cos,
    einsum,
    embedding,
    expm1,
    gather,
    index_select,
    log1p,
    logsumexp,
    max_pool2d,
    sin,
    split,
    std,
    var,
)
from .serialization import load, save  # noqa: E402,F401

__all__ = [
    "CompileWarning", "CompiledFunction", "CompiledModule", "DTypeError", "DistributedError",
    "Function", "FunctionCtx", "FunctionError", "GradientError", "GraphCompareError",
    "InPlaceError", "ShapeError", "Tensor", "TraceError", "WorkerLostError", "abs", "add",
    "allclose", "arange", "argmax", "argmin", "autograd", "backward", "bmm", "bool_",
    "broadcast_to", "cast", "cat", "clamp", "clip", "clone", "compile", "concatenate",
    "conv2d", "cos", "device", "div", "divide", "double", "einsum", "embedding", "empty",
    "enable_grad", "eq", "exp", "expm1", "flatten", "float", "float16", "float32", "float64",
    "from_numpy", "full", "gather", "ge", "get_default_dtype", "getitem", "grad", "gradcheck",
    "gt", "index_select", "int32", "int64", "is_grad_enabled", "is_tensor", "le", "load",
    "log", "log1p", "log_softmax", "logical_and", "logical_not", "logical_or", "logsumexp",
    "long", "lt", "manual_seed", "matmul", "max", "max_pool2d", "maximum", "mean", "min",
    "minimum", "mm", "mul", "multiply", "ne", "neg", "nn", "no_grad", "numel", "ones",
    "ones_like", "optim", "permute", "pow", "rand", "randn", "relu", "reshape", "save",
    "set_default_dtype", "set_grad_enabled", "sigmoid", "sign", "sin", "softmax", "split",
    "sqrt", "squeeze", "stack", "std", "sub", "subtract", "sum", "t", "tanh", "tensor",
    "transpose", "true_divide", "unsqueeze", "var", "where", "zeros", "zeros_like",
]
