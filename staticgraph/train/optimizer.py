"""The optimizer base class: gradients, slots, and one grouped update op.

`minimize(loss)` = `apply_gradients(compute_gradients(loss))`. The update op
is an `sg.group` of one `assign` per variable (and per slot). Staticgraph's
state rule shapes how it is written: every read in a run sees the value from
the start of the run, and assigns commit when it ends. So a subclass computes
each new value from the *old* values (`var`, the slot variables) and returns
the pairs `(variable, new value)`; the new slot value is used directly where
the update needs it, never read back from the slot. Running the op together
with the loss (`sess.run([loss, train_op])`) gives the loss at the weights
before the step, as `loss.backward(); opt.step()` does in dyngraph.
"""

from __future__ import annotations

import numpy as np

from shared_ops import GradientError

from ..build.state import Variable, assign, assign_add, group, trainable_variables
from ..build.symbol import Operation, Symbol
from ..errors import GraphError
from ..gradients import gradients
from ..graph.context import graph_scope
from ..graph.ir import Graph

Update = tuple[Variable, Symbol]


def as_variable(var, what: str = "var_list") -> Variable:
    """`var` as a Variable handle, or a GraphError saying what it is instead."""
    if not isinstance(var, Symbol) or var.var not in var.graph.variables:
        raise GraphError(f"{what}: {var!r} is not a sg.Variable")
    return var if isinstance(var, Variable) else Variable.wrap(var.graph, var.var)


class Optimizer:
    """Base class (TF1's `tf.train.Optimizer`); subclasses define the update."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._slots: dict = {}  # (Var of the variable, slot name) -> Variable

    # ---- the public API ----------------------------------------------------
    def compute_gradients(self, loss: Symbol, var_list=None) -> list[tuple]:
        """[(gradient, variable)] of a scalar loss; the gradient is None where the
        loss does not depend on the variable. Default var_list: the trainable ones."""
        if not isinstance(loss, Symbol):
            raise GradientError(f"{self._name}: loss must be a symbol, got "
                                f"{type(loss).__name__}")
        if loss.shape != ():
            raise GradientError(f"{self._name}: loss must be a scalar, got shape {loss.shape}")
        if var_list is None:
            var_list = trainable_variables(loss.graph)
        variables = [as_variable(v) for v in var_list]
        if not variables:
            raise GradientError(f"{self._name}: no variables to optimize")
        return list(zip(gradients(loss, variables), variables))

    def apply_gradients(self, grads_and_vars, global_step=None,
                        name: str | None = None) -> Operation:
        """One op applying every (gradient, variable) pair; pairs whose gradient
        is None are skipped (that variable keeps still, as in dyngraph)."""
        pairs = self._checked_pairs(grads_and_vars)
        graph = pairs[0][1].graph
        with graph_scope(graph):
            shared, updates = self._prepare(graph, pairs)
            for grad, var in pairs:
                updates.extend(self._apply_dense(grad, var, shared))
            effects = [assign(v, value) for v, value in updates]
            if global_step is not None:
                effects.append(assign_add(as_variable(global_step, "global_step"),
                                          np.ones((), as_variable(global_step).dtype)))
            return group(effects, name=name or self._name)

    def minimize(self, loss: Symbol, var_list=None, global_step=None,
                 name: str | None = None) -> Operation:
        """The op performing one optimization step on `loss`."""
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    def get_slot(self, var, name: str) -> Variable | None:
        """The slot variable `name` ('momentum', 'm', 'v') of `var`, if made."""
        return self._slots.get((as_variable(var).var, name))

    def get_slot_names(self) -> list[str]:
        return sorted({name for _, name in self._slots})

    def variables(self) -> list[Variable]:
        """The optimizer's own (non-trainable) variables: slots and counters."""
        return list(self._slots.values())

    # ---- for subclasses ------------------------------------------------------
    def _prepare(self, graph: Graph, pairs: list) -> tuple[dict, list[Update]]:
        """Values shared by every variable's update, and their own updates
        (Adam's step counter and bias corrections)."""
        return {}, []

    def _apply_dense(self, grad: Symbol, var: Variable, shared: dict) -> list[Update]:
        raise NotImplementedError

    def _slot(self, var: Variable, name: str, fill: float = 0.0) -> Variable:
        """The slot `name` of `var`, initialised to `fill` (made once, non-trainable)."""
        key = (var.var, name)
        if key not in self._slots:
            with graph_scope(var.graph):
                self._slots[key] = Variable(np.full_like(var.initial_value, fill),
                                            name=f"{var.name}/{self._name}/{name}",
                                            trainable=False)
        return self._slots[key]

    def _non_slot(self, graph: Graph, name: str, value) -> Variable:
        """An optimizer-wide non-trainable variable (made per call of apply_gradients)."""
        with graph_scope(graph):
            var = Variable(value, name=f"{self._name}/{name}", trainable=False)
        self._slots[(var.var, name)] = var
        return var

    # ---- checks ----------------------------------------------------------------
    def _checked_pairs(self, grads_and_vars) -> list[tuple[Symbol, Variable]]:
        grads_and_vars = list(grads_and_vars)
        pairs, seen, graph = [], set(), None
        for item in grads_and_vars:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise GraphError(f"{self._name}: grads_and_vars must hold (gradient, "
                                 f"variable) pairs, got {item!r}")
            grad, var = item[0], as_variable(item[1], "apply_gradients")
            if var.var in seen:
                raise GraphError(f"{self._name}: variable '{var.name}' appears twice in "
                                 "grads_and_vars")
            seen.add(var.var)
            graph = graph or var.graph
            if var.graph is not graph:
                raise GraphError(f"{self._name}: variables come from different graphs")
            if grad is None:
                continue
            if not isinstance(grad, Symbol) or grad.graph is not graph:
                raise GraphError(f"{self._name}: the gradient of '{var.name}' must be a "
                                 f"symbol of the variable's graph, got {grad!r}")
            pairs.append((grad, var))
        if not pairs:
            names = ", ".join(f"'{v}'" for v in sorted(_names(grads_and_vars)))
            raise GradientError(f"{self._name}: no gradients for any variable ({names}); "
                                "does the loss depend on them?")
        return pairs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r}>"


def _names(grads_and_vars) -> set[str]:
    return {getattr(item[1], "name", repr(item[1])) for item in grads_and_vars}
