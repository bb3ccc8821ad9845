"""Jinja2 filters and `str` methods applied to folded constants, computed by Jinja2's own code.

Constant folding must know what `'class'|center(9)|replace(' ', '_')` produces, exactly, or admit it
does not know. So the pure filters (no context, no attribute lookups on the value) are computed by
calling Jinja2's own implementation on the known values, through an environment configured the way
transformers configures its chat-template environment, and `str` methods are called on the `str`
itself (the sandbox lets templates call any public `str` method). Sizes are checked before each call
so no argument builds a huge string. Anything outside that model raises `NotModelled`, which the
folder turns into an *unresolved* value: a filter or method it does not model is never a harmless
constant (fail closed). Exceptions Jinja2 itself raises on exact values are real render failures
and propagate as ordinary errors (that combination never renders).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from modelcert.formats.jinja_values import (
    FAKE_ADDRESS,
    MAX_SEQUENCE,
    MAX_VALUE_CHARS,
    DictValue,
    GeneratorValue,
    ListValue,
    NotModelled,
    Opaque,
    as_text,
    safe_percent,
    safe_str_format,
)

# transformers: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[...]);
# only its policies (truncate.leeway), newline_sequence and autoescape (off) matter to these filters.
_ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
_WIDTH_LIMIT = 256  # indentation / wrap strings longer than this are refused, not computed

# Jinja2 builtin filters that are pure functions of their arguments (no context, no attribute lookup).
PURE_FILTERS = frozenset(
    {
        "abs", "batch", "capitalize", "center", "count", "e", "escape", "filesizeformat", "first",
        "float", "forceescape", "indent", "int", "join", "last", "length", "list", "lower", "max",
        "min", "pprint", "replace", "reverse", "round", "safe", "slice", "sort", "string",
        "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
        "wordwrap",
    }
)
# `str` methods computed on constant receivers (the sandbox allows every public one; these are pure).
STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find", "index",
        "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
        "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
        "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
        "title", "upper", "zfill",
    }
)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>$")


class _Iterable:
    """A folded generator handed to Jinja2: iterates over its items, prints as the generator object."""

    def __init__(self, items: list[Any], text: str) -> None:
        self._items = items
        self._text = text

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __str__(self) -> str:
        return self._text


def apply_filter(
    name: str, value: Hashable, args: tuple[Hashable, ...], kwargs: dict[str, Hashable]
) -> Hashable:
    """`value|name(*args, **kwargs)` as Jinja2 computes it, or NotModelled."""
    if name not in PURE_FILTERS or "attribute" in kwargs:
        raise NotModelled(f"filter {name} not modelled")
    _check_filter_bounds(name, value, args, kwargs)
    py_value = to_python(value)
    py_args = [to_python(a) for a in args]
    py_kwargs = {k: to_python(v) for k, v in kwargs.items()}
    return _call(lambda: _ENV.call_filter(name, py_value, py_args, py_kwargs))


def apply_format(value: Hashable, args: tuple[Hashable, ...], kwargs: dict[str, Hashable]) -> Hashable:
    """The `format` filter: `soft_str(value) % (kwargs or args)` (both at once is a Jinja2 error)."""
    if args and kwargs:
        raise ValueError("format with positional and keyword arguments")
    if isinstance(value, DictValue):
        raise NotModelled("format of a dict")
    text = as_text(value)  # soft_str(value)
    return safe_percent(text, dict(kwargs) if kwargs else tuple(args))


def call_str_method(
    receiver: Hashable, method: str, args: tuple[Hashable, ...], kwargs: dict[str, Hashable]
) -> Hashable:
    """`receiver.method(*args, **kwargs)` for a constant `str` receiver, or NotModelled."""
    if isinstance(receiver, tuple) and method in {"index", "count"} and not kwargs:
        return _call(lambda: getattr(tuple(receiver), method)(*[to_python(a) for a in args]))
    if not isinstance(receiver, str):
        raise NotModelled(f"method {method} on a non-string")
    if method == "format":
        return safe_str_format(receiver, *args, **kwargs)
    if method not in STR_METHODS:
        raise NotModelled(f"str.{method} not modelled")
    _check_method_bounds(receiver, method, args, kwargs)
    py_args = [to_python(a) for a in args]
    py_kwargs = {k: to_python(v) for k, v in kwargs.items()}
    return _call(lambda: getattr(receiver, method)(*py_args, **py_kwargs))


# ---- conversions -------------------------------------------------------------------------------


def to_python(value: Hashable) -> Any:
    """A folded value as the Python object Jinja2 would hold."""
    if isinstance(value, GeneratorValue):
        return _Iterable([to_python(item) for item in value], value.text)
    if isinstance(value, ListValue):
        return [to_python(item) for item in value]
    if isinstance(value, tuple):
        return tuple(to_python(item) for item in value)
    if isinstance(value, DictValue):  # keys are known; an unknown value is fine until it is printed
        return {key: _value_or_unknown(choices) for key, choices in value.items}
    if value is None or isinstance(value, str | int | float | bool | Opaque):
        return value
    raise NotModelled(f"value of type {type(value).__name__}")


def from_python(result: Any) -> Hashable:
    """A Jinja2 result as a folded value (lists, tuples, generators and iterators included)."""
    if isinstance(result, Undefined):
        raise NotModelled("undefined result")  # printing/using it depends on the deployment's Undefined
    if isinstance(result, Markup):
        return _bounded(result)  # stays Markup: escaping it again is a no-op, as in Jinja2
    if result is None or isinstance(result, str | int | float | bool | Opaque):
        return _bounded(result)
    if isinstance(result, list):
        return _bounded(ListValue(from_python(item) for item in result))
    if isinstance(result, tuple):
        return _bounded(tuple(from_python(item) for item in result))
    if isinstance(result, _Iterable):
        return _bounded(GeneratorValue([from_python(item) for item in result], str(result)))
    if hasattr(result, "__next__"):  # reverse → list_reverseiterator, unique → generator
        items = list(itertools.islice(result, MAX_SEQUENCE + 1))
        text = _ADDRESS.sub(FAKE_ADDRESS, repr(result))
        return _bounded(GeneratorValue([from_python(item) for item in items], text))
    raise NotModelled(f"result of type {type(result).__name__}")


class _UnknownValue:
    """A dict value the folder does not know: iterating the dict is fine, printing it is not modelled."""

    def __str__(self) -> str:
        raise NotModelled("dict value not known")

    __repr__ = __str__


def _value_or_unknown(choices: Any) -> Any:
    if choices.complete and len(choices.values) == 1:
        return to_python(next(iter(choices.values)))
    return _UnknownValue()


def _single(choices: Any) -> Hashable:
    """The one value a folded argument can take (several or unknown: not modelled)."""
    if not choices.complete or len(choices.values) != 1:
        raise NotModelled("value not known")
    value: Hashable = next(iter(choices.values))
    return value


def _bounded(value: Hashable) -> Hashable:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise NotModelled("string too long to track")
    if isinstance(value, tuple) and len(value) > MAX_SEQUENCE:
        raise NotModelled("sequence too long to track")
    return value


def _call(compute: Callable[[], Any]) -> Hashable:
    try:
        result = compute()
    except NotModelled:
        raise
    except AssertionError:
        raise NotModelled("argument rejected by an assertion") from None  # vanishes under python -O
    except RecursionError:
        raise NotModelled("too deep") from None
    except TemplateError as exc:  # FilterArgumentError, SecurityError: the render fails here
        raise ValueError(str(exc)) from None
    return from_python(result)


# ---- size checks before computing ---------------------------------------------------------------


def _text_of(value: Hashable) -> str:
    """What str() of a folded value is, for size estimates ("" when it has no modelled text)."""
    try:
        return as_text(value)
    except ValueError:
        return ""


def _check_ints(values: list[Hashable]) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE_CHARS:
            raise NotModelled("size argument too large to compute")


def _check_filter_bounds(
    name: str, value: Hashable, args: tuple[Hashable, ...], kwargs: dict[str, Hashable]
) -> None:
    if name in {"int", "float", "abs", "round", "sum"}:
        return  # numbers, not sizes
    _check_ints([*args, *kwargs.values()])
    text = _text_of(value)
    if name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count")
        _check_replace(text, args[0], args[1], count)
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        if size > _WIDTH_LIMIT or size * (text.count("\n") + 2) + len(text) > 4 * MAX_VALUE_CHARS:
            raise NotModelled("indent too large")
    elif name == "wordwrap":
        wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring")
        if isinstance(wrap, str) and len(wrap) > _WIDTH_LIMIT:
            raise NotModelled("wrap string too long")
        if isinstance(wrap, str) and len(wrap) * len(text) > 4 * MAX_VALUE_CHARS:
            raise NotModelled("wrapped text too large")


def _check_method_bounds(
    receiver: str, method: str, args: tuple[Hashable, ...], kwargs: dict[str, Hashable]
) -> None:
    _check_ints([*args, *kwargs.values()])
    if method == "replace" and len(args) >= 2:
        _check_replace(receiver, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
    elif method == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and size * (receiver.count("\t") + 1) > 4 * MAX_VALUE_CHARS:
            raise NotModelled("tabs too wide")


def _check_replace(text: str, old: Hashable, new: Hashable, count: Hashable) -> None:
    old_text, new_text = _text_of(old), _text_of(new)
    hits = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * len(new_text) > 4 * MAX_VALUE_CHARS:
        raise NotModelled("replacement too large")
