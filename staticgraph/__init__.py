"""staticgraph: define-then-run autodiff with TensorFlow 1.x / Theano names.

Build a graph of symbols once (`placeholder`, `Variable`, ops from the shared
op library), differentiate it symbolically (`gradients`), then run it many
times (`Session.run`, or `function`). The IR lives in `ir.py`; the reference
interpreter in `interpreter.py`; backends plug in through `backends.py`.
"""

from __future__ import annotations

import numpy as np

from shared_ops import __version__  # noqa: F401
from shared_ops import register_library_dir as _register

_register(__file__)

from shared_ops.errors import (  # noqa: E402,F401
    DTypeError,
    GradientError,
    GraphCompareError,
    IndexingError,
    ShapeError,
)

from . import (  # noqa: E402,F401  (sg.train, sg.layers, ...)
    initializers,
    layers,
    train,
)
from .build.cond import cond, cond_p  # noqa: E402,F401
from .build.ops import *  # noqa: E402,F401,F403
from .build.ops import abs, max, min, pow, sum  # noqa: E402,F401
from .build.state import (  # noqa: E402,F401
    Variable,
    assign,
    assign_add,
    assign_p,
    assign_sub,
    global_variables,
    global_variables_initializer,
    group,
    group_p,
    trainable_variables,
)
from .build.symbol import Operation, Symbol  # noqa: E402,F401
from .cuda_backend import cuda_available  # noqa: E402,F401
from .errors import (  # noqa: E402,F401
    BackendError,
    FeedError,
    GraphError,
    InvalidGraphError,
    NumericsError,
    SymbolicValueError,
    UninitializedVariableError,
)
from .gradients import GRAD_RULES, gradients  # noqa: E402,F401
from .graph.check import check_graph  # noqa: E402,F401
from .graph.context import (  # noqa: E402,F401
    get_default_graph,
    get_default_session,
    reset_default_graph,
)
from .graph.ir import Eqn, Graph, Var, VariableInfo  # noqa: E402,F401
from .initializers import set_random_seed  # noqa: E402,F401
from .runtime.backends import (  # noqa: E402,F401
    Runner,
    backend_names,
    get_backend,
    make_runner,
    register_backend,
)
from .runtime.function import Function, function  # noqa: E402,F401
from .runtime.interpreter import eval_graph  # noqa: E402,F401
from .runtime.program import extract_program  # noqa: E402,F401
from .runtime.session import Session  # noqa: E402,F401
from .scan import fori_loop, scan, scan_p  # noqa: E402,F401  (and scan's gradient rule)

float16, float32, float64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
int32, int64, bool_ = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.bool_)

from shared_ops.errors import DistributedError, WorkerLostError  # noqa: E402,F401

from . import nn  # noqa: E402,F401  (sg.nn, as tf.nn)
from .build.creation import fill, identity, identity_p, ones, placeholder_with_default, zeros  # noqa: E402,F401,E501
from .build.custom_gradient import custom_gradient, custom_gradient_p  # noqa: E402,F401
from .build.ops import add_n  # noqa: E402,F401
from .build.ops_tf1 import *  # noqa: E402,F401,F403  (log1p, gather, one_hot, einsum, split, ...)
from .build.random_ops import (  # noqa: E402,F401
    random_normal,
    random_normal_like,
    random_p,
    random_uniform,
    random_uniform_like,
    truncated_normal,
)
from .build.while_loop import fori_loop, while_loop, while_p  # noqa: E402,F401,F811
from .errors import ClosedSessionError  # noqa: E402,F401
from .graph.placement import device  # noqa: E402,F401
from .nn import clip_by_global_norm  # noqa: E402,F401
from .passes.partition import partition, partition_p  # noqa: E402,F401

__all__ = [
    "BackendError", "ClosedSessionError", "DTypeError", "DistributedError", "Eqn", "FeedError",
    "Function", "GRAD_RULES", "GradientError", "Graph", "GraphCompareError", "GraphError",
    "IndexingError", "InvalidGraphError", "NumericsError", "Operation", "Runner", "Session",
    "ShapeError", "Symbol", "SymbolicValueError", "UninitializedVariableError", "Var",
    "Variable", "VariableInfo", "WorkerLostError", "abs", "add", "add_n", "argmax", "argmin",
    "as_symbol", "assign", "assign_add", "assign_p", "assign_sub", "backend_names", "bool_",
    "broadcast_to", "cast", "check_graph", "clip", "clip_by_global_norm", "clip_by_value",
    "concat", "concatenate", "cond", "cond_p", "constant", "cos", "cuda_available",
    "custom_gradient", "custom_gradient_p", "device", "div", "divide", "einsum", "equal",
    "eval_graph", "exp", "expand_dims", "expm1", "extract_program", "fill", "float16",
    "float32", "float64", "fori_loop", "function", "gather", "get_backend",
    "get_default_graph", "get_default_session", "global_variables",
    "global_variables_initializer", "gradients", "greater", "greater_equal", "group",
    "group_p", "identity", "identity_p", "initializers", "int32", "int64", "layers", "less",
    "less_equal", "log", "log1p", "log_softmax", "logical_and", "logical_not", "logical_or",
    "make_runner", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "multiply",
    "neg", "negative", "nn", "not_equal", "one_hot", "ones", "ones_like", "partition",
    "partition_p", "placeholder", "placeholder_with_default", "pow", "random_normal",
    "random_normal_like", "random_p", "random_uniform", "random_uniform_like",
    "reduce_logsumexp", "reduce_max", "reduce_mean", "reduce_min", "reduce_std", "reduce_sum",
    "reduce_variance", "register_backend", "relu", "reset_default_graph", "reshape", "scan",
    "scan_p", "set_random_seed", "sigmoid", "sign", "sin", "softmax", "split", "sqrt",
    "square", "squeeze", "stack", "stop_gradient", "sub", "subtract", "sum", "tanh", "train",
    "trainable_variables", "transpose", "truncated_normal", "where", "while_loop", "while_p",
    "zeros", "zeros_like",
]
