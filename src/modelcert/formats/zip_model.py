"""The zip reader's data model: record signatures and flags, entries, anomalies and the parsed view."""

from __future__ import annotations

from dataclasses import dataclass

from modelcert.errors import FormatError

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


@dataclass(frozen=True)
class ZipAnomaly:
    """Somewhere the file disagrees with itself or with the zip spec. `kind` is a stable key."""

    kind: str
    message: str
    offset: int | None = None
    member: str | None = None


@dataclass(frozen=True)
class ZipEntry:
    """One member as the central directory (or, without one, its local header) describes it."""

    index: int
    name: str  # the central-directory name: what PyTorch and zipfile look members up by
    local_name: str | None  # the local header's name, None when the local header is unreadable
    flags: int
    local_flags: int
    method: int
    crc: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int  # absolute offset of the local header in the blob
    data_offset: int | None  # absolute offset of the member data; None when unreadable
    external_attr: int = 0
    create_system: int = 0
    problem: str | None = None  # why the data cannot be read (outside the file, no local header)

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/") and self.uncompressed_size == 0

    @property
    def unix_mode(self) -> int:
        return (self.external_attr >> 16) & 0xFFFF

    @property
    def data_end(self) -> int | None:
        return None if self.data_offset is None else self.data_offset + self.compressed_size


@dataclass(frozen=True)
class ZipView:
    """A parsed zip: members, layout facts and anomalies; `error` is raised after members are analysed."""

    entries: tuple[ZipEntry, ...]
    has_central_directory: bool
    zip64: bool
    comment: bytes
    anomalies: tuple[ZipAnomaly, ...]
    gaps: tuple[tuple[int, int], ...]  # [start, end) spans holding non-zero bytes no entry accounts for
    error: FormatError | None = None
