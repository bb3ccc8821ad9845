"""Weight containers: safetensors and GGUF integrity (headers, layouts, hidden bytes), GGUF chat templates.

Severity follows the reference loaders: what the `safetensors` crate or llama.cpp would refuse is a
broken file (**unscannable**); what they accept but hides or aliases bytes is **suspicious**; values
shaped like the published parser overflows are **unsafe**.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from typing import Any

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.gguf import (
    LOADER_MAX_ELEMENTS,
    ArrayValue,
    GGUFHeader,
    analyse_layout,
    read_gguf,
)
from modelcert.formats.safetensors import SafetensorsFatal, read_safetensors

_BROKEN_FIX = "Re-export the weights with their own library (safetensors / gguf) and rescan."
_HIDDEN_FIX = "Regenerate the file with its own library; find out what the extra bytes are first."
_GGUF_CVES = ("CVE-2024-25664", "CVE-2024-21836", "CVE-2025-53630", "CVE-2026-27940")


class _Broken(Check):
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-20"
    remediation = _BROKEN_FIX


class SafetensorsHeaderInvalid(_Broken):
    """The safetensors header cannot be read as the format defines it: the 8-byte length runs past
    the file, the header is not UTF-8 JSON, is not an object, or a tensor entry lacks a well-typed
    `dtype` / `shape` / `data_offsets`. The `safetensors` loader refuses such files; nothing past the
    broken part was analysed, so the file is **unscannable**."""

    id = "MC300"
    title = "Invalid safetensors header"


class SafetensorsHeaderTooLarge(_Broken):
    """The declared header length exceeds 100,000,000 bytes, the loader's MAX_HEADER_SIZE. The loader
    refuses the file; an oversized header is also how parsers are pushed into huge allocations."""

    id = "MC301"
    title = "safetensors header too large"


class DuplicateHeaderKeys(Check):
    """A JSON key appears twice in the header. For tensor names (and `__metadata__` keys) the Rust
    loader silently keeps the last occurrence while other parsers keep the first: the same file then
    means two different models, a parser differential a scanner can be fooled by. **Suspicious**;
    duplicates the loader rejects (`__metadata__` itself, fields inside an entry) are **unscannable**."""

    id = "MC302"
    title = "Duplicate keys in safetensors header"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = _HIDDEN_FIX


class UnknownDtype(_Broken):
    """A tensor's dtype is none of the 22 the `safetensors` crate (0.8) knows (BOOL, F4, F6_E2M3,
    F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, I16, U16, F16, BF16, I32,
    U32, F32, C64, F64, I64, U64). The loader refuses the file."""

    id = "MC303"
    title = "Unknown safetensors dtype"


class TensorSizeMismatch(_Broken):
    """A tensor's byte span differs from elements x dtype width, its element count overflows 64
    bits, or a sub-byte dtype (F4, F6) does not end on a byte boundary. The loader refuses it; a
    mismatch is also how out-of-bounds reads are set up in lenient readers."""

    id = "MC304"
    title = "Tensor size does not match shape and dtype"


class TensorOffsetsInvalid(_Broken):
    """A tensor's `data_offsets` end before they begin, run past the end of the file, or place an
    empty tensor inside another one. The loader refuses the file (a truncated download looks the
    same: re-download it)."""

    id = "MC305"
    title = "Tensor offsets outside the data area"


class OverlappingTensors(Check):
    """Two tensors share bytes. The `safetensors` loader refuses this, but lenient readers alias the
    tensors, so writing one changes the other and the file no longer means what its header says.
    No writer produces it: **suspicious**."""

    id = "MC306"
    title = "Overlapping tensors"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = _HIDDEN_FIX


class UnreferencedBytes(Check):
    """Bytes between tensors belong to no tensor. The `safetensors` loader refuses holes, other
    readers skip them: a place to hide a payload or a second model inside a "safe" file. The bytes
    are handed to the scanner as a member (an embedded pickle or archive is analysed).
    **Suspicious**."""

    id = "MC307"
    title = "Unreferenced bytes between tensors"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = _HIDDEN_FIX


class TrailingData(Check):
    """Bytes follow the last tensor. The `safetensors` loader refuses the file ("file not fully
    covered"), but an appended archive or pickle turns it into a polyglot that other loaders read
    from the end. The trailing bytes are scanned as a member. **Suspicious**."""

    id = "MC308"
    title = "Data after the last tensor"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = _HIDDEN_FIX


class MetadataNotStrings(_Broken):
    """`__metadata__` is not a string-to-string map (numbers, lists, nested objects). The loader
    refuses it, so the file is broken, and whatever tool produced it does not follow the format."""

    id = "MC309"
    title = "safetensors metadata is not string-to-string"


class NonCanonicalHeader(Check):
    """The header carries what the reference writer never writes but the loader ignores: fields
    other than dtype/shape/data_offsets in a tensor entry, or padding other than trailing spaces.
    Harmless to loading, but a side channel for data nobody checks. **Suspicious**, low severity."""

    id = "MC310"
    title = "Non-canonical safetensors header"
    severity = Severity.LOW
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Re-save the file with the safetensors library to canonicalise the header."


class ShardPathEscape(Check):
    """A sharded checkpoint index (`model.safetensors.index.json`) maps tensors to a shard path that
    is absolute, contains `..`, a drive letter or a URL. transformers joins it to the model folder,
    so loading reads a file outside the package (CWE-22). **Unsafe**."""

    id = "MC311"
    title = "Shard index points outside the package"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-22"
    remediation = "Shard names must be plain file names next to the index."


class ShardIndexInvalid(Check):
    """The shard index is malformed (no `weight_map` object, non-string entries) or names shards that
    are not in the package. Loading fails or is incomplete. **Suspicious** (missing shard) or
    **unscannable** (malformed)."""

    id = "MC312"
    title = "Shard index invalid or incomplete"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-20"
    remediation = "Regenerate the index with save_pretrained, or add the missing shards."


class GGUFHeaderInvalid(_Broken):
    """The GGUF header cannot be read: truncated file, version other than 1-3, an unknown metadata
    value type, an empty key or an over-long tensor name. llama.cpp refuses it."""

    id = "MC320"
    title = "Invalid GGUF header"


class GGUFImpossibleSize(Check):
    """A declared count or length (n_kv, n_tensors, a string or array length) needs more bytes than
    the file has. Values too large for any real file (>= 2^30, the loader's own cap) are the
    integer-overflow / heap-overflow shape of the published llama.cpp GGUF parser bugs
    (CVE-2024-25664..25668, Talos CVE-2024-21825/21836/23496/23605, CVE-2025-53630,
    CVE-2026-27940): **unsafe**. Small excesses are a truncated or corrupt file: **unscannable**."""

    id = "MC321"
    title = "GGUF declares sizes the file cannot hold"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-190"
    remediation = "Do not load this file with any GGUF reader; delete it."
    tags = ("memory-corruption", *_GGUF_CVES)


class GGUFTooManyDims(Check):
    """A tensor declares more than 4 dimensions (GGML_MAX_DIMS). Old llama.cpp wrote the extra
    dimensions past the fixed `ne[4]` array (CVE-2024-21802 class): memory corruption. **Unsafe**."""

    id = "MC322"
    title = "GGUF tensor with more than 4 dimensions"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-787"
    remediation = "Do not load this file; delete it."
    tags = ("memory-corruption", "CVE-2024-21802")


class GGUFShapeInvalid(Check):
    """A tensor's dimensions overflow 64-bit element counts (the ggml_nbytes overflow: **unsafe**), or
    its rows are not a whole number of quantisation blocks (llama.cpp refuses it: **unscannable**)."""

    id = "MC323"
    title = "Invalid GGUF tensor shape"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-190"
    remediation = _BROKEN_FIX


class GGUFUnknownType(_Broken):
    """A tensor's ggml type is not one ggml defines, so its size is unknown. llama.cpp refuses it;
    out-of-range type ids indexed the type table out of bounds in older builds."""

    id = "MC324"
    title = "Unknown GGUF tensor type"


class GGUFBadAlignment(_Broken):
    """`general.alignment` is not a power-of-two u32 (zero divides by zero in padding arithmetic).
    llama.cpp refuses the file."""

    id = "MC325"
    title = "Invalid GGUF alignment"


class GGUFMisaligned(_Broken):
    """A tensor's data offset is not a multiple of the file's alignment. llama.cpp refuses it."""

    id = "MC326"
    title = "Misaligned GGUF tensor data"


class GGUFOutOfBounds(_Broken):
    """A tensor's data runs past the end of the file (truncated download, or a lie). Loaders that
    skip the bounds check read process memory (Ollama "Bleeding Llama", CVE-2026-7482). Offsets that
    overflow 64-bit arithmetic are an exploit shape and **unsafe**; otherwise **unscannable**."""

    id = "MC327"
    title = "GGUF tensor data outside the file"


class GGUFOverlap(Check):
    """Tensors share bytes, or their data is not in tensor-info order. llama.cpp refuses both, but
    gguf-py (used by transformers and conversion tools) reads offsets as given: two readers, two
    models. **Suspicious**."""

    id = "MC328"
    title = "Overlapping or reordered GGUF tensors"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = _HIDDEN_FIX


class GGUFHiddenData(Check):
    """Bytes the format does not account for: a gap between tensors, data after the padded data
    section (llama.cpp ignores it), or non-zero alignment padding. A place to smuggle a payload or a
    second model; gaps and trailing bytes are scanned as members. **Suspicious**."""

    id = "MC329"
    title = "Hidden bytes in GGUF file"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = _HIDDEN_FIX


class GGUFDuplicateNames(Check):
    """A metadata key or tensor name appears twice. llama.cpp refuses it; gguf-py and other readers
    keep one or the other, so a duplicated `tokenizer.chat_template` can show a scanner one template
    and a runtime another. **Suspicious** (every copy is analysed)."""

    id = "MC330"
    title = "Duplicate names in GGUF file"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = _HIDDEN_FIX


MAX_PER_CHECK = 20  # findings of one check per file; the rest are counted in one more
MAX_HIDDEN_MEMBERS = 8


class _Reporter:
    """Caps repeated findings so one broken table does not bury the report."""

    def __init__(self, ctx: AnalysisContext) -> None:
        self.ctx = ctx
        self.counts: Counter[str] = Counter()
        self.last: dict[str, Finding] = {}

    def add(self, finding: Finding) -> None:
        self.counts[finding.check_id] += 1
        if self.counts[finding.check_id] <= MAX_PER_CHECK:
            self.ctx.add(finding)
        self.last[finding.check_id] = finding

    def close(self) -> None:
        for check_id, count in self.counts.items():
            if count > MAX_PER_CHECK:
                last = self.last[check_id]
                self.ctx.add(
                    Finding(**{**last.__dict__, "message": f"... and {count - MAX_PER_CHECK} more like this"})
                )


def _scan_hidden(blob: Blob, ctx: AnalysisContext, regions: list[tuple[int, int]]) -> None:
    for offset, length in regions[:MAX_HIDDEN_MEMBERS]:
        if length > 0:
            name = f"hidden-bytes@{offset}"
            ctx.scan_member(name, blob.window(offset, length, name))


# -- safetensors ---------------------------------------------------------------------------------

_ST_CHECKS: dict[str, type[Check]] = {
    "duplicate_key": DuplicateHeaderKeys, "bad_entry": SafetensorsHeaderInvalid,
    "unknown_dtype": UnknownDtype, "size_mismatch": TensorSizeMismatch, "bad_offsets": TensorOffsetsInvalid,
    "overlap": OverlappingTensors, "hole": UnreferencedBytes, "trailing": TrailingData,
    "bad_metadata": MetadataNotStrings, "padding": NonCanonicalHeader, "extra_fields": NonCanonicalHeader,
}


def analyze_safetensors(blob: Blob, ctx: AnalysisContext) -> None:
    try:
        view = read_safetensors(blob, ctx.limits)
    except SafetensorsFatal as exc:
        fatal = SafetensorsHeaderTooLarge if exc.kind == "header_too_large" else SafetensorsHeaderInvalid
        ctx.add(fatal.finding(str(exc), ctx.location.at(offset=exc.offset)))
        return
    reporter = _Reporter(ctx)
    hidden: list[tuple[int, int]] = []
    for anomaly in view.anomalies:
        check = _ST_CHECKS[anomaly.kind]
        verdict = None
        if check is DuplicateHeaderKeys and not anomaly.loader_accepts:
            verdict = Verdict.UNSCANNABLE
        details: dict[str, Any] = dict(anomaly.details)
        if anomaly.tensor is not None:
            details["tensor"] = anomaly.tensor[:200]
        reporter.add(check.finding(anomaly.message, ctx.location.at(offset=anomaly.offset), verdict=verdict,
                                   details=details))
        if anomaly.kind in {"hole", "trailing"} and anomaly.offset is not None and anomaly.length:
            hidden.append((anomaly.offset, anomaly.length))
    reporter.close()
    dtypes = sorted({t.dtype for t in view.tensors})
    metadata = dict(list((view.metadata or {}).items())[:64])
    ctx.note("safetensors", {
        "tensors": len(view.tensors), "parameters": sum(t.elements for t in view.tensors), "dtypes": dtypes,
        "metadata": {k[:200]: v[:1000] for k, v in metadata.items()},
    })
    _scan_hidden(blob, ctx, hidden)


def check_safetensors_index(index: object, ctx: AnalysisContext, location: Location) -> None:
    """Validate a parsed `*.safetensors.index.json`: a `weight_map` of tensor -> shard file name, every
    shard a plain name inside the package (MC311 otherwise) and present in it (MC312 otherwise)."""
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        ctx.add(ShardIndexInvalid.finding("index has no weight_map of tensor name -> shard file name",
                                          location.at(pointer="weight_map"), verdict=Verdict.UNSCANNABLE))
        return
    shards = sorted(set(weight_map.values()))
    ctx.note("safetensors_index", {"tensors": len(weight_map), "shards": shards[:1000]})
    base = posixpath.dirname(ctx.relpath)
    # Presence is only meaningful for an index on disk; inside an archive the siblings are members.
    present = set(ctx.package.relpaths()) if ctx.package is not None and ctx.depth == 0 else None
    for shard in shards[:10_000]:
        pointer = f"weight_map/{shard[:200]}"
        resolved = _resolve_shard(base, shard)
        if resolved is None:
            ctx.add(ShardPathEscape.finding(f"shard {shard[:200]!r} resolves outside the model folder",
                                            location.at(pointer=pointer), details={"shard": shard[:200]}))
        elif present is not None and resolved not in present:
            ctx.add(ShardIndexInvalid.finding(f"shard {shard[:200]!r} is not in the package",
                                              location.at(pointer=pointer), details={"shard": shard[:200]}))


def _resolve_shard(base: str, name: str) -> str | None:
    """The shard's package-relative path, or None when it leaves the package (or is not a path)."""
    lowered = name.lower()
    if not name or "\x00" in name or "://" in lowered or lowered.startswith("file:") or name[1:2] == ":":
        return None
    unified = name.replace("\\", "/")
    if unified.startswith("/"):
        return None
    resolved = posixpath.normpath(posixpath.join(base, unified))
    return None if resolved == ".." or resolved.startswith("../") else resolved


# -- GGUF ------------------------------------------------------------------------------------------

_GGUF_ISSUES: dict[str, tuple[type[Check], Verdict | None]] = {
    "empty_key": (GGUFHeaderInvalid, None), "name": (GGUFHeaderInvalid, None),
    "duplicate_key": (GGUFDuplicateNames, None), "duplicate_tensor": (GGUFDuplicateNames, None),
    "alignment": (GGUFBadAlignment, None), "unknown_type": (GGUFUnknownType, None),
    "dims_overflow": (GGUFShapeInvalid, None), "block_mismatch": (GGUFShapeInvalid, Verdict.UNSCANNABLE),
    "misaligned": (GGUFMisaligned, None), "out_of_bounds": (GGUFOutOfBounds, None),
    "offset_overflow": (GGUFOutOfBounds, Verdict.UNSAFE), "overlap": (GGUFOverlap, None),
    "out_of_order": (GGUFOverlap, None), "gap": (GGUFHiddenData, None), "trailing": (GGUFHiddenData, None),
    "padding_data": (GGUFHiddenData, None),
}


def analyze_gguf(blob: Blob, ctx: AnalysisContext) -> None:
    header = read_gguf(blob, ctx.limits)
    _gguf_templates(header, ctx)
    _gguf_notes(header, ctx)
    failure = header.failure
    if failure is not None:
        at = ctx.location.at(offset=failure.offset)
        details = {"value": failure.value} if failure.value is not None else {}
        if failure.kind == "n_dims":
            ctx.add(GGUFTooManyDims.finding(failure.message, at, details=details))
        elif failure.kind in {"count", "string_length", "array_length", "nesting"}:
            huge = (failure.value or 0) >= LOADER_MAX_ELEMENTS
            ctx.add(GGUFImpossibleSize.finding(
                failure.message + ("" if huge else " (truncated or corrupt file)"), at, details=details,
                verdict=None if huge else Verdict.UNSCANNABLE, severity=None if huge else Severity.MEDIUM,
            ))
        else:
            ctx.add(GGUFHeaderInvalid.finding(failure.message, at, details=details))
        return
    layout = analyse_layout(header, blob)
    reporter = _Reporter(ctx)
    hidden: list[tuple[int, int]] = []
    for issue in layout.issues:
        check, verdict = _GGUF_ISSUES[issue.kind]
        severity = Severity.LOW if issue.kind in {"padding_data", "out_of_order"} else None
        extra = {k: v for k, v in {"tensor": issue.tensor, "value": issue.value}.items() if v is not None}
        reporter.add(check.finding(issue.message, ctx.location.at(offset=issue.offset), verdict=verdict,
                                   severity=severity, details=extra))
        if issue.kind in {"gap", "trailing"} and issue.offset is not None and issue.length:
            hidden.append((issue.offset, issue.length))
    reporter.close()
    _scan_hidden(blob, ctx, hidden)


def _gguf_templates(header: GGUFHeader, ctx: AnalysisContext) -> None:
    """`tokenizer.chat_template` and the named `tokenizer.chat_template.<name>` variants."""
    for kv in header.kvs:
        is_template = kv.key == "tokenizer.chat_template" or kv.key.startswith("tokenizer.chat_template.")
        if is_template and isinstance(kv.value, str):
            from modelcert.checks.templates import check_template_source  # imports jinja2 (~29 ms)

            location = ctx.location.at(offset=kv.offset, pointer=kv.key[:200])
            check_template_source(kv.value, ctx, location, origin=f"gguf:{kv.key[:200]}")


def _gguf_notes(header: GGUFHeader, ctx: AnalysisContext) -> None:
    def scalar(key: str) -> Any:
        kv = header.get(key)
        return kv.value if kv is not None and not isinstance(kv.value, ArrayValue) else None

    arch = scalar("general.architecture")
    tokens = header.get("tokenizer.ggml.tokens")
    ctx.note("gguf", {
        "version": header.version,
        "byte_order": "big" if header.byte_order == ">" else "little",
        "architecture": arch,
        "name": scalar("general.name"),
        "context_length": scalar(f"{arch}.context_length") if isinstance(arch, str) else None,
        "tokenizer_model": scalar("tokenizer.ggml.model"),
        "vocab_size": tokens.value.length if tokens and isinstance(tokens.value, ArrayValue) else None,
        "chat_templates": sorted(kv.key for kv in header.kvs if kv.key.startswith("tokenizer.chat_template")),
        "tensors": len(header.tensors),
        "file_type": scalar("general.file_type"),
        # general.* scalars (base_model.*, license, source.url ...) for lineage and currency checks
        "general": {
            kv.key[:200]: kv.value[:500] if isinstance(kv.value, str) else kv.value
            for kv in header.kvs[:4096]
            if kv.key.startswith("general.") and not isinstance(kv.value, ArrayValue)
        },
    })


ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(formats=("safetensors",), analyze=analyze_safetensors),
    AnalyzerSpec(formats=("gguf",), analyze=analyze_gguf),
)
