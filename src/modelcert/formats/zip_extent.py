"""Which bytes of a zip each entry, directory and end record accounts for: overlaps and hidden gaps."""

from __future__ import annotations

from modelcert.formats.blob import Blob
from modelcert.formats.zip_model import DESCRIPTOR_SIG, FLAG_DESCRIPTOR, ZipAnomaly, ZipEntry

# Gaps of unlisted bytes up to this size are read to tell zero padding from hidden content.
GAP_PROBE_BYTES = 1024 * 1024


def descriptor_length(blob: Blob, entry: ZipEntry) -> int:
    """Bytes of the data descriptor after an entry's data (0 when the entry has none).

    The signature is optional and the sizes are 4 or 8 bytes wide (some writers use 8 for small
    members too); the layout whose sizes match the entry wins.
    """
    end = entry.data_end
    if end is None or not entry.local_flags & FLAG_DESCRIPTOR:
        return 0
    raw = blob.read_at(end, 24)
    base = 4 if raw.startswith(DESCRIPTOR_SIG) else 0
    csize, usize = entry.compressed_size, entry.uncompressed_size
    for width in (4, 8):
        if max(csize, usize) >> (8 * width):
            continue
        expected = csize.to_bytes(width, "little") + usize.to_bytes(width, "little")
        if raw[base + 4 : base + 4 + 2 * width] == expected:
            return base + 4 + 2 * width
    wide = csize >= 0xFFFFFFFF or usize >= 0xFFFFFFFF
    return min(base + (20 if wide else 12), max(0, blob.size - end))


def overlaps(entries: list[ZipEntry], cd_span: tuple[int, int] | None) -> list[ZipAnomaly]:
    """Entries (and the central directory) whose byte ranges intersect."""
    spans: list[tuple[int, int, str]] = [
        (e.header_offset, e.data_end, e.name) for e in entries if e.data_end is not None
    ]
    if cd_span is not None:
        spans.append((*cd_span, "<central directory>"))
    spans.sort()
    found: list[ZipAnomaly] = []
    reach_end, reach_name, reach_start = -1, "", -1
    for start, end, name in spans:
        if start < reach_end:
            what = "share a local header" if start == reach_start else "overlap"
            message = f"{reach_name!r} and {name!r} {what}: the same bytes are read as two members"
            found.append(ZipAnomaly("overlap", message, start, name))
        if end > reach_end:
            reach_end, reach_name, reach_start = end, name, start
    return found


def hidden_gaps(blob: Blob, entries: list[ZipEntry], fixed: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) spans that no entry, descriptor or directory record covers and that hold
    something other than zero padding."""
    covered = list(fixed)
    for e in entries:
        if e.data_end is not None:
            covered.append((e.header_offset, e.data_end + descriptor_length(blob, e)))
    covered.sort()
    gaps: list[tuple[int, int]] = []
    cursor = 0
    for start, end in covered:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < blob.size:
        gaps.append((cursor, blob.size))
    return [g for g in gaps if not _all_zero(blob, *g)]


def _all_zero(blob: Blob, start: int, end: int) -> bool:
    if end - start > GAP_PROBE_BYTES:
        return False
    return not blob.read_at(start, end - start).strip(b"\x00")
