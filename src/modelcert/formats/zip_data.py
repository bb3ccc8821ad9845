"""The bytes of one zip member: a window for stored data, bounded decompression for the rest."""

from __future__ import annotations

from typing import Final

from modelcert.errors import FormatError
from modelcert.formats.blob import Blob
from modelcert.formats.decompress import (
    ZIP_METHOD_NAMES,
    ZIP_STORED,
    DecompressingReader,
    crc_of,
    spool,
    zip_codec,
)
from modelcert.formats.zip import ZipEntry
from modelcert.limits import Limits
from modelcert.records import Record


class MemberData(Record):
    """A member's content and, when it was computed while reading, its actual CRC-32."""

    __slots__ = ("blob", "compressed", "crc")
    blob: Final[Blob]
    crc: Final[int | None]
    compressed: Final[bool]

    def __init__(self, blob: Blob, crc: int | None, compressed: bool) -> None:
        self.blob = blob
        self.crc = crc
        self.compressed = compressed


def method_supported(method: int) -> bool:
    return method == ZIP_STORED or zip_codec(method) is not None


def method_name(method: int) -> str:
    return ZIP_METHOD_NAMES.get(method, f"method {method}")


def raw_window(container: Blob, entry: ZipEntry) -> Blob:
    """The member's bytes as stored in the file (compressed if it is), without copying."""
    if entry.data_offset is None:
        raise FormatError(f"{entry.name}: {entry.problem or 'data not located'}", entry.header_offset)
    return container.window(entry.data_offset, entry.compressed_size, entry.name)


def open_member(container: Blob, entry: ZipEntry, limits: Limits, max_output: int) -> MemberData:
    """The member's content. Stored members are windows (no copy, CRC not computed: that reads all of
    it); compressed ones are inflated into a SpooledBlob of at most `max_output` bytes."""
    window = raw_window(container, entry)
    if entry.method == ZIP_STORED:
        return MemberData(window, None, compressed=False)
    codec = zip_codec(entry.method)
    if codec is None:
        raise FormatError(f"{entry.name}: unsupported compression ({method_name(entry.method)})")
    reader = DecompressingReader(window, codec, max_output)
    blob, crc = spool(reader, entry.name, limits)
    return MemberData(blob, crc, compressed=True)


def stored_crc(data: MemberData, limits: Limits) -> int:
    """The CRC-32 of the content, computing it for stored members on demand."""
    if data.crc is not None:
        return data.crc
    return crc_of(data.blob, limits.read_chunk_bytes)
