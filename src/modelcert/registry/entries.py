"""What one transparency-log entry holds: hashes and public metadata only (provenance.md §7).

An entry is a JCS-canonical JSON object (RFC 8785), so anyone holding the same facts re-derives the
same bytes, and its leaf hash is SHA-256(0x00 ‖ bytes). Full envelopes stay in the registry's store,
addressed by their SHA-256; evidence details never enter the log (only salted commitments do).

Kinds: `modelcert.certificate`, `modelcert.line-status`, `modelcert.revocation`, `modelcert.key`,
`modelcert.known-bad`. Every entry carries `kind`, `v` (entry format version) and `integratedTime`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from modelcert.certificate.jcs import canonicalize
from modelcert.registry.clock import format_time
from modelcert.registry.log import leaf_hash

ENTRY_VERSION = 1
KIND_CERTIFICATE = "modelcert.certificate"
KIND_LINE_STATUS = "modelcert.line-status"
KIND_REVOCATION = "modelcert.revocation"
KIND_KEY = "modelcert.key"
KIND_KNOWN_BAD = "modelcert.known-bad"
KINDS = (KIND_CERTIFICATE, KIND_LINE_STATUS, KIND_REVOCATION, KIND_KEY, KIND_KNOWN_BAD)


def encode(entry: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an entry (what is hashed into the log)."""
    return canonicalize(entry)


def entry_leaf_hash(entry: Mapping[str, Any]) -> bytes:
    return leaf_hash(encode(entry))


def _base(kind: str, at: datetime) -> dict[str, Any]:
    return {"kind": kind, "v": ENTRY_VERSION, "integratedTime": format_time(at)}


def certificate_entry(
    *,
    at: datetime,
    envelope_sha256: str,
    payload_sha256: str,
    subject_digests: Sequence[str],
    signer_key_ids: Sequence[str],
    line: str | None,
    public_summary: Mapping[str, Any],
) -> dict[str, Any]:
    entry = _base(KIND_CERTIFICATE, at)
    entry.update(
        envelopeSha256=envelope_sha256,
        payloadSha256=payload_sha256,
        subjectDigests=sorted(subject_digests),
        signerKeyIds=sorted(signer_key_ids),
        publicSummary=dict(public_summary),
    )
    if line:
        entry["line"] = line
    return entry


def line_status_entry(
    *,
    at: datetime,
    line: str,
    line_status_version: int,
    line_status_digest: str,
    change: Mapping[str, Any],
    signer_key_ids: Sequence[str],
) -> dict[str, Any]:
    entry = _base(KIND_LINE_STATUS, at)
    entry.update(
        line=line,
        lineStatusVersion=line_status_version,
        lineStatusDigest=line_status_digest,
        change=dict(change),
        signerKeyIds=sorted(signer_key_ids),
    )
    return entry


def revocation_entry(
    *,
    at: datetime,
    envelope_sha256: str,
    subject_digests: Sequence[str],
    reason: str,
    signer_key_ids: Sequence[str],
) -> dict[str, Any]:
    entry = _base(KIND_REVOCATION, at)
    entry.update(
        envelopeSha256=envelope_sha256,
        subjectDigests=sorted(subject_digests),
        reason=reason,
        signerKeyIds=sorted(signer_key_ids),
    )
    return entry


def key_entry(
    *, at: datetime, action: str, key_id: str, role: str, name: str, jurisdiction: str | None, by: str
) -> dict[str, Any]:
    entry = _base(KIND_KEY, at)
    entry.update(action=action, keyId=key_id, role=role, name=name, by=by)
    if jurisdiction:
        entry["jurisdiction"] = jurisdiction
    return entry


def known_bad_entry(
    *, at: datetime, sha256: str, rule_id: str, severity: str, commitment: str, reporter_key_id: str
) -> dict[str, Any]:
    entry = _base(KIND_KNOWN_BAD, at)
    entry.update(
        sha256=sha256,
        ruleId=rule_id,
        severity=severity,
        commitment=commitment,
        signerKeyIds=[reporter_key_id],
    )
    return entry
