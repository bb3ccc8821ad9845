"""Bounded JSON reader: size and nesting limits, duplicate keys recorded, a typed view or FormatError.

Model packages are full of JSON (configs, tokenizers, shard indexes). Python's `json` keeps the last
of duplicate keys while other parsers (Rust serde in `tokenizers`, JavaScript) may keep the first or
refuse the file, so a duplicate key is a way to show one value to a scanner and another to a loader:
the reader records every duplicate with its JSON pointer instead of silently dropping it.

Nesting is measured before parsing (a linear byte scan), so a nesting bomb is a LimitExceeded and
never a recursion error inside the decoder.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

_BOM = b"\xef\xbb\xbf"
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_OPENERS = (ord("["), ord("{"))


class DuplicateKey(Record):
    """A key that occurs more than once in one object; Python's json keeps the last value."""

    __slots__ = ("count", "key", "pointer")
    pointer: Final[str]  # RFC 6901 pointer of the object that holds the key
    key: Final[str]
    count: Final[int]

    def __init__(self, pointer: str, key: str, count: int) -> None:
        self.pointer = pointer
        self.key = key
        self.count = count


class JsonDocument(Record):
    """A parsed JSON file: its value plus what a plain `json.loads` would have hidden."""

    __slots__ = ("depth", "duplicate_keys", "has_bom", "name", "nonstandard_constants", "root", "size")
    name: Final[str]
    size: Final[int]
    root: Final[Any]
    depth: Final[int]
    duplicate_keys: Final[tuple[DuplicateKey, ...]]
    nonstandard_constants: Final[tuple[str, ...]]  # NaN / Infinity: Python accepts them, strict parsers don't
    has_bom: Final[bool]

    def __init__(
        self,
        name: str,
        size: int,
        root: Any,
        depth: int,
        duplicate_keys: tuple[DuplicateKey, ...] = (),
        nonstandard_constants: tuple[str, ...] = (),
        has_bom: bool = False,
    ) -> None:
        self.name = name
        self.size = size
        self.root = root
        self.depth = depth
        self.duplicate_keys = duplicate_keys
        self.nonstandard_constants = nonstandard_constants
        self.has_bom = has_bom

    @property
    def obj(self) -> dict[str, Any]:
        """The root when it is an object, else an empty dict (most model files are objects)."""
        return self.root if isinstance(self.root, dict) else {}


def load_json(blob: Blob, limits: Limits) -> JsonDocument:
    """Parse a JSON blob within `limits.max_json_bytes` and `limits.max_json_depth`."""
    if blob.size > limits.max_json_bytes:
        raise LimitExceeded(f"JSON of {blob.size} bytes exceeds the limit of {limits.max_json_bytes} bytes")
    return parse_json_bytes(blob.read_all(limits.max_json_bytes), blob.name, limits)


def parse_json_bytes(data: bytes, name: str, limits: Limits) -> JsonDocument:
    """Parse JSON bytes (UTF-8, optional BOM) into a JsonDocument, or raise FormatError/LimitExceeded."""
    if len(data) > limits.max_json_bytes:
        raise LimitExceeded(f"JSON of {len(data)} bytes exceeds the limit of {limits.max_json_bytes} bytes")
    has_bom = data.startswith(_BOM)
    body = data[len(_BOM) :] if has_bom else data
    depth = nesting_depth(body)
    if depth > limits.max_json_depth:
        raise LimitExceeded(f"JSON nests {depth} levels deep (limit {limits.max_json_depth})")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"JSON is not valid UTF-8: {exc.reason}", exc.start + len(data) - len(body)
        ) from None
    collector = _Collector()
    try:
        root = json.loads(text, object_pairs_hook=collector.make_object, parse_constant=collector.constant)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno}); loaders refuse it too",
            len(text[: exc.pos].encode("utf-8", "surrogatepass")) + len(data) - len(body),
        ) from None
    except RecursionError:
        raise LimitExceeded("JSON nests deeper than the decoder's recursion limit") from None
    duplicates = tuple(_locate_duplicates(root, collector.duplicates)) if collector.duplicates else ()
    return JsonDocument(
        name=name,
        size=len(data),
        root=root,
        depth=depth,
        duplicate_keys=duplicates,
        nonstandard_constants=tuple(sorted(set(collector.constants))),
        has_bom=has_bom,
    )


def nesting_depth(data: bytes) -> int:
    """Maximum bracket nesting of JSON bytes, ignoring brackets inside strings (linear, no recursion)."""
    structure = _STRING.sub(b"", _ESCAPE.sub(b"", data).translate(None, _NOT_STRUCTURE))
    structure = structure.replace(b'"', b"")  # an unterminated string: the parser will reject it
    if not structure:
        return 0
    if len(structure) < 200_000:  # small documents: no numpy import on the CLI's start-up path
        steps = (1 if c in _OPENERS else -1 for c in structure)
        return max(itertools.accumulate(steps, initial=0))
    import numpy as np

    codes = np.frombuffer(structure, dtype=np.uint8)
    steps_np = np.where((codes == _OPENERS[0]) | (codes == _OPENERS[1]), 1, -1)
    return max(0, int(np.cumsum(steps_np).max()))


def json_pointer(parts: tuple[str | int, ...]) -> str:
    """RFC 6901 pointer for a path of keys and indexes ("" is the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def pointer_label(parts: tuple[str | int, ...]) -> str:
    """A readable key path for Location.pointer ("auto_map/AutoModel"); the root is "/"."""
    return "/".join(str(p) for p in parts) or "/"


class _Collector:
    """Hooks for json.loads: builds dicts, remembers duplicate keys and non-standard constants."""

    def __init__(self) -> None:
        self.duplicates: dict[int, tuple[dict[str, Any], dict[str, int]]] = {}
        self.constants: list[str] = []

    def make_object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            counts: dict[str, int] = {}
            for key, _value in pairs:
                counts[key] = counts.get(key, 0) + 1
            # Keep the object alive with its id so the pointer walk can find it again.
            self.duplicates[id(obj)] = (obj, {k: n for k, n in counts.items() if n > 1})
        return obj

    def constant(self, name: str) -> float:
        self.constants.append(name)
        return float(name.replace("Infinity", "inf"))


def _locate_duplicates(
    root: Any, found: dict[int, tuple[dict[str, Any], dict[str, int]]]
) -> Iterator[DuplicateKey]:
    """Walk the parsed tree iteratively to give each object with duplicate keys its pointer."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    remaining = len(found)
    while stack and remaining:
        value, path = stack.pop()
        if isinstance(value, dict):
            entry = found.get(id(value))
            if entry is not None and entry[0] is value:
                remaining -= 1
                for key, count in sorted(entry[1].items()):
                    yield DuplicateKey(pointer=json_pointer(path), key=key, count=count)
            stack.extend((v, (*path, k)) for k, v in value.items() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value) if isinstance(v, dict | list))
