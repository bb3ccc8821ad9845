"""A lenient zip reader: central directory + local headers, parsed with bounds, never through `zipfile`.

`zipfile` refuses inputs that PyTorch's reader (miniz via caffe2's PyTorchStreamReader) loads: local
names that differ from central ones (CVE-2025-1944), "encrypted" flag bits (CVE-2025-1945), bad CRCs
(CVE-2025-10156). A scanner built on `zipfile` fails exactly where an attacker wants it to, so this
reader reads what miniz reads — the central directory at its recorded offset, each member's data
right after the local header that offset points to, with the central sizes — and reports every
place where the file disagrees with itself instead of refusing it.

The view is inert: names, offsets, sizes and a list of anomalies. Member bytes are read later by
`zip_data.open_member` (a window for stored members, bounded decompression for the others).
"""

from __future__ import annotations

import struct

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.zip_extent import descriptor_length, hidden_gaps, overlaps
from modelcert.formats.zip_model import (
    CENTRAL_LEN,
    CENTRAL_SIG,
    EOCD_LEN,
    EOCD_SIG,
    FLAG_DESCRIPTOR,
    FLAG_UTF8,
    LOCAL_LEN,
    LOCAL_SIG,
    MAX_COMMENT,
    MAX_REPORTED_ANOMALIES,
    REFUSED_FLAGS,
    ZIP64_EOCD_LEN,
    ZIP64_EOCD_SIG,
    ZIP64_LOCATOR_LEN,
    ZIP64_LOCATOR_SIG,
    ZipAnomaly,
    ZipEntry,
    ZipView,
)
from modelcert.limits import Limits
from modelcert.records import MutableRecord

__all__ = ["REFUSED_FLAGS", "ZipAnomaly", "ZipEntry", "ZipView", "decode_name", "read_zip"]


class _Directory(MutableRecord):
    __slots__ = (
        "cd_end", "cd_offset", "cd_size", "comment", "entries_total", "eocd_end", "eocd_offset", "zip64_span",
    )  # fmt: skip
    entries_total: int
    cd_size: int
    cd_offset: int
    cd_end: int  # where the (zip64) end record starts: the central directory should end here
    eocd_offset: int
    eocd_end: int
    comment: bytes
    zip64_span: tuple[int, int] | None

    def __init__(
        self,
        entries_total: int,
        cd_size: int,
        cd_offset: int,
        cd_end: int,
        eocd_offset: int,
        eocd_end: int,
        comment: bytes,
        zip64_span: tuple[int, int] | None = None,
    ) -> None:
        self.entries_total = entries_total
        self.cd_size = cd_size
        self.cd_offset = cd_offset
        self.cd_end = cd_end
        self.eocd_offset = eocd_offset
        self.eocd_end = eocd_end
        self.comment = comment
        self.zip64_span = zip64_span


class _Builder(MutableRecord):
    __slots__ = ("anomalies", "blob", "error", "limits")
    blob: Blob
    limits: Limits
    anomalies: list[ZipAnomaly]
    error: FormatError | None

    def __init__(
        self,
        blob: Blob,
        limits: Limits,
        anomalies: list[ZipAnomaly] | None = None,
        error: FormatError | None = None,
    ) -> None:
        self.blob = blob
        self.limits = limits
        self.anomalies = [] if anomalies is None else anomalies
        self.error = error

    def anomaly(self, kind: str, message: str, offset: int | None = None, member: str | None = None) -> None:
        if len(self.anomalies) < MAX_REPORTED_ANOMALIES:
            self.anomalies.append(ZipAnomaly(kind, message, offset, member))
        elif len(self.anomalies) == MAX_REPORTED_ANOMALIES:
            self.anomalies.append(ZipAnomaly("more", "further anomalies not listed"))


def read_zip(blob: Blob, limits: Limits) -> ZipView:
    """Parse the zip structure of `blob`; raise FormatError only when no member can be located at all."""
    b = _Builder(blob, limits)
    directory = _find_directory(b)
    if directory is None:
        entries = _walk_local_headers(b)
        if not entries:
            raise FormatError("no end-of-central-directory record and no local file header at offset 0")
        b.error = b.error or FormatError(
            f"no end-of-central-directory record: {len(entries)} member(s) found by walking local headers"
        )
        return _finish(b, entries, None)
    entries = _read_central_directories(b, directory)
    return _finish(b, entries, directory)


def _finish(b: _Builder, entries: list[ZipEntry], directory: _Directory | None) -> ZipView:
    fixed: list[tuple[int, int]] = []  # the directory and end records
    cd_span = None
    if directory is not None:
        cd_span = (directory.cd_end - directory.cd_size, directory.cd_end)
        fixed = [cd_span, (directory.eocd_offset, directory.eocd_end)]
        if directory.zip64_span:
            fixed.append(directory.zip64_span)
    for anomaly in overlaps(entries, cd_span if directory and directory.cd_size else None):
        b.anomaly(anomaly.kind, anomaly.message, anomaly.offset, anomaly.member)
    gaps = hidden_gaps(b.blob, entries, fixed)
    for start, end in gaps:
        where = "before the first member" if start == 0 else "that no member accounts for"
        b.anomaly("gap", f"{end - start} bytes at offset {start} {where}", start)
    return ZipView(
        entries=tuple(entries),
        has_central_directory=directory is not None,
        zip64=directory is not None and directory.zip64_span is not None,
        comment=directory.comment if directory else b"",
        anomalies=tuple(b.anomalies),
        gaps=tuple(gaps),
        error=b.error,
    )


# --- end of central directory -------------------------------------------------------------------


def _find_directory(b: _Builder) -> _Directory | None:
    size = b.blob.size
    if size < EOCD_LEN:
        return None
    window = min(size, EOCD_LEN + MAX_COMMENT)
    tail = b.blob.tail(window)
    base = size - len(tail)
    pos = tail.rfind(EOCD_SIG)
    while pos >= 0 and pos + EOCD_LEN > len(tail):
        pos = tail.rfind(EOCD_SIG, 0, pos)
    if pos < 0:
        return None
    (_disk, _cd_disk, _n_disk, total, cd_size, cd_offset, comment_len) = struct.unpack_from(
        "<HHHHIIH", tail, pos + 4
    )
    eocd_offset = base + pos
    comment = tail[pos + EOCD_LEN : pos + EOCD_LEN + comment_len]
    if len(comment) < comment_len:
        b.anomaly("eocd", f"archive comment claims {comment_len} bytes but the file ends first", eocd_offset)
    directory = _Directory(
        entries_total=total,
        cd_size=cd_size,
        cd_offset=cd_offset,
        cd_end=eocd_offset,
        eocd_offset=eocd_offset,
        eocd_end=eocd_offset + EOCD_LEN + len(comment),
        comment=comment,
    )
    _apply_zip64(b, directory)
    return directory


def _apply_zip64(b: _Builder, d: _Directory) -> None:
    locator_at = d.eocd_offset - ZIP64_LOCATOR_LEN
    if locator_at < 0:
        return
    locator = b.blob.read_at(locator_at, ZIP64_LOCATOR_LEN)
    if not locator.startswith(ZIP64_LOCATOR_SIG):
        return
    (recorded,) = struct.unpack_from("<Q", locator, 8)
    # Like zipfile, look right before the locator first; the recorded offset ignores prepended data.
    for candidate in (locator_at - ZIP64_EOCD_LEN, recorded):
        if 0 <= candidate <= b.blob.size - ZIP64_EOCD_LEN:
            record = b.blob.read_at(candidate, ZIP64_EOCD_LEN)
            if record.startswith(ZIP64_EOCD_SIG):
                (_, _, _, _, _, _, total, cd_size, cd_offset) = struct.unpack_from("<QHHIIQQQQ", record, 4)
                d.entries_total, d.cd_size, d.cd_offset = total, cd_size, cd_offset
                d.cd_end = candidate
                d.zip64_span = (candidate, d.eocd_offset)
                return
    b.anomaly("eocd", "zip64 locator points at no zip64 end record", locator_at)


# --- central directory ----------------------------------------------------------------------------


def _read_central_directories(b: _Builder, d: _Directory) -> list[ZipEntry]:
    """Read the directory where miniz reads it and, when data was prepended, where zipfile reads it."""
    shift = d.cd_end - d.cd_size - d.cd_offset
    if shift < 0:
        raise FormatError(
            f"central directory ({d.cd_size} bytes at {d.cd_offset}) overruns its end record", d.cd_offset
        )
    parsed: list[list[ZipEntry]] = []
    for base in (0, shift) if shift else (0,):
        entries = _read_central_directory(b, d, base)
        if entries is not None:
            parsed.append(entries)
    if shift:
        b.anomaly(
            "prefix",
            f"{shift} bytes precede the archive: zipfile shifts every offset by them, PyTorch's reader does "
            "not, so the two may read different members",
            0,
        )
    if not parsed:
        raise FormatError("no central directory at the offset the end record gives", d.cd_offset)
    if len(parsed) == 2:
        b.anomaly("prefix", "two different central directories: one per reading of the offsets", d.cd_offset)
    merged: dict[tuple[str, int], ZipEntry] = {}
    for entries in parsed:
        for entry in entries:
            merged.setdefault((entry.name, entry.header_offset), entry)
    result = list(merged.values())
    if len(result) > b.limits.max_archive_members:
        raise LimitExceeded(f"zip has {len(result)} members (limit {b.limits.max_archive_members})")
    return [_reindex(e, i) for i, e in enumerate(result)]


def _reindex(entry: ZipEntry, index: int) -> ZipEntry:
    if entry.index == index:
        return entry
    return entry.replace(index=index)


def _read_central_directory(b: _Builder, d: _Directory, base: int) -> list[ZipEntry] | None:
    start = d.cd_offset + base
    if d.cd_size > b.limits.max_header_bytes:
        raise LimitExceeded(f"central directory of {d.cd_size} bytes (limit {b.limits.max_header_bytes})")
    if start + d.cd_size > b.blob.size:
        return None
    data = b.blob.read_at(start, d.cd_size)
    if d.cd_size and not data.startswith(CENTRAL_SIG):
        return None
    entries: list[ZipEntry] = []
    pos = 0
    while pos + CENTRAL_LEN <= len(data) and data[pos : pos + 4] == CENTRAL_SIG:
        if len(entries) >= b.limits.max_archive_members:
            raise LimitExceeded(f"zip has more than {b.limits.max_archive_members} members")
        entry, pos = _central_entry(b, data, pos, cd_start=start, base=base, index=len(entries))
        if entry is None:
            break
        entries.append(entry)
    if pos < len(data):
        unparsed = len(data) - pos
        b.anomaly("directory", f"{unparsed} unparsed bytes at the end of the central directory", start + pos)
    if len(entries) != d.entries_total and d.entries_total not in (0xFFFF, 0xFFFFFFFF):
        b.anomaly(
            "directory",
            f"end record counts {d.entries_total} members, the central directory lists {len(entries)}",
            d.eocd_offset,
        )
    return entries


def _central_entry(
    b: _Builder, data: bytes, pos: int, *, cd_start: int, base: int, index: int
) -> tuple[ZipEntry | None, int]:
    (made_by, _needed, flags, method, _time, _date, crc, csize, usize, n_len, e_len, c_len, _disk, _internal,
     external, offset) = struct.unpack_from("<HHHHHHIIIHHHHHII", data, pos + 4)
    end = pos + CENTRAL_LEN + n_len + e_len + c_len
    if end > len(data):
        b.anomaly("directory", "a central directory record runs past the directory's end", cd_start + pos)
        return None, len(data)
    raw_name = data[pos + CENTRAL_LEN : pos + CENTRAL_LEN + n_len]
    extra = data[pos + CENTRAL_LEN + n_len : pos + CENTRAL_LEN + n_len + e_len]
    name = decode_name(raw_name, flags)
    usize, csize, offset = _zip64_values(b, extra, (usize, csize, offset), name)
    entry = _with_local_header(
        b,
        ZipEntry(
            index=index, name=name, local_name=None, flags=flags, local_flags=flags, method=method, crc=crc,
            compressed_size=csize, uncompressed_size=usize, header_offset=offset + base, data_offset=None,
            external_attr=external, create_system=made_by >> 8,
        ),
    )
    return entry, end


def _zip64_values(
    b: _Builder, extra: bytes, sizes: tuple[int, int, int], name: str
) -> tuple[int, int, int]:
    usize, csize, offset = sizes
    wanted = [usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, offset == 0xFFFFFFFF]
    if not any(wanted):
        return usize, csize, offset
    for field_id, body in iter_extra_fields(extra):
        if field_id != 0x0001:
            continue
        values = [usize, csize, offset]
        cursor = 0
        for i, want in enumerate(wanted):
            if want:
                if cursor + 8 > len(body):
                    b.anomaly("zip64", "zip64 extra field is shorter than its fields", member=name)
                    break
                (values[i],) = struct.unpack_from("<Q", body, cursor)
                cursor += 8
        return values[0], values[1], values[2]
    b.anomaly("zip64", "sizes marked as zip64 but no zip64 extra field", member=name)
    return usize, csize, offset


def iter_extra_fields(extra: bytes) -> list[tuple[int, bytes]]:
    fields: list[tuple[int, bytes]] = []
    pos = 0
    while pos + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, pos)
        fields.append((field_id, extra[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return fields


def decode_name(raw: bytes, flags: int) -> str:
    """Names as zipfile decodes them: UTF-8 when flagged, else cp437 (every byte maps to a character)."""
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", errors="replace")
    return raw.decode("cp437")


# --- local headers --------------------------------------------------------------------------------


def _with_local_header(b: _Builder, entry: ZipEntry) -> ZipEntry:
    off = entry.header_offset
    header = b.blob.read_at(off, LOCAL_LEN) if 0 <= off < b.blob.size else b""
    if len(header) < LOCAL_LEN or not header.startswith(LOCAL_SIG):
        return entry.replace(problem=f"no local file header at offset {off}")
    (_ver, l_flags, l_method, _t, _d, l_crc, l_csize, l_usize, n_len, e_len) = struct.unpack_from(
        "<HHHHHIIIHH", header, 4
    )
    local_name = decode_name(b.blob.read_at(off + LOCAL_LEN, n_len), l_flags)
    data_offset = off + LOCAL_LEN + n_len + e_len
    entry = entry.replace(local_name=local_name, local_flags=l_flags, data_offset=data_offset)
    if data_offset + entry.compressed_size > b.blob.size:
        return entry.replace(
            problem=f"data ({entry.compressed_size} bytes at {data_offset}) runs past the end of the file",
        )
    disagreements = []
    if l_method != entry.method:
        disagreements.append(f"method {l_method} vs {entry.method}")
    if not l_flags & FLAG_DESCRIPTOR:
        for label, local, central in (
            ("crc", l_crc, entry.crc),
            ("compressed size", l_csize, entry.compressed_size),
            ("size", l_usize, entry.uncompressed_size),
        ):
            if local not in (central, 0xFFFFFFFF):
                disagreements.append(f"{label} {local} vs {central}")
    if disagreements:
        b.anomaly(
            "local-fields",
            "local header disagrees with the central directory: " + ", ".join(disagreements),
            off,
            entry.name,
        )
    return entry


def _walk_local_headers(b: _Builder) -> list[ZipEntry]:
    """Without a central directory, follow local headers from offset 0 as streaming unzippers do."""
    entries: list[ZipEntry] = []
    off = 0
    while off + LOCAL_LEN <= b.blob.size:
        header = b.blob.read_at(off, LOCAL_LEN)
        if not header.startswith(LOCAL_SIG):
            break
        if len(entries) >= b.limits.max_archive_members:
            raise LimitExceeded(f"zip has more than {b.limits.max_archive_members} members")
        (_ver, flags, method, _t, _d, crc, csize, usize, n_len, e_len) = struct.unpack_from(
            "<HHHHHIIIHH", header, 4
        )
        name = decode_name(b.blob.read_at(off + LOCAL_LEN, n_len), flags)
        data_offset = off + LOCAL_LEN + n_len + e_len
        entry = ZipEntry(
            index=len(entries), name=name, local_name=name, flags=flags, local_flags=flags, method=method,
            crc=crc, compressed_size=csize, uncompressed_size=usize, header_offset=off,
            data_offset=data_offset,
        )
        if flags & FLAG_DESCRIPTOR and csize == 0:
            b.error = FormatError(f"{name}: size only in a data descriptor; cannot walk further", off)
            break
        if data_offset + csize > b.blob.size:
            entries.append(entry.replace(problem="data runs past the end of the file"))
            break
        entries.append(entry)
        off = data_offset + csize + descriptor_length(b.blob, entry)
    return entries


