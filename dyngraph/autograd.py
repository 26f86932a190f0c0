"""`dg.autograd`: torch.autograd's names for dyngraph's autodiff.

`grad`, `backward`, `Function` (with its `FunctionCtx`), grad-mode context
managers, `gradcheck`, and anomaly mode: inside `detect_anomaly()` (or
after `set_detect_anomaly(True)`) a NaN or Inf returned by any backward
rule raises a GradientError naming the forward op and the user's line that
created it.
"""

from __future__ import annotations

from .custom_function import Function, FunctionCtx
from .engine import backward, grad
from .grad_mode import enable_grad, no_grad, set_grad_enabled
from .gradcheck import gradcheck
from .hooks import RemovableHandle, detect_anomaly, is_anomaly_enabled, set_detect_anomaly

__all__ = ["backward", "grad", "Function", "FunctionCtx", "enable_grad", "no_grad",
           "set_grad_enabled", "gradcheck", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "RemovableHandle"]
