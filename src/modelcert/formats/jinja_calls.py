"""Filters, method calls and calls of template globals, for `ConstantFolder` (see `jinja_folding`).

Filters and `str` methods on known values are computed by Jinja2's own code (`jinja_filters`);
generator filters (select, map, unique, batch, ...) produce `GeneratorValue`s; `dict` methods read
`DictValue`s. What is not modelled becomes an unresolved value (`NotModelled` inside `combine`), so a
filter or method the folder does not know never passes for a harmless constant.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from jinja2 import nodes

from modelcert.formats.jinja_filters import PURE_FILTERS, apply_filter, apply_format, call_str_method
from modelcert.formats.jinja_values import (
    BUILT,
    DATA,
    FAKE_ADDRESS,
    GENERATOR_FILTERS,
    NUMERIC,
    NUMERIC_FILTERS,
    OBJECT,
    DictValue,
    Folded,
    GeneratorValue,
    ListValue,
    NotModelled,
    Opaque,
    as_sequence,
    bounded,
    combine,
    dict_pairs,
    merge,
)


class CallFolding:
    """The filter and call half of constant folding; `ConstantFolder` supplies the rest."""

    _macros: dict[str, nodes.Macro]

    def fold(self, expr: nodes.Node | None) -> Folded:
        raise NotImplementedError

    def fold_body(self, body: Sequence[nodes.Node]) -> Folded:
        raise NotImplementedError

    def is_local(self, name: str) -> bool:
        raise NotImplementedError

    def _elements(self, container: Folded) -> Folded:
        raise NotImplementedError

    def _apply_filter(self, expr: nodes.Filter, value: Folded) -> Folded:
        name = expr.name
        if name in NUMERIC_FILTERS and not value.complete:
            return NUMERIC
        if name in GENERATOR_FILTERS:
            if not value.complete:
                return Folded.unknown(value.origin)
            text = f"<generator object {GENERATOR_FILTERS[name]}{FAKE_ADDRESS}"
            return combine([value], lambda v: self._generate(expr, v, text))
        if name == "random":
            return self._elements(value)
        if name in {"default", "d"}:
            return value.union(self.fold(expr.args[0])) if expr.args else value
        modelled = name in PURE_FILTERS or name == "format"
        if not (value.values or value.complete) and not modelled:
            return value  # an unknown filter of unknown input: still that input's kind of unknown
        if expr.dyn_args is not None or expr.dyn_kwargs is not None:
            return value if not value.complete else BUILT
        args = [self.fold(arg) for arg in expr.args]
        keys = [str(kw.key) for kw in expr.kwargs]
        folds = [value, *args, *(self.fold(kw.value) for kw in expr.kwargs)]
        count = len(args)

        def compute(v: Hashable, *rest: Hashable) -> Hashable:
            positional, named = tuple(rest[:count]), dict(zip(keys, rest[count:], strict=True))
            if name == "format":
                return apply_format(v, positional, named)
            return apply_filter(name, v, positional, named)

        result = combine(folds, compute, building=bool(args or keys))
        if name in NUMERIC_FILTERS and not result.complete:
            return merge([Folded(result.values), NUMERIC])  # always a number, whatever it is
        return result

    def _generate(self, expr: nodes.Filter, value: Hashable, text: str) -> Hashable:
        """select / reject / unique / map('filter') / items / batch / slice over a known value."""
        if isinstance(value, DictValue) and expr.name == "items":
            return GeneratorValue(dict_pairs(value), text)
        if expr.name in {"unique", "batch", "slice"}:
            if expr.dyn_args is not None or expr.dyn_kwargs is not None:
                raise NotModelled("dynamic arguments")
            args = tuple(self._single(arg) for arg in expr.args)
            kwargs = {str(kw.key): self._single(kw.value) for kw in expr.kwargs}
            return apply_filter(expr.name, value, args, kwargs)
        items = as_sequence(value)
        if expr.name == "select" and not expr.args:
            items = tuple(item for item in items if item)
        elif expr.name == "reject" and not expr.args:
            items = tuple(item for item in items if not item)
        elif expr.name == "map":
            items = self._map(expr, items)
        elif expr.name not in {"select", "reject", "selectattr", "rejectattr"}:
            raise NotModelled(f"{expr.name} not modelled")
        return GeneratorValue(items, text)  # tests of select/reject over-approximated: every item kept

    def _map(self, expr: nodes.Filter, items: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
        """map('filter', *args, **kwargs): the filter applied to each item (attribute maps: not modelled)."""
        if not expr.args or expr.dyn_args is not None or expr.dyn_kwargs is not None:
            raise NotModelled("map over attributes")
        name = self._single(expr.args[0])
        if not isinstance(name, str):
            raise NotModelled("map with a computed filter")
        args = tuple(self._single(arg) for arg in expr.args[1:])
        kwargs = {str(kw.key): self._single(kw.value) for kw in expr.kwargs}
        if name == "format":
            return tuple(apply_format(item, args, kwargs) for item in items)
        return tuple(apply_filter(name, item, args, kwargs) for item in items)

    def _single(self, expr: nodes.Node) -> Hashable:
        folded = self.fold(expr)
        if not folded.complete or len(folded.values) != 1:
            raise NotModelled("argument with several or unknown values")
        value: Hashable = next(iter(folded.values))
        return value

    def _call(self, expr: nodes.Call) -> Folded:
        callee = expr.node
        if (
            isinstance(callee, nodes.Getattr)
            and isinstance(callee.node, nodes.Name)
            and callee.node.name == "loop"
            and callee.attr == "cycle"
        ):
            return merge(self.fold(arg) for arg in expr.args) if expr.args else DATA
        if isinstance(callee, nodes.Name) and not self.is_local(callee.name):
            if callee.name == "dict" and not expr.args and not expr.dyn_args and not expr.dyn_kwargs:
                items = tuple((kw.key, self.fold(kw.value)) for kw in expr.kwargs)
                return Folded.of(DictValue(items))
            if callee.name == "range":
                return NUMERIC
            if callee.name in {"cycler", "joiner", "namespace"}:
                return OBJECT
        if isinstance(callee, nodes.Name) and callee.name in self._macros:
            return self.fold_body(self._macros[callee.name].body)
        bound = self._bound_method(callee)
        if bound is not None:
            receiver, method = bound
            if method in {"keys", "values", "items", "get"} and any(
                isinstance(v, DictValue) for v in receiver.values
            ):
                return self._dict_method(receiver, method, expr)
            if receiver.values:
                return self._method(receiver, method, expr)
            if not receiver.complete:
                return Folded.unknown(receiver.origin)
        return DATA

    def _bound_method(self, callee: nodes.Node) -> tuple[Folded, str | None] | None:
        """(receiver, method name) of `x.m`, `x['m']`, `x|attr('m')` callees; None for anything else.

        The name is None when it is computed from something that does not fold to one string.
        """
        if isinstance(callee, nodes.Getattr):
            return self.fold(callee.node), callee.attr
        if isinstance(callee, nodes.Getitem) and not isinstance(callee.arg, nodes.Slice):
            name_node: nodes.Node = callee.arg
        elif isinstance(callee, nodes.Filter) and callee.name == "attr" and callee.args:
            name_node = callee.args[0]
        else:
            return None
        receiver = self.fold(callee.node)
        names = self.fold(name_node)
        if isinstance(callee, nodes.Getitem) and not receiver.values:
            return None  # an item of runtime data (a callable in the context): not a method we know
        name = next(iter(names.values)) if names.complete and len(names.values) == 1 else None
        return receiver, name if isinstance(name, str) else None

    def _method(self, receiver: Folded, method: str | None, expr: nodes.Call) -> Folded:
        """A method called on known values: str methods are computed; anything else is unresolved."""
        if method is None or expr.dyn_args is not None or expr.dyn_kwargs is not None:
            return BUILT
        args = [self.fold(arg) for arg in expr.args]
        keys = [str(kw.key) for kw in expr.kwargs]
        count = len(args)

        def compute(value: Hashable, *rest: Hashable) -> Hashable:
            if isinstance(value, Opaque):
                raise NotModelled("method of a template global")
            return call_str_method(
                value, method, tuple(rest[:count]), dict(zip(keys, rest[count:], strict=True))
            )

        folds = [receiver, *args, *(self.fold(kw.value) for kw in expr.kwargs)]
        return combine(folds, compute, building=bool(args or keys))

    def _dict_method(self, receiver: Folded, method: str, expr: nodes.Call) -> Folded:
        out: list[Folded] = []
        for value in receiver.values:
            if not isinstance(value, DictValue):
                continue
            if method == "keys":
                out.append(Folded.of(ListValue(value.keys())))
            elif method in {"values", "items"}:
                # Every (key, value) the dict can hold, as one list to iterate over.
                pairs = dict_pairs(value)
                listed = ListValue(v for _, v in pairs) if method == "values" else ListValue(pairs)
                try:
                    out.append(Folded.of(bounded(listed)))
                except NotModelled:
                    out.append(BUILT)
            elif method == "get" and expr.args:
                key = self.fold(expr.args[0])
                out.extend(value.get(k) or DATA for k in key.values)
                if len(expr.args) > 1:
                    out.append(self.fold(expr.args[1]))
            else:
                out.append(DATA)
        if not receiver.complete:
            out.append(Folded.unknown(receiver.origin))
        return merge(out) if out else DATA
