"""Jinja2 chat templates as inert ASTs: parsed by Jinja2's own parser (never rendered) + constant folding.

Folding answers "which strings can this expression produce?" without running anything: constants,
`~`/`+`/`%`, string filters and methods, `dict(a=1)|join`, loop variables over literal lists,
`{% set %}` variables, namespace attributes and macro arguments are evaluated over *sets of possible
values*. What cannot be resolved is an `incomplete` result tagged with where the unknown part comes
from (runtime data, arithmetic, template-side construction, package-supplied strings), so a check can
tell `role_map[message.role]` (data) from `x[a ~ b]` built out of pieces it could not follow.
"""

from __future__ import annotations

import itertools
import re
import string as string_module
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension, do, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from modelcert.errors import FormatError, LimitExceeded
from modelcert.limits import Limits

MAX_VALUES = 64  # possible values tracked per expression; beyond, the result is incomplete
MAX_VALUE_CHARS = 4096  # longer strings are never attribute names worth resolving
MAX_PRODUCT = 4096  # combinations tried when an operation has several multi-valued operands
MAX_PASSES = 8  # fixpoint passes over variable bindings
MAX_HINTS = 32  # constant pieces remembered per unresolved value
_FOLD_ERRORS = (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError, AttributeError)


class TemplateSyntaxFailure(FormatError):
    """Jinja2's parser rejected the template (a loader would fail the same way)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _GenerationTag(Extension):
    """Parse-only stand-in for transformers' `{% generation %}` block (AssistantTracker)."""

    tags = frozenset({"generation"})  # type: ignore[assignment]

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def parse_template(source: str, limits: Limits) -> nodes.Template:
    """The template's AST, parsed the way transformers configures Jinja2 (plus `do`, which is lenient)."""
    if len(source) > limits.max_text_bytes:
        raise LimitExceeded(f"template of {len(source)} characters exceeds {limits.max_text_bytes}")
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, do, _GenerationTag]
    )
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateSyntaxFailure(f"Jinja2 syntax error: {exc.message}", exc.lineno) from None
    except RecursionError:
        raise LimitExceeded("template nests deeper than the parser's recursion limit") from None
    except Exception as exc:  # third-party parser on untrusted text: any failure means "unparseable"
        raise FormatError(f"Jinja2 parser failed: {type(exc).__name__}: {str(exc)[:200]}") from None


def iter_nodes(root: nodes.Node) -> Iterator[nodes.Node]:
    """Every node under `root` (pre-order, iterative so deep trees cannot exhaust the stack)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        children = list(node.iter_child_nodes())
        children.reverse()
        stack.extend(children)


# ---------------------------------------------------------------------------------------------
# Abstract values


class Origin(IntEnum):
    """Where the unknown part of a value comes from; higher is more worrying at an attribute sink."""

    NUMERIC = 0  # arithmetic, loop counters, lengths: never an attribute name
    DATA = 1  # runtime input (messages, tools) or unknown context variables
    DATA_BUILT = 2  # runtime data joined with template constants ('<' ~ message.role ~ '>')
    OBJECT = 3  # a Python object reached from template globals (its text is not modelled)
    BUILT = 4  # a string assembled in the template from parts that could not be followed
    PACKAGE = 5  # strings the model package supplies (bos_token, eos_token, ...)


class ListValue(tuple[Any, ...]):
    """A Jinja list (a tuple that prints like a list)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "[" + ", ".join(repr(item) for item in self) + "]"


class GeneratorValue(tuple[Any, ...]):
    """What select/map/unique return: iterates like its items, prints like a generator object."""

    text: str

    def __new__(cls, items: Iterable[Any], text: str) -> GeneratorValue:
        made = super().__new__(cls, items)
        made.text = text
        return made

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Opaque:
    """An object whose only modelled property is its text form (`|string`, `~`)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class DictValue:
    """A dict literal or `dict(...)`: keys are known, each value is a Folded."""

    items: tuple[tuple[Hashable, Folded], ...]

    def keys(self) -> tuple[Hashable, ...]:
        return tuple(key for key, _ in self.items)

    def get(self, key: Hashable) -> Folded | None:
        for item_key, value in self.items:
            if item_key == key:
                return value
        return None


@dataclass(frozen=True)
class Folded:
    """The possible values of an expression; `complete` False means others are possible too."""

    values: frozenset[Hashable] = frozenset()
    complete: bool = True
    origin: Origin = Origin.DATA  # meaningful when incomplete
    hints: frozenset[str] = frozenset()  # constant pieces an incomplete value was built from

    @staticmethod
    def of(*values: Hashable) -> Folded:
        return Folded(frozenset(values))

    @staticmethod
    def unknown(origin: Origin) -> Folded:
        return Folded(frozenset(), complete=False, origin=origin)

    def strings(self) -> list[str]:
        return sorted(v for v in self.values if isinstance(v, str))

    def union(self, other: Folded) -> Folded:
        return _merge([self, other])


def _merge(folds: Iterable[Folded]) -> Folded:
    values: set[Hashable] = set()
    hints: set[str] = set()
    complete = True
    origin = Origin.NUMERIC
    for fold in folds:
        values.update(fold.values)
        hints.update(fold.hints)
        if not fold.complete:
            complete = False
            origin = max(origin, fold.origin)
    if len(values) > MAX_VALUES:
        # Deterministic, and keeps the values most likely to matter (dunder-looking, short) first.
        values = set(sorted(values, key=lambda v: ("__" not in repr(v), len(repr(v)), repr(v)))[:MAX_VALUES])
        complete, origin = False, max(origin, Origin.BUILT)
    if complete:
        return Folded(frozenset(values))
    return Folded(frozenset(values), False, origin, _bounded_hints(hints))


def _bounded_hints(hints: Iterable[str]) -> frozenset[str]:
    return frozenset(sorted((h for h in hints if len(h) <= 64), key=lambda h: ("_" not in h, h))[:MAX_HINTS])


NUMERIC = Folded.unknown(Origin.NUMERIC)
DATA = Folded.unknown(Origin.DATA)
BUILT = Folded.unknown(Origin.BUILT)
OBJECT = Folded.unknown(Origin.OBJECT)
BOOLS = Folded.of(True, False)

_ADDR = " at 0x7f0000000000>"
# Text forms of Jinja2's default globals in an unsandboxed Environment (the vulnerable deployments),
# and in the sandbox; `(lipsum|string)[n]` style tricks pick characters such as "_" out of these.
GLOBAL_OBJECTS: dict[str, tuple[str, ...]] = {
    "lipsum": ("<function generate_lorem_ipsum" + _ADDR,),
    "range": ("<class 'range'>", "<function safe_range" + _ADDR),
    "dict": ("<class 'dict'>",),
    "cycler": ("<class 'jinja2.utils.Cycler'>",),
    "joiner": ("<class 'jinja2.utils.Joiner'>",),
    "namespace": ("<class 'jinja2.utils.Namespace'>",),
}
_GENERATOR_FILTERS = {
    "select": "select_or_reject",
    "reject": "select_or_reject",
    "selectattr": "select_or_reject",
    "rejectattr": "select_or_reject",
    "map": "sync_do_map",
    "batch": "do_batch",
    "slice": "sync_do_slice",
    "unique": "sync_do_unique",
    "items": "do_items",
}
# Strings HF transformers / llama.cpp pass into the template from the package's tokenizer files.
PACKAGE_NAMES = frozenset(
    {
        "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token",
        "additional_special_tokens",
    }
)
LOOP_NUMERIC_ATTRS = frozenset({"index", "index0", "revindex", "revindex0", "length", "depth", "depth0"})
_NUMERIC_FILTERS = frozenset(
    {"length", "count", "int", "float", "abs", "round", "sum", "wordcount", "filesizeformat"}
)
_FORMAT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")


def as_text(value: Hashable) -> str:
    """str() of a folded value, the way Jinja2 prints it; raises ValueError when not modelled."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    if isinstance(value, Opaque):
        return value.text
    if isinstance(value, tuple):
        return repr(value)
    raise ValueError("no text form")


def _bounded(value: Hashable) -> Hashable:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise ValueError("too long")
    if isinstance(value, tuple) and len(value) > MAX_VALUES:
        raise ValueError("too long")
    return value


def _combine(folds: Sequence[Folded], fn: Callable[..., Hashable], *, building: bool = False) -> Folded:
    """Apply fn over every combination of possible operand values (bounded)."""
    results: set[Hashable] = set()
    complete = all(f.complete for f in folds)
    origin = max((f.origin for f in folds if not f.complete), default=Origin.DATA)
    # Joining known pieces with unknown ones is template-side construction.
    if building and not complete and (any(f.values for f in folds) or len(folds) > 1):
        origin = Origin.DATA_BUILT if origin <= Origin.DATA_BUILT else max(origin, Origin.BUILT)
    for count, combo in enumerate(itertools.product(*(sorted(f.values, key=repr) for f in folds))):
        if count >= MAX_PRODUCT or len(results) >= MAX_VALUES:
            complete, origin = False, max(origin, Origin.BUILT)
            break
        try:
            results.add(_bounded(fn(*combo)))
        except _FOLD_ERRORS:
            if combo and any(isinstance(v, Opaque | DictValue) for v in combo):
                complete, origin = False, max(origin, Origin.BUILT)
    if complete:
        return Folded(frozenset(results))
    hints = {h for f in folds for h in f.hints}
    if building:
        hints.update(v for f in folds for v in f.values if isinstance(v, str))
    return Folded(frozenset(results), False, origin, _bounded_hints(hints))


def _safe_percent(fmt: str, args: Any) -> str:
    """`fmt % args` refusing widths/precisions that would build huge strings."""
    for match in _FORMAT_SPEC.finditer(fmt):
        for group in match.groups():
            if group == "*" or (group and int(group) > 256):
                raise ValueError("unbounded format width")
    if isinstance(args, tuple):
        args = tuple(as_text(a) if isinstance(a, Opaque) else a for a in args)
    elif isinstance(args, DictValue):
        plain = {}
        for key, choices in args.items:
            if not choices.complete or len(choices.values) != 1:
                raise ValueError("dict value not known")
            plain[key] = next(iter(choices.values))
        args = plain
    return str(fmt % args)


def _safe_str_format(fmt: str, *args: Any, **kwargs: Any) -> str:
    """str.format limited to positional/keyword substitution of plain values (no attribute fields)."""
    for _, field_name, spec, _ in string_module.Formatter().parse(fmt):
        if field_name and not re.fullmatch(r"\d*|[A-Za-z]\w*", field_name):
            raise ValueError("format field with attribute or index access")
        if spec and re.search(r"\d{4,}", spec):
            raise ValueError("unbounded format width")
    return fmt.format(*args, **kwargs)


def _seq(value: Hashable) -> tuple[Hashable, ...]:
    if isinstance(value, str | tuple):
        return tuple(value)
    if isinstance(value, DictValue):
        return value.keys()
    raise TypeError("not iterable")


def _slice(value: Hashable, start: Any, stop: Any, step: Any) -> Hashable:
    if step == 0:
        raise ValueError("zero step")
    for part in (start, stop, step):
        if part is not None and not isinstance(part, int):
            raise TypeError("slice index")
    if isinstance(value, ListValue):
        return ListValue(value[start:stop:step])
    if isinstance(value, str | tuple):
        return value[start:stop:step]
    raise TypeError("not sliceable")


def _index(value: Hashable, key: Hashable) -> Hashable:
    if isinstance(value, str | tuple) and isinstance(key, int) and not isinstance(key, bool):
        return value[key]
    raise KeyError(key)


def _join(value: Hashable, sep: Hashable = "") -> str:
    return as_text(sep).join(as_text(item) for item in _seq(value))


# String filters: value (and known args) -> value. Names follow Jinja2's builtin filters.
_STRING_FILTERS: dict[str, Callable[..., Hashable]] = {
    "lower": lambda v: as_text(v).lower(),
    "upper": lambda v: as_text(v).upper(),
    "capitalize": lambda v: as_text(v).capitalize(),
    "title": lambda v: as_text(v).title(),
    "trim": lambda v, chars=None: as_text(v).strip(chars),
    "string": as_text,
    "e": as_text,
    "escape": as_text,
    "safe": as_text,
    "forceescape": as_text,
    "replace": lambda v, old, new, count=-1: as_text(v).replace(as_text(old), as_text(new), count),
    "reverse": lambda v: v[::-1] if isinstance(v, str) else ListValue(reversed(_seq(v))),
    "join": _join,
    "format": lambda v, *args: _safe_percent(as_text(v), args),
    "first": lambda v: _seq(v)[0],
    "last": lambda v: _seq(v)[-1],
    "list": lambda v: ListValue(_seq(v)),
    "sort": lambda v: ListValue(sorted(_seq(v), key=repr)),
    "center": lambda v: as_text(v).strip(),
    "default": lambda v, *_: v,
    "d": lambda v, *_: v,
    "min": lambda v: min(_seq(v), key=repr),
    "max": lambda v: max(_seq(v), key=repr),
}
_STRING_METHODS: dict[str, Callable[..., Hashable]] = {
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "capitalize": str.capitalize,
    "swapcase": str.swapcase,
    "casefold": str.casefold,
    "strip": lambda s, chars=None: s.strip(chars),
    "lstrip": lambda s, chars=None: s.lstrip(chars),
    "rstrip": lambda s, chars=None: s.rstrip(chars),
    "replace": lambda s, old, new, count=-1: s.replace(as_text(old), as_text(new), count),
    "join": lambda s, items: s.join(as_text(item) for item in _seq(items)),
    "format": _safe_str_format,
    "removeprefix": lambda s, prefix: s.removeprefix(prefix),
    "removesuffix": lambda s, suffix: s.removesuffix(suffix),
    "split": lambda s, sep=None, maxsplit=-1: ListValue(s.split(sep, maxsplit)),
    "rsplit": lambda s, sep=None, maxsplit=-1: ListValue(s.rsplit(sep, maxsplit)),
}


# ---------------------------------------------------------------------------------------------
# The folder


@dataclass
class _Bindings:
    names: dict[str, Folded] = field(default_factory=dict)
    ns_attrs: dict[tuple[str, str], Folded] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)


class ConstantFolder:
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
                self._bind(env, item, _combine([value], lambda v, i=index: _index(v, i)))

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
                values.append(Folded(frozenset(_seq(value))))
            elif isinstance(value, Opaque):
                values.append(OBJECT)  # iterating a template-side object (a generator, a class)
        if not container.complete:
            values.append(Folded.unknown(container.origin))
        return _merge(values) if values else Folded()

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
        return _combine(parts, lambda *vs: "".join(as_text(v) for v in vs), building=True)

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
        return _combine([self.fold(item) for item in expr.items], lambda *vs: kind(vs))

    def _dict(self, expr: nodes.Dict) -> Folded:
        items: list[tuple[Hashable, Folded]] = []
        for pair in expr.items:
            key = self.fold(pair.key)
            if not key.complete or len(key.values) != 1:
                return BUILT
            items.append((next(iter(key.values)), self.fold(pair.value)))
        return Folded.of(DictValue(tuple(items)))

    def _concat(self, expr: nodes.Concat) -> Folded:
        return _combine(
            [self.fold(n) for n in expr.nodes], lambda *vs: "".join(as_text(v) for v in vs), building=True
        )

    def _add(self, expr: nodes.Add) -> Folded:
        left, right = self.fold(expr.left), self.fold(expr.right)
        if _numeric_context(left, right):
            return _combine([left, right], _plus) if left.complete and right.complete else NUMERIC
        return _combine([left, right], _plus, building=True)

    def _mul(self, expr: nodes.Mul) -> Folded:
        left, right = self.fold(expr.left), self.fold(expr.right)
        if _numeric_context(left, right):
            return _combine([left, right], _times) if left.complete and right.complete else NUMERIC
        return _combine([left, right], _times, building=True)

    def _mod(self, expr: nodes.Mod) -> Folded:
        left, right = self.fold(expr.left), self.fold(expr.right)
        if _numeric_context(left, right):
            return NUMERIC
        return _combine([left, right], lambda f, a: _safe_percent(as_text(f), a), building=True)

    def _arith(self, expr: nodes.Node) -> Folded:
        if isinstance(expr, nodes.UnaryExpr):
            operand = self.fold(expr.node)
            if operand.complete and _only_numeric(operand):
                sign = -1 if isinstance(expr, nodes.Neg) else 1
                return _combine([operand], lambda v: sign * v)
            return NUMERIC
        left, right = self.fold(expr.left), self.fold(expr.right)  # type: ignore[attr-defined]
        if not (left.complete and right.complete and _only_numeric(left) and _only_numeric(right)):
            return NUMERIC
        operator = _ARITHMETIC[type(expr)]
        return _combine([left, right], operator)

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
                return _merge([self._elements(Folded(base.values)), Folded.unknown(Origin.BUILT)])
            return _combine([base, *parts], _slice)
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
                    results.append(Folded.of(_bounded(_index(value, item))))
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
        return _merge(results) if results else Folded()

    def _filter(self, expr: nodes.Filter) -> Folded:
        return self._apply_filter(expr, self.fold(expr.node))

    def _apply_filter(self, expr: nodes.Filter, value: Folded) -> Folded:
        name = expr.name
        if name in _NUMERIC_FILTERS:
            return NUMERIC
        if name in _GENERATOR_FILTERS:
            if not value.complete:
                return Folded.unknown(value.origin)
            text = f"<generator object {_GENERATOR_FILTERS[name]}{_ADDR}"
            return _combine([value], lambda v: self._generate(expr, v, text))
        if name == "format" and expr.kwargs and not expr.args:
            keys = [kw.key for kw in expr.kwargs]
            return _combine(
                [value, *(self.fold(kw.value) for kw in expr.kwargs)],
                lambda v, *vs: _safe_percent(as_text(v), dict(zip(keys, vs, strict=True))),
                building=True,
            )
        if name == "random":
            return self._elements(value)
        if name in {"default", "d"}:
            return value.union(self.fold(expr.args[0])) if expr.args else value
        function = _STRING_FILTERS.get(name)
        if function is None or expr.kwargs or expr.dyn_args or expr.dyn_kwargs:
            if not value.complete:
                return value
            return Folded.unknown(Origin.BUILT if value.values else Origin.DATA)
        args = [self.fold(arg) for arg in expr.args]
        return _combine([value, *args], function, building=bool(args))

    def _generate(self, expr: nodes.Filter, value: Hashable, text: str) -> Hashable:
        """select / reject / unique / map('filter') / items over a known value (tests over-approximated)."""
        if isinstance(value, DictValue) and expr.name == "items":
            return GeneratorValue(_dict_pairs(value), text)
        items = _seq(value)
        if expr.name == "unique":
            items = tuple(dict.fromkeys(items))
        elif expr.name == "select" and not expr.args:
            items = tuple(item for item in items if item)
        elif expr.name == "reject" and not expr.args:
            items = tuple(item for item in items if not item)
        elif expr.name == "map":
            function = None
            if expr.args and len(expr.args) == 1 and not expr.kwargs:
                names = self.fold(expr.args[0])
                if names.complete and len(names.values) == 1:
                    function = _STRING_FILTERS.get(str(next(iter(names.values))))
            if function is None:
                raise ValueError("map not modelled")
            items = tuple(function(item) for item in items)
        elif expr.name not in {"select", "reject", "selectattr", "rejectattr"}:
            raise ValueError("not modelled")
        return GeneratorValue(items, text)

    def _call(self, expr: nodes.Call) -> Folded:
        callee = expr.node
        if (
            isinstance(callee, nodes.Getattr)
            and isinstance(callee.node, nodes.Name)
            and callee.node.name == "loop"
            and callee.attr == "cycle"
        ):
            return _merge(self.fold(arg) for arg in expr.args) if expr.args else DATA
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
        if isinstance(callee, nodes.Getattr):
            receiver = self.fold(callee.node)
            method = _STRING_METHODS.get(callee.attr)
            if method is not None and receiver.values and not expr.kwargs and not expr.dyn_args:
                args = [self.fold(arg) for arg in expr.args]
                return _combine(
                    [receiver, *args],
                    lambda s, *a, m=method: m(s, *a) if isinstance(s, str) else _fail(),
                    building=bool(args),
                )
            if callee.attr in {"keys", "values", "items", "get"}:
                return self._dict_method(receiver, callee.attr, expr)
            if not receiver.complete:
                return Folded.unknown(receiver.origin)
        return DATA

    def _dict_method(self, receiver: Folded, method: str, expr: nodes.Call) -> Folded:
        out: list[Folded] = []
        for value in receiver.values:
            if not isinstance(value, DictValue):
                continue
            if method == "keys":
                out.append(Folded.of(ListValue(value.keys())))
            elif method in {"values", "items"}:
                # Every (key, value) the dict can hold, as one list to iterate over.
                pairs = _dict_pairs(value)
                listed = ListValue(v for _, v in pairs) if method == "values" else ListValue(pairs)
                out.append(Folded.of(_bounded(listed)))
            elif method == "get" and expr.args:
                key = self.fold(expr.args[0])
                out.extend(value.get(k) or DATA for k in key.values)
                if len(expr.args) > 1:
                    out.append(self.fold(expr.args[1]))
            else:
                out.append(DATA)
        if not receiver.complete:
            out.append(Folded.unknown(receiver.origin))
        return _merge(out) if out else DATA


def _dict_pairs(value: DictValue) -> list[tuple[Hashable, Hashable]]:
    """Every (key, value) a dict can hold (a key whose value is unknown pairs with None)."""
    return [(k, v) for k, choices in value.items for v in sorted(choices.values, key=repr) or [None]]


def _widen(old: dict[Any, Folded], new: dict[Any, Folded], *, widen_numbers: bool) -> set[object]:
    """Keys whose value changed since the last pass; counters that keep growing become NUMERIC."""
    changed: set[object] = set()
    for key, value in new.items():
        if old.get(key) == value:
            continue
        changed.add(key)
        if widen_numbers and value.values and _only_numeric(value):
            new[key] = value.union(NUMERIC)
    return changed


def _fail() -> Hashable:
    raise TypeError("not a string")


def _only_numeric(fold: Folded) -> bool:
    if not fold.complete and fold.origin != Origin.NUMERIC:
        return False
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in fold.values)


def _numeric_context(left: Folded, right: Folded) -> bool:
    """Arithmetic, not string building: no operand can be a string and one is surely a number."""
    if any(isinstance(v, str | tuple | Opaque | DictValue) for v in (*left.values, *right.values)):
        return False
    return _only_numeric(left) or _only_numeric(right)


def _power(base: Any, exponent: Any) -> Hashable:
    if abs(exponent) > 64 or abs(base) > 2**32:
        raise OverflowError("huge power")
    return base**exponent  # type: ignore[no-any-return]


_ARITHMETIC: dict[type[nodes.Node], Callable[[Any, Any], Hashable]] = {
    nodes.Sub: lambda a, b: a - b,
    nodes.Div: lambda a, b: a / b,
    nodes.FloorDiv: lambda a, b: a // b,
    nodes.Pow: _power,
}


def _plus(a: Hashable, b: Hashable) -> Hashable:
    if isinstance(a, str) or isinstance(b, str):
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        raise TypeError("str + non-str")
    if isinstance(a, tuple) and isinstance(b, tuple):
        return ListValue(a + b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    raise TypeError("unsupported +")


def _times(a: Hashable, b: Hashable) -> Hashable:
    if isinstance(a, int) and isinstance(b, str | tuple):
        a, b = b, a
    if isinstance(a, str | tuple) and isinstance(b, int) and not isinstance(b, bool):
        if b < 0 or len(a) * b > MAX_VALUE_CHARS:
            raise ValueError("too long")
        return a * b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a * b
    raise TypeError("unsupported *")


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
