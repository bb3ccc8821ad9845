"""Plain records the store reads and writes (no SQL here: the service and pages use them too)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["certifier", "publisher", "witness"]
ROLES: tuple[Role, ...] = ("certifier", "publisher", "witness")


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: str
    name: str
    jurisdiction: str | None
    algorithm: str
    public_pem: str
    active: bool
    created_at: str
    log_index: int = -1

    def public_dict(self) -> dict[str, Any]:
        return {
            "keyId": self.key_id,
            "role": self.role,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "algorithm": self.algorithm,
            "publicKeyPem": self.public_pem,
            "active": self.active,
            "createdAt": self.created_at,
            "logIndex": self.log_index,
        }


@dataclass(frozen=True)
class CertificateRecord:
    envelope_sha256: str
    payload_sha256: str
    subject_digest: str
    subject_name: str
    line: str | None
    model_version: str | None
    certifier_key_id: str
    jurisdiction: str | None
    result: str
    certificate_id: str | None
    issued_at: str | None
    summary: dict[str, Any]
    envelope_json: str
    created_at: str
    log_index: int = -1
    revoked_reason: str | None = None
    revoked_log_index: int | None = None

    def public_dict(self, with_envelope: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "envelopeSha256": self.envelope_sha256,
            "payloadSha256": self.payload_sha256,
            "subjectDigest": self.subject_digest,
            "subjectName": self.subject_name,
            "line": self.line,
            "modelVersion": self.model_version,
            "certifierKeyId": self.certifier_key_id,
            "jurisdiction": self.jurisdiction,
            "result": self.result,
            "certificateId": self.certificate_id,
            "issuedAt": self.issued_at,
            "findingsSummary": self.summary,
            "logIndex": self.log_index,
            "createdAt": self.created_at,
            "revokedReason": self.revoked_reason,
            "revokedLogIndex": self.revoked_log_index,
        }
        if with_envelope:
            out["envelope"] = json.loads(self.envelope_json)
        return out


@dataclass(frozen=True)
class LogEntryRecord:
    index: int
    kind: str
    leaf_hash: bytes
    body: bytes
    created_at: str

    def public_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "leafHash": self.leaf_hash.hex(),
            "entry": json.loads(self.body),
        }


@dataclass(frozen=True)
class FeedRecord:
    sha256: str
    rule_id: str
    severity: str
    commitment: str
    scope: str
    reporter_key_id: str
    created_at: str
    log_index: int = -1


@dataclass(frozen=True)
class CheckpointRecord:
    size: int
    root_hash: bytes
    note: str  # the signed note with the log's signature only
    created_at: str
    cosignature_lines: tuple[str, ...] = field(default=())

    def full_note(self) -> str:
        """The note with every stored witness cosignature appended (C2SP: extra signature lines)."""
        return self.note + "".join(self.cosignature_lines)
