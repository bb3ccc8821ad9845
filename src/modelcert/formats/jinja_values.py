"""The abstract values constant folding works over (see `jinja_folding`), and their bounded operations.

A `Folded` is the set of values an expression can take, or an incomplete set tagged with the `Origin`
of what is unknown. The operations here (text forms, `%`/`str.format`, slicing, Jinja filters and
string methods, `+`/`*`) mirror what Jinja2 would compute, refusing anything that would build huge
values. Nothing here knows about the template AST.
"""

from __future__ import annotations

import itertools
import re
import string as string_module
from collections.abc import Callable, Hashable, Iterable, Sequence
from enum import IntEnum
from typing import Any, Final

from modelcert.records import Record

MAX_VALUES = 64  # possible values tracked per expression; beyond, the result is incomplete
MAX_VALUE_CHARS = 4096  # longer strings are never attribute names worth resolving
MAX_SEQUENCE = 1024  # items of one list/tuple value tracked; longer ones are unresolved
MAX_PRODUCT = 4096  # combinations tried when an operation has several multi-valued operands
MAX_HINTS = 32  # constant pieces remembered per unresolved value
_FOLD_ERRORS = (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError, AttributeError)


class NotModelled(Exception):
    """The folder cannot compute this operation exactly: the result is unresolved, never dropped.

    Ordinary exceptions (TypeError, ValueError, ...) raised on exact values mean the render itself
    fails there, so that combination of values is dropped; NotModelled means "some value we do not
    know", so the result becomes incomplete (fail closed).
    """


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


class Opaque(Record):
    """An object whose only modelled property is its text form (`|string`, `~`)."""

    __slots__ = ("text",)
    text: Final[str]

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class DictValue(Record):
    """A dict literal or `dict(...)`: keys are known, each value is a Folded."""

    __slots__ = ("items",)
    items: Final[tuple[tuple[Hashable, Folded], ...]]

    def __init__(self, items: tuple[tuple[Hashable, Folded], ...]) -> None:
        self.items = items

    def keys(self) -> tuple[Hashable, ...]:
        return tuple(key for key, _ in self.items)

    def get(self, key: Hashable) -> Folded | None:
        for item_key, value in self.items:
            if item_key == key:
                return value
        return None


class Folded(Record):
    """The possible values of an expression; `complete` False means others are possible too."""

    __slots__ = ("complete", "hints", "origin", "values")
    values: Final[frozenset[Hashable]]
    complete: Final[bool]
    origin: Final[Origin]  # meaningful when incomplete
    hints: Final[frozenset[str]]  # constant pieces an incomplete value was built from

    def __init__(
        self,
        values: frozenset[Hashable] = frozenset(),
        complete: bool = True,
        origin: Origin = Origin.DATA,
        hints: frozenset[str] = frozenset(),
    ) -> None:
        self.values = values
        self.complete = complete
        self.origin = origin
        self.hints = hints

    @staticmethod
    def of(*values: Hashable) -> Folded:
        return Folded(frozenset(values))

    @staticmethod
    def unknown(origin: Origin) -> Folded:
        return Folded(frozenset(), complete=False, origin=origin)

    def strings(self) -> list[str]:
        return sorted(v for v in self.values if isinstance(v, str))

    def union(self, other: Folded) -> Folded:
        return merge([self, other])


def merge(folds: Iterable[Folded]) -> Folded:
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

FAKE_ADDRESS = " at 0x7f0000000000>"
# Text forms of Jinja2's default globals in an unsandboxed Environment (the vulnerable deployments),
# and in the sandbox; `(lipsum|string)[n]` style tricks pick characters such as "_" out of these.
GLOBAL_OBJECTS: dict[str, tuple[str, ...]] = {
    "lipsum": ("<function generate_lorem_ipsum" + FAKE_ADDRESS,),
    "range": ("<class 'range'>", "<function safe_range" + FAKE_ADDRESS),
    "dict": ("<class 'dict'>",),
    "cycler": ("<class 'jinja2.utils.Cycler'>",),
    "joiner": ("<class 'jinja2.utils.Joiner'>",),
    "namespace": ("<class 'jinja2.utils.Namespace'>",),
}
GENERATOR_FILTERS = {
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
NUMERIC_FILTERS = frozenset(
    {"length", "count", "int", "float", "abs", "round", "sum", "wordcount", "filesizeformat"}
)
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")


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


def bounded(value: Hashable) -> Hashable:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise NotModelled("string too long to track")
    if isinstance(value, tuple) and len(value) > MAX_SEQUENCE:
        raise NotModelled("sequence too long to track")
    return value


def combine(folds: Sequence[Folded], fn: Callable[..., Hashable], *, building: bool = False) -> Folded:
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
            results.add(bounded(fn(*combo)))
        except NotModelled:
            complete, origin = False, max(origin, Origin.BUILT)
        except _FOLD_ERRORS:
            if combo and any(isinstance(v, Opaque | DictValue) for v in combo):
                complete, origin = False, max(origin, Origin.BUILT)
    if complete:
        return Folded(frozenset(results))
    hints = {h for f in folds for h in f.hints}
    if building:
        hints.update(v for f in folds for v in f.values if isinstance(v, str))
    return Folded(frozenset(results), False, origin, _bounded_hints(hints))


def safe_percent(fmt: str, args: Any) -> str:
    """`fmt % args` refusing widths/precisions that would build huge strings."""
    for match in _FORMAT_SPEC.finditer(fmt):
        for group in match.groups():
            if group == "*" or (group and int(group) > 256):
                raise NotModelled("format width too large to compute")
    if isinstance(args, GeneratorValue):
        raise NotModelled("a generator as % argument")
    if isinstance(args, ListValue):
        args = list(args)  # one argument, printed as a list
    elif isinstance(args, tuple):
        args = tuple(as_text(a) if isinstance(a, Opaque) else a for a in args)
    elif isinstance(args, Opaque):
        args = args.text
    elif isinstance(args, DictValue):
        plain = {}
        for key, choices in args.items:
            if not choices.complete or len(choices.values) != 1:
                raise NotModelled("dict value not known")
            plain[key] = next(iter(choices.values))
        args = plain
    result: str = fmt % args  # Markup stays Markup, as in Jinja2
    return result


def modulo(left: Hashable, right: Hashable) -> Hashable:
    """Jinja `%`: Python's `%` on the values (string formatting for a string, else arithmetic)."""
    if isinstance(left, str):
        return safe_percent(left, right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        if abs(left) > 2**64 or abs(right) > 2**64:
            raise NotModelled("huge modulo")
        return left % right
    raise TypeError("unsupported %")


def safe_str_format(fmt: str, *args: Any, **kwargs: Any) -> str:
    """str.format limited to positional/keyword substitution of plain values (no attribute fields)."""
    for _, field_name, spec, _ in string_module.Formatter().parse(fmt):
        if field_name and not re.fullmatch(r"\d*|[A-Za-z]\w*", field_name):
            raise NotModelled("format field with attribute or index access")
        if spec and (re.search(r"\d{4,}", spec) or "{" in spec):
            raise NotModelled("format width too large or computed")
    args = tuple(as_text(a) if isinstance(a, Opaque) else a for a in args)
    return fmt.format(*args, **kwargs)


def as_sequence(value: Hashable) -> tuple[Hashable, ...]:
    if isinstance(value, str | tuple):
        return tuple(value)
    if isinstance(value, DictValue):
        return value.keys()
    raise TypeError("not iterable")


def slice_value(value: Hashable, start: Any, stop: Any, step: Any) -> Hashable:
    """`value[start:stop:step]`; a TypeError there makes Jinja2 return Undefined, which is not modelled."""
    if step == 0:
        raise ValueError("zero step")  # Jinja2 lets this ValueError abort the render
    for part in (start, stop, step):
        if part is not None and not isinstance(part, int):
            raise NotModelled("slice index that is not an integer gives Undefined")
    if isinstance(value, ListValue):
        return ListValue(value[start:stop:step])
    if isinstance(value, str | tuple):
        return value[start:stop:step]
    raise NotModelled("slice of a value that is not a sequence gives Undefined")


def index_value(value: Hashable, key: Hashable) -> Hashable:
    if isinstance(value, str | tuple) and isinstance(key, int):  # True/False index like 1/0, as in Python
        return value[key]
    raise KeyError(key)


def dict_pairs(value: DictValue) -> list[tuple[Hashable, Hashable]]:
    """Every (key, value) a dict can hold (a key whose value is unknown pairs with None)."""
    return [(k, v) for k, choices in value.items for v in sorted(choices.values, key=repr) or [None]]


def only_numeric(fold: Folded) -> bool:
    """Every possible value is a number (an unknown part counts only if it is arithmetic)."""
    if not fold.complete and fold.origin != Origin.NUMERIC:
        return False
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in fold.values)


def numeric_context(left: Folded, right: Folded) -> bool:
    """Arithmetic, not string building: no operand can be a string and one is surely a number."""
    if any(isinstance(v, str | tuple | Opaque | DictValue) for v in (*left.values, *right.values)):
        return False
    return only_numeric(left) or only_numeric(right)


def power(base: Any, exponent: Any) -> Hashable:
    """`base ** exponent`, refusing powers that would build huge numbers."""
    if abs(exponent) > 64 or abs(base) > 2**32:
        raise NotModelled("huge power")
    return base**exponent  # type: ignore[no-any-return]


def plus(a: Hashable, b: Hashable) -> Hashable:
    """Jinja `+`: numbers add, strings and lists concatenate, mixing them fails."""
    if isinstance(a, str) or isinstance(b, str):
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        raise TypeError("str + non-str")
    if isinstance(a, tuple) and isinstance(b, tuple):
        if isinstance(a, ListValue) != isinstance(b, ListValue):
            raise TypeError("list + tuple")
        return ListValue(a + b) if isinstance(a, ListValue) else tuple(a + b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    raise TypeError("unsupported +")


def times(a: Hashable, b: Hashable) -> Hashable:
    """Jinja `*`: numbers multiply, a string or list repeats (bounded)."""
    if isinstance(a, int) and isinstance(b, str | tuple):
        a, b = b, a
    if isinstance(a, str | tuple) and isinstance(b, int) and not isinstance(b, bool):
        if len(a) * b > MAX_VALUE_CHARS:
            raise NotModelled("repetition too long to track")
        return ListValue(a * b) if isinstance(a, ListValue) else a * b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a * b
    raise TypeError("unsupported *")
