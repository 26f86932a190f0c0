"""shared_ops: the one op library both engines use.

Every primitive lives in `REGISTRY` with its NumPy impl, shape/dtype rule,
VJP rule and (elementwise ops) per-element scalar function. The functions
below dispatch on their arguments' types (see `primitive.bind`).
"""

__version__ = "0.2.0"

# The ops modules register the primitives (REGISTRY); the API functions look
# them up by name when called.
from . import (  # noqa: F401
    api,
    ops_conv,
    ops_elementwise,
    ops_index,
    ops_linalg,
    ops_nary,
    ops_reduce,
    ops_shape,
)
from .api import *  # noqa: F401,F403
from .api import normalize_index  # noqa: F401
from .errors import (  # noqa: F401
    DTypeError,
    FunctionError,
    GradientError,
    GraphCompareError,
    InPlaceError,
    ShapeError,
)
from .grad_utils import expand_to, reshape_to, unbroadcast  # noqa: F401
from .primitive import REGISTRY, Effect, Primitive, bind, by_primitive, is_registered, register  # noqa: F401
from .shapes import AbstractArray, aval_of, broadcast_shapes, dtype_of, shape_of  # noqa: F401
from .sites import format_site, register_library_dir, user_site  # noqa: F401

__all__ = [name for name in dir(api) if not name.startswith("_")]
