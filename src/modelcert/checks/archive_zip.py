"""The zip analyzer: structure findings, classification (PyTorch, TorchScript, npz, Keras), and every
member sniffed and handed to the scanner — except raw PyTorch records, which are counted, not listed.

Performance: a PyTorch checkpoint is mostly stored tensor records. Those are read only through a
head/tail sniff (a few KB each) and never CRC-checked, so a multi-GB checkpoint costs little beyond
the scanner's own hashing pass.
"""

from __future__ import annotations

import stat

from modelcert.checks.base import AnalysisContext
from modelcert.checks.container_checks import (
    DecompressionBomb,
    HiddenArchiveData,
    MemberAudit,
    UnreadableMember,
    ZipCrcMismatch,
    ZipFlagBits,
    ZipNameMismatch,
    ZipOverlap,
    ZipStructure,
)
from modelcert.checks.pytorch import TorchScriptArchive
from modelcert.checks.zip_layout import (
    KERAS_CONFIG,
    PICKLE,
    RECORD,
    STORAGE,
    TORCHSCRIPT_CODE,
    ZipLayout,
    classify,
    plausible_pickle,
)
from modelcert.errors import FormatError
from modelcert.findings import Location, Severity
from modelcert.formats.blob import Blob
from modelcert.formats.decompress import DecompressionBomb as BombError
from modelcert.formats.decompress import output_budget
from modelcert.formats.detect import HEAD_BYTES, detect
from modelcert.formats.zip import REFUSED_FLAGS, ZipAnomaly, ZipEntry, ZipView, read_zip
from modelcert.formats.zip_data import MemberData, method_name, method_supported, open_member, stored_crc
from modelcert.limits import Limits
from modelcert.records import MutableRecord

RAW_FORMATS = frozenset({"binary", "text", "empty"})
# Formats announced by a multi-byte magic number: tensor bytes practically never match one by chance,
# while weaker sniffs (safetensors' length prefix, JSON) do match integer tensors now and then.
MAGIC_FORMATS = frozenset({"zip", "numpy", "gguf", "gzip", "bzip2", "xz", "zstd", "7z", "lz4", "tar", "hdf5"})
RECORD_HEAD = 4096  # enough to recognise any format signature; tensor bytes are never read further
RECORD_TAIL = 1024
SYMLINK_TARGET_MAX = 4096
HINTS = {PICKLE: "pickle", TORCHSCRIPT_CODE: "torchscript-code", KERAS_CONFIG: "keras-config"}
_ANOMALY_CHECKS = {
    "overlap": ZipOverlap,
    "gap": HiddenArchiveData,
    "prefix": HiddenArchiveData,
}


class _Tally(MutableRecord):
    """Raw PyTorch records (tensor storages, version/byteorder files) seen but not listed."""

    __slots__ = ("bytes", "count", "unpacked")
    count: int
    bytes: int
    unpacked: int  # decompressed bytes, for the archive-wide budget

    def __init__(self, count: int = 0, bytes: int = 0, unpacked: int = 0) -> None:
        self.count = count
        self.bytes = bytes
        self.unpacked = unpacked


def analyze_zip(blob: Blob, ctx: AnalysisContext) -> None:
    view = read_zip(blob, ctx.limits)
    _report_structure(view, ctx)
    layout = classify([e.name for e in view.entries])
    ctx.set_format(layout.kind)
    if layout.kind == "torchscript":
        ctx.add(
            TorchScriptArchive.finding(
                f"TorchScript archive ({layout.prefix}/code): torch.jit.load compiles and runs its code; "
                "torch.load(weights_only=True) in torch ≤ 2.5.1 dispatches to it (CVE-2025-32434)",
                ctx.location,
            )
        )
    audit = MemberAudit(ctx)
    tally = _Tally()
    for entry in view.entries:
        _analyze_entry(blob, entry, layout, ctx, audit=audit, tally=tally)
    for start, end in view.gaps:
        ctx.scan_member(f"<unlisted bytes {start}..{end}>", blob.window(start, end - start, f"<gap {start}>"))
    if tally.count:
        ctx.note("raw_records", {"count": tally.count, "bytes": tally.bytes})
    if view.error is not None:
        raise view.error


def _report_structure(view: ZipView, ctx: AnalysisContext) -> None:
    for anomaly in view.anomalies:
        check = _ANOMALY_CHECKS.get(anomaly.kind, ZipStructure)
        ctx.add(check.finding(anomaly.message, _where(ctx, anomaly), details={"kind": anomaly.kind}))
    if not view.has_central_directory:
        message = "no central directory: members found by walking local headers"
        ctx.add(ZipStructure.finding(message, ctx.location))


def _where(ctx: AnalysisContext, anomaly: ZipAnomaly) -> Location:
    location = ctx.location.inner(anomaly.member) if anomaly.member else ctx.location
    return location.at(offset=anomaly.offset)


def _analyze_entry(
    blob: Blob, entry: ZipEntry, layout: ZipLayout, ctx: AnalysisContext, *, audit: MemberAudit, tally: _Tally
) -> None:
    location = ctx.location.inner(entry.name)
    audit.name(entry.name)
    if entry.local_name is not None and entry.local_name != entry.name:
        ctx.add(
            ZipNameMismatch.finding(
                f"local header names the member {entry.local_name!r}, the central directory {entry.name!r}",
                location,
                details={"local_name": entry.local_name, "central_name": entry.name},
                tags=("CVE-2025-1944",),
            )
        )
    flag_bits = (entry.flags | entry.local_flags) & REFUSED_FLAGS
    if flag_bits:
        ctx.add(
            ZipFlagBits.finding(
                f"flag bits {flag_bits:#x} set: zipfile refuses the member, PyTorch reads it as plain data",
                location,
                details={"flags": entry.flags, "local_flags": entry.local_flags},
                tags=("CVE-2025-1945",),
            )
        )
    if entry.problem is not None:
        ctx.add(UnreadableMember.finding(entry.problem, location))
        return
    if entry.is_dir:
        return
    if not method_supported(entry.method):
        ctx.add(UnreadableMember.finding(f"unsupported compression: {method_name(entry.method)}", location))
        return
    if _declared_bomb(entry, ctx, tally):
        return
    data = _open(blob, entry, ctx, tally)
    if data is None:
        return
    try:
        if stat.S_ISLNK(entry.unix_mode):
            target = data.blob.head(SYMLINK_TARGET_MAX).decode("utf-8", errors="replace")
            audit.link(entry.name, target, hard=False)
            return
        _hand_over(entry, data, layout, ctx, tally)
    finally:
        data.blob.close()


def _declared_bomb(entry: ZipEntry, ctx: AnalysisContext, tally: _Tally) -> bool:
    """Refuse members whose own headers announce a bomb, before inflating a single byte."""
    limits = ctx.limits
    if entry.method == 0:
        return False
    size, packed = entry.uncompressed_size, entry.compressed_size
    budget = output_budget(packed, limits, limits.max_total_unpacked_bytes - tally.unpacked)
    if size <= budget:
        return False
    ctx.add(
        DecompressionBomb.finding(
            f"declares {size} bytes from {packed} compressed (budget {budget}): not inflated",
            ctx.location.inner(entry.name),
            details={"uncompressed": size, "compressed": packed},
        )
    )
    return True


def _open(blob: Blob, entry: ZipEntry, ctx: AnalysisContext, tally: _Tally) -> MemberData | None:
    limits = ctx.limits
    location = ctx.location.inner(entry.name)
    budget = output_budget(entry.compressed_size, limits, limits.max_total_unpacked_bytes - tally.unpacked)
    try:
        data = open_member(blob, entry, limits, budget)
    except BombError as exc:
        ctx.add(DecompressionBomb.finding(str(exc), location))
        return None
    except FormatError as exc:
        ctx.add(UnreadableMember.finding(str(exc), location))
        return None
    if data.compressed:
        tally.unpacked += data.blob.size
        if data.blob.size != entry.uncompressed_size:
            ctx.add(
                ZipStructure.finding(
                    f"inflates to {data.blob.size} bytes, headers declare {entry.uncompressed_size}",
                    location,
                )
            )
    return data


def _hand_over(
    entry: ZipEntry, data: MemberData, layout: ZipLayout, ctx: AnalysisContext, tally: _Tally
) -> None:
    role = layout.role(entry.name)
    member = data.blob
    if role not in HINTS:
        fmt = _sniff(member, entry.name, role)
        if fmt in RAW_FORMATS:
            if role in (RECORD, STORAGE):
                tally.count += 1
                tally.bytes += member.size
                return
            ctx.scan_member(entry.name, member)  # listed as skipped; not analysed, so no CRC check
            return
    _verify_crc(entry, data, ctx.limits, ctx)
    ctx.scan_member(entry.name, member, format_hint=HINTS.get(role))


def _sniff(member: Blob, name: str, role: str) -> str:
    head = member.head(RECORD_HEAD if role == STORAGE else HEAD_BYTES)
    tail = member.tail(RECORD_TAIL) if member.size > len(head) else head
    fmt = detect(head, tail, member.size, name).format
    if role != STORAGE:
        return fmt
    if fmt == "pickle":
        # tensor bytes start like a pickle about once in 16,000 storages; a real one soon imports or calls
        return "pickle" if plausible_pickle(member.head(HEAD_BYTES)) else "binary"
    return fmt if fmt in MAGIC_FORMATS else "binary"


def _verify_crc(entry: ZipEntry, data: MemberData, limits: Limits, ctx: AnalysisContext) -> None:
    actual = stored_crc(data, limits)
    if actual != entry.crc:
        ctx.add(
            ZipCrcMismatch.finding(
                f"content CRC-32 {actual:#010x}, headers record {entry.crc:#010x}",
                ctx.location.inner(entry.name),
                severity=Severity.MEDIUM,
                tags=("CVE-2025-10156",),
            )
        )
