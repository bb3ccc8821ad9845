"""Symbolic values of the pickle VM: what would be on the unpickler's stack, without building it.

Nothing here is ever called or imported: a `Global` is the *name* a pickle asks `find_class` for,
a `Call` is the record of an invocation the unpickler would perform. Values have identity
semantics (memo GET returns the same object), so the graph can be shared and even cyclic;
walkers must track visited ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from modelcert.formats.pickle_ops import BigBytes, Py2String
from modelcert.records import IdentityRecord, Record

# Hand-written classes, not dataclasses: the VM creates these per opcode and the CLI imports them at
# start-up (see modelcert.records). __init__ is plain attribute stores on purpose.


class Site(Record):
    """Where an opcode is: byte offset in the file, its index in its stream, its name, the stream."""

    __slots__ = ("index", "offset", "opcode", "stream")
    offset: Final[int]
    index: Final[int]
    opcode: Final[str]
    stream: Final[int]

    def __init__(self, offset: int, index: int, opcode: str, stream: int) -> None:
        self.offset = offset
        self.index = index
        self.opcode = opcode
        self.stream = stream


class Value(IdentityRecord):
    """Base of everything the symbolic stack holds."""

    __slots__ = ()


class Lit(Value):
    """A literal the pickle spells out (None, bool, int, float, str, bytes, ...)."""

    __slots__ = ("value",)
    value: bool | int | float | str | bytes | Py2String | BigBytes | None

    def __init__(self, value: bool | int | float | str | bytes | Py2String | BigBytes | None) -> None:
        self.value = value


class Seq(Value):
    """A list, tuple, set or frozenset built by opcodes."""

    __slots__ = ("items", "kind")
    kind: str
    items: list[Value]

    def __init__(self, kind: str, items: list[Value] | None = None) -> None:
        self.kind = kind
        self.items = [] if items is None else items


class DictV(Value):
    """A dict built by opcodes, as ordered key/value pairs."""

    __slots__ = ("items",)
    items: list[tuple[Value, Value]]

    def __init__(self, items: list[tuple[Value, Value]] | None = None) -> None:
        self.items = [] if items is None else items


class Global(Value):
    """A name resolved by find_class: module + (possibly dotted) qualified name."""

    __slots__ = ("invoked", "module", "name", "site", "via")
    module: str
    name: str
    site: Site
    via: str  # the opcode that imported it
    invoked: bool

    def __init__(self, module: str, name: str, site: Site, via: str, invoked: bool = False) -> None:
        self.module = module
        self.name = name
        self.site = site
        self.via = via
        self.invoked = invoked

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


class Unresolved(Value):
    """An import whose target cannot be known statically (computed operands, extension codes)."""

    __slots__ = ("invoked", "operands", "reason", "site")
    reason: str
    site: Site
    operands: tuple[Value, ...]
    invoked: bool

    def __init__(
        self, reason: str, site: Site, operands: tuple[Value, ...] = (), invoked: bool = False
    ) -> None:
        self.reason = reason
        self.site = site
        self.operands = operands
        self.invoked = invoked


class Call(Value):
    """The result of an invocation: REDUCE, NEWOBJ(_EX), OBJ or INST on `func`."""

    __slots__ = ("args", "func", "kind", "kwargs", "site")
    func: Value
    args: Value
    kwargs: Value | None
    kind: str
    site: Site

    def __init__(self, func: Value, args: Value, kwargs: Value | None, kind: str, site: Site) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.kind = kind
        self.site = site


class PersRef(Value):
    """A persistent reference resolved by the loader's persistent_load (torch storages)."""

    __slots__ = ("pid", "site")
    pid: Value
    site: Site

    def __init__(self, pid: Value, site: Site) -> None:
        self.pid = pid
        self.site = site


class Opaque(Value):
    """A value the reader knows exists but does not model (out-of-band buffer, joblib array)."""

    __slots__ = ("what",)
    what: str

    def __init__(self, what: str) -> None:
        self.what = what


def text_of(value: Value) -> str | None:
    """The str a value is at load time, when it is a literal string (protocol 0-5 spellings)."""
    if isinstance(value, Lit):
        if isinstance(value.value, str):
            return value.value
        if isinstance(value.value, Py2String):
            return value.value.text()
    return None


def bytes_of(value: Value) -> bytes | None:
    """The bytes a literal holds (BINBYTES, SHORT_BINBYTES, BYTEARRAY8, or an old-style STRING)."""
    if isinstance(value, Lit):
        if isinstance(value.value, bytes):
            return value.value
        if isinstance(value.value, Py2String):
            return value.value.raw
    return None


def walk(root: Value, max_nodes: int = 100_000) -> Iterator[Value]:
    """Every value reachable from `root`, each once (the graph may share nodes or cycle)."""
    seen: set[int] = set()
    todo = [root]
    while todo and len(seen) < max_nodes:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        yield value
        todo.extend(children(value))


def children(value: Value) -> list[Value]:
    if isinstance(value, Seq):
        return list(value.items)
    if isinstance(value, DictV):
        return [v for pair in value.items for v in pair]
    if isinstance(value, Call):
        out = [value.func, value.args]
        if value.kwargs is not None:
            out.append(value.kwargs)
        return out
    if isinstance(value, PersRef):
        return [value.pid]
    if isinstance(value, Unresolved):
        return list(value.operands)
    return []


def describe(value: Value, depth: int = 3) -> str:
    """A short human rendering for messages (never the whole payload)."""
    if isinstance(value, Lit):
        v = value.value
        if isinstance(v, BigBytes):
            return f"<{v.length} bytes>"
        if isinstance(v, Py2String):
            v = v.raw
        text = repr(v)
        return text if len(text) <= 80 else text[:77] + "..."
    if isinstance(value, Global):
        return value.dotted
    if isinstance(value, Unresolved):
        return f"<unresolved: {value.reason}>"
    if depth <= 0:
        return "…"
    if isinstance(value, Call):
        return f"{describe(value.func, depth - 1)}({_inner(value.args, depth - 1)})"
    if isinstance(value, Seq):
        open_, close = {"list": ("[", "]"), "tuple": ("(", ")")}.get(value.kind, ("{", "}"))
        return f"{open_}{_inner(value, depth - 1)}{close}"
    if isinstance(value, DictV):
        parts = [f"{describe(k, depth - 1)}: {describe(v, depth - 1)}" for k, v in value.items[:4]]
        return "{" + ", ".join(parts) + (", …" if len(value.items) > 4 else "") + "}"
    if isinstance(value, PersRef):
        return f"<persistent {describe(value.pid, depth - 1)}>"
    if isinstance(value, Opaque):
        return f"<{value.what}>"
    return "<?>"


def _inner(value: Value, depth: int) -> str:
    if isinstance(value, Seq):
        parts = [describe(v, depth) for v in value.items[:4]]
        return ", ".join(parts) + (", …" if len(value.items) > 4 else "")
    return describe(value, depth)
