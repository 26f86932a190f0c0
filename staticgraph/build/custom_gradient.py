"""`sg.custom_gradient`: TF1's decorator for ops with a hand-written gradient.

    @sg.custom_gradient
    def my_relu(x):
        y = sg.maximum(x, 0.0)
        def grad(dy):
            return dy * sg.cast(x > 0, dy.dtype)
        return y, grad

Calling the decorated function builds its forward ops as usual, then routes
the outputs through one `custom_gradient` equation whose value is the
outputs unchanged and whose inputs also name the function's symbol
arguments (and the variables the forward reads). `sg.gradients` does not
differentiate the forward ops: at that equation it calls `grad(*dys)`, which
builds the gradient graph. When the forward reads variables, `grad` must take
a `variables` keyword and return `(input_grads, variable_grads)`, as in TF1.
"""

from __future__ import annotations

import functools
import inspect

from shared_ops import AbstractArray, GradientError, Primitive, ShapeError, format_site
from shared_ops import api as A

from ..gradients import GRAD_RULES
from ..graph.ir import Graph, Var
from .state import Variable
from .symbol import Symbol, bind_symbolic, current_site


def _outputs_eval(*avals, n_out: int, grad_fn, variables):
    return [AbstractArray(a.shape, a.dtype) for a in avals[:n_out]]


custom_gradient_p = Primitive(
    name="custom_gradient", impl=lambda *xs, n_out, grad_fn, variables: tuple(xs[:n_out]),
    abstract_eval=_outputs_eval, differentiable=True, views=True,
    multiple_results=True,
    doc="the first n_out inputs unchanged; the gradient is the user's grad_fn")


def _variables_read(graph: Graph, outputs: list[Var], inputs: set) -> list[Var]:
    """Variables the forward of `outputs` reads, not looking past `inputs`."""
    producers = graph.producers()
    seen, stack, found = set(), list(outputs), []
    while stack:
        v = stack.pop()
        if v in seen or v in inputs:
            continue
        seen.add(v)
        if v in graph.variables:
            found.append(v)
        eqn = producers.get(v)
        if eqn is not None:
            stack.extend(eqn.in_vars)
    return sorted(found, key=lambda v: v.id)


def _where() -> str:
    where = format_site(current_site())
    return f" (at {where})" if where else ""


def custom_gradient(f):
    """Decorate `f(*xs) -> (ys, grad_fn)` so that gradients use `grad_fn(*dys)`."""
    @functools.wraps(f)
    def wrapper(*args):
        result = f(*args)
        if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
            raise GradientError(f"custom_gradient: {f.__name__} must return (outputs, "
                                f"grad_fn){_where()}")
        ys, grad_fn = result
        single = isinstance(ys, Symbol)
        ys = [ys] if single else list(ys)
        if not ys or not all(isinstance(y, Symbol) for y in ys):
            raise GradientError(f"custom_gradient: the outputs of {f.__name__} must be "
                                f"symbols{_where()}")
        xs = [a for a in args if isinstance(a, Symbol)]
        graph = ys[0].graph
        var_vars = _variables_read(graph, [y.var for y in ys], {x.var for x in xs})
        takes_variables = "variables" in inspect.signature(grad_fn).parameters
        if var_vars and not takes_variables:
            names = ", ".join(v.label for v in var_vars)
            raise GradientError(f"custom_gradient: {f.__name__} reads variables ({names}), so "
                                "its grad_fn must accept a keyword argument 'variables' and "
                                f"return (input_grads, variable_grads){_where()}")
        variables = [Variable.wrap(graph, v) for v in var_vars]
        params = {"n_out": len(ys), "grad_fn": grad_fn, "variables": len(variables)}
        outs = bind_symbolic(custom_gradient_p, tuple(ys) + tuple(xs) + tuple(variables),
                             params)
        return outs[0] if single else tuple(outs)
    return wrapper


def _as_grads(value, count: int, what: str) -> list:
    grads = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(grads) != count:
        raise GradientError(f"custom_gradient: grad_fn returned {len(grads)} {what} "
                            f"gradients, expected {count}")
    return grads


def _checked(g, v: Var, graph: Graph):
    if g is None:
        return None
    g = g if isinstance(g, Symbol) else A.add(A.zeros_like(Symbol(graph, v)), g)
    fits = len(g.shape) == len(v.shape) and all(
        a is None or b is None or a == b for a, b in zip(g.shape, v.shape))
    if not fits:
        raise ShapeError(f"custom_gradient: grad_fn returned a gradient of shape {g.shape} "
                         f"for an input of shape {v.shape}")
    return g


def _custom_gradient_rule(graph: Graph, eqn, cts: list, needs: tuple) -> tuple:
    """Call the user's grad_fn on the output cotangents (zeros where none flowed)."""
    n_out, grad_fn = eqn.params["n_out"], eqn.params["grad_fn"]
    dys = [ct if ct is not None else A.zeros_like(Symbol(graph, out))
           for ct, out in zip(cts, eqn.outputs)]
    rest = eqn.inputs[n_out:]
    n_vars = eqn.params["variables"]
    xs, vs = rest[:len(rest) - n_vars], rest[len(rest) - n_vars:]
    if n_vars:
        variables = [Variable.wrap(graph, v) for v in vs]
        result = grad_fn(*dys, variables=variables)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise GradientError("custom_gradient: with variables, grad_fn must return "
                                "(input_grads, variable_grads)")
        x_grads = _as_grads(result[0], len(xs), "input")
        v_grads = _as_grads(result[1], n_vars, "variable")
    else:
        x_grads, v_grads = _as_grads(grad_fn(*dys), len(xs), "input"), []
    grads = [_checked(g, v, graph) for g, v in zip(x_grads + v_grads, rest)]
    return (None,) * n_out + tuple(grads)


GRAD_RULES[custom_gradient_p] = _custom_gradient_rule
