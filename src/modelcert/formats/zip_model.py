"""The zip reader's data model: record signatures and flags, entries, anomalies and the parsed view."""

from __future__ import annotations

from typing import Final

from modelcert.errors import FormatError
from modelcert.records import Record

LOCAL_SIG = b"PK\x03\x04"
CENTRAL_SIG = b"PK\x01\x02"
EOCD_SIG = b"PK\x05\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
DESCRIPTOR_SIG = b"PK\x07\x08"

LOCAL_LEN = 30
CENTRAL_LEN = 46
EOCD_LEN = 22
ZIP64_LOCATOR_LEN = 20
ZIP64_EOCD_LEN = 56
MAX_COMMENT = 0xFFFF

FLAG_ENCRYPTED = 0x1
FLAG_DESCRIPTOR = 0x8
FLAG_PATCHED = 0x20
FLAG_STRONG_ENCRYPTION = 0x40
FLAG_UTF8 = 0x800
# Bits that make `zipfile` refuse a member while miniz (PyTorch) reads its data as plain (CVE-2025-1945).
REFUSED_FLAGS = FLAG_ENCRYPTED | FLAG_PATCHED | FLAG_STRONG_ENCRYPTION

MAX_REPORTED_ANOMALIES = 50


class ZipAnomaly(Record):
    """Somewhere the file disagrees with itself or with the zip spec. `kind` is a stable key."""

    __slots__ = ("kind", "member", "message", "offset")
    kind: Final[str]
    message: Final[str]
    offset: Final[int | None]
    member: Final[str | None]

    def __init__(self, kind: str, message: str, offset: int | None = None, member: str | None = None) -> None:
        self.kind = kind
        self.message = message
        self.offset = offset
        self.member = member


class ZipEntry(Record):
    """One member as the central directory (or, without one, its local header) describes it."""

    __slots__ = (
        "compressed_size", "crc", "create_system", "data_offset", "external_attr", "flags", "header_offset",
        "index", "local_flags", "local_name", "method", "name", "problem", "uncompressed_size",
    )  # fmt: skip
    index: Final[int]
    name: Final[str]  # the central-directory name: what PyTorch and zipfile look members up by
    local_name: Final[str | None]  # the local header's name, None when the local header is unreadable
    flags: Final[int]
    local_flags: Final[int]
    method: Final[int]
    crc: Final[int]
    compressed_size: Final[int]
    uncompressed_size: Final[int]
    header_offset: Final[int]  # absolute offset of the local header in the blob
    data_offset: Final[int | None]  # absolute offset of the member data; None when unreadable
    external_attr: Final[int]
    create_system: Final[int]
    problem: Final[str | None]  # why the data cannot be read (outside the file, no local header)

    def __init__(
        self,
        index: int,
        name: str,
        local_name: str | None,
        flags: int,
        local_flags: int,
        method: int,
        crc: int,
        compressed_size: int,
        uncompressed_size: int,
        header_offset: int,
        data_offset: int | None,
        external_attr: int = 0,
        create_system: int = 0,
        problem: str | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.local_name = local_name
        self.flags = flags
        self.local_flags = local_flags
        self.method = method
        self.crc = crc
        self.compressed_size = compressed_size
        self.uncompressed_size = uncompressed_size
        self.header_offset = header_offset
        self.data_offset = data_offset
        self.external_attr = external_attr
        self.create_system = create_system
        self.problem = problem

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") and self.uncompressed_size == 0

    @property
    def unix_mode(self) -> int:
        return (self.external_attr >> 16) & 0xFFFF

    @property
    def data_end(self) -> int | None:
        return None if self.data_offset is None else self.data_offset + self.compressed_size


class ZipView(Record):
    """A parsed zip: members, layout facts and anomalies; `error` is raised after members are analysed."""

    __slots__ = ("anomalies", "comment", "entries", "error", "gaps", "has_central_directory", "zip64")
    entries: Final[tuple[ZipEntry, ...]]
    has_central_directory: Final[bool]
    zip64: Final[bool]
    comment: Final[bytes]
    anomalies: Final[tuple[ZipAnomaly, ...]]
    gaps: Final[tuple[tuple[int, int], ...]]  # [start, end) spans of non-zero bytes no entry accounts for
    error: Final[FormatError | None]

    def __init__(
        self,
        entries: tuple[ZipEntry, ...],
        has_central_directory: bool,
        zip64: bool,
        comment: bytes,
        anomalies: tuple[ZipAnomaly, ...],
        gaps: tuple[tuple[int, int], ...],
        error: FormatError | None = None,
    ) -> None:
        self.entries = entries
        self.has_central_directory = has_central_directory
        self.zip64 = zip64
        self.comment = comment
        self.anomalies = anomalies
        self.gaps = gaps
        self.error = error
