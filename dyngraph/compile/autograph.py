"""AutoGraph: an AST rewrite of a function's `if`, `for ... in range(...)` and
`while` statements into calls of `autograph_ops`, which keep Python's
meaning for Python values and build `sg.cond` / bounded loops for traced
tensors (TensorFlow's AutoGraph does the same for `tf.function`).

Each statement becomes nested functions taking and returning the names the
statement assigns (its loop or branch state), so a branch or loop body is a
function the static engine can trace. Statements that contain `return`,
`break`, `continue`, `yield` or `global`/`nonlocal` are left as they are.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types

from . import autograph_ops
from .errors import TraceError

_AG = "ag__"


def _assigned(nodes: list[ast.stmt]) -> list[str]:
    """Names a block assigns, in first-seen order (nested defs' bodies excluded)."""
    names: dict[str, None] = {}

    class Visitor(ast.NodeVisitor):
        def visit_Name(self, node: ast.Name) -> None:
            if isinstance(node.ctx, ast.Store) and not node.id.startswith(_AG):
                names[node.id] = None

        def visit_FunctionDef(self, node) -> None:
            if not node.name.startswith(_AG):
                names[node.name] = None

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Lambda(self, node) -> None:
            return None
    for n in nodes:
        Visitor().visit(n)
    return list(names)


def _escapes(nodes: list[ast.stmt]) -> bool:
    """True when control leaves the block other than by falling through (a
    `break`/`continue` of a loop inside the block stays inside it)."""
    leaving = (ast.Return, ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal)
    own_scope = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    stack = [(n, False) for n in nodes]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, leaving) or (
                isinstance(node, (ast.Break, ast.Continue)) and not in_loop):
            return True
        if isinstance(node, own_scope):  # nested (and generated) defs: their own flow
            continue
        inner = in_loop or isinstance(node, (ast.For, ast.While))
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))
    return False


def _tuple(names: list[str], ctx) -> ast.expr:
    return ast.Tuple([ast.Name(n, ctx()) for n in names], ctx())


def _def(name: str, params: list[str], body: list[ast.stmt], returns: list[str]) -> ast.FunctionDef:
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    body = list(body) + [ast.Return(_tuple(returns, ast.Load))]
    return ast.FunctionDef(name, args, body, [], None, type_params=[])


def _call(fn: str, args: list[ast.expr]) -> ast.expr:
    return ast.Call(ast.Attribute(ast.Name(_AG, ast.Load()), fn, ast.Load()), args, [])


def _load(names: list[str]) -> ast.expr:
    locals_call = ast.Call(ast.Name("locals", ast.Load()), [], [])
    return _call("load", [locals_call, ast.Tuple([ast.Constant(n) for n in names], ast.Load())])


class _Rewriter(ast.NodeTransformer):
    def __init__(self) -> None:
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{_AG}{kind}_{self.count}"

    def _assign(self, names: list[str], value: ast.expr) -> ast.stmt:
        return ast.Assign([_tuple(names, ast.Store)], value)

    def visit_FunctionDef(self, node):  # nested functions are not converted
        return node

    visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_FunctionDef

    def visit(self, node):
        result = super().visit(node)
        if isinstance(result, list):  # generated statements: the original's line
            for new in result:
                ast.copy_location(new, node)
        return result

    def visit_If(self, node: ast.If):
        self.generic_visit(node)
        if _escapes(node.body + node.orelse):
            return node
        state = _assigned(node.body + node.orelse)
        both = [n for n in _assigned(node.body) if n in _assigned(node.orelse)]
        t, f = self._name("if_true"), self._name("if_false")
        return [_def(t, state, node.body, state), _def(f, state, node.orelse or [ast.Pass()],
                                                       state),
                self._assign(state, _call("if_stmt", [node.test, ast.Name(t, ast.Load()),
                                                      ast.Name(f, ast.Load()), _load(state),
                                                      _names(state), _names(both)]))]

    def visit_While(self, node: ast.While):
        self.generic_visit(node)
        if node.orelse or _escapes(node.body):
            return node
        state = _assigned(node.body)
        test, body = self._name("while_test"), self._name("while_body")
        test_def = _def(test, state, [], [])
        test_def.body = [ast.Return(node.test)]
        return [test_def, _def(body, state, node.body, state),
                self._assign(state, _call("while_stmt", [ast.Name(test, ast.Load()),
                                                         ast.Name(body, ast.Load()),
                                                         _load(state), _names(state)]))]

    def visit_For(self, node: ast.For):
        self.generic_visit(node)
        is_range = (isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name)
                    and node.iter.func.id == "range" and not node.iter.keywords
                    and isinstance(node.target, ast.Name))
        if not is_range or node.orelse or _escapes(node.body):
            return node
        state = [n for n in _assigned(node.body) if n != node.target.id]
        body = self._name("for_body")
        return [_def(body, [node.target.id] + state, node.body, state),
                self._assign(state, _call("for_range", [
                    ast.Tuple(list(node.iter.args), ast.Load()), ast.Name(body, ast.Load()),
                    _load(state), _names(state)]))]


def _names(names: list[str]) -> ast.expr:
    return ast.Tuple([ast.Constant(n) for n in names], ast.Load())


def convert(fn):
    """`fn` with its control flow rewritten (a bound method stays bound)."""
    if isinstance(fn, types.MethodType):
        return types.MethodType(convert(fn.__func__), fn.__self__)
    if not isinstance(fn, types.FunctionType):
        raise TraceError(f"autograph: cannot convert a {type(fn).__name__}; compile a "
                         "function, a method or a dg.nn.Module")
    if fn.__name__ == "<lambda>":
        return fn  # a lambda holds no statements to convert
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise TraceError(f"autograph: the source of '{fn.__name__}' is not available "
                         f"({exc}); compile with autograph=False") from None
    tree = ast.parse(source)
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        raise TraceError(f"autograph: '{fn.__name__}' is not a def statement (a lambda?); "
                         "write it with def, or compile with autograph=False")
    func.decorator_list = []
    rewriter = _Rewriter()
    func.body = [s for stmt in func.body for s in _as_list(rewriter.visit(stmt))]
    if rewriter.count == 0:
        return fn
    return _rebuild(fn, func)


def _as_list(result) -> list:
    return result if isinstance(result, list) else [result]


def _rebuild(fn: types.FunctionType, func: ast.FunctionDef) -> types.FunctionType:
    """Compile the rewritten def inside a factory whose parameters are the
    original's free variables (plus ag__), then bind the original closure cells."""
    free = list(fn.__code__.co_freevars)
    factory = _def("ag__factory", free + [_AG], [func], [])
    factory.body[-1] = ast.Return(ast.Name(func.name, ast.Load()))
    module = ast.fix_missing_locations(ast.Module([factory], type_ignores=[]))
    ast.increment_lineno(module, fn.__code__.co_firstlineno - 1)
    code = compile(module, fn.__code__.co_filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in factory_code.co_consts
                 if isinstance(c, types.CodeType) and c.co_name == func.name)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    cells[_AG] = types.CellType(autograph_ops)
    closure = tuple(cells[name] for name in inner.co_freevars)
    new = types.FunctionType(inner, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__wrapped__ = fn
    return new
