"""What a Python module's names and values mean, worked out statically (nothing is imported or run).

Three questions, each answered with bounded recursion and memoised per syntax node:

* `resolve(expr)`: the canonical dotted names an expression may stand for, through import aliases
  (`import subprocess as sp`), assignments (`f = eval`), `getattr(os, "sys"+"tem")`,
  `__import__("os")`, `sys.modules["os"]`, `builtins.__dict__["exec"]`, `globals()[...]`.
  A call's result is the callee's name plus `()` (`socket.socket().connect`).
* `const(expr)`: the value of an expression built only from literals and pure decoders
  (`base64.b64decode("...")`, `"".join(chr(c) for c in [...])`, `zlib.decompress`, `[::-1]`), so
  an obfuscated payload can be decoded and scanned like any other file.
* `labels(expr)`: where data may come from (flow-insensitive, per scope): "decoded" (base64, zlib,
  marshal, chr chains, XOR), "network", "environ" (the whole environment), "secret" (a secret
  variable or credential file), "file".
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from typing import Any

from modelcert.checks.remote_code_containers import ContainerFacts
from modelcert.checks.remote_code_origins import call_labels, name_labels
from modelcert.checks.remote_code_tables import SECRET_ENV
from modelcert.checks.remote_code_values import (
    ENV_MAPPINGS,
    LOCAL,
    MAX_DEPTH,
    MAX_ITEMS,
    Const,
    bounded,
    canonical,
    const_binop,
    const_call,
    const_subscript,
    dotted,
)
from modelcert.records import IdentityRecord

BUILTIN_NAMES = frozenset(dir(builtins))
Scoped = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class Scope(IdentityRecord):
    """Names bound in one function/class/module body; flow-insensitive (every binding counts)."""

    __slots__ = (
        "defs", "elements", "globals_", "imports", "kind", "multi", "node", "opaque", "params", "parent",
        "values",
    )  # fmt: skip
    node: Scoped
    parent: Scope | None
    kind: str  # module | function | class | lambda
    imports: dict[str, set[str]]
    values: dict[str, list[ast.expr]]
    elements: dict[str, list[ast.expr]]  # loop/with/comprehension sources
    defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]]
    params: set[str]
    opaque: set[str]  # bound to something we do not model (except-as, ...)
    globals_: set[str]
    multi: set[str]  # reassigned: not a constant

    def __init__(
        self,
        node: Scoped,
        parent: Scope | None,
        kind: str,
        imports: dict[str, set[str]] | None = None,
        values: dict[str, list[ast.expr]] | None = None,
        elements: dict[str, list[ast.expr]] | None = None,
        defs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]] | None = None,
        params: set[str] | None = None,
        opaque: set[str] | None = None,
        globals_: set[str] | None = None,
        multi: set[str] | None = None,
    ) -> None:
        self.node = node
        self.parent = parent
        self.kind = kind
        self.imports = {} if imports is None else imports
        self.values = {} if values is None else values
        self.elements = {} if elements is None else elements
        self.defs = {} if defs is None else defs
        self.params = set() if params is None else params
        self.opaque = set() if opaque is None else opaque
        self.globals_ = set() if globals_ is None else globals_
        self.multi = set() if multi is None else multi

    def binds(self, name: str) -> bool:
        return (
            name in self.imports
            or name in self.values
            or name in self.defs
            or name in self.params
            or name in self.elements
            or name in self.opaque
        )


class ModuleModel:
    """Scopes and bindings of one module, and the three evaluators over them."""

    def __init__(self, tree: ast.Module, max_bytes: int) -> None:
        self.tree = tree
        self.max_bytes = max_bytes
        self.module_scope = Scope(node=tree, parent=None, kind="module")
        self._scope_of: dict[int, Scope] = {}
        self.star_imports: list[str] = []
        self.functions: dict[str, list[FunctionNode]] = {}
        self.classes: dict[str, list[ast.ClassDef]] = {}
        self.returns: dict[int, list[ast.expr]] = {}
        self.calls: list[ast.Call] = []
        self._function_scope: dict[int, Scope] = {}
        self._resolve_memo: dict[int, frozenset[str]] = {}
        self._label_memo: dict[int, frozenset[str]] = {}
        self._const_memo: dict[int, Const | None] = {}
        self._active: set[tuple[str, int]] = set()
        self._depth = 0
        self._calls_by_name: dict[str, list[ast.Call]] | None = None
        self.containers = ContainerFacts(self)
        self._build()

    # ---- building -------------------------------------------------------------------------

    def calls_named(self, name: str) -> list[ast.Call]:
        """Calls whose callee is spelled `name` or `<something>.name` (candidates for a local function)."""
        if self._calls_by_name is None:
            self._calls_by_name = {}
            for call in self.calls:
                func = call.func
                spelled = (
                    func.id
                    if isinstance(func, ast.Name)
                    else func.attr
                    if isinstance(func, ast.Attribute)
                    else None
                )
                if spelled:
                    self._calls_by_name.setdefault(spelled, []).append(call)
        return self._calls_by_name.get(name, [])

    def scope_of(self, node: ast.AST) -> Scope:
        return self._scope_of.get(id(node), self.module_scope)

    def function_scope(self, fn: ast.AST) -> Scope | None:
        return self._function_scope.get(id(fn))

    def _build(self) -> None:
        stack: list[tuple[ast.AST, Scope, FunctionNode | None]] = [(self.tree, self.module_scope, None)]
        while stack:
            node, scope, fn = stack.pop()
            self._scope_of[id(node)] = scope
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                stack.extend(self._enter(node, scope))
                continue
            self._bind(node, scope, fn)
            stack.extend((child, scope, fn) for child in ast.iter_child_nodes(node))

    def _enter(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef, scope: Scope
    ) -> Iterator[tuple[ast.AST, Scope, FunctionNode | None]]:
        """Decorators, defaults and bases belong to the enclosing scope; the body gets its own."""
        self._scope_of[id(node)] = scope
        outer_fn = None
        if isinstance(node, ast.ClassDef):
            self._define(scope, node.name, node)
            self.classes.setdefault(node.name, []).append(node)
            inner = Scope(node=node, parent=scope, kind="class")
            yield from ((n, scope, outer_fn) for n in (*node.decorator_list, *node.bases))
            yield from ((k.value, scope, outer_fn) for k in node.keywords)
            yield from ((s, inner, outer_fn) for s in node.body)
            return
        kind = "lambda" if isinstance(node, ast.Lambda) else "function"
        inner = Scope(node=node, parent=scope, kind=kind)
        self._function_scope[id(node)] = inner
        args = node.args
        all_args = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        all_args += [a for a in (args.vararg, args.kwarg) if a is not None]
        inner.params.update(a.arg for a in all_args)
        yield from ((d, scope, outer_fn) for d in args.defaults)
        yield from ((d, scope, outer_fn) for d in args.kw_defaults if d is not None)
        if isinstance(node, ast.Lambda):
            yield (node.body, inner, None)
            return
        self._define(scope, node.name, node)
        self.functions.setdefault(node.name, []).append(node)
        self.returns.setdefault(id(node), [])
        yield from ((d, scope, outer_fn) for d in node.decorator_list)
        yield from ((s, inner, node) for s in node.body)

    def _define(
        self, scope: Scope, name: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> None:
        self._target_scope(scope, name).defs.setdefault(name, []).append(node)

    def _target_scope(self, scope: Scope, name: str) -> Scope:
        return self.module_scope if name in scope.globals_ else scope

    def _bind(self, node: ast.AST, scope: Scope, fn: FunctionNode | None) -> None:
        if isinstance(node, ast.Call):
            self.calls.append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self._import(scope, alias.asname, alias.name)
                else:
                    top = alias.name.split(".")[0]
                    self._import(scope, top, top)
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    self.star_imports.append(canonical(base))
                    continue
                full = f"{base}.{alias.name}" if node.level == 0 or node.module else f"{base}{alias.name}"
                self._import(scope, alias.asname or alias.name, full)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            scope.globals_.update(node.names)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._assign(target, node.value, scope)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._assign(node.target, node.value, scope)
        elif isinstance(node, ast.AugAssign):
            self._assign(node.target, node.value, scope, augmented=True)
        elif isinstance(node, ast.NamedExpr):
            self._assign(node.target, node.value, scope)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            self._element(node.target, node.iter, scope)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._assign(node.optional_vars, node.context_expr, scope)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._target_scope(scope, node.name).opaque.add(node.name)
        elif isinstance(node, ast.Return) and fn is not None and node.value is not None:
            self.returns.setdefault(id(fn), []).append(node.value)

    def _import(self, scope: Scope, name: str, target: str) -> None:
        self._target_scope(scope, name).imports.setdefault(name, set()).add(canonical(target))

    def _assign(self, target: ast.expr, value: ast.expr, scope: Scope, augmented: bool = False) -> None:
        if isinstance(target, ast.Name):
            owner = self._target_scope(scope, target.id)
            values = owner.values.setdefault(target.id, [])
            values.append(value)
            if augmented or len(values) > 1:
                owner.multi.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for sub_target, sub_value in zip(target.elts, value.elts, strict=True):
                    self._assign(sub_target, sub_value, scope, augmented)
            else:
                for sub_target in target.elts:
                    self._element(sub_target, value, scope)
        elif isinstance(target, ast.Starred):
            self._element(target.value, value, scope)
        elif isinstance(target, ast.Attribute):
            key = dotted(target)
            if key:  # `self.code = ...` is visible to every method: keep it module-wide
                self.module_scope.values.setdefault(key, []).append(value)
                self.module_scope.multi.add(key)

    def _element(self, target: ast.expr, source: ast.expr, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            self._target_scope(scope, target.id).elements.setdefault(target.id, []).append(source)
        elif isinstance(target, ast.Tuple | ast.List):
            for sub in target.elts:
                self._element(sub, source, scope)
        elif isinstance(target, ast.Starred):
            self._element(target.value, source, scope)

    def lookup(self, name: str, scope: Scope) -> Scope | None:
        """The scope that binds `name` as seen from `scope` (class bodies do not enclose methods)."""
        current: Scope | None = scope
        first = True
        while current is not None:
            if (first or current.kind != "class") and current.binds(name):
                return current
            first = False
            current = current.parent
        return None

    # ---- shared recursion guard ---------------------------------------------------------------

    def _guarded(
        self, kind: str, node: ast.AST, memo: dict[int, Any], compute: Callable[[], Any], empty: Any
    ) -> Any:
        key = id(node)
        if key in memo:
            return memo[key]
        if (kind, key) in self._active or self._depth >= MAX_DEPTH:
            return empty
        self._active.add((kind, key))
        self._depth += 1
        try:
            result = compute()
        finally:
            self._depth -= 1
            self._active.discard((kind, key))
        memo[key] = result
        return result

    # ---- resolve ------------------------------------------------------------------------------

    def resolve(self, expr: ast.AST) -> frozenset[str]:
        """Dotted names an expression may stand for (empty when unknown)."""
        result: frozenset[str] = self._guarded(
            "resolve", expr, self._resolve_memo, lambda: frozenset(self._resolve(expr)), frozenset()
        )
        return result

    def resolve_name(self, name: str, scope: Scope) -> set[str]:
        if name == "__builtins__":
            return {"builtins"}
        owner = self.lookup(name, scope)
        if owner is None:
            if name in BUILTIN_NAMES:
                return {f"builtins.{name}"}
            return {canonical(f"{module}.{name}") for module in self.star_imports}
        out: set[str] = set(owner.imports.get(name, ()))
        if name in owner.defs:
            out.add(f"{LOCAL}.{name}")
        values = list(owner.values.get(name, ()))
        if name in owner.params:  # defaults and what the module's own calls pass
            values += self.containers.parameter_values(owner, name)
        for source in owner.elements.get(name, ()):  # a loop/unpacking variable: an element of its source
            values += self.containers.elements(source)
        for value in values:
            out |= self.resolve(value)
        return out

    def _resolve(self, expr: ast.AST) -> set[str]:
        if isinstance(expr, ast.Name):
            return self.resolve_name(expr.id, self.scope_of(expr))
        if isinstance(expr, ast.Attribute):
            out = {canonical(f"{base}.{expr.attr}") for base in self.resolve(expr.value)}
            for value in self.containers.class_attribute(expr):  # Cls.attr / self.attr set in the class body
                out |= self.resolve(value)
            key = dotted(expr)
            if key and key in self.module_scope.values:
                for value in self.module_scope.values[key]:
                    out |= self.resolve(value)
            return out
        if isinstance(expr, ast.Call):
            return self._resolve_call(expr)
        if isinstance(expr, ast.Subscript):
            return self._resolve_subscript(expr)
        if isinstance(expr, ast.IfExp):
            return set(self.resolve(expr.body) | self.resolve(expr.orelse))
        if isinstance(expr, ast.BoolOp):
            return {name for value in expr.values for name in self.resolve(value)}
        if isinstance(expr, ast.NamedExpr | ast.Starred | ast.Await):
            return set(self.resolve(expr.value))
        # Path arithmetic: `Path.home() / ".ssh"` is still a pathlib.Path
        if (
            isinstance(expr, ast.BinOp)
            and isinstance(expr.op, ast.Div)
            and any(n.startswith("pathlib.") for n in self.resolve(expr.left))
        ):
            return {"pathlib.Path()"}
        return set()

    def _resolve_call(self, call: ast.Call) -> set[str]:
        out: set[str] = set()
        if isinstance(call.func, ast.Call) and call.args:
            inner = self.resolve(call.func.func)
            name = self.const_str(call.func.args[0]) if call.func.args else None
            if name and "operator.attrgetter" in inner:  # attrgetter("system")(os) is os.system
                out |= {canonical(f"{b}.{name}") for b in self.resolve(call.args[0])}
        for value in self.containers.item_read(call) + self.containers.returned(call):
            out |= self.resolve(value)  # table.get("k"), next(iter(fns)), a local function's result
        for func in self.resolve(call.func):
            if func == "builtins.getattr" and len(call.args) >= 2:
                name = self.const_str(call.args[1])
                if name:
                    out |= {canonical(f"{b}.{name}") for b in self.resolve(call.args[0])}
            elif func in {"builtins.__import__", "importlib.import_module", "importlib.__import__"}:
                name = self.const_str(call.args[0]) if call.args else None
                if name:
                    out.add(canonical(name.split(".")[0] if func.endswith("__import__") else name))
            elif func in {"pkgutil.resolve_name", "pydoc.locate"}:
                name = self.const_str(call.args[0]) if call.args else None
                if name:
                    out.add(canonical(name.replace(":", ".")))
            elif func == "builtins.vars":
                if call.args:
                    out |= {f"{b}.__dict__" for b in self.resolve(call.args[0])}
                else:
                    out.add("builtins.globals()")
            elif func in {"builtins.globals", "builtins.locals"}:
                out.add("builtins.globals()")
            else:
                out.add(f"{func}()")
        return out

    def _resolve_subscript(self, expr: ast.Subscript) -> set[str]:
        out: set[str] = set()
        if not isinstance(expr.slice, ast.Slice):  # an element of a container the module built
            index = self.const(expr.slice)
            for element in self.containers.elements(
                expr.value, index if isinstance(index, str | int) else None
            ):
                out |= self.resolve(element)
        key = self.const_str(expr.slice)
        if not key:
            return out
        for base in self.resolve(expr.value):
            if base == "builtins" or base.endswith(".__dict__"):
                owner = "builtins" if base == "builtins" else base.removesuffix(".__dict__")
                out.add(canonical(f"{owner}.{key}"))
            elif base == "sys.modules":
                out.add(canonical(key))
            elif base == "builtins.globals()":
                out |= self.resolve_name(key, self.module_scope)
        return out

    # ---- constants ----------------------------------------------------------------------------

    def const_str(self, expr: ast.AST) -> str | None:
        value = self.const(expr)
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return None
        return value if isinstance(value, str) else None

    def const(self, expr: ast.AST, env: dict[str, Const] | None = None) -> Const | None:
        """The value of an expression made of literals and pure decoders, or None."""
        if env:
            if self._depth >= MAX_DEPTH:
                return None
            self._depth += 1
            try:
                return self._const(expr, env)
            finally:
                self._depth -= 1
        value: Const | None = self._guarded(
            "const", expr, self._const_memo, lambda: self._const(expr, {}), None
        )
        return value

    def _const(self, expr: ast.AST, env: dict[str, Const]) -> Const | None:
        if isinstance(expr, ast.Constant):
            value = expr.value
            return value if isinstance(value, str | bytes | int) and not isinstance(value, bool) else None
        if isinstance(expr, ast.Name):
            if expr.id in env:
                return env[expr.id]
            return self._const_name(expr)
        if isinstance(expr, ast.JoinedStr):
            parts: list[str] = []
            for part in expr.values:
                piece = self.const(part.value if isinstance(part, ast.FormattedValue) else part, env)
                if not isinstance(piece, str | int):
                    return None
                parts.append(str(piece))
            return bounded("".join(parts), self.max_bytes)
        if isinstance(expr, ast.BinOp):
            return const_binop(self, expr, env)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub | ast.UAdd | ast.Invert):
            operand = self.const(expr.operand, env)
            if not isinstance(operand, int):
                return None
            return (
                -operand
                if isinstance(expr.op, ast.USub)
                else ~operand
                if isinstance(expr.op, ast.Invert)
                else operand
            )
        if isinstance(expr, ast.List | ast.Tuple):
            items = [self.const(e, env) for e in expr.elts[:MAX_ITEMS]]
            return None if any(i is None for i in items) or len(expr.elts) > MAX_ITEMS else items
        if isinstance(expr, ast.Subscript):
            return const_subscript(self, expr, env)
        if isinstance(expr, ast.Call):
            return const_call(self, expr, env)
        if isinstance(expr, ast.ListComp | ast.GeneratorExp):
            return self._const_comprehension(expr, env)
        return None

    def _const_name(self, expr: ast.Name) -> Const | None:
        owner = self.lookup(expr.id, self.scope_of(expr))
        if owner is None or expr.id in owner.multi:
            return None
        if owner.imports.get(expr.id) or expr.id in owner.params or expr.id in owner.elements:
            return None
        values = owner.values.get(expr.id, [])
        return self.const(values[0]) if len(values) == 1 else None

    def _const_comprehension(
        self, expr: ast.ListComp | ast.GeneratorExp, env: dict[str, Const]
    ) -> Const | None:
        if len(expr.generators) != 1:
            return None
        gen = expr.generators[0]
        if gen.ifs or not isinstance(gen.target, ast.Name):
            return None
        source = self.const(gen.iter, env)
        if isinstance(source, str):
            items: list[Any] = list(source)
        elif isinstance(source, bytes | list):
            items = list(source)
        else:
            return None
        out: list[Any] = []
        for item in items[:MAX_ITEMS]:
            value = self.const(expr.elt, {**env, gen.target.id: item})
            if value is None:
                return None
            out.append(value)
        return out

    # ---- labels -------------------------------------------------------------------------------

    def labels(self, expr: ast.AST) -> frozenset[str]:
        """Where the value of `expr` may come from: decoded, network, environ, secret, file."""
        result: frozenset[str] = self._guarded(
            "labels", expr, self._label_memo, lambda: frozenset(self._labels(expr)), frozenset()
        )
        return result

    def _labels(self, expr: ast.AST) -> set[str]:
        if isinstance(expr, ast.Name):
            return name_labels(self, expr)
        if isinstance(expr, ast.Attribute):
            if self.resolve(expr) & ENV_MAPPINGS:
                return {"environ"}
            out = set(self.labels(expr.value))
            key = dotted(expr)
            if key and key in self.module_scope.values:
                for value in self.module_scope.values[key]:
                    out |= self.labels(value)
            return out
        if isinstance(expr, ast.Call):
            return call_labels(self, expr)
        if isinstance(expr, ast.Subscript):
            if self.resolve(expr.value) & ENV_MAPPINGS:
                key = self.const_str(expr.slice)
                return {"environ"} if key is None else ({"secret"} if SECRET_ENV.search(key) else set())
            return set(self.labels(expr.value))
        if isinstance(expr, ast.Compare | ast.Constant | ast.Lambda):
            return set()
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitXor):
            return {"decoded"} | set(self.labels(expr.left)) | set(self.labels(expr.right))
        merged: set[str] = set()
        for child in ast.iter_child_nodes(expr):
            if isinstance(child, ast.expr | ast.comprehension | ast.keyword | ast.FormattedValue):
                merged |= self.labels(child)
        return merged
