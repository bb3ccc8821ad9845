"""safetensors: the 8-byte header length, the JSON header, and the byte layout it declares.

Only the header is read; tensor bytes never are. The reader mirrors what the reference loader
(the `safetensors` Rust crate, 0.8) accepts and rejects, and reports each deviation as an
`Anomaly` with whether that loader would still load the file (`loader_accepts`). The layout walk
is the loader's own: entries sorted by (begin, end) must tile the data area from 0 to its end.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

# The Rust loader's MAX_HEADER_SIZE: larger headers are refused (HeaderTooLarge).
LOADER_MAX_HEADER = 100_000_000
USIZE_MAX = 2**64 - 1
JSON_WHITESPACE = " \t\r\n"

# Every dtype the reference loader (0.8) deserialises, with its width in bits.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,  # float4 e2m1 (MX/NV FP4)
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,  # MX scale factors
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
ENTRY_FIELDS = ("dtype", "shape", "data_offsets")


class SafetensorsFatal(FormatError):
    """The header cannot be read at all; `kind` says why ("header_too_large", "header_invalid")."""

    def __init__(self, kind: str, message: str, offset: int | None = None) -> None:
        super().__init__(message, offset)
        self.kind = kind


class Anomaly(Record):
    """One deviation from what the reference writer produces.

    kind: duplicate_key, bad_entry, unknown_dtype, size_mismatch, bad_offsets, overlap, hole,
    trailing, bad_metadata, padding, extra_fields.
    """

    __slots__ = ("details", "kind", "length", "loader_accepts", "message", "offset", "tensor")
    kind: Final[str]
    message: Final[str]
    loader_accepts: Final[bool]
    offset: Final[int | None]  # absolute file offset when the anomaly is in the data area
    length: Final[int | None]  # byte length of a hole / trailing region
    tensor: Final[str | None]
    details: Final[dict[str, Any]]

    def __init__(
        self,
        kind: str,
        message: str,
        loader_accepts: bool,
        offset: int | None = None,
        length: int | None = None,
        tensor: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.message = message
        self.loader_accepts = loader_accepts
        self.offset = offset
        self.length = length
        self.tensor = tensor
        self.details = {} if details is None else details


class TensorEntry(Record):
    __slots__ = ("begin", "dtype", "end", "name", "shape")
    name: Final[str]
    dtype: Final[str]
    shape: Final[tuple[int, ...]]
    begin: Final[int]  # relative to the data area
    end: Final[int]

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...], begin: int, end: int) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


class SafetensorsView(Record):
    __slots__ = ("anomalies", "data_length", "data_start", "header_length", "metadata", "tensors")
    header_length: Final[int]
    data_start: Final[int]  # absolute offset of the data area (8 + header_length)
    data_length: Final[int]
    tensors: Final[tuple[TensorEntry, ...]]
    metadata: Final[dict[str, str] | None]
    anomalies: Final[tuple[Anomaly, ...]]

    def __init__(
        self,
        header_length: int,
        data_start: int,
        data_length: int,
        tensors: tuple[TensorEntry, ...],
        metadata: dict[str, str] | None,
        anomalies: tuple[Anomaly, ...],
    ) -> None:
        self.header_length = header_length
        self.data_start = data_start
        self.data_length = data_length
        self.tensors = tensors
        self.metadata = metadata
        self.anomalies = anomalies


class _Object(list[tuple[str, Any]]):
    """A JSON object as its ordered key/value pairs, so duplicate keys stay visible."""


def read_safetensors(blob: Blob, limits: Limits) -> SafetensorsView:
    """Parse and validate the header of a safetensors blob (never its tensor data)."""
    if blob.size < 8:
        raise SafetensorsFatal("header_invalid", f"{blob.size} bytes: too short for the 8-byte header length")
    (length,) = struct.unpack("<Q", blob.read_at(0, 8))
    if length > LOADER_MAX_HEADER:
        raise SafetensorsFatal(
            "header_too_large",
            f"header length {length} exceeds the loader's maximum of {LOADER_MAX_HEADER} bytes",
            0,
        )
    if length > limits.max_header_bytes:
        raise LimitExceeded(f"safetensors header of {length} bytes exceeds {limits.max_header_bytes}", 0)
    if 8 + length > blob.size:
        raise SafetensorsFatal(
            "header_invalid", f"header length {length} runs past the end of the {blob.size}-byte file", 0
        )
    raw = blob.read_at(8, length)
    anomalies: list[Anomaly] = []
    top = _parse_json(raw, anomalies)
    tensors, metadata = _entries(top, anomalies, limits)
    data_length = blob.size - 8 - length
    # Holes and trailing bytes are only meaningful when every entry's extent is known.
    complete = not any(a.kind in {"bad_entry", "unknown_dtype"} for a in anomalies)
    anomalies.extend(_layout(tensors, data_length, 8 + length, complete=complete))
    return SafetensorsView(
        header_length=length,
        data_start=8 + length,
        data_length=data_length,
        tensors=tuple(tensors),
        metadata=metadata,
        anomalies=tuple(anomalies),
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(raw: bytes, anomalies: list[Anomaly]) -> _Object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SafetensorsFatal("header_invalid", "header is not UTF-8", 8 + exc.start) from None
    stripped = text.strip(JSON_WHITESPACE)
    if not stripped.startswith("{"):
        raise SafetensorsFatal("header_invalid", "header is not a JSON object", 8)
    try:
        top = json.loads(text, object_pairs_hook=_Object, parse_constant=_reject_constant)
    except RecursionError:
        raise LimitExceeded("safetensors header JSON nests too deeply", 8) from None
    except ValueError as exc:  # JSONDecodeError, huge integers, NaN/Infinity
        raise SafetensorsFatal("header_invalid", f"header is not valid JSON: {str(exc)[:160]}", 8) from None
    padding = text[len(text.rstrip(JSON_WHITESPACE)) :]
    leading = text[: len(text) - len(text.lstrip(JSON_WHITESPACE))]
    if leading or padding.strip(" "):
        anomalies.append(
            Anomaly(
                "padding",
                "header is padded with whitespace other than trailing spaces (the writer pads with spaces)",
                loader_accepts=True,
                details={"leading": len(leading), "trailing_non_space": len(padding.replace(" ", ""))},
            )
        )
    if not isinstance(top, _Object):
        raise SafetensorsFatal("header_invalid", "header is not a JSON object", 8)
    return top


def _duplicates(pairs: _Object) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for key, _ in pairs:
        if key in seen:
            dupes.append(key)
        seen.add(key)
    return dupes


def _entries(
    top: _Object, anomalies: list[Anomaly], limits: Limits
) -> tuple[list[TensorEntry], dict[str, str] | None]:
    if len(top) > limits.max_count:
        raise LimitExceeded(f"{len(top)} header entries exceed {limits.max_count}", 8)
    for key in _duplicates(top):
        accepted = key != "__metadata__"  # tensor names: the loader keeps the last silently
        anomalies.append(
            Anomaly(
                "duplicate_key",
                f"header declares {key!r} more than once"
                + ("; the loader keeps the last, other parsers may keep the first" if accepted else ""),
                loader_accepts=accepted,
                tensor=None if key == "__metadata__" else key,
                details={"key": key},
            )
        )
    metadata: dict[str, str] | None = None
    last: dict[str, Any] = {}
    for key, value in top:
        last[key] = value  # what the loader sees: the last occurrence wins
    tensors: list[TensorEntry] = []
    for key, value in last.items():
        if key == "__metadata__":
            metadata = _metadata(value, anomalies)
            continue
        entry = _entry(key, value, anomalies)
        if entry is not None:
            tensors.append(entry)
    return tensors, metadata


def _metadata(value: Any, anomalies: list[Anomaly]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, _Object) or any(not isinstance(v, str) for _, v in value):
        bad = type(value).__name__ if not isinstance(value, _Object) else "non-string values"
        anomalies.append(
            Anomaly("bad_metadata", f"__metadata__ must map strings to strings ({bad})", loader_accepts=False)
        )
        return None
    for key in _duplicates(value):
        anomalies.append(
            Anomaly(
                "duplicate_key",
                f"__metadata__ declares {key!r} more than once; the loader keeps the last",
                loader_accepts=True,
                details={"key": key, "in": "__metadata__"},
            )
        )
    return dict(value)


def _is_usize(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= USIZE_MAX


def _entry(name: str, value: Any, anomalies: list[Anomaly]) -> TensorEntry | None:
    def bad(message: str) -> None:
        anomalies.append(
            Anomaly("bad_entry", f"tensor {name!r}: {message}", loader_accepts=False, tensor=name)
        )

    if not isinstance(value, _Object):
        bad("entry is not an object")
        return None
    fields = dict(value)
    dupes = _duplicates(value)
    if dupes:
        bad(f"field {dupes[0]!r} appears more than once")
        return None
    missing = [f for f in ENTRY_FIELDS if f not in fields]
    if missing:
        bad(f"missing {', '.join(missing)}")
        return None
    extra = sorted(set(fields) - set(ENTRY_FIELDS))
    if extra:
        anomalies.append(
            Anomaly(
                "extra_fields",
                f"tensor {name!r} carries fields the format does not define: {', '.join(extra[:5])}",
                loader_accepts=True,
                tensor=name,
                details={"fields": extra[:20]},
            )
        )
    dtype, shape, offsets = fields["dtype"], fields["shape"], fields["data_offsets"]
    if not isinstance(dtype, str):
        bad("dtype is not a string")
        return None
    if not isinstance(shape, list) or not all(_is_usize(d) for d in shape):
        bad("shape is not a list of non-negative integers")
        return None
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_usize(o) for o in offsets):
        bad("data_offsets is not a pair of non-negative integers")
        return None
    if dtype not in DTYPE_BITS:
        anomalies.append(
            Anomaly(
                "unknown_dtype", f"tensor {name!r} has unknown dtype {dtype[:40]!r}", loader_accepts=False,
                tensor=name, details={"dtype": dtype[:40]},
            )
        )
        return None
    entry = TensorEntry(name, dtype, tuple(shape), offsets[0], offsets[1])
    _check_size(entry, anomalies)
    return entry


def _check_size(entry: TensorEntry, anomalies: list[Anomaly]) -> None:
    elements = entry.elements
    bits = elements * DTYPE_BITS[entry.dtype]
    declared = entry.end - entry.begin
    problem = None
    if elements > USIZE_MAX or bits > USIZE_MAX:
        problem = f"shape {list(entry.shape)[:8]} overflows a 64-bit size"
    elif bits % 8:
        problem = f"{elements} x {entry.dtype} does not end on a byte boundary"
    elif entry.end >= entry.begin and declared != bits // 8:
        problem = f"{elements} x {entry.dtype} is {bits // 8} bytes but its offsets span {declared}"
    if problem:
        anomalies.append(
            Anomaly(
                "size_mismatch", f"tensor {entry.name!r}: {problem}", loader_accepts=False, tensor=entry.name,
                details={"dtype": entry.dtype, "shape": list(entry.shape)[:16], "span": declared},
            )
        )


def _layout(
    tensors: list[TensorEntry], data_length: int, data_start: int, *, complete: bool
) -> list[Anomaly]:
    """The loader's walk: sorted by (begin, end), each tensor must start where the previous ended."""
    anomalies: list[Anomaly] = []
    inside: list[TensorEntry] = []
    for entry in tensors:
        if entry.end < entry.begin or entry.end > data_length:
            where = "ends before it begins" if entry.end < entry.begin else "runs past the end of the file"
            anomalies.append(
                Anomaly(
                    "bad_offsets",
                    f"tensor {entry.name!r} data [{entry.begin}, {entry.end}) {where} "
                    f"(data area is {data_length} bytes)",
                    loader_accepts=False,
                    offset=data_start + min(entry.begin, data_length),
                    tensor=entry.name,
                )
            )
        else:
            inside.append(entry)
    complete = complete and len(inside) == len(tensors)
    inside.sort(key=lambda e: (e.begin, e.end))
    covered = 0
    previous: TensorEntry | None = None
    for entry in inside:
        if entry.begin > covered and complete:
            anomalies.append(
                Anomaly(
                    "hole",
                    f"{entry.begin - covered} bytes before tensor {entry.name!r} belong to no tensor",
                    loader_accepts=False, offset=data_start + covered, length=entry.begin - covered,
                    tensor=entry.name,
                )
            )
        elif entry.begin < covered and entry.end > entry.begin:
            other = previous.name if previous else "?"
            anomalies.append(
                Anomaly(
                    "overlap",
                    f"tensor {entry.name!r} shares bytes [{entry.begin}, {min(entry.end, covered)}) "
                    f"with {other!r}",
                    loader_accepts=False, offset=data_start + entry.begin, tensor=entry.name,
                    details={"other": other},
                )
            )
        elif entry.begin < covered:
            anomalies.append(
                Anomaly(
                    "bad_offsets",
                    f"empty tensor {entry.name!r} sits at {entry.begin}, inside another tensor's bytes",
                    loader_accepts=False, offset=data_start + entry.begin, tensor=entry.name,
                )
            )
        if entry.end >= covered:
            covered, previous = entry.end, entry
    if covered < data_length and complete:
        anomalies.append(
            Anomaly(
                "trailing",
                f"{data_length - covered} bytes after the last tensor belong to no tensor",
                loader_accepts=False, offset=data_start + covered, length=data_length - covered,
            )
        )
    return anomalies
