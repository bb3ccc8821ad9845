"""Constant folding over a chat template's AST: which values can each expression take, without rendering.

Folding answers "which strings can this expression produce?" without running anything: constants,
`~`/`+`/`%`, string filters and methods, `dict(a=1)|join`, loop variables over literal lists,
`{% set %}` variables, namespace attributes and macro arguments are evaluated over *sets of possible
values*. What cannot be resolved is an `incomplete` result tagged with where the unknown part comes
from (runtime data, arithmetic, template-side construction, package-supplied strings), so a check can
tell `role_map[message.role]` (data) from `x[a ~ b]` built out of pieces it could not follow.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from jinja2 import nodes

from modelcert.formats.jinja_calls import CallFolding
from modelcert.formats.jinja_parse import iter_nodes
from modelcert.formats.jinja_values import (
    BOOLS,
    BUILT,
    DATA,
    GLOBAL_OBJECTS,
    LOOP_NUMERIC_ATTRS,
    NUMERIC,
    OBJECT,
    PACKAGE_NAMES,
    DictValue,
    Folded,
    ListValue,
    NotModelled,
    Opaque,
    Origin,
    as_sequence,
    as_text,
    bounded,
    combine,
    index_value,
    merge,
    modulo,
    numeric_context,
    only_numeric,
    plus,
    power,
    slice_value,
    times,
)
from modelcert.records import MutableRecord

MAX_PASSES = 8  # fixpoint passes over variable bindings


class _Bindings(MutableRecord):
    __slots__ = ("names", "namespaces", "ns_attrs")
    names: dict[str, Folded]
    ns_attrs: dict[tuple[str, str], Folded]
    namespaces: set[str]

    def __init__(
        self,
        names: dict[str, Folded] | None = None,
        ns_attrs: dict[tuple[str, str], Folded] | None = None,
        namespaces: set[str] | None = None,
    ) -> None:
        self.names = {} if names is None else names
        self.ns_attrs = {} if ns_attrs is None else ns_attrs
        self.namespaces = set() if namespaces is None else namespaces


class ConstantFolder(CallFolding):
    """Folds expressions of one template; variable bindings are solved once, up front."""

    def __init__(self, tree: nodes.Template) -> None:
        self._tree = tree
        self._memo: dict[int, Folded] = {}
        self._stored = {
            n.name for n in iter_nodes(tree) if isinstance(n, nodes.Name) and n.ctx in ("store", "param")
        }
        self._macros = {n.name: n for n in iter_nodes(tree) if isinstance(n, nodes.Macro)}
        self._stored.update(self._macros)
        self._called = {
            n.node.name
            for n in iter_nodes(tree)
            if isinstance(n, nodes.Call) and isinstance(n.node, nodes.Name)
        }
        self._env = _Bindings()
        self._pending: _Bindings | None = None
        self._unsolved = False
        self._solve()

    def is_local(self, name: str) -> bool:
        """True when the template itself binds the name (set, for, macro, with, import)."""
        return name in self._stored

    def fold(self, expr: nodes.Node | None) -> Folded:
        if expr is None:
            return Folded.of(None)
        key = id(expr)
        cached = self._memo.get(key)
        if cached is None:
            self._memo[key] = BUILT  # a recursive macro folds to "unknown" instead of looping
            cached = self._fold(expr)
            self._memo[key] = cached
        return cached

    # -- bindings ------------------------------------------------------------------------------

    def _solve(self) -> None:
        sites = [
            n
            for n in iter_nodes(self._tree)
            if isinstance(n, nodes.Assign | nodes.AssignBlock | nodes.For | nodes.With | nodes.Macro)
        ]
        calls = [n for n in iter_nodes(self._tree) if isinstance(n, nodes.Call)]
        for pass_index in range(MAX_PASSES):
            new = _Bindings(namespaces=set(self._env.namespaces))
            self._memo = {}
            self._pending = new  # later sites see what earlier ones bound in this same pass
            for site in sites:
                self._bind_site(site, new)
            for call in calls:
                self._bind_macro_args(call, new)
            self._pending = None
            changed = _widen(self._env.names, new.names, widen_numbers=pass_index >= 2)
            changed |= _widen(self._env.ns_attrs, new.ns_attrs, widen_numbers=pass_index >= 2)
            self._env = new
            if not changed:
                break
        else:
            # Still growing (an accumulator, a very long chain): keep what was seen, admit there is more.
            self._env.names = {k: v.union(BUILT) for k, v in self._env.names.items()}
            self._env.ns_attrs = {k: v.union(BUILT) for k, v in self._env.ns_attrs.items()}
            self._unsolved = True
        self._memo = {}

    def _bind(self, env: _Bindings, target: nodes.Node, value: Folded) -> None:
        if isinstance(target, nodes.Name):
            previous = env.names.get(target.name)
            env.names[target.name] = value if previous is None else previous.union(value)
        elif isinstance(target, nodes.NSRef):
            key = (target.name, target.attr)
            previous = env.ns_attrs.get(key)
            env.ns_attrs[key] = value if previous is None else previous.union(value)
        elif isinstance(target, nodes.Tuple):
            for index, item in enumerate(target.items):
                self._bind(env, item, combine([value], lambda v, i=index: index_value(v, i)))

    def _bind_site(self, site: nodes.Node, env: _Bindings) -> None:
        if isinstance(site, nodes.Assign):
            self._bind(env, site.target, self.fold(site.node))
            self._register_namespace(site.target, site.node, env)
        elif isinstance(site, nodes.AssignBlock):
            body = self.fold_body(site.body)
            if site.filter is not None:
                body = self._apply_filter(site.filter, body)
            self._bind(env, site.target, body)
        elif isinstance(site, nodes.For):
            self._bind(env, site.target, self._elements(self.fold(site.iter)))
        elif isinstance(site, nodes.With):
            for target, value in zip(site.targets, site.values, strict=False):
                self._bind(env, target, self.fold(value))
        elif isinstance(site, nodes.Macro):
            offset = len(site.args) - len(site.defaults)
            for index, arg in enumerate(site.args):
                if index >= offset:
                    self._bind(env, arg, self.fold(site.defaults[index - offset]))
                elif site.name in self._called:
                    env.names.setdefault(arg.name, Folded())  # filled from the call sites
                else:
                    self._bind(env, arg, DATA)  # only called indirectly: arguments unknown
            for implicit in ("varargs", "kwargs", "caller"):
                env.names.setdefault(implicit, DATA)

    def _register_namespace(self, target: nodes.Node, value: nodes.Node, env: _Bindings) -> None:
        if not (
            isinstance(target, nodes.Name)
            and isinstance(value, nodes.Call)
            and isinstance(value.node, nodes.Name)
            and value.node.name == "namespace"
        ):
            return
        env.namespaces.add(target.name)
        for keyword in value.kwargs:
            self._bind(env, nodes.NSRef(target.name, keyword.key), self.fold(keyword.value))
        for arg in value.args:
            for fold_value in self.fold(arg).values:
                if isinstance(fold_value, DictValue):
                    for key, item in fold_value.items:
                        if isinstance(key, str):
                            self._bind(env, nodes.NSRef(target.name, key), item)

    def _bind_macro_args(self, call: nodes.Call, env: _Bindings) -> None:
        if not isinstance(call.node, nodes.Name) or call.node.name not in self._macros:
            return
        macro = self._macros[call.node.name]
        names = [arg.name for arg in macro.args]
        for index, arg in enumerate(call.args):
            if index < len(names):
                self._bind(env, nodes.Name(names[index], "param"), self.fold(arg))
        for keyword in call.kwargs:
            if keyword.key in names:
                self._bind(env, nodes.Name(keyword.key, "param"), self.fold(keyword.value))
        if call.dyn_args is not None or call.dyn_kwargs is not None:
            for name in names:
                self._bind(env, nodes.Name(name, "param"), BUILT)

    def _current(self, settled: dict[Any, Folded], pending: dict[Any, Folded] | None, key: Any) -> Folded:
        """A binding as known now: the last pass's value joined with what this pass has bound so far."""
        value = settled.get(key)
        fresh = pending.get(key) if pending is not None else None
        if value is None and fresh is None:
            return BUILT if self._unsolved else Folded()
        if value is None or fresh is None:
            return value or fresh or Folded()
        return value.union(fresh)

    def _elements(self, container: Folded) -> Folded:
        values: list[Folded] = []
        for value in container.values:
            if isinstance(value, str | tuple | DictValue):
                values.append(Folded(frozenset(as_sequence(value))))
            elif isinstance(value, Opaque):
                values.append(OBJECT)  # iterating a template-side object (a generator, a class)
        if not container.complete:
            values.append(Folded.unknown(container.origin))
        return merge(values) if values else Folded()

    # -- expressions -----------------------------------------------------------------------------

    def fold_body(self, body: Sequence[nodes.Node]) -> Folded:
        """The text a block of statements outputs, when it is plain output."""
        parts: list[Folded] = []
        for stmt in body:
            if not isinstance(stmt, nodes.Output):
                return BUILT
            parts.extend(self.fold(child) for child in stmt.nodes)
        if not parts:
            return Folded.of("")
        return combine(parts, lambda *vs: "".join(as_text(v) for v in vs), building=True)

    def _fold(self, expr: nodes.Node) -> Folded:
        handler = _HANDLERS.get(type(expr))
        if handler is not None:
            return handler(self, expr)
        if isinstance(expr, nodes.Const | nodes.TemplateData):
            value = expr.data if isinstance(expr, nodes.TemplateData) else expr.value
            return Folded.of(value) if isinstance(value, Hashable) else DATA
        if isinstance(expr, nodes.Not | nodes.Compare | nodes.Test):
            return BOOLS
        if isinstance(expr, nodes.Sub | nodes.Div | nodes.FloorDiv | nodes.Pow | nodes.Neg | nodes.Pos):
            return self._arith(expr)
        if isinstance(expr, nodes.MarkSafe | nodes.MarkSafeIfAutoescape):
            return self.fold(expr.expr)
        return DATA

    def _name(self, expr: nodes.Name) -> Folded:
        name = expr.name
        if name in self._stored:
            return self._current(self._env.names, self._pending.names if self._pending else None, name)
        if name in GLOBAL_OBJECTS:
            return Folded(frozenset(Opaque(text) for text in GLOBAL_OBJECTS[name]))
        if name in PACKAGE_NAMES:
            return Folded.unknown(Origin.PACKAGE)
        return DATA

    def _sequence(self, expr: nodes.Tuple | nodes.List) -> Folded:
        kind = ListValue if isinstance(expr, nodes.List) else tuple
        return combine([self.fold(item) for item in expr.items], lambda *vs: kind(vs))

    def _dict(self, expr: nodes.Dict) -> Folded:
        items: list[tuple[Hashable, Folded]] = []
        for pair in expr.items:
            key = self.fold(pair.key)
            if not key.complete or len(key.values) != 1:
                return BUILT
            items.append((next(iter(key.values)), self.fold(pair.value)))
        return Folded.of(DictValue(tuple(items)))

    def _concat(self, expr: nodes.Concat) -> Folded:
        return combine(
            [self.fold(n) for n in expr.nodes], lambda *vs: "".join(as_text(v) for v in vs), building=True
        )

    def _add(self, expr: nodes.Add) -> Folded:
        left, right = self.fold(expr.left), self.fold(expr.right)
        if numeric_context(left, right):
            return combine([left, right], plus) if left.complete and right.complete else NUMERIC
        return combine([left, right], plus, building=True)

    def _mul(self, expr: nodes.Mul) -> Folded:
        left, right = self.fold(expr.left), self.fold(expr.right)
        if numeric_context(left, right):
            return combine([left, right], times) if left.complete and right.complete else NUMERIC
        return combine([left, right], times, building=True)

    def _mod(self, expr: nodes.Mod) -> Folded:
        left, right = self.fold(expr.left), self.fold(expr.right)
        if numeric_context(left, right):
            return NUMERIC
        return combine([left, right], modulo, building=True)

    def _arith(self, expr: nodes.Node) -> Folded:
        if isinstance(expr, nodes.UnaryExpr):
            operand = self.fold(expr.node)
            if operand.complete and only_numeric(operand):
                sign = -1 if isinstance(expr, nodes.Neg) else 1
                return combine([operand], lambda v: sign * v)
            return NUMERIC
        left, right = self.fold(expr.left), self.fold(expr.right)  # type: ignore[attr-defined]
        if not (left.complete and right.complete and only_numeric(left) and only_numeric(right)):
            return NUMERIC
        operator = _ARITHMETIC[type(expr)]
        return combine([left, right], operator)

    def _cond(self, expr: nodes.CondExpr) -> Folded:
        return self.fold(expr.expr1).union(self.fold(expr.expr2))

    def _either(self, expr: nodes.And | nodes.Or) -> Folded:
        return self.fold(expr.left).union(self.fold(expr.right))

    def _getattr(self, expr: nodes.Getattr) -> Folded:
        if isinstance(expr.node, nodes.Name):
            if expr.node.name == "loop" and not self.is_local("loop"):
                return NUMERIC if expr.attr in LOOP_NUMERIC_ATTRS else DATA
            key = (expr.node.name, expr.attr)
            pending = self._pending.ns_attrs if self._pending else None
            known = key in self._env.ns_attrs or (pending is not None and key in pending)
            ns_value = self._current(self._env.ns_attrs, pending, key) if known else None
            if ns_value is not None:
                return ns_value
        return self._lookup(self.fold(expr.node), Folded.of(expr.attr))

    def _getitem(self, expr: nodes.Getitem) -> Folded:
        base = self.fold(expr.node)
        if isinstance(expr.arg, nodes.Slice):
            parts = [self.fold(expr.arg.start), self.fold(expr.arg.stop), self.fold(expr.arg.step)]
            if not all(p.complete for p in parts):
                # Unknown bounds still give a piece of a known value: keep its elements, admit the rest.
                return merge([self._elements(Folded(base.values)), Folded.unknown(Origin.BUILT)])
            return combine([base, *parts], slice_value)
        return self._lookup(base, self.fold(expr.arg))

    def _lookup(self, base: Folded, key: Folded) -> Folded:
        """obj[key] / obj.key (Jinja2 tries the item, then the attribute)."""
        results: list[Folded] = []
        for value in base.values:
            for item in key.values:
                if isinstance(value, DictValue):
                    results.append(value.get(item) or DATA)
                    continue
                try:
                    results.append(Folded.of(bounded(index_value(value, item))))
                except NotModelled:
                    results.append(BUILT)
                except (KeyError, IndexError, ValueError):
                    results.append(OBJECT if isinstance(value, Opaque) else DATA)
            if not key.complete:
                # An unknown index into a known string, list or dict yields one of its elements.
                if isinstance(value, str | tuple):
                    results.append(Folded(frozenset(value)))
                elif isinstance(value, DictValue):
                    results.extend(v for _, v in value.items)
                else:
                    results.append(OBJECT if isinstance(value, Opaque) else DATA)
        if not base.complete:
            results.append(Folded.unknown(max(base.origin, Origin.DATA)))
        return merge(results) if results else Folded()

    def _filter(self, expr: nodes.Filter) -> Folded:
        return self._apply_filter(expr, self.fold(expr.node))


def _widen(old: dict[Any, Folded], new: dict[Any, Folded], *, widen_numbers: bool) -> set[object]:
    """Keys whose value changed since the last pass; counters that keep growing become NUMERIC."""
    changed: set[object] = set()
    for key, value in new.items():
        if old.get(key) == value:
            continue
        changed.add(key)
        if widen_numbers and value.values and only_numeric(value):
            new[key] = value.union(NUMERIC)
    return changed


_ARITHMETIC: dict[type[nodes.Node], Callable[[Any, Any], Hashable]] = {
    nodes.Sub: lambda a, b: a - b,
    nodes.Div: lambda a, b: a / b,
    nodes.FloorDiv: lambda a, b: a // b,
    nodes.Pow: power,
}


_HANDLERS: dict[type[nodes.Node], Callable[[ConstantFolder, Any], Folded]] = {
    nodes.Name: ConstantFolder._name,
    nodes.Tuple: ConstantFolder._sequence,
    nodes.List: ConstantFolder._sequence,
    nodes.Dict: ConstantFolder._dict,
    nodes.Concat: ConstantFolder._concat,
    nodes.Add: ConstantFolder._add,
    nodes.Mul: ConstantFolder._mul,
    nodes.Mod: ConstantFolder._mod,
    nodes.CondExpr: ConstantFolder._cond,
    nodes.And: ConstantFolder._either,
    nodes.Or: ConstantFolder._either,
    nodes.Getattr: ConstantFolder._getattr,
    nodes.Getitem: ConstantFolder._getitem,
    nodes.Filter: ConstantFolder._filter,
    nodes.Call: ConstantFolder._call,
}
