"""What reading one pickle stream yields: the events the symbolic VM records, as plain data.

`StreamView` is the reader's output contract: every import, invocation, BUILD and mutation with
its site, plus how the stream ended. The checks judge views; they never see opcodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelcert.formats.pickle_values import Call, Global, Lit, PersRef, Site, Unresolved, Value
from modelcert.limits import Limits

PICKLE_MAGIC_PROTOCOLS = (2, 3, 4, 5)


@dataclass(frozen=True)
class BuildEvent:
    """BUILD: `target.__setstate__(state)` or an update of its attributes."""

    target: Value
    state: Value
    site: Site


@dataclass(frozen=True)
class Mutation:
    """APPEND/SETITEM/ADDITEMS on something that is not a literal container: a method call on it."""

    target: Value
    kind: str
    site: Site


@dataclass(frozen=True)
class Anomaly:
    """Something CPython's own pickler never writes (duplicate PROTO, memo overwrite, leftovers)."""

    code: str
    message: str
    site: Site


@dataclass(frozen=True)
class Embedded:
    """A bytes literal that starts like a pickle stream (a candidate nested payload)."""

    value: Lit
    site: Site


@dataclass(frozen=True)
class SkippedRegion:
    """Raw bytes the format places inside the stream (joblib array data), skipped by length."""

    offset: int
    length: int
    what: str


@dataclass
class Budget:
    """Opcode and stream budget shared by every stream of one file."""

    limits: Limits
    opcodes: int = 0


@dataclass
class StreamView:
    """What one pickle stream does, as far as it could be read."""

    number: int
    start: int
    kind: str = "stream"  # stream | joblib-object-array | joblib-array-as-opcodes
    end: int = 0
    protocol: int | None = None
    op_count: int = 0
    root: Value | None = None
    globals: list[Global | Unresolved] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    builds: list[BuildEvent] = field(default_factory=list)
    mutations: list[Mutation] = field(default_factory=list)
    persids: list[PersRef] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    embedded: list[Embedded] = field(default_factory=list)
    skipped: list[SkippedRegion] = field(default_factory=list)
    substreams: list[StreamView] = field(default_factory=list)
    end_kind: str = "stop"  # stop | truncated | invalid | limit
    end_message: str = ""
    end_offset: int | None = None

    @property
    def complete(self) -> bool:
        return self.end_kind == "stop"
