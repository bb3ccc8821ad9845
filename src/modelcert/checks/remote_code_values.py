"""Value-level evaluation for the Python model: constant folding through pure decoders, symbolic
paths, and the data-origin labels of calls. Everything is bounded; nothing here runs the code it reads.

Decoding constants (base64, hex, zlib, rot13, chr chains) uses the standard library's pure functions
on literal data with output capped by `max_bytes`; decompression is incremental with a ceiling, so a
decompression bomb in a literal is "unknown", not a memory blow-up.
"""

from __future__ import annotations

import ast
import base64
import binascii
import bz2
import codecs
import lzma
import re
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelcert.checks.remote_code_tables import (
    CANONICAL_MODULES,
    CANONICAL_NAMES,
    CREDENTIAL_PATHS,
    NETWORK,
    NETWORK_HARMLESS,
    REMOTE_CODE,
)

if TYPE_CHECKING:
    from modelcert.checks.remote_code_flow import ModuleModel

LOCAL = "<local>"
MAX_DEPTH = 40  # expression nesting followed by the evaluators; deeper parts are "unknown"
MAX_ITEMS = 100_000  # elements of a constant list/range evaluated

Const = str | bytes | int | list[Any]

ENV_MAPPINGS = frozenset({"os.environ", "os.environb"})
ENV_GETTERS = frozenset({"os.getenv", "os.environ.get", "os.getenvb", "os.environb.get", "os.environ.pop"})
DECODERS = frozenset(
    {
        "base64.b64decode",
        "base64.standard_b64decode",
        "base64.urlsafe_b64decode",
        "base64.b32decode",
        "base64.b32hexdecode",
        "base64.b16decode",
        "base64.b85decode",
        "base64.a85decode",
        "base64.decodebytes",
        "base64.decodestring",
        "binascii.a2b_base64",
        "binascii.a2b_hex",
        "binascii.unhexlify",
        "binascii.a2b_uu",
        "codecs.decode",
        "zlib.decompress",
        "gzip.decompress",
        "bz2.decompress",
        "lzma.decompress",
        "marshal.loads",
        "builtins.bytes.fromhex",
        "builtins.bytearray.fromhex",
        "builtins.chr",
        "zlib.decompressobj().decompress",
        "builtins.str.maketrans",
        "quopri.decodestring",
        "uu.decode",
    }
)
BINARY_CODECS = {
    "rot13": "rot13",
    "rot_13": "rot13",
    "base64": "base64",
    "base_64": "base64",
    "hex": "hex",
    "hex_codec": "hex",
    "base64_codec": "base64",
    "zlib": "zlib",
    "zip": "zlib",
    "zlib_codec": "zlib",
    "bz2": "bz2",
    "bz2_codec": "bz2",
}
_TEXT_CODECS = frozenset({"utf_8", "utf8", "ascii", "latin_1", "latin1", "iso_8859_1", "unicode_escape"})
_PURE_STR_METHODS = frozenset(
    {"strip", "lstrip", "rstrip", "lower", "upper", "swapcase", "title", "capitalize", "casefold"}
)
_B64 = {
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.b32decode": base64.b32decode,
    "base64.b32hexdecode": base64.b32hexdecode,
    "base64.b16decode": base64.b16decode,
    "base64.b85decode": base64.b85decode,
    "base64.a85decode": base64.a85decode,
    "base64.decodebytes": base64.decodebytes,
    "binascii.a2b_base64": binascii.a2b_base64,
    "binascii.a2b_hex": binascii.a2b_hex,
    "binascii.unhexlify": binascii.unhexlify,
}
_DECOMPRESSORS = {
    "zlib.decompress": "zlib",
    "gzip.decompress": "gzip",
    "bz2.decompress": "bz2",
    "lzma.decompress": "lzma",
}

_FORMAT_FIELD_ACCESS = re.compile(r"\{[^}]*[.\[][^}]*\}")


def canonical(name: str) -> str:
    """Canonical spelling of a dotted name (C-module aliases, old module names)."""
    if name in CANONICAL_NAMES:
        return CANONICAL_NAMES[name]
    head, dot, rest = name.partition(".")
    if head in CANONICAL_MODULES:
        name = CANONICAL_MODULES[head] + dot + rest
    return CANONICAL_NAMES.get(name, name)


def matches(name: str, table: dict[str, str] | frozenset[str]) -> str | None:
    """The table entry covering `name` (exact, or a parent module/callable of it), or None."""
    if name in table:
        return name
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in table:
            return prefix
    return None


def is_network(name: str) -> bool:
    base = name.split("()", maxsplit=1)[0]
    if base in NETWORK_HARMLESS:
        return False
    return matches(base, NETWORK) is not None or matches(base, REMOTE_CODE) is not None


def dotted(expr: ast.expr) -> str | None:
    """`self.a.b` for an attribute chain rooted at a name, else None."""
    parts: list[str] = []
    node: ast.expr = expr
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return None
    return ".".join([node.id, *reversed(parts)])


def credential_path(path: str | None) -> bool:
    return path is not None and CREDENTIAL_PATHS.search(path) is not None


def bounded(value: Const | None, limit: int) -> Const | None:
    if isinstance(value, str | bytes | list) and len(value) > limit:
        return None
    return value


def bounded_decompress(kind: str, data: bytes, limit: int) -> bytes | None:
    """Decompress at most `limit` bytes; None when the data is bad or inflates beyond it."""
    try:
        if kind == "zlib":
            out = zlib.decompressobj().decompress(data, limit + 1)
        elif kind == "gzip":
            out = zlib.decompressobj(wbits=31).decompress(data, limit + 1)
        elif kind == "bz2":
            out = bz2.BZ2Decompressor().decompress(data, max_length=limit + 1)
        elif kind == "lzma":
            out = lzma.LZMADecompressor().decompress(data, max_length=limit + 1)
        else:
            return None
    except (zlib.error, OSError, ValueError, EOFError, lzma.LZMAError):
        return None
    return out if len(out) <= limit else None


def decode_codec(data: Const, codec: str, limit: int) -> Const | None:
    """codecs.decode / bytes.decode with a codec name, bounded (no codec-level decompression bombs)."""
    name = (codec or "utf-8").lower().replace("-", "_")
    kind = BINARY_CODECS.get(name)
    try:
        if kind == "rot13":
            return codecs.decode(data, "rot13") if isinstance(data, str) else None
        raw = data.encode("latin-1") if isinstance(data, str) else data
        if not isinstance(raw, bytes):
            return None
        if kind == "base64":
            return base64.b64decode(raw)
        if kind == "hex":
            return binascii.unhexlify(raw)
        if kind in {"zlib", "bz2"}:
            return bounded_decompress(kind, raw, limit)
        if name in _TEXT_CODECS and isinstance(data, bytes):
            return raw.decode(name)
    except (ValueError, binascii.Error, UnicodeError, LookupError, TypeError):
        return None
    return None


# ---- constant folding ---------------------------------------------------------------------------


def const_binop(model: ModuleModel, expr: ast.BinOp, env: dict[str, Const]) -> Const | None:
    left = model.const(expr.left, env)
    right = model.const(expr.right, env)
    if left is None or right is None:
        return None
    op = expr.op
    try:
        if isinstance(op, ast.Add) and type(left) is type(right) and not isinstance(left, int):
            return bounded(left + right, model.max_bytes)  # type: ignore[operator]
        if isinstance(op, ast.Mult) and isinstance(right, int) and isinstance(left, str | bytes):
            return left * right if len(left) * max(right, 0) <= model.max_bytes else None
        if isinstance(left, int) and isinstance(right, int):
            return _int_op(op, left, right)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def _int_op(op: ast.operator, left: int, right: int) -> int | None:
    operations: dict[type[ast.operator], Callable[[int, int], int]] = {
        ast.Add: lambda a, b: a + b,
        ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b,
        ast.BitXor: lambda a, b: a ^ b,
        ast.BitAnd: lambda a, b: a & b,
        ast.BitOr: lambda a, b: a | b,
        ast.Mod: lambda a, b: a % b,
        ast.FloorDiv: lambda a, b: a // b,
    }
    operation = operations.get(type(op))
    if operation is None or max(abs(left), abs(right)) > 1 << 32:
        return None
    return operation(left, right)


def const_subscript(model: ModuleModel, expr: ast.Subscript, env: dict[str, Const]) -> Const | None:
    base = model.const(expr.value, env)
    if not isinstance(base, str | bytes | list):
        return None
    index = expr.slice
    try:
        if isinstance(index, ast.Slice):
            parts = [
                None if p is None else model.const(p, env) for p in (index.lower, index.upper, index.step)
            ]
            given = [p for p, raw in zip(parts, (index.lower, index.upper, index.step), strict=True) if raw]
            if any(not isinstance(p, int) for p in given):
                return None
            lower, upper, step = (p if isinstance(p, int) else None for p in parts)
            return base[lower:upper:step]
        position = model.const(index, env)
        if isinstance(position, int):
            item: Const = base[position]
            return item
    except (IndexError, ValueError, TypeError):
        return None
    return None


def const_call(model: ModuleModel, call: ast.Call, env: dict[str, Const]) -> Const | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        receiver = model.const(func.value, env)
        if isinstance(receiver, str | bytes):
            return bounded(_const_method(model, receiver, func.attr, call, env), model.max_bytes)
    args = [model.const(a, env) for a in call.args[:3]]
    for name in model.resolve(func):
        value = _const_function(model, name, call, args)
        if value is not None:
            return bounded(value, model.max_bytes)
    return None


def _const_method(
    model: ModuleModel, receiver: str | bytes, method: str, call: ast.Call, env: dict[str, Const]
) -> Const | None:
    args = [model.const(a, env) for a in call.args[:3]]
    if any(a is None for a in args) or call.keywords:
        return None
    try:
        if method == "decode" and isinstance(receiver, bytes):
            codec = args[0] if args else "utf-8"
            return decode_codec(receiver, codec, model.max_bytes) if isinstance(codec, str) else None
        if method == "encode" and isinstance(receiver, str):
            codec = str(args[0]) if args else "utf-8"
            if codec.lower().replace("-", "_") in _TEXT_CODECS:
                return receiver.encode(codec)
            return None
        if method == "join" and len(args) == 1 and isinstance(args[0], list):
            items = args[0]
            if all(type(i) is type(receiver) for i in items):
                return receiver.join(items)
            return None
        if method == "replace" and len(args) >= 2 and all(type(a) is type(receiver) for a in args[:2]):
            return receiver.replace(args[0], args[1])  # type: ignore[arg-type]
        if method in _PURE_STR_METHODS and not args:
            result: Const = getattr(receiver, method)()
            return result
        if (
            method == "format"
            and isinstance(receiver, str)
            and not _FORMAT_FIELD_ACCESS.search(receiver)
            and all(isinstance(a, str | int) for a in args)
        ):
            return receiver.format(*args)
    except (ValueError, TypeError, UnicodeError, IndexError, KeyError, LookupError):
        return None
    return None


def _const_function(model: ModuleModel, name: str, call: ast.Call, args: list[Const | None]) -> Const | None:
    first = args[0] if args else None
    try:
        if name == "builtins.chr" and isinstance(first, int) and 0 <= first <= 0x10FFFF:
            return chr(first)
        if name == "builtins.str" and isinstance(first, str | int) and len(args) == 1:
            return str(first)
        if name in {"builtins.bytes", "builtins.bytearray"}:
            return _const_bytes(first, args)
        if name == "builtins.int" and isinstance(first, str) and len(first) <= 64:
            base = args[1] if len(args) > 1 and isinstance(args[1], int) else 10
            return int(first, base)
        if name in {"builtins.list", "builtins.tuple"} and isinstance(first, list | str | bytes):
            return list(first)
        if name == "builtins.reversed" and isinstance(first, list | str | bytes):
            return list(reversed(first))
        if name == "builtins.range" and all(isinstance(a, int) for a in args) and args:
            values = range(*[a for a in args if isinstance(a, int)])
            return list(values) if len(values) <= MAX_ITEMS else None
        if name == "builtins.map" and len(call.args) == 2 and isinstance(args[1], list | str | bytes):
            return _const_map(model, call.args[0], args[1])
        if name in {"builtins.bytes.fromhex", "builtins.bytearray.fromhex"} and isinstance(first, str):
            return bytes.fromhex(first)
        if name in _B64 and isinstance(first, str | bytes):
            data = first.encode("ascii") if isinstance(first, str) else first
            return _B64[name](data)
        if name in {"codecs.decode", "codecs.encode"} and first is not None:
            codec = args[1] if len(args) > 1 and isinstance(args[1], str) else "utf-8"
            return decode_codec(first, codec, model.max_bytes)
        if name in _DECOMPRESSORS and isinstance(first, bytes):
            return bounded_decompress(_DECOMPRESSORS[name], first, model.max_bytes)
    except (ValueError, TypeError, binascii.Error, UnicodeError, OverflowError):
        return None
    return None


def _const_bytes(first: Const | None, args: list[Const | None]) -> Const | None:
    if isinstance(first, list) and all(isinstance(i, int) and 0 <= i < 256 for i in first):
        return bytes(first)
    if isinstance(first, bytes):
        return first
    if isinstance(first, str) and len(args) > 1 and isinstance(args[1], str):
        return first.encode(args[1])
    return None


def _const_map(model: ModuleModel, func: ast.expr, items: list[Any] | str | bytes) -> Const | None:
    names = model.resolve(func)
    if "builtins.chr" in names and all(isinstance(i, int) and 0 <= i <= 0x10FFFF for i in items):
        return [chr(i) for i in items]  # type: ignore[arg-type]
    if "builtins.ord" in names and isinstance(items, str):
        return [ord(c) for c in items]
    return None
