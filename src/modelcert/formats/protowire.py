"""A small, bounded decoder of the protobuf wire format, reading from a Blob.

Schema-less: it yields (field number, wire type, value or payload span) and never copies a
length-delimited payload unless asked, so multi-gigabyte messages (ONNX weights, TF graphs) are
walked with positioned reads. Typed readers (onnx_model, savedmodel) pick the fields they need.

Semantics follow the protobuf runtime where a reader could be fooled by a difference: a field
whose wire type does not match the schema is an *unknown* field (the runtime ignores it, so
callers must too), groups are skipped, a truncated or malformed stream is a FormatError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob, BytesBlob
from modelcert.limits import Limits
from modelcert.records import Record

VARINT = 0
I64 = 1
LEN = 2
SGROUP = 3
EGROUP = 4
I32 = 5

_MAX_VARINT_BYTES = 10
_MAX_FIELD_NUMBER = (1 << 29) - 1
_CHUNK = 64 * 1024  # small: reads resume after skipped tensor payloads, so big chunks are mostly wasted


class Field(Record):
    """One decoded field. For LEN fields `value` is the payload length and `offset` its start."""

    __slots__ = ("number", "offset", "value", "wire_type")
    number: Final[int]
    wire_type: Final[int]
    value: Final[int]
    offset: Final[int]

    def __init__(self, number: int, wire_type: int, value: int, offset: int) -> None:
        self.number = number
        self.wire_type = wire_type
        self.value = value
        self.offset = offset

    @property
    def end(self) -> int:
        return self.offset + self.value if self.wire_type == LEN else self.offset

    def is_len(self, number: int) -> bool:
        return self.number == number and self.wire_type == LEN

    def is_varint(self, number: int) -> bool:
        return self.number == number and self.wire_type == VARINT


class ProtoReader:
    """Decodes fields of messages inside one blob; every count and nesting level is bounded."""

    def __init__(self, blob: Blob, *, max_fields: int, max_depth: int, max_string_bytes: int) -> None:
        self.blob = blob
        self.max_depth = max_depth
        self.max_string_bytes = max_string_bytes
        self._max_fields = max_fields
        self.fields_read = 0
        if isinstance(blob, BytesBlob):
            self._buf: bytes = blob.data
            self._buf_start = 0
            self._whole = True
        else:
            self._buf = b""
            self._buf_start = 0
            self._whole = False

    @classmethod
    def with_limits(cls, blob: Blob, limits: Limits) -> ProtoReader:
        return cls(
            blob,
            max_fields=limits.max_count,
            max_depth=limits.max_graph_depth,
            max_string_bytes=limits.max_string_bytes,
        )

    @property
    def size(self) -> int:
        return self.blob.size

    def fields(self, start: int, end: int) -> Iterator[Field]:
        """The fields of the message occupying [start, end)."""
        if start < 0 or end > self.blob.size or start > end:
            raise FormatError(f"message span {start}..{end} outside the data", start)
        pos = start
        while pos < end:
            tag, pos = self._varint(pos, end)
            number, wire_type = tag >> 3, tag & 7
            if number == 0 or number > _MAX_FIELD_NUMBER:
                raise FormatError(f"invalid field number {number}", pos)
            self._count(pos)
            if wire_type == VARINT:
                value, after = self._varint(pos, end)
                yield Field(number, wire_type, value, pos)
                pos = after
            elif wire_type == LEN:
                length, payload = self._varint(pos, end)
                if length > end - payload:
                    raise FormatError(f"field {number}: length {length} runs past its message", pos)
                yield Field(number, wire_type, length, payload)
                pos = payload + length
            elif wire_type in (I64, I32):
                width = 8 if wire_type == I64 else 4
                if pos + width > end:
                    raise FormatError(f"field {number}: fixed-width value truncated", pos)
                yield Field(number, wire_type, int.from_bytes(self._window(pos, width), "little"), pos)
                pos += width
            elif wire_type == SGROUP:
                pos = self._skip_group(number, pos, end)  # deprecated groups: unknown, skipped
            elif wire_type == EGROUP:
                raise FormatError(f"end-group for field {number} without a start", pos)
            else:
                raise FormatError(f"invalid wire type {wire_type}", pos)

    def all_fields(self) -> Iterator[Field]:
        return self.fields(0, self.blob.size)

    def read_bytes(self, field: Field, limit: int | None = None) -> bytes:
        """The payload of a LEN field, refusing anything larger than `limit`."""
        cap = self.max_string_bytes if limit is None else limit
        if field.value > cap:
            raise LimitExceeded(
                f"field {field.number}: {field.value} bytes exceeds the limit of {cap}", field.offset
            )
        return self._window(field.offset, field.value)

    def read_text(self, field: Field, limit: int | None = None) -> str:
        """A string field as text; undecodable bytes are kept visible as replacement characters."""
        return self.read_bytes(field, limit).decode("utf-8", errors="replace")

    def child(self, data: bytes) -> ProtoReader:
        """A reader over bytes embedded in a field (e.g. a serialized message inside a string)."""
        inner = ProtoReader(
            BytesBlob(data, self.blob.name),
            max_fields=self._max_fields,
            max_depth=self.max_depth,
            max_string_bytes=self.max_string_bytes,
        )
        inner.fields_read = self.fields_read
        return inner

    def check_depth(self, depth: int, what: str) -> None:
        if depth > self.max_depth:
            raise LimitExceeded(f"{what} nested deeper than {self.max_depth} levels")

    # -- internals -------------------------------------------------------------------------

    def _count(self, pos: int) -> None:
        self.fields_read += 1
        if self.fields_read > self._max_fields:
            raise LimitExceeded(f"more than {self._max_fields} protobuf fields", pos)

    def _window(self, pos: int, length: int) -> bytes:
        if self._whole:
            return self._buf[pos : pos + length]
        rel = pos - self._buf_start
        if rel < 0 or rel + length > len(self._buf):
            if length > _CHUNK:
                return self.blob.read_at(pos, length)
            self._buf = self.blob.read_at(pos, _CHUNK)
            self._buf_start = pos
            rel = 0
        return self._buf[rel : rel + length]

    def _varint(self, pos: int, end: int) -> tuple[int, int]:
        if pos >= end:
            raise FormatError("truncated varint", pos)
        data = self._window(pos, min(_MAX_VARINT_BYTES, end - pos))
        first = data[0]
        if first < 0x80:
            return first, pos + 1
        result = 0
        for i, byte in enumerate(data):
            result |= (byte & 0x7F) << (7 * i)
            if byte < 0x80:
                return result & 0xFFFFFFFFFFFFFFFF, pos + i + 1
        raise FormatError("varint longer than 10 bytes or truncated", pos)

    def _skip_group(self, number: int, pos: int, end: int) -> int:
        open_groups = [number]
        while pos < end:
            tag, pos = self._varint(pos, end)
            field_number, wire_type = tag >> 3, tag & 7
            self._count(pos)
            if wire_type == EGROUP:
                if field_number != open_groups[-1]:
                    raise FormatError("mismatched end-group", pos)
                open_groups.pop()
                if not open_groups:
                    return pos
            elif wire_type == SGROUP:
                open_groups.append(field_number)
                self.check_depth(len(open_groups), "protobuf groups")
            elif wire_type == VARINT:
                _, pos = self._varint(pos, end)
            elif wire_type == LEN:
                length, pos = self._varint(pos, end)
                if length > end - pos:
                    raise FormatError("group member runs past its message", pos)
                pos += length
            elif wire_type in (I64, I32):
                pos += 8 if wire_type == I64 else 4
            else:
                raise FormatError(f"invalid wire type {wire_type}", pos)
        raise FormatError(f"group {number} not closed", pos)


def signed64(value: int) -> int:
    """Reinterpret a decoded varint as the int64 the schema declares."""
    return value - (1 << 64) if value >= 1 << 63 else value
