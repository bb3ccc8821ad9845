"""What reading one pickle stream yields: the events the symbolic VM records, as plain data.

`StreamView` is the reader's output contract: every import, invocation, BUILD and mutation with
its site, plus how the stream ended. The checks judge views; they never see opcodes.
"""

from __future__ import annotations

from typing import Final

from modelcert.formats.pickle_values import Call, Global, Lit, PersRef, Site, Unresolved, Value
from modelcert.limits import Limits
from modelcert.records import MutableRecord, Record

PICKLE_MAGIC_PROTOCOLS = (2, 3, 4, 5)


class BuildEvent(Record):
    """BUILD: `target.__setstate__(state)` or an update of its attributes."""

    __slots__ = ("site", "state", "target")
    target: Final[Value]
    state: Final[Value]
    site: Final[Site]

    def __init__(self, target: Value, state: Value, site: Site) -> None:
        self.target = target
        self.state = state
        self.site = site


class Mutation(Record):
    """APPEND/SETITEM/ADDITEMS on something that is not a literal container: a method call on it."""

    __slots__ = ("kind", "site", "target")
    target: Final[Value]
    kind: Final[str]
    site: Final[Site]

    def __init__(self, target: Value, kind: str, site: Site) -> None:
        self.target = target
        self.kind = kind
        self.site = site


class Anomaly(Record):
    """Something CPython's own pickler never writes (duplicate PROTO, memo overwrite, leftovers)."""

    __slots__ = ("code", "message", "site")
    code: Final[str]
    message: Final[str]
    site: Final[Site]

    def __init__(self, code: str, message: str, site: Site) -> None:
        self.code = code
        self.message = message
        self.site = site


class Embedded(Record):
    """A bytes literal that starts like a pickle stream (a candidate nested payload)."""

    __slots__ = ("site", "value")
    value: Final[Lit]
    site: Final[Site]

    def __init__(self, value: Lit, site: Site) -> None:
        self.value = value
        self.site = site


class SkippedRegion(Record):
    """Raw bytes the format places inside the stream (joblib array data), skipped by length."""

    __slots__ = ("length", "offset", "what")
    offset: Final[int]
    length: Final[int]
    what: Final[str]

    def __init__(self, offset: int, length: int, what: str) -> None:
        self.offset = offset
        self.length = length
        self.what = what


class Budget(MutableRecord):
    """Opcode and stream budget shared by every stream of one file."""

    __slots__ = ("limits", "opcodes")
    limits: Limits
    opcodes: int

    def __init__(self, limits: Limits, opcodes: int = 0) -> None:
        self.limits = limits
        self.opcodes = opcodes


class StreamView(MutableRecord):
    """What one pickle stream does, as far as it could be read."""

    __slots__ = (
        "anomalies", "builds", "calls", "embedded", "end", "end_kind", "end_message", "end_offset",
        "globals", "kind", "mutations", "number", "op_count", "persids", "protocol", "root", "skipped",
        "start", "substreams",
    )  # fmt: skip
    number: int
    start: int
    kind: str  # stream | joblib-object-array | joblib-array-as-opcodes
    end: int
    protocol: int | None
    op_count: int
    root: Value | None
    globals: list[Global | Unresolved]
    calls: list[Call]
    builds: list[BuildEvent]
    mutations: list[Mutation]
    persids: list[PersRef]
    anomalies: list[Anomaly]
    embedded: list[Embedded]
    skipped: list[SkippedRegion]
    substreams: list[StreamView]
    end_kind: str  # stop | truncated | invalid | limit
    end_message: str
    end_offset: int | None

    def __init__(
        self,
        number: int,
        start: int,
        kind: str = "stream",
        end: int = 0,
        protocol: int | None = None,
        op_count: int = 0,
        root: Value | None = None,
        globals: list[Global | Unresolved] | None = None,
        calls: list[Call] | None = None,
        builds: list[BuildEvent] | None = None,
        mutations: list[Mutation] | None = None,
        persids: list[PersRef] | None = None,
        anomalies: list[Anomaly] | None = None,
        embedded: list[Embedded] | None = None,
        skipped: list[SkippedRegion] | None = None,
        substreams: list[StreamView] | None = None,
        end_kind: str = "stop",
        end_message: str = "",
        end_offset: int | None = None,
    ) -> None:
        self.number = number
        self.start = start
        self.kind = kind
        self.end = end
        self.protocol = protocol
        self.op_count = op_count
        self.root = root
        self.globals = [] if globals is None else globals
        self.calls = [] if calls is None else calls
        self.builds = [] if builds is None else builds
        self.mutations = [] if mutations is None else mutations
        self.persids = [] if persids is None else persids
        self.anomalies = [] if anomalies is None else anomalies
        self.embedded = [] if embedded is None else embedded
        self.skipped = [] if skipped is None else skipped
        self.substreams = [] if substreams is None else substreams
        self.end_kind = end_kind
        self.end_message = end_message
        self.end_offset = end_offset

    @property
    def complete(self) -> bool:
        return self.end_kind == "stop"
