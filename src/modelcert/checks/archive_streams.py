"""Analyzers for tar, single-stream compressors (gzip, bzip2, xz, zstd, lz4) and 7z.

A compressed stream is decompressed on the fly: when it holds a tar, the tar is read straight from
the decompressing stream (members spooled one at a time), otherwise the whole content becomes one
member (`model.pkl.gz` → `model.pkl`) that the scanner detects and analyses. Nested archives recurse
through `ctx.scan_member`, where the scanner enforces `max_nesting`.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import IO

from modelcert.checks.base import AnalysisContext, Analyzer
from modelcert.checks.container_checks import (
    DecompressionBomb,
    EncryptedArchive,
    HiddenArchiveData,
    MemberAudit,
)
from modelcert.checks.core import LimitHit
from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.archive import (
    TAR_BLOCK,
    ArchiveMember,
    SevenZipReader,
    TarReader,
    copy_member,
    looks_like_tar,
)
from modelcert.formats.blob import Blob
from modelcert.formats.decompress import DecompressingReader, output_budget, spool
from modelcert.formats.decompress import DecompressionBomb as BombError

SYMLINK_TARGET_MAX = 4096
TRAILING_PROBE = 1024 * 1024
# Suffixes each compressor's output loses, and what replaces them (".tgz" → ".tar").
_STRIP: dict[str, dict[str, str]] = {
    "gzip": {".gz": "", ".gzip": "", ".tgz": ".tar"},
    "bzip2": {".bz2": "", ".tbz2": ".tar", ".tbz": ".tar"},
    "xz": {".xz": "", ".txz": ".tar"},
    "zstd": {".zst": "", ".zstd": "", ".tzst": ".tar"},
    "lz4": {".lz4": ""},
}
_TAR_SUFFIX = {"gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz", "zstd": "tar.zst", "lz4": "tar.lz4"}


class _Budget:
    """Bytes an archive may still unpack (max_total_unpacked_bytes across its members)."""

    def __init__(self, total: int) -> None:
        self.remaining = total

    def spend(self, n: int) -> None:
        self.remaining -= n


def analyze_tar(blob: Blob, ctx: AnalysisContext) -> None:
    with blob.open() as stream:
        _read_tar(stream, ctx, _Budget(ctx.limits.max_total_unpacked_bytes))


def _read_tar(stream: IO[bytes], ctx: AnalysisContext, budget: _Budget) -> None:
    reader = TarReader(stream, ctx.limits)
    audit = MemberAudit(ctx)
    hidden_reported = False
    for member, data in reader:
        audit.name(member.name)
        if member.after_end_marker and not hidden_reported:
            hidden_reported = True
            ctx.add(
                HiddenArchiveData.finding(
                    f"member {member.name!r} follows an end-of-archive block: standard tar readers stop "
                    "before it, `tar -i` extracts it",
                    ctx.location.inner(member.name).at(offset=member.offset),
                )
            )
        if member.kind in ("symlink", "hardlink"):
            audit.link(member.name, member.linkname, hard=member.kind == "hardlink")
        elif member.kind in ("chardev", "blockdev", "fifo"):
            audit.special(member.name, member.kind)
        elif member.kind == "file" and data is not None:
            _tar_member(member, data, ctx, budget)
    if reader.problems:
        raise FormatError(
            f"{len(reader.problems)} tar header block(s) could not be parsed (first: {reader.problems[0]}); "
            "the bytes there were not analysed"
        )


def _tar_member(member: ArchiveMember, data: IO[bytes], ctx: AnalysisContext, budget: _Budget) -> None:
    limit = min(ctx.limits.max_member_bytes, budget.remaining)
    try:
        blob = copy_member(data, member.name, member.size, ctx.limits, limit)
    except BombError:
        raise
    except LimitExceeded as exc:
        if budget.remaining <= member.size:
            raise  # the archive as a whole is over budget: stop here
        ctx.add(LimitHit.finding(str(exc), ctx.location.inner(member.name)))
        return
    budget.spend(blob.size)
    try:
        ctx.scan_member(member.name, blob)
    finally:
        blob.close()


def compressed_analyzer(codec: str) -> Analyzer:
    def analyze(blob: Blob, ctx: AnalysisContext) -> None:
        _analyze_compressed(blob, ctx, codec)

    analyze.__name__ = f"analyze_{codec}"
    return analyze


def _analyze_compressed(blob: Blob, ctx: AnalysisContext, codec: str) -> None:
    limits = ctx.limits
    budget = output_budget(blob.size, limits, limits.max_total_unpacked_bytes)
    reader = DecompressingReader(blob, codec, budget)
    stream = io.BufferedReader(reader, buffer_size=limits.read_chunk_bytes)
    inner = inner_name(ctx.relpath, codec)
    try:
        head = stream.read(TAR_BLOCK)
        prefixed: IO[bytes] = io.BufferedReader(_Prefixed(head, stream), buffer_size=limits.read_chunk_bytes)
        if looks_like_tar(head):
            ctx.set_format(_TAR_SUFFIX.get(codec, "tar"))
            _read_tar(prefixed, ctx, _Budget(limits.max_total_unpacked_bytes))
            _drain(prefixed)
        else:
            content, _crc = spool(prefixed, inner, limits)
            try:
                ctx.scan_member(inner, content)
            finally:
                content.close()
    except BombError as exc:
        ctx.add(DecompressionBomb.finding(str(exc), ctx.location))
        return
    _trailing(blob, reader, ctx)


def _drain(stream: IO[bytes]) -> None:
    """Read what a tar left unread so that bytes after the compressed stream are found."""
    while stream.read(TRAILING_PROBE):
        pass


def _trailing(blob: Blob, reader: DecompressingReader, ctx: AnalysisContext) -> None:
    start = reader.trailing_offset
    if start is None:
        return
    length = blob.size - start
    if length <= TRAILING_PROBE and not blob.read_at(start, length).strip(b"\x00"):
        return  # zero padding, which gzip and xz tools accept
    ctx.add(
        HiddenArchiveData.finding(
            f"{length} bytes after the end of the compressed stream",
            ctx.location.at(offset=start),
        )
    )
    ctx.scan_member(f"<data after stream {start}..{blob.size}>", blob.window(start, length, "<trailing>"))


def inner_name(outer: str, codec: str) -> str:
    """The name of the decompressed content: the outer name without its compression suffix."""
    base = PurePosixPath(outer).name
    lower = base.lower()
    for suffix, replacement in _STRIP.get(codec, {}).items():
        if lower.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return "<decompressed>"


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read: give them back, then continue with the rest."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def analyze_7z(blob: Blob, ctx: AnalysisContext) -> None:
    limits = ctx.limits
    budget = output_budget(blob.size, limits, limits.max_total_unpacked_bytes)
    with SevenZipReader(blob, limits, budget) as archive:
        listing = archive.listing
        audit = MemberAudit(ctx)
        for member in listing.members:
            audit.name(member.name)
        if listing.encrypted:
            ctx.add(EncryptedArchive.finding("7z content is password-protected: not analysed", ctx.location))
            return
        declared = sum(m.size for m in listing.members)
        if declared > budget:
            ctx.add(
                DecompressionBomb.finding(
                    f"members declare {declared} bytes from {blob.size} compressed (budget {budget}): "
                    "not extracted",
                    ctx.location,
                )
            )
            return

        def on_member(member: ArchiveMember, content: Blob) -> None:
            if member.kind == "symlink":
                target = content.head(SYMLINK_TARGET_MAX).decode("utf-8", errors="replace")
                audit.link(member.name, target, hard=False)
                return
            ctx.scan_member(member.name, content)

        try:
            archive.extract(on_member)
        except BombError as exc:
            ctx.add(DecompressionBomb.finding(str(exc), ctx.location))
