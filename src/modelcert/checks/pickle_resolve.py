"""What dynamic values really reach, and what payload bytes a nested loader is handed.

`reach` follows the resolver gadgets statically: `getattr(x, 'system')`, `attrgetter('a.b')(x)`,
`itemgetter(k)(x)`, `importlib.import_module('os')`, `pkgutil.resolve_name('os:system')`,
`pydoc.locate(...)`, `vars(x)[k]`, `sys.modules[k]`, `functools.partial(f)`. `payload` evaluates
the pure decoders attackers wrap nested pickles in (base64, hex, zlib, `_codecs.encode`,
`io.BytesIO`). Both are bounded and never run anything.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Final

from modelcert.checks.callables import normalise
from modelcert.errors import LimitExceeded
from modelcert.formats.blob import Blob, BytesBlob
from modelcert.formats.pickle_ops import BigBytes, Py2String
from modelcert.formats.pickle_values import (
    Call,
    Global,
    Lit,
    PersRef,
    Seq,
    Value,
    bytes_of,
    children,
    describe,
    text_of,
)
from modelcert.formats.pickle_view import StreamView
from modelcert.records import Record

MAX_DEPTH = 32


class Reach(Record):
    """A dotted path a value stands for; `namespace` when its items are that path's attributes."""

    __slots__ = ("namespace", "path")
    path: Final[str]
    namespace: Final[bool]

    def __init__(self, path: str, namespace: bool = False) -> None:
        self.path = path
        self.namespace = namespace


def global_path(value: Global) -> str:
    module, name = normalise(value.module, value.name)
    return f"{module}.{name}"


def _args(call: Call) -> list[Value]:
    return list(call.args.items) if isinstance(call.args, Seq) else []


def _arg_text(call: Call, index: int) -> str | None:
    args = _args(call)
    return text_of(args[index]) if len(args) > index else None


_GETATTR = frozenset({"builtins.getattr", "operator.attrgetter", "_operator.attrgetter"})
_ITEMGETTER = frozenset({"operator.itemgetter", "_operator.itemgetter"})
_GETITEM = frozenset(
    {"operator.getitem", "_operator.getitem", "builtins.dict.get", "builtins.dict.__getitem__"}
)
_METHODCALLER = frozenset({"operator.methodcaller", "_operator.methodcaller"})
_IMPORTERS = frozenset(
    {
        "importlib.import_module", "builtins.__import__", "importlib.__import__", "_imp.init_frozen",
        "importlib._bootstrap._gcd_import", "cloudpickle.cloudpickle.subimport", "cloudpickle.subimport",
        "dill._dill._import_module", "imp.load_module", "importlib.util.find_spec",
    }
)  # fmt: skip
_NAMESPACES = frozenset({"builtins.vars", "builtins.globals", "builtins.locals"})
_PARTIALS = frozenset({"functools.partial", "_functools.partial", "types.MethodType"})


class Resolver:
    """Resolves values to dotted paths, memoised by identity so shared or deep graphs stay linear.

    Use one resolver per analysed file: the memo is what keeps a crafted DAG of calls from making
    resolution exponential.
    """

    def __init__(self) -> None:
        self._memo: dict[int, Reach | None] = {}

    def reach(self, value: Value, depth: int = 0) -> Reach | None:
        """The dotted path `value` stands for at load time, when it can be known statically."""
        key = id(value)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None  # a cycle resolves to "unknown"
        result = self._reach(value, depth) if depth <= MAX_DEPTH else None
        self._memo[key] = result
        return result

    def _reach(self, value: Value, depth: int) -> Reach | None:
        if isinstance(value, Global):
            path = global_path(value)
            if path.endswith((".__builtins__", ".__builtin__")):
                return Reach("builtins", namespace=True)
            if path.endswith(".__dict__"):
                return Reach(path[: -len(".__dict__")], namespace=True)
            return Reach(path)
        if isinstance(value, PersRef):
            return self._persistent_class(value, depth)
        if not isinstance(value, Call):
            return None
        func = value.func
        if isinstance(func, Call):
            maker = self.reach(func.func, depth + 1)
            if maker is not None and maker.path in _GETATTR - {"builtins.getattr"}:
                base = self._first(value, depth)
                name = _arg_text(func, 0)
                return _attr(base, name) if base and name else None
            if maker is not None and maker.path in _ITEMGETTER:
                base = self._first(value, depth)
                key = _arg_text(func, 0)
                return _item(base, key) if base and key else None
        target = self.reach(func, depth + 1)
        return self._applied(target.path, value, depth) if target is not None else None

    def _applied(self, path: str, value: Call, depth: int) -> Reach | None:
        """What calling the resolver `path` with `value`'s arguments returns."""
        if path == "builtins.getattr":
            base = self._first(value, depth)
            name = _arg_text(value, 1)
            return _attr(base, name) if base and name else None
        if path in _GETITEM:
            base = self._first(value, depth)
            key = _arg_text(value, 1)
            return _item(base, key) if base and key else None
        if path in _IMPORTERS:
            name = _arg_text(value, 0)
            return Reach(name) if name else None
        if path in {"pkgutil.resolve_name", "pydoc.locate", "torch._utils._import_dotted_name"}:
            name = _arg_text(value, 0)
            return Reach(name.replace(":", ".")) if name else None
        if path in {"numpy.core._ufunc_reconstruct", "numpy._core._ufunc_reconstruct"}:
            module, name = _arg_text(value, 0), _arg_text(value, 1)
            return Reach(f"{module}.{name}") if module and name else None
        if path in _NAMESPACES:
            base = self._first(value, depth)
            return Reach(base.path, namespace=True) if base else None
        if path in _PARTIALS:
            return self._first(value, depth)
        return None

    def _persistent_class(self, ref: PersRef, depth: int) -> Reach | None:
        """Legacy torch.save stores module classes as ('module', cls, source_file, source)
        persistent ids; torch's persistent_load returns `cls`."""
        pid = ref.pid
        if isinstance(pid, Seq) and len(pid.items) >= 2 and text_of(pid.items[0]) == "module":
            return self.reach(pid.items[1], depth + 1)
        return None

    def invoked(self, call: Call) -> tuple[Reach | None, str]:
        """What a call with a *computed* callee invokes, and how it got there (for messages)."""
        func = call.func
        if isinstance(func, Call):
            maker = self.reach(func.func, 1)
            if maker is not None and maker.path in _METHODCALLER:
                base = self._first(call, 0)
                name = _arg_text(func, 0)
                return (_attr(base, name) if base and name else None), f"operator.methodcaller({name!r})"
            return self.reach(func, 1), describe(func, 2)
        return self.reach(func, 1), "direct"

    def _first(self, call: Call, depth: int) -> Reach | None:
        args = _args(call)
        return self.reach(args[0], depth + 1) if args else None


MAX_FETCH_SCAN_NODES = 200_000


def static_attribute_fetches(view: StreamView, allowed: Callable[[str], bool]) -> set[int]:
    """ids of the `builtins.getattr` globals of `view` that are only a static attribute fetch.

    Python pickles a class's method or member as `getattr(Class, 'name')` (zoneinfo.ZoneInfo pickles
    through `ZoneInfo._unpickle`): that is a dotted import spelled as a call. It is harmless when the
    class is an allowlisted global and the name a literal, and either the dotted path itself is
    allowlisted or the name is public and the fetched value is then judged where it is used (calling
    it, BUILD or a mutation on it are judged by what it resolves to). Any other use of the same
    getattr global, a computed name or a non-global base keeps getattr reported as dangerous.
    """
    candidates = {
        id(g) for g in view.globals if isinstance(g, Global) and global_path(g) == "builtins.getattr"
    }
    if not candidates:
        return set()
    static_calls = {id(c) for c in view.calls if id(c.func) in candidates and _is_static_fetch(c, allowed)}
    roots: list[Value] = [*view.calls, *view.persids]
    roots += [v for event in view.builds for v in (event.target, event.state)]
    roots += [event.target for event in view.mutations]
    if view.root is not None:
        roots.append(view.root)
    seen: set[int] = set()
    todo = list(roots)
    disqualified = {id(v) for v in roots if id(v) in candidates}  # a getattr that is itself a root
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if len(seen) > MAX_FETCH_SCAN_NODES:
            return set()  # too large to prove: keep reporting
        for index, child in enumerate(children(value)):
            if id(child) in candidates and not (index == 0 and id(value) in static_calls):
                disqualified.add(id(child))
            todo.append(child)
    return candidates - disqualified


def _is_static_fetch(call: Call, allowed: Callable[[str], bool]) -> bool:
    if call.kind != "reduce" or call.kwargs is not None or not isinstance(call.args, Seq):
        return False
    if len(call.args.items) != 2 or not isinstance(call.args.items[0], Global):
        return False
    name = text_of(call.args.items[1])
    if not name or not name.isidentifier():
        return False
    base = global_path(call.args.items[0])
    return allowed(f"{base}.{name}") or (allowed(base) and not name.startswith("_"))


def _attr(base: Reach, name: str) -> Reach:
    return Reach(f"{base.path}.{name}")


def _item(base: Reach, key: str) -> Reach:
    if base.path == "sys.modules":
        return Reach(key)
    return Reach(f"{base.path}.{key}")


# --- payload bytes of nested loaders ------------------------------------------------------------------


def _b64(data: bytes) -> bytes:
    return base64.b64decode(data, validate=False)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "base64.b64decode": _b64,
    "base64.standard_b64decode": _b64,
    "base64.decodebytes": _b64,
    "base64.decodestring": _b64,
    "binascii.a2b_base64": _b64,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": lambda d: base64.b16decode(d, casefold=True),
    "base64.a85decode": base64.a85decode,
    "base64.b85decode": base64.b85decode,
    "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_hex": binascii.a2b_hex,
    "builtins.bytes.fromhex": lambda d: bytes.fromhex(d.decode("ascii")),
}
_DECOMPRESSORS = frozenset({"zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress"})
_WRAPPERS = frozenset(
    {"io.BytesIO", "_io.BytesIO", "builtins.bytes", "builtins.bytearray", "builtins.memoryview"}
)
_CODEC_ENCODE = frozenset({"_codecs.encode", "codecs.encode"})
_CODEC_DECODE = frozenset({"_codecs.decode", "codecs.decode"})


class PayloadError(Exception):
    """A payload was recognised but cannot be decoded within limits."""


def payload(value: Value, source: Blob, limit: int, depth: int = 0) -> Blob | None:
    """The bytes `value` holds at load time, when they are a literal or a pure decoding of one."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, Lit):
        raw = value.value
        if isinstance(raw, BigBytes):
            if raw.kind == "str":  # a str handed on as bytes: its latin-1 encoding (protocol 2 bytes)
                if raw.length > limit:
                    raise LimitExceeded(f"payload of {raw.length} bytes exceeds {limit}", raw.offset)
                text = source.read_at(raw.offset, raw.length).decode("utf-8", "surrogatepass")
                return BytesBlob(text.encode("latin-1", "replace"), "payload")
            return source.window(raw.offset, raw.length, "payload")
        if isinstance(raw, (bytes, Py2String)):
            data = bytes_of(value)
            return BytesBlob(data, "payload") if data is not None else None
        if isinstance(raw, str):
            return BytesBlob(raw.encode("latin-1", "replace"), "payload")
        return None
    if not isinstance(value, Call) or not isinstance(value.func, Global):
        return None
    path = global_path(value.func)
    args = _args(value)
    if not args:
        return None
    if path in _CODEC_ENCODE or path in _CODEC_DECODE:
        return _codec(path, args, source, limit, depth)
    inner = payload(args[0], source, limit, depth + 1)
    if inner is None or path in _WRAPPERS:
        return inner
    data = inner.read_all(limit)
    try:
        if path in _DECODERS:
            return BytesBlob(_DECODERS[path](data)[:limit], "payload")
        if path in _DECOMPRESSORS:
            return BytesBlob(_decompress(path, data, limit), "payload")
    except (ValueError, binascii.Error, zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
        raise PayloadError(f"{path} of a literal fails: {exc}") from None
    return None


def _codec(path: str, args: list[Value], source: Blob, limit: int, depth: int) -> Blob | None:
    encoding = (text_of(args[1]) if len(args) > 1 else "utf-8") or ""
    encoding = encoding.lower().replace("_", "-")
    if path in _CODEC_ENCODE and encoding in {"latin1", "latin-1", "iso-8859-1"}:
        return payload(args[0], source, limit, depth + 1)  # a str literal becomes its latin-1 bytes
    inner = payload(args[0], source, limit, depth + 1)
    if inner is None:
        return None
    data = inner.read_all(limit)
    try:
        if encoding in {"base64", "base64-codec"}:
            return BytesBlob(_b64(data), "payload")
        if encoding in {"hex", "hex-codec"}:
            return BytesBlob(binascii.unhexlify(data), "payload")
        if encoding in {"zlib", "zlib-codec", "zip"}:
            return BytesBlob(_decompress("zlib.decompress", data, limit), "payload")
        if encoding in {"bz2", "bz2-codec"}:
            return BytesBlob(_decompress("bz2.decompress", data, limit), "payload")
    except (ValueError, binascii.Error, zlib.error, OSError, EOFError) as exc:
        raise PayloadError(f"{encoding} decoding of a literal fails: {exc}") from None
    return None


def _decompress(path: str, data: bytes, limit: int) -> bytes:
    """Decompress with an output ceiling (a decompression bomb stops at `limit`)."""
    if path in {"zlib.decompress", "gzip.decompress"}:
        wbits = 47 if path == "gzip.decompress" else 15
        return zlib.decompressobj(wbits).decompress(data, limit)
    if path == "bz2.decompress":
        return bz2.BZ2Decompressor().decompress(data, max_length=limit)
    return lzma.LZMADecompressor().decompress(data, max_length=limit)
