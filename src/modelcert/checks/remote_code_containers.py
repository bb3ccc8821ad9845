"""What containers, parameters and function results hold: the value side of name resolution.

`ModuleModel.resolve` (remote_code_flow) asks these helpers which expressions a value may be, so a
callable stored somewhere and called from there resolves to itself:

* container elements: `[os.system][0]`, `{"go": os.execv}["go"]`, `d["k"] = f; d["k"](...)`,
  `lst.append(f)`, `for f in (os.system,)`, `dict(run=f)`, `table.get("k")`, `table()["k"]`;
* parameters: defaults (`def run(c, f=os.system)`) and what the module's own call sites pass;
* function results: `pick()(cmd)` where `pick` returns `os.system`.

Everything is flow-insensitive (every binding and mutation counts, as in the rest of the model) and
bounded in depth and count; an unknown key selects every element (over-approximation is the safe side).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from modelcert.checks.remote_code_values import Const, dotted

if TYPE_CHECKING:
    from modelcert.checks.remote_code_flow import ModuleModel, Scope

MAX_ELEMENTS = 256  # element expressions gathered per question
MAX_NESTING = 8  # containers inside containers followed
_UNKNOWN = object()  # a key whose value is not a constant

# Calls whose result holds the elements of their (first) argument.
_ELEMENT_PRESERVING = frozenset(
    {
        "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.sorted",
        "builtins.reversed", "builtins.iter", "builtins.enumerate", "builtins.zip", "builtins.filter",
        "itertools.chain", "itertools.cycle", "itertools.islice", "collections.deque",
        "collections.OrderedDict", "collections.ChainMap", "copy.copy", "copy.deepcopy",
        "types.MappingProxyType", "types.SimpleNamespace",
    }
)
_VIEW_METHODS = frozenset({"items", "values", "keys", "copy", "__iter__", "__reversed__"})
# Methods that read one element out of a container.
ITEM_GETTERS = frozenset({"get", "pop", "setdefault", "__getitem__", "popitem", "popleft"})
# Methods that put values into a container: method -> (key argument index or None, value index, spread).
_MUTATORS: dict[str, tuple[int | None, int, bool]] = {
    "append": (None, 0, False),
    "appendleft": (None, 0, False),
    "add": (None, 0, False),
    "insert": (None, 1, False),
    "extend": (None, 0, True),
    "extendleft": (None, 0, True),
    "setdefault": (0, 1, False),
    "__setitem__": (0, 1, False),
    "update": (None, 0, True),
}


class ContainerFacts:
    """Mutations of containers in one module, indexed by the container's spelling and scope."""

    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self._mutations: dict[tuple[int, str], list[tuple[ast.expr | None, ast.expr, bool]]] | None = None
        self._memo: dict[tuple[int, object], list[ast.expr]] = {}
        self._active: set[tuple[int, object]] = set()

    # ---- element questions ----------------------------------------------------------------

    def elements(self, container: ast.expr, key: Const | None = None) -> list[ast.expr]:
        """Expressions that `container[key]` may be (key None: any element)."""
        return self._collect(container, key if isinstance(key, str | int) else _UNKNOWN)

    def _collect(self, container: ast.expr, key: object) -> list[ast.expr]:
        """Memoised element walk; a container met again while it is being walked adds nothing."""
        marker = (id(container), key)
        cached = self._memo.get(marker)
        if cached is not None:
            return cached
        if marker in self._active or len(self._active) >= MAX_NESTING:
            return []
        self._active.add(marker)
        out: list[ast.expr] = []
        try:
            self._gather(container, key, 0, out, set())
        finally:
            self._active.discard(marker)
        self._memo[marker] = out
        return out

    def item_read(self, call: ast.Call) -> list[ast.expr]:
        """What `x.get(k)` / `x.pop(k)` / `operator.getitem(x, k)` / `next(iter(x))` may return."""
        func = call.func
        model = self.model
        if isinstance(func, ast.Attribute) and func.attr in ITEM_GETTERS:
            key = model.const(call.args[0]) if call.args else None
            found = self.elements(func.value, key)
            if func.attr in {"get", "pop", "setdefault"} and len(call.args) > 1:
                found.append(call.args[1])  # the default
            return found
        names = model.resolve(func)
        if "operator.getitem" in names and len(call.args) == 2:
            return self.elements(call.args[0], model.const(call.args[1]))
        if "builtins.next" in names and call.args:
            return self.elements(call.args[0])
        return []

    def returned(self, call: ast.Call) -> list[ast.expr]:
        """Expressions a call to one of the module's own functions may return."""
        out: list[ast.expr] = []
        for name in self.model.resolve(call.func):
            head, _, short = name.partition(".")
            if head != "<local>" or "()" in short or "." in short:
                continue
            for fn in self.model.functions.get(short, []):
                out.extend(self.model.returns.get(id(fn), []))
        return out[:MAX_ELEMENTS]

    def class_attribute(self, expr: ast.Attribute) -> list[ast.expr]:
        """Class-body bindings `expr` reads: `Cls.attr`, `Cls().attr`, `self.attr` in a method."""
        model = self.model
        classes: list[ast.ClassDef] = []
        for base in model.resolve(expr.value):
            head, _, short = base.partition(".")
            if head == "<local>" and "." not in short:
                classes.extend(model.classes.get(short.removesuffix("()"), []))
        if isinstance(expr.value, ast.Name) and expr.value.id in {"self", "cls"}:
            scope: Scope | None = model.scope_of(expr)
            while scope is not None and scope.kind != "class":
                scope = scope.parent
            if scope is not None and isinstance(scope.node, ast.ClassDef):
                classes.append(scope.node)
        out: list[ast.expr] = []
        for cls in classes[:MAX_NESTING]:
            if cls.body:
                out.extend(model.scope_of(cls.body[0]).values.get(expr.attr, ()))
        return out[:MAX_ELEMENTS]

    def parameter_values(self, scope: Scope, name: str) -> list[ast.expr]:
        """Defaults of parameter `name` of the function owning `scope`, and what local call sites pass."""
        fn = scope.node
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return []
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        out: list[ast.expr] = []
        offset = len(positional) - len(args.defaults)
        for index, arg in enumerate(positional):
            if arg.arg == name and index >= offset:
                out.append(args.defaults[index - offset])
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if arg.arg == name and default is not None:
                out.append(default)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            out.extend(self._passed(fn, scope, [a.arg for a in positional], name))
        return out[:MAX_ELEMENTS]

    def _passed(
        self, fn: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope, positional: list[str], name: str
    ) -> Iterator[ast.expr]:
        """Arguments the module's own calls of `fn` pass for `name` (methods through self/cls)."""
        method = scope.parent is not None and scope.parent.kind == "class"
        if method and positional[:1] == [name]:
            return  # self / cls
        for call in self.model.calls_named(fn.name):
            callee = call.func
            if isinstance(callee, ast.Name):
                if method or f"<local>.{fn.name}" not in self.model.resolve(callee):
                    continue
                shift = 0
            elif method and isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
                if callee.value.id not in {"self", "cls"}:
                    continue
                shift = 1
            else:
                continue
            for keyword in call.keywords:
                if keyword.arg == name:
                    yield keyword.value
            if name in positional:
                index = positional.index(name) - shift
                if 0 <= index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args):
                    yield call.args[index]

    # ---- the walk --------------------------------------------------------------------------

    def _gather(
        self, node: ast.expr, key: object, depth: int, out: list[ast.expr], seen: set[tuple[int, object]]
    ) -> None:
        marker = (id(node), key if isinstance(key, str | int) else _UNKNOWN)
        if depth > MAX_NESTING or len(out) >= MAX_ELEMENTS or marker in seen:
            return
        seen.add(marker)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            self._sequence(node, key, depth, out, seen)
        elif isinstance(node, ast.Dict):
            for item_key, value in zip(node.keys, node.values, strict=True):
                if item_key is None:  # {**other}
                    self._gather(value, key, depth + 1, out, seen)
                elif key is _UNKNOWN or self._key_matches(item_key, key):
                    out.append(value)
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            out.append(node.elt)
        elif isinstance(node, ast.DictComp):
            out.append(node.value)
        elif isinstance(node, ast.IfExp):
            self._gather(node.body, key, depth + 1, out, seen)
            self._gather(node.orelse, key, depth + 1, out, seen)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._gather(value, key, depth + 1, out, seen)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.BitOr):
            self._gather(node.left, _UNKNOWN, depth + 1, out, seen)  # concatenation shifts positions
            self._gather(node.right, _UNKNOWN, depth + 1, out, seen)
        elif isinstance(node, ast.NamedExpr | ast.Starred):
            self._gather(node.value, key, depth + 1, out, seen)
        elif isinstance(node, ast.Subscript):
            inner = _UNKNOWN if isinstance(node.slice, ast.Slice) else self._const_key(node.slice)
            if isinstance(node.slice, ast.Slice):
                self._gather(node.value, _UNKNOWN, depth + 1, out, seen)
            else:
                for element in self._collect(node.value, inner):
                    self._gather(element, key, depth + 1, out, seen)
        elif isinstance(node, ast.Name | ast.Attribute):
            self._named(node, key, depth, out, seen)
        elif isinstance(node, ast.Call):
            self._call(node, key, depth, out, seen)

    def _sequence(
        self,
        node: ast.List | ast.Tuple | ast.Set,
        key: object,
        depth: int,
        out: list[ast.expr],
        seen: set[tuple[int, object]],
    ) -> None:
        starred = any(isinstance(e, ast.Starred) for e in node.elts)
        positional = not starred and not isinstance(node, ast.Set)
        if isinstance(key, int) and not isinstance(key, bool) and positional:
            if -len(node.elts) <= key < len(node.elts):
                out.append(node.elts[key])
            return
        for element in node.elts:
            if isinstance(element, ast.Starred):
                self._gather(element.value, _UNKNOWN, depth + 1, out, seen)
            else:
                out.append(element)

    def _named(
        self,
        node: ast.Name | ast.Attribute,
        key: object,
        depth: int,
        out: list[ast.expr],
        seen: set[tuple[int, object]],
    ) -> None:
        model = self.model
        sources: list[ast.expr] = []
        spelled = dotted(node) if isinstance(node, ast.Attribute) else node.id
        if isinstance(node, ast.Name):
            owner = model.lookup(node.id, model.scope_of(node))
            if owner is not None:
                sources.extend(owner.values.get(node.id, ()))
                for source in owner.elements.get(node.id, ()):  # loop variable: an element of the source
                    sources.extend(self.elements(source))
                if node.id in owner.params:
                    sources.extend(self.parameter_values(owner, node.id))
            scope_key = id(owner) if owner is not None else 0
        else:
            sources.extend(model.module_scope.values.get(spelled or "", ()))
            scope_key = 0
        for source in sources:
            self._gather(source, key, depth + 1, out, seen)
        for item_key, value, spread in self._mutations_of(scope_key, spelled or ""):
            if spread:
                self._gather(value, key, depth + 1, out, seen)
            elif key is _UNKNOWN or item_key is None or self._key_matches(item_key, key):
                out.append(value)

    def _call(
        self, node: ast.Call, key: object, depth: int, out: list[ast.expr], seen: set[tuple[int, object]]
    ) -> None:
        func = node.func
        names = self.model.resolve(func)
        if names & _ELEMENT_PRESERVING:
            sources = node.args[1:2] if "builtins.filter" in names else node.args
            for source in sources:
                self._gather(source, _UNKNOWN, depth + 1, out, seen)
            for keyword in node.keywords:  # OrderedDict(run=f), SimpleNamespace(run=f)
                if key is _UNKNOWN or keyword.arg == key:
                    out.append(keyword.value)
        elif "builtins.dict" in names:
            for source in node.args:
                self._gather(source, key, depth + 1, out, seen)
            for keyword in node.keywords:
                if keyword.arg is None:
                    self._gather(keyword.value, key, depth + 1, out, seen)
                elif key is _UNKNOWN or keyword.arg == key:
                    out.append(keyword.value)
        elif isinstance(func, ast.Attribute) and func.attr in _VIEW_METHODS:
            self._gather(func.value, key if func.attr == "copy" else _UNKNOWN, depth + 1, out, seen)
        else:
            for returned in self.returned(node) + self.item_read(node):
                self._gather(returned, key, depth + 1, out, seen)

    # ---- keys and mutations ----------------------------------------------------------------

    def _const_key(self, expr: ast.expr) -> object:
        value = self.model.const(expr)
        return value if isinstance(value, str | int) else _UNKNOWN

    def _key_matches(self, item_key: ast.expr, key: object) -> bool:
        known = self._const_key(item_key)
        return known is _UNKNOWN or known == key

    def _mutations_of(self, scope_key: int, spelled: str) -> list[tuple[ast.expr | None, ast.expr, bool]]:
        if self._mutations is None:
            self._mutations = self._index_mutations()
        found = list(self._mutations.get((scope_key, spelled), ()))
        if scope_key:
            found += self._mutations.get((0, spelled), ())  # attribute-style spellings are module-wide
        return found

    def _index_mutations(self) -> dict[tuple[int, str], list[tuple[ast.expr | None, ast.expr, bool]]]:
        index: dict[tuple[int, str], list[tuple[ast.expr | None, ast.expr, bool]]] = {}
        for node in ast.walk(self.model.tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
                        self._record(index, target.value, target.slice, node.value, spread=False)
                    elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.BitOr):
                        self._record(index, target, None, node.value, spread=True)  # lst += [f]; d |= {...}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._record_call(index, node, node.func)
        return index

    def _record_call(
        self,
        index: dict[tuple[int, str], list[tuple[ast.expr | None, ast.expr, bool]]],
        call: ast.Call,
        func: ast.Attribute,
    ) -> None:
        shape = _MUTATORS.get(func.attr)
        if shape is None:
            return
        key_index, value_index, spread = shape
        if func.attr == "update":
            for keyword in call.keywords:
                if keyword.arg is not None:
                    self._record(index, func.value, ast.Constant(keyword.arg), keyword.value, spread=False)
        if len(call.args) > value_index:
            key = call.args[key_index] if key_index is not None and len(call.args) > key_index else None
            self._record(index, func.value, key, call.args[value_index], spread=spread)

    def _record(
        self,
        index: dict[tuple[int, str], list[tuple[ast.expr | None, ast.expr, bool]]],
        container: ast.expr,
        key: ast.expr | None,
        value: ast.expr,
        *,
        spread: bool,
    ) -> None:
        if isinstance(container, ast.Name):
            owner = self.model.lookup(container.id, self.model.scope_of(container))
            slot = (id(owner) if owner is not None else 0, container.id)
        else:
            spelled = dotted(container)
            if spelled is None:
                return
            slot = (0, spelled)
        entries = index.setdefault(slot, [])
        if len(entries) < MAX_ELEMENTS:
            entries.append((key, value, spread))
