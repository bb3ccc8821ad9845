"""GGUF (v1-v3, little- and big-endian): header, metadata key/values and tensor infos.

A bounded streaming reader: every count and length is checked against the bytes that remain
(and against `Limits`) *before* anything is allocated; this is the class of llama.cpp parser bugs
(n_kv, n_tensors, string/array lengths, n_dims, element counts; CVE-2024-25664..25668,
CVE-2024-21802/21825/21836/23496/23605, CVE-2025-53630, CVE-2026-27940). Tensor data is never read.
A structural failure stops the walk but keeps what was read before it (metadata, and so the chat
template, comes before the tensor infos), reported as `GGUFHeader.failure`.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from modelcert.errors import LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

GGUF_MAGIC = b"GGUF"
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_NAME = 64  # GGML_MAX_NAME: llama.cpp refuses longer tensor names
DEFAULT_ALIGNMENT = 32
LOADER_MAX_ELEMENTS = 1 << 30  # GGUF_MAX_ARRAY_ELEMENTS / GGUF_MAX_STRING_LENGTH in gguf.cpp
ARRAY_PREVIEW = 8

# Metadata value types: code -> (name, struct format or None for string/array).
VALUE_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("u8", "B"), 1: ("i8", "b"), 2: ("u16", "H"), 3: ("i16", "h"), 4: ("u32", "I"), 5: ("i32", "i"),
    6: ("f32", "f"), 7: ("bool", "?"), 8: ("str", None), 9: ("arr", None), 10: ("u64", "Q"),
    11: ("i64", "q"), 12: ("f64", "d"),
}
TYPE_STRING, TYPE_ARRAY, TYPE_U32 = 8, 9, 4

# ggml tensor types: code -> (name, elements per block, bytes per block), as in ggml.c type_traits.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
    # Repacked Q4_0 / IQ4_NL layouts written by llama.cpp in 2024 and since removed: old files have them.
    31: ("Q4_0_4_4", 32, 18), 32: ("Q4_0_4_8", 32, 18), 33: ("Q4_0_8_8", 32, 18),
    36: ("IQ4_NL_4_4", 32, 18), 37: ("IQ4_NL_4_8", 32, 18), 38: ("IQ4_NL_8_8", 32, 18),
}


class Failure(Record):
    """Why the walk stopped. kind: truncated, magic, version, count, string_length, array_length,
    value_type, n_dims, nesting. `value` is the offending number when there is one."""

    __slots__ = ("kind", "message", "offset", "value")
    kind: Final[str]
    message: Final[str]
    offset: Final[int]
    value: Final[int | None]

    def __init__(self, kind: str, message: str, offset: int, value: int | None = None) -> None:
        self.kind = kind
        self.message = message
        self.offset = offset
        self.value = value


class ArrayValue(Record):
    __slots__ = ("item_type", "length", "preview")
    item_type: Final[int]
    length: Final[int]
    preview: Final[tuple[Any, ...]]  # the first items (nested arrays as ArrayValue)

    def __init__(self, item_type: int, length: int, preview: tuple[Any, ...]) -> None:
        self.item_type = item_type
        self.length = length
        self.preview = preview


class KeyValue(Record):
    __slots__ = ("key", "offset", "value", "value_type")
    key: Final[str]
    value_type: Final[int]
    value: Final[Any]  # int/float/bool/str, or ArrayValue
    offset: Final[int]  # where the key starts

    def __init__(self, key: str, value_type: int, value: Any, offset: int) -> None:
        self.key = key
        self.value_type = value_type
        self.value = value
        self.offset = offset


class TensorInfo(Record):
    __slots__ = ("dims", "ggml_type", "info_offset", "name", "offset")
    name: Final[str]
    dims: Final[tuple[int, ...]]  # as stored, fastest-varying first (ne[0], ne[1], ...)
    ggml_type: Final[int]
    offset: Final[int]  # relative to the data section
    info_offset: Final[int]

    def __init__(
        self,
        name: str,
        dims: tuple[int, ...],
        ggml_type: int,
        offset: int,
        info_offset: int,
    ) -> None:
        self.name = name
        self.dims = dims
        self.ggml_type = ggml_type
        self.offset = offset
        self.info_offset = info_offset


class GGUFHeader(Record):
    __slots__ = ("byte_order", "failure", "infos_end", "kvs", "n_kv", "n_tensors", "tensors", "version")
    version: Final[int]
    byte_order: Final[str]  # "<" or ">"
    n_tensors: Final[int]
    n_kv: Final[int]
    kvs: Final[tuple[KeyValue, ...]]
    tensors: Final[tuple[TensorInfo, ...]]
    infos_end: Final[int]  # offset just after the last tensor info (valid when failure is None)
    failure: Final[Failure | None]

    def __init__(
        self,
        version: int,
        byte_order: str,
        n_tensors: int,
        n_kv: int,
        kvs: tuple[KeyValue, ...],
        tensors: tuple[TensorInfo, ...],
        infos_end: int,
        failure: Failure | None,
    ) -> None:
        self.version = version
        self.byte_order = byte_order
        self.n_tensors = n_tensors
        self.n_kv = n_kv
        self.kvs = kvs
        self.tensors = tensors
        self.infos_end = infos_end
        self.failure = failure

    def get(self, key: str) -> KeyValue | None:
        for kv in self.kvs:
            if kv.key == key:
                return kv
        return None


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class _Cursor:
    """Sequential reads over a blob through a window, refusing to read past the end."""

    WINDOW = 1 << 20

    def __init__(self, blob: Blob, limits: Limits) -> None:
        self.blob = blob
        self.pos = 0
        self.order = "<"
        self.limit = limits.max_header_bytes
        self._buf = b""
        self._buf_start = 0

    @property
    def remaining(self) -> int:
        return self.blob.size - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.remaining:
            raise _Stop(Failure("truncated", f"file ends inside {what}", self.pos))
        if self.pos + n > self.limit:
            raise LimitExceeded(f"GGUF header larger than {self.limit} bytes", self.pos)
        start = self.pos - self._buf_start
        if start < 0 or start + n > len(self._buf):
            self._buf = self.blob.read_at(self.pos, max(n, self.WINDOW))
            self._buf_start, start = self.pos, 0
        self.pos += n
        return self._buf[start : start + n]

    def skip(self, n: int, what: str) -> None:
        if n > self.remaining:
            raise _Stop(Failure("truncated", f"file ends inside {what}", self.pos))
        if self.pos + n > self.limit:
            raise LimitExceeded(f"GGUF header larger than {self.limit} bytes", self.pos)
        self.pos += n

    def unpack(self, fmt: str, what: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack(self.order + fmt, self.take(size, what))[0]


def read_gguf(blob: Blob, limits: Limits) -> GGUFHeader:
    """Read the GGUF header, metadata and tensor infos (bounded; never the tensor data)."""
    cur = _Cursor(blob, limits)
    version = n_tensors = n_kv = 0
    kvs: list[KeyValue] = []
    tensors: list[TensorInfo] = []
    try:
        magic = cur.take(4, "the magic")
        if magic not in (GGUF_MAGIC, GGUF_MAGIC[::-1]):
            raise _Stop(Failure("magic", f"magic {magic!r} is not GGUF", 0))
        version = cur.unpack("I", "the version")
        if magic == GGUF_MAGIC[::-1] or (version & 0xFFFF == 0 and version):
            cur.order = ">"  # a big-endian file (version 3 reads as 0x03000000 here)
            version = struct.unpack(">I", struct.pack("<I", version))[0]
        if version not in (1, 2, 3):
            raise _Stop(Failure("version", f"GGUF version {version} is not 1, 2 or 3", 4, version))
        wide = "Q" if version >= 2 else "I"  # v1 used 32-bit counts and lengths
        n_tensors = cur.unpack(wide, "the tensor count")
        n_kv = cur.unpack(wide, "the metadata count")
        len_size = struct.calcsize(wide)
        _check_count(cur, n_kv, len_size + 4 + 1, "metadata key/value count", limits)
        _check_count(cur, n_tensors, len_size + 4 + 4 + 8, "tensor count", limits)
        for _ in range(n_kv):
            kvs.append(_read_kv(cur, wide, limits))
        for _ in range(n_tensors):
            tensors.append(_read_tensor_info(cur, wide, limits))
    except _Stop as stop:
        failure: Failure | None = stop.failure
    else:
        failure = None
    return GGUFHeader(version, cur.order, n_tensors, n_kv, tuple(kvs), tuple(tensors), cur.pos, failure)


def _check_count(cur: _Cursor, count: int, min_bytes: int, what: str, limits: Limits) -> None:
    """A declared count must fit in what is left of the file before anything is allocated for it."""
    if count * min_bytes > cur.remaining:
        raise _Stop(
            Failure(
                "count",
                f"{what} {count} needs at least {count * min_bytes} bytes; {cur.remaining} remain",
                cur.pos,
                count,
            )
        )
    if count > limits.max_count:
        raise LimitExceeded(f"{what} {count} exceeds the limit of {limits.max_count}", cur.pos)


def _read_string(cur: _Cursor, wide: str, limits: Limits, what: str) -> str:
    at = cur.pos
    length = cur.unpack(wide, f"the length of {what}")
    if length > cur.remaining:
        raise _Stop(
            Failure("string_length", f"{what} declares {length} bytes; {cur.remaining} remain", at, length)
        )
    if length > limits.max_string_bytes:
        raise LimitExceeded(f"{what} of {length} bytes exceeds {limits.max_string_bytes}", at)
    return cur.take(length, what).decode("utf-8", "replace")


def _read_value(cur: _Cursor, value_type: int, wide: str, limits: Limits, depth: int) -> Any:
    if value_type == TYPE_STRING:
        return _read_string(cur, wide, limits, "a string value")
    if value_type == TYPE_ARRAY:
        return _read_array(cur, wide, limits, depth + 1)
    spec = VALUE_TYPES.get(value_type)
    if spec is None:
        raise _Stop(
            Failure("value_type", f"unknown metadata value type {value_type}", cur.pos - 4, value_type)
        )
    fmt = spec[1]
    assert fmt is not None
    return cur.unpack(fmt, f"a {spec[0]} value")


def _read_array(cur: _Cursor, wide: str, limits: Limits, depth: int) -> ArrayValue:
    if depth > limits.max_json_depth:
        raise _Stop(Failure("nesting", f"arrays nested {depth} deep", cur.pos, depth))
    at = cur.pos
    item_type = cur.unpack("I", "an array item type")
    length = cur.unpack(wide, "an array length")
    spec = VALUE_TYPES.get(item_type)
    if spec is None:
        raise _Stop(Failure("value_type", f"unknown array item type {item_type}", at, item_type))
    fmt = spec[1]
    # Smallest encoding of one item: a string is at least its length field, an array its type + length.
    len_size = struct.calcsize(wide)
    item_size = struct.calcsize(fmt) if fmt else (len_size if item_type == TYPE_STRING else 4 + len_size)
    if length * item_size > cur.remaining:
        raise _Stop(
            Failure(
                "array_length",
                f"array of {length} {spec[0]} items needs at least {length * item_size} bytes; "
                f"{cur.remaining} remain",
                at,
                length,
            )
        )
    if length > limits.max_count:
        raise LimitExceeded(f"array of {length} items exceeds the limit of {limits.max_count}", at)
    preview: list[Any] = []
    if fmt is not None:
        shown = min(length, ARRAY_PREVIEW)
        data = cur.take(shown * item_size, "an array")
        preview = list(struct.unpack(f"{cur.order}{shown}{fmt}", data))
        cur.skip((length - shown) * item_size, "an array")
    else:
        for index in range(length):
            item = _read_value(cur, item_type, wide, limits, depth)
            if index < ARRAY_PREVIEW:
                preview.append(item)
    return ArrayValue(item_type, length, tuple(preview))


def _read_kv(cur: _Cursor, wide: str, limits: Limits) -> KeyValue:
    at = cur.pos
    key = _read_string(cur, wide, limits, "a metadata key")
    value_type = cur.unpack("I", "a metadata value type")
    return KeyValue(key, value_type, _read_value(cur, value_type, wide, limits, 0), at)


def _read_tensor_info(cur: _Cursor, wide: str, limits: Limits) -> TensorInfo:
    at = cur.pos
    name = _read_string(cur, wide, limits, "a tensor name")
    n_dims = cur.unpack("I", "a tensor dimension count")
    if n_dims > MAX_DIMS:
        raise _Stop(
            Failure("n_dims", f"tensor {name[:80]!r} declares {n_dims} dimensions (max {MAX_DIMS})", at,
                    n_dims)
        )
    dims = tuple(cur.unpack(wide, "a tensor dimension") for _ in range(n_dims))
    ggml_type = cur.unpack("I", "a tensor type")
    offset = cur.unpack("Q", "a tensor offset")
    return TensorInfo(name, dims, ggml_type, offset, at)


# -- layout ---------------------------------------------------------------------------------------

PADDING_SAMPLE = 64 * 1024  # bytes of each alignment-padding region checked for zeros
MAX_PADDING_CHECKS = 1024
INT64_MAX = 2**63 - 1


class Issue(Record):
    """A semantic problem in a parsed header. kind: duplicate_key, empty_key, alignment, name,
    duplicate_tensor, unknown_type, dims_overflow, block_mismatch, misaligned, out_of_bounds,
    offset_overflow, overlap, out_of_order, gap, trailing, padding_data."""

    __slots__ = ("kind", "length", "message", "offset", "tensor", "value")
    kind: Final[str]
    message: Final[str]
    offset: Final[int | None]
    length: Final[int | None]  # for hidden regions (gap, trailing)
    tensor: Final[str | None]
    value: Final[int | None]

    def __init__(
        self,
        kind: str,
        message: str,
        offset: int | None = None,
        length: int | None = None,
        tensor: str | None = None,
        value: int | None = None,
    ) -> None:
        self.kind = kind
        self.message = message
        self.offset = offset
        self.length = length
        self.tensor = tensor
        self.value = value


class Layout(Record):
    __slots__ = ("alignment", "data_end", "data_start", "issues")
    alignment: Final[int]
    data_start: Final[int]
    data_end: Final[int]  # end of the last tensor, padded to the alignment (absolute)
    issues: Final[tuple[Issue, ...]]

    def __init__(self, alignment: int, data_start: int, data_end: int, issues: tuple[Issue, ...]) -> None:
        self.alignment = alignment
        self.data_start = data_start
        self.data_end = data_end
        self.issues = issues


def tensor_nbytes(info: TensorInfo) -> int | None:
    """Bytes of tensor data as ggml computes them; None for an unknown type."""
    spec = GGML_TYPES.get(info.ggml_type)
    if spec is None:
        return None
    _, block, size = spec
    elements = 1
    for dim in info.dims:
        elements *= dim
    return elements // block * size


def _pad(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def analyse_layout(header: GGUFHeader, blob: Blob) -> Layout:
    """Keys, alignment, tensor shapes and where the tensor bytes lie, checked the way llama.cpp does."""
    walk = _LayoutWalk(header, blob)
    return walk.run()


class _LayoutWalk:
    def __init__(self, header: GGUFHeader, blob: Blob) -> None:
        self.header = header
        self.blob = blob
        self.issues: list[Issue] = []
        self.alignment = DEFAULT_ALIGNMENT
        self.data_start = header.infos_end

    def add(self, kind: str, message: str, offset: int | None = None, **extra: Any) -> None:
        self.issues.append(Issue(kind, message, offset, **extra))

    def run(self) -> Layout:
        seen: set[str] = set()
        for kv in self.header.kvs:
            if not kv.key:
                self.add("empty_key", "a metadata key is empty", kv.offset)
            elif kv.key in seen:
                self.add("duplicate_key", f"metadata key {kv.key[:80]!r} appears twice", kv.offset)
            seen.add(kv.key)
        self.alignment = self._alignment()
        if self.header.tensors:
            self.data_start = _pad(self.header.infos_end, self.alignment)
        sized = self._shapes()
        data_end, placed = self._places(sized)
        # Gaps and trailing bytes only mean something when every tensor's extent is known.
        self._padding_and_trailing(sized, data_end, complete=placed == len(self.header.tensors))
        return Layout(self.alignment, self.data_start, data_end, tuple(self.issues))

    def _alignment(self) -> int:
        kv = self.header.get("general.alignment")
        if kv is None:
            return DEFAULT_ALIGNMENT
        value = kv.value
        if kv.value_type != TYPE_U32 or not isinstance(value, int) or value <= 0 or value & (value - 1):
            self.add(
                "alignment", f"general.alignment must be a power-of-two u32 (got {str(value)[:40]})",
                kv.offset, value=value if isinstance(value, int) else None,
            )
            return DEFAULT_ALIGNMENT
        return value

    def _shapes(self) -> list[tuple[TensorInfo, int]]:
        """Tensors with a computable byte size; every shape/type problem becomes an issue."""
        sized: list[tuple[TensorInfo, int]] = []
        names: set[str] = set()
        for info in self.header.tensors:
            name, at = info.name[:80], info.info_offset
            if len(info.name.encode()) >= MAX_NAME:
                self.add("name", f"tensor name of {len(info.name)} characters (max {MAX_NAME - 1})", at,
                         tensor=name)
            if info.name in names:
                self.add("duplicate_tensor", f"tensor {name!r} declared twice", at, tensor=name)
            names.add(info.name)
            spec = GGML_TYPES.get(info.ggml_type)
            if spec is None:
                self.add("unknown_type", f"tensor {name!r} has unknown ggml type {info.ggml_type}", at,
                         tensor=name, value=info.ggml_type)
                continue
            elements = 1
            for dim in info.dims:
                elements *= dim
            if any(dim > INT64_MAX for dim in info.dims) or elements > INT64_MAX:
                self.add("dims_overflow", f"tensor {name!r} shape {list(info.dims)} overflows 64-bit "
                         "element counts", at, tensor=name)
                continue
            if info.dims and info.dims[0] % spec[1]:
                self.add("block_mismatch", f"tensor {name!r}: row of {info.dims[0]} is not a multiple of the "
                         f"{spec[0]} block size {spec[1]}", at, tensor=name)
                continue
            sized.append((info, elements // spec[1] * spec[2]))
        return sized

    def _places(self, sized: list[tuple[TensorInfo, int]]) -> tuple[int, int]:
        """Alignment and bounds of each tensor, then overlaps and gaps in offset order.

        Returns the padded end of the data section and how many tensors lie inside the file.
        """
        placed: list[tuple[TensorInfo, int]] = []
        start, size, align = self.data_start, self.blob.size, self.alignment
        for info, nbytes in sized:
            name, at = info.name[:80], info.info_offset
            if info.offset % align:
                self.add("misaligned", f"tensor {name!r} offset {info.offset} is not a multiple of {align}",
                         at, tensor=name, value=info.offset)
            end = start + info.offset + nbytes
            if info.offset > INT64_MAX or end > 2**64 - 1:
                self.add("offset_overflow", f"tensor {name!r} offset {info.offset} + {nbytes} bytes "
                         "overflows 64-bit file offsets", at, tensor=name, value=info.offset)
            elif end > size:
                self.add("out_of_bounds", f"tensor {name!r} data [{start + info.offset}, {end}) runs past "
                         f"the end of the {size}-byte file", at, tensor=name, value=info.offset)
            else:
                placed.append((info, nbytes))
        covered = 0
        ordered = sorted(placed, key=lambda p: (p[0].offset, p[1]))
        complete = len(placed) == len(self.header.tensors)
        for info, nbytes in ordered:
            expected = _pad(covered, align)
            if info.offset > expected and complete:
                self.add("gap", f"{info.offset - expected} bytes before tensor {info.name[:80]!r} belong to "
                         "no tensor", start + expected, length=info.offset - expected, tensor=info.name[:80])
            elif info.offset < covered and nbytes:
                self.add("overlap", f"tensor {info.name[:80]!r} shares bytes with another tensor",
                         start + info.offset, tensor=info.name[:80])
            covered = max(covered, info.offset + nbytes)
        if [p[0].offset for p in placed] != [p[0].offset for p in ordered]:
            self.add("out_of_order", "tensor data is not stored in tensor-info order (llama.cpp refuses it)")
        return _pad(start + covered, align), len(placed)

    def _padding_and_trailing(
        self, sized: list[tuple[TensorInfo, int]], data_end: int, *, complete: bool
    ) -> None:
        """Alignment padding must be zeros, and nothing may follow the (padded) data section."""
        align, start = self.alignment, self.data_start
        regions = [(self.header.infos_end, start)]
        regions.extend((start + i.offset + n, start + _pad(i.offset + n, align)) for i, n in sized)
        if not self.header.tensors:
            regions.append((self.header.infos_end, data_end))
        for begin, stop in regions[:MAX_PADDING_CHECKS]:
            limit = min(stop, self.blob.size)
            if begin >= limit:
                continue
            if self.blob.read_at(begin, min(limit - begin, PADDING_SAMPLE)).strip(b"\x00"):
                self.add("padding_data", f"alignment padding at {begin} holds non-zero bytes", begin,
                         length=limit - begin)
        if complete and self.blob.size > data_end:
            self.add("trailing", f"{self.blob.size - data_end} bytes follow the data section", data_end,
                     length=self.blob.size - data_end)
