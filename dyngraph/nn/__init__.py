"""dg.nn: modules, parameters and losses with torch.nn's names."""

from .. import init  # noqa: F401  (dg.nn.init)
from . import (
    functional,  # noqa: F401
    utils,  # noqa: F401,E402  (dg.nn.utils.clip_grad_norm_)
)
from .conv import Conv2d, Flatten, MaxPool2d, MaxUnpool2d  # noqa: F401,E402
from .layers import (  # noqa: F401,E402
    BCELoss,
    BCEWithLogitsLoss,
    Dropout,
    Embedding,
    LayerNorm,
    NLLLoss,
)
from .modules import (  # noqa: F401
    CrossEntropyLoss,
    Linear,
    Module,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .recurrent import GRU, LSTM, RNN  # noqa: F401,E402
from .rnn import LSTMCell  # noqa: F401

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "Conv2d", "CrossEntropyLoss", "Dropout", "Embedding",
    "Flatten", "GRU", "LSTM", "LSTMCell", "LayerNorm", "Linear", "MSELoss", "MaxPool2d",
    "MaxUnpool2d", "Module", "NLLLoss", "Parameter", "RNN", "ReLU", "Sequential", "Sigmoid",
    "Tanh", "functional", "init", "utils",
]
