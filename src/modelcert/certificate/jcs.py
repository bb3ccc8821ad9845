"""RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so signatures are stable.

Strings are emitted as UTF-8 with only the mandatory escapes, object members are sorted by their
UTF-16 code units, and numbers use the ECMAScript `Number.prototype.toString` form (RFC 8785 §3.2.2.3).
Values outside I-JSON (RFC 7493) are refused rather than silently changed: NaN and infinities, integers
beyond ±(2^53 − 1) (a double would round them), lone surrogates, and non-string object keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64  # our payloads are a few levels deep; anything deeper is a bug or an attack

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


class CanonicalizationError(ValueError):
    """The value has no RFC 8785 form (NaN, a huge integer, a lone surrogate, a non-string key)."""


def canonicalize(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a value made of dict, list, tuple, str, int, float, bool, None."""
    parts: list[str] = []
    _emit(value, parts, 0)
    return "".join(parts).encode("utf-8")


def _emit(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CanonicalizationError(f"nested deeper than {MAX_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(_integer(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, Mapping):
        _object(value, out, depth)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _emit(item, out, depth + 1)
        out.append("]")
    else:
        raise CanonicalizationError(f"{type(value).__name__} is not a JSON value")


def _object(value: Mapping[Any, Any], out: list[str], depth: int) -> None:
    for key in value:
        if not isinstance(key, str):
            raise CanonicalizationError(f"object key {key!r} is not a string")
    out.append("{")
    # UTF-16BE bytes compare exactly like the UTF-16 code-unit sequences RFC 8785 §3.2.3 sorts by
    for index, key in enumerate(sorted(value, key=_utf16_units)):
        if index:
            out.append(",")
        out.append(_string(key))
        out.append(":")
        _emit(value[key], out, depth + 1)
    out.append("}")


def _utf16_units(key: str) -> bytes:
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError:
        raise CanonicalizationError("object key holds a lone surrogate") from None


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string holds a lone surrogate (not valid Unicode)") from None
    chars = []
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            chars.append(escaped)
        elif ch < " ":
            chars.append(f"\\u{ord(ch):04x}")
        else:
            chars.append(ch)
    return '"' + "".join(chars) + '"'


def _integer(value: int) -> str:
    if abs(value) > MAX_SAFE_INTEGER:
        raise CanonicalizationError(f"integer {value} is outside the IEEE-754 exact range (±2^53 − 1)")
    return str(value)


def format_number(value: float) -> str:
    """ECMAScript Number.prototype.toString of a finite double (RFC 8785 §3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalizationError(f"{value} has no JSON form")
    if value == 0:
        return "0"  # also -0
    if value < 0:
        return "-" + format_number(-value)
    # repr() gives the shortest digit string that round-trips, as ECMAScript requires
    _sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits × 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
