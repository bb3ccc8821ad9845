"""Mapping between database rows and registry records (the only place that knows column names twice)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Row

from modelcert.registry.records import CertificateRecord, KeyRecord


def key_values(record: KeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "role": record.role,
        "name": record.name,
        "jurisdiction": record.jurisdiction,
        "algorithm": record.algorithm,
        "public_pem": record.public_pem,
        "active": record.active,
        "created_at": record.created_at,
    }


def key_from_row(row: Row[Any]) -> KeyRecord:
    return KeyRecord(
        row.key_id,
        row.role,
        row.name,
        row.jurisdiction,
        row.algorithm,
        row.public_pem,
        bool(row.active),
        row.created_at,
        int(row.log_index),
    )


def certificate_values(record: CertificateRecord) -> dict[str, Any]:
    return {
        "envelope_sha256": record.envelope_sha256,
        "payload_sha256": record.payload_sha256,
        "subject_digest": record.subject_digest,
        "subject_name": record.subject_name,
        "line": record.line,
        "model_version": record.model_version,
        "certifier_key_id": record.certifier_key_id,
        "jurisdiction": record.jurisdiction,
        "result": record.result,
        "certificate_id": record.certificate_id,
        "issued_at": record.issued_at,
        "summary_json": json.dumps(record.summary, sort_keys=True),
        "envelope_json": record.envelope_json,
        "created_at": record.created_at,
    }


def certificate_from_row(row: Row[Any]) -> CertificateRecord:
    return CertificateRecord(
        envelope_sha256=row.envelope_sha256,
        payload_sha256=row.payload_sha256,
        subject_digest=row.subject_digest,
        subject_name=row.subject_name,
        line=row.line,
        model_version=row.model_version,
        certifier_key_id=row.certifier_key_id,
        jurisdiction=row.jurisdiction,
        result=row.result,
        certificate_id=row.certificate_id,
        issued_at=row.issued_at,
        summary=json.loads(row.summary_json),
        envelope_json=row.envelope_json,
        created_at=row.created_at,
        log_index=int(row.log_index),
        revoked_reason=row.revoked_reason,
        revoked_log_index=row.revoked_log_index,
    )
