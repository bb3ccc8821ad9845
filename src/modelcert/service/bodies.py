"""Request bodies: strict pydantic models, unknown fields refused, every string and list bounded.

These are the OpenAPI schema too (schemathesis fuzzes them). Deeper rules (a PEM that parses, a
status with the right reason) are the ledger's, so every front end applies them alike.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from modelcert.registry.lines import Status
from modelcert.registry.records import Role

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]
Line = Annotated[str, StringConstraints(min_length=5, max_length=256, pattern=r"^pkg:[a-z][a-z0-9.+-]*/\S+$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Jurisdiction = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Sequence = Annotated[int, Field(ge=0, le=2**53 - 1)]
# Mirrors lines.REASON_CODES (a test keeps the two equal); the ledger checks which status takes which.
ReasonCode = Literal[
    "backdoor-found",
    "certification-withdrawn",
    "key-compromise",
    "license-legal",
    "malicious-artifact",
    "publisher-withdrawn",
    "quality-defect",
    "superseded",
    "superseded-quality",
    "superseded-safety-fix",
    "superseded-security-fix",
    "unspecified",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DsseSignature(Strict):
    keyid: Annotated[str, StringConstraints(max_length=256)] = ""
    sig: Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class DsseEnvelope(Strict):
    payloadType: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    payload: Annotated[str, StringConstraints(min_length=1, max_length=16 * 1024 * 1024)]
    signatures: Annotated[list[DsseSignature], Field(min_length=1, max_length=64)]


class PublishCertificate(Strict):
    envelope: DsseEnvelope


class RegisterKey(Strict):
    role: Role
    name: ShortText
    publicKeyPem: Annotated[str, StringConstraints(min_length=32, max_length=4096)]
    jurisdiction: Jurisdiction | None = None


class DeclareRelease(Strict):
    line: Line
    sequence: Sequence
    version: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    rootDigest: Hex64
    revision: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    status: Literal["current", "supported"] = "current"
    supersedeReason: ReasonCode | None = None
    publisherKeyId: Hex64 | None = None


class ChangeStatus(Strict):
    line: Line
    sequence: Sequence
    status: Status
    reason: ReasonCode | None = None
    successor: Sequence | None = None


class RevokeCertificate(Strict):
    reason: Literal["key-compromise", "certification-withdrawn", "superseded", "affiliation-changed", "error"]


class ReportKnownBad(Strict):
    sha256: Hex64
    ruleId: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,128}$")]
    severity: Literal["info", "low", "medium", "high", "critical"]
    commitment: Hex64
    scope: Literal["file", "package"] = "file"


class Cosign(Strict):
    checkpoint: Annotated[str, StringConstraints(min_length=10, max_length=64 * 1024)]


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": code, "message": message}
