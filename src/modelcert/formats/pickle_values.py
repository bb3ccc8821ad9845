"""Symbolic values of the pickle VM: what would be on the unpickler's stack, without building it.

Nothing here is ever called or imported: a `Global` is the *name* a pickle asks `find_class` for,
a `Call` is the record of an invocation the unpickler would perform. Values have identity
semantics (memo GET returns the same object), so the graph can be shared and even cyclic;
walkers must track visited ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from modelcert.formats.pickle_ops import BigBytes, Py2String


@dataclass(frozen=True)
class Site:
    """Where an opcode is: byte offset in the file, its index in its stream, its name, the stream."""

    offset: int
    index: int
    opcode: str
    stream: int


class Value:
    """Base of everything the symbolic stack holds."""

    __slots__ = ()


@dataclass(eq=False, slots=True)
class Lit(Value):
    """A literal the pickle spells out (None, bool, int, float, str, bytes, ...)."""

    value: bool | int | float | str | bytes | Py2String | BigBytes | None


@dataclass(eq=False, slots=True)
class Seq(Value):
    """A list, tuple, set or frozenset built by opcodes."""

    kind: str
    items: list[Value] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class DictV(Value):
    """A dict built by opcodes, as ordered key/value pairs."""

    items: list[tuple[Value, Value]] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Global(Value):
    """A name resolved by find_class: module + (possibly dotted) qualified name."""

    module: str
    name: str
    site: Site
    via: str  # the opcode that imported it
    invoked: bool = False

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False, slots=True)
class Unresolved(Value):
    """An import whose target cannot be known statically (computed operands, extension codes)."""

    reason: str
    site: Site
    operands: tuple[Value, ...] = ()
    invoked: bool = False


@dataclass(eq=False, slots=True)
class Call(Value):
    """The result of an invocation: REDUCE, NEWOBJ(_EX), OBJ or INST on `func`."""

    func: Value
    args: Value
    kwargs: Value | None
    kind: str
    site: Site


@dataclass(eq=False, slots=True)
class PersRef(Value):
    """A persistent reference resolved by the loader's persistent_load (torch storages)."""

    pid: Value
    site: Site


@dataclass(eq=False, slots=True)
class Opaque(Value):
    """A value the reader knows exists but does not model (out-of-band buffer, joblib array)."""

    what: str


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
