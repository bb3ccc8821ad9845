"""The `modelcert/certificate/v0.1` predicate (provenance.md §4.3) as frozen dataclasses.

Each class writes its JSON form (`to_dict`) and reads it back strictly (`parse`): unknown fields are
refused, every field is type-checked, and errors name the JSON pointer. Parsing never trusts a value
for more than its shape; what a value *means* (is the key trusted, is the digest this model) is
decided in `modelcert.certificate.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from modelcert.certificate.claims import BackdoorEvidence, ComplianceClaim
from modelcert.certificate.jurisdictions import check_jurisdiction
from modelcert.policy.fields import DocumentError, Fields, format_time
from modelcert.policy.load import CONFLICT_RULES, ConflictRule
from modelcert.policy.waivers import WaiverSet

Result = Literal["PASSED", "FAILED", "CONDITIONAL"]
RESULTS: tuple[Result, ...] = ("PASSED", "FAILED", "CONDITIONAL")
ROLES = ("certifier", "registry", "witness")
RISK_RATINGS = ("serious", "high", "medium", "low")
DISCLOSURES = ("public", "consortium", "private")
FINDING_STATUSES = ("open", "mitigated", "accepted", "false-positive")
OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"


def _digest(value: str) -> dict[str, str]:
    return {"sha256": value}


def _parse_digest(f: Fields, key: str) -> str:
    return f.child(key, allowed=("sha256",)).sha256("sha256")


@dataclass(frozen=True)
class Issuer:
    id: str  # a URI naming the certifier
    name: str
    jurisdiction: str  # ISO 3166-1 alpha-2
    key_id: str
    role: str = "certifier"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "keyId": self.key_id,
            "role": self.role,
        }

    @classmethod
    def parse(cls, f: Fields) -> Issuer:
        try:
            jurisdiction = check_jurisdiction(f.text("jurisdiction", max_len=8))
        except ValueError as exc:
            raise DocumentError(f"{f.at('jurisdiction')}: {exc}") from None
        return cls(
            f.text("id", max_len=512),
            f.text("name", max_len=256),
            jurisdiction,
            f.sha256("keyId"),
            f.choice("role", ROLES),
        )


@dataclass(frozen=True)
class Resource:
    """One file of the package: OMS resource name (POSIX relative path), SHA-256, size."""

    name: str
    digest: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "algorithm": "sha256", "digest": self.digest, "size": self.size}

    @classmethod
    def parse(cls, f: Fields) -> Resource:
        f.choice("algorithm", ("sha256",))
        return cls(f.text("name", max_len=4096), f.sha256("digest"), f.integer("size", minimum=0))


@dataclass(frozen=True)
class Manifest:
    root_digest: str  # OMS v1.0 root digest: sha256 over the raw per-file digests in path order
    resources_digest: str  # sha256 of the JCS of the resources list
    resource_count: int
    total_bytes: int
    ignore_paths: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rootDigest": _digest(self.root_digest),
            "resourcesDigest": _digest(self.resources_digest),
            "resourceCount": self.resource_count,
            "totalBytes": self.total_bytes,
            "omsPredicateType": OMS_PREDICATE_TYPE,
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": list(self.ignore_paths),
            },
        }

    @classmethod
    def parse(cls, f: Fields) -> Manifest:
        ser = f.child("serialization", allowed=("method", "hash_type", "allow_symlinks", "ignore_paths"))
        ser.choice("method", ("files",))
        ser.choice("hash_type", ("sha256",))
        if ser.flag("allow_symlinks", False):
            raise DocumentError(f"{ser.at('allow_symlinks')}: certificates never cover symlinks")
        f.choice("omsPredicateType", (OMS_PREDICATE_TYPE,))
        return cls(
            _parse_digest(f, "rootDigest"),
            _parse_digest(f, "resourcesDigest"),
            f.integer("resourceCount", minimum=0),
            f.integer("totalBytes", minimum=0),
            tuple(ser.texts("ignore_paths")),
        )


@dataclass(frozen=True)
class PublisherSignature:
    """An OpenSSF Model Signing signature over the same files, checked before certification."""

    bundle_digest: str
    method: str  # key | certificate
    identity: str  # key ID (sha256 of the SPKI DER) or the signing certificate's subject
    verified: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundleDigest": _digest(self.bundle_digest),
            "method": self.method,
            "identity": self.identity,
            "verified": self.verified,
            "detail": self.detail,
        }

    @classmethod
    def parse(cls, f: Fields) -> PublisherSignature:
        return cls(
            _parse_digest(f, "bundleDigest"),
            f.choice("method", ("key", "certificate")),
            f.text("identity", max_len=1024),
            f.flag("verified", False),
            f.text("detail", max_len=4096),
        )


@dataclass(frozen=True)
class ModelInfo:
    name: str
    line: str | None
    version: str | None
    manifest: Manifest
    resources: tuple[Resource, ...]
    publisher_signatures: tuple[PublisherSignature, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.line is not None:
            out["line"] = self.line
        if self.version is not None:
            out["version"] = self.version
        out["manifest"] = self.manifest.to_dict()
        out["resources"] = [r.to_dict() for r in self.resources]
        out["publisherSignatures"] = [p.to_dict() for p in self.publisher_signatures]
        return out

    @classmethod
    def parse(cls, f: Fields) -> ModelInfo:
        resources = tuple(
            Resource.parse(Fields(item, f"{f.at('resources')}/{i}", ("name", "algorithm", "digest", "size")))
            for i, item in enumerate(f.items("resources"))
        )
        signatures = tuple(
            PublisherSignature.parse(
                Fields(
                    item,
                    f"{f.at('publisherSignatures')}/{i}",
                    ("bundleDigest", "method", "identity", "verified", "detail"),
                )
            )
            for i, item in enumerate(f.items("publisherSignatures", required=False, max_items=64))
        )
        manifest = Manifest.parse(
            f.child(
                "manifest",
                allowed=(
                    "rootDigest",
                    "resourcesDigest",
                    "resourceCount",
                    "totalBytes",
                    "omsPredicateType",
                    "serialization",
                ),
            )
        )
        return cls(
            f.text("name", max_len=512),
            f.opt_text("line", max_len=512),
            f.opt_text("version", max_len=128),
            manifest,
            resources,
            signatures,
        )


@dataclass(frozen=True)
class PolicyRef:
    id: str
    version: str
    uri: str
    digest: str  # sha256 of the policy file's bytes
    conflict_rule: ConflictRule

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "uri": self.uri,
            "digest": _digest(self.digest),
            "conflictRule": self.conflict_rule,
        }

    @classmethod
    def parse(cls, f: Fields) -> PolicyRef:
        return cls(
            f.text("id", max_len=64),
            f.text("version", max_len=32),
            f.text("uri", max_len=512),
            _parse_digest(f, "digest"),
            cast(ConflictRule, f.choice("conflictRule", CONFLICT_RULES)),
        )


@dataclass(frozen=True)
class Scanner:
    name: str
    version: str
    purl: str
    ruleset_digest: str  # sha256 of the JCS of the check catalogue (id, severity, confidence, verdict)
    python: str
    os: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "purl": self.purl,
            "rulesetDigest": _digest(self.ruleset_digest),
            "environment": {"python": self.python, "os": self.os},
        }

    @classmethod
    def parse(cls, f: Fields) -> Scanner:
        env = f.child("environment", allowed=("python", "os"))
        return cls(
            f.text("name", max_len=128),
            f.text("version", max_len=64),
            f.text("purl", max_len=512),
            _parse_digest(f, "rulesetDigest"),
            env.text("python", max_len=64),
            env.text("os", max_len=64),
        )


@dataclass(frozen=True)
class FindingItem:
    """A public line per finding; its message and details are only in the salted `commitment`."""

    id: str
    rule_id: str
    severity: str
    confidence: str
    verdict: str
    status: str
    location: str  # the OMS resource name (file path) the finding is in
    taxonomy: tuple[str, ...]
    disclosure: str
    commitment: str  # sha256(JCS({"salt": hex, "finding": <full finding>}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ruleId": self.rule_id,
            "severity": self.severity,
            "confidence": self.confidence,
            "verdict": self.verdict,
            "status": self.status,
            "location": self.location,
            "taxonomy": list(self.taxonomy),
            "disclosure": self.disclosure,
            "commitment": _digest(self.commitment),
        }

    @classmethod
    def parse(cls, f: Fields) -> FindingItem:
        return cls(
            f.text("id", max_len=32),
            f.text("ruleId", max_len=16),
            f.text("severity", max_len=16),
            f.text("confidence", max_len=16),
            f.text("verdict", max_len=16),
            f.choice("status", FINDING_STATUSES),
            f.text("location", max_len=4096),
            tuple(f.texts("taxonomy")),
            f.choice("disclosure", DISCLOSURES),
            _parse_digest(f, "commitment"),
        )


ITEM_FIELDS = (
    "id",
    "ruleId",
    "severity",
    "confidence",
    "verdict",
    "status",
    "location",
    "taxonomy",
    "disclosure",
    "commitment",
)


@dataclass(frozen=True)
class Evidence:
    name: str
    digest: str
    media_type: str
    disclosure: str = "private"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "digest": _digest(self.digest),
            "mediaType": self.media_type,
            "annotations": {"disclosure": self.disclosure},
        }

    @classmethod
    def parse(cls, f: Fields) -> Evidence:
        notes = f.child("annotations", allowed=("disclosure",))
        return cls(
            f.text("name", max_len=512),
            _parse_digest(f, "digest"),
            f.text("mediaType", max_len=128),
            notes.choice("disclosure", DISCLOSURES),
        )


@dataclass(frozen=True)
class RequirementOutcome:
    id: str
    passed: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "passed": self.passed, "reasons": list(self.reasons)}

    @classmethod
    def parse(cls, f: Fields) -> RequirementOutcome:
        return cls(f.text("id", max_len=64), f.flag("passed", False), tuple(f.texts("reasons")))


@dataclass(frozen=True)
class CertificatePredicate:
    certificate_id: str
    issuer: Issuer
    issued_at: datetime
    scanned_at: datetime
    valid_until: datetime
    model: ModelInfo
    policy: PolicyRef
    scanners: tuple[Scanner, ...]
    result: Result
    levels: tuple[str, ...]
    risk_rating: str
    requirements: tuple[RequirementOutcome, ...]
    summary: dict[str, dict[str, int]]  # verdict -> severity -> count, every finding
    items: tuple[FindingItem, ...]
    items_truncated: bool
    waivers: WaiverSet
    evidence: tuple[Evidence, ...] = ()
    backdoor_evidence: BackdoorEvidence | None = None
    compliance: ComplianceClaim | None = None

    @property
    def passed(self) -> bool:
        return self.result != "FAILED"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "certificateId": self.certificate_id,
            "issuer": self.issuer.to_dict(),
            "issuedAt": format_time(self.issued_at),
            "scannedAt": format_time(self.scanned_at),
            "validUntil": format_time(self.valid_until),
            "model": self.model.to_dict(),
            "policy": self.policy.to_dict(),
            "scanners": [s.to_dict() for s in self.scanners],
            "result": self.result,
            "levels": list(self.levels),
            "riskRating": self.risk_rating,
            "requirements": [r.to_dict() for r in self.requirements],
            "findings": {
                "summary": self.summary,
                "items": [i.to_dict() for i in self.items],
                "truncated": self.items_truncated,
            },
            "waivers": [w.to_dict() for w in self.waivers.waivers],
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.backdoor_evidence is not None:  # optional members: older certificates lack them
            out["backdoorEvidence"] = self.backdoor_evidence.to_dict()
        if self.compliance is not None:
            out["compliance"] = self.compliance.to_dict()
        return out

    @classmethod
    def parse(cls, obj: Any, where: str = "/predicate") -> CertificatePredicate:
        f = Fields(
            obj,
            where,
            allowed=(
                "certificateId",
                "issuer",
                "issuedAt",
                "scannedAt",
                "validUntil",
                "model",
                "policy",
                "scanners",
                "result",
                "levels",
                "riskRating",
                "requirements",
                "findings",
                "waivers",
                "evidence",
                "backdoorEvidence",
                "compliance",
            ),
        )
        findings = f.child("findings", allowed=("summary", "items", "truncated"))
        waivers = WaiverSet.from_dict({"schema": "modelcert/waivers/v1", "waivers": f.items("waivers")})
        return cls(
            certificate_id=f.text("certificateId", max_len=128),
            issuer=Issuer.parse(f.child("issuer", allowed=("id", "name", "jurisdiction", "keyId", "role"))),
            issued_at=f.time("issuedAt"),
            scanned_at=f.time("scannedAt"),
            valid_until=f.time("validUntil"),
            model=ModelInfo.parse(
                f.child(
                    "model",
                    allowed=("name", "line", "version", "manifest", "resources", "publisherSignatures"),
                )
            ),
            policy=PolicyRef.parse(
                f.child("policy", allowed=("id", "version", "uri", "digest", "conflictRule"))
            ),
            scanners=tuple(
                Scanner.parse(
                    Fields(
                        s,
                        f"{f.at('scanners')}/{i}",
                        ("name", "version", "purl", "rulesetDigest", "environment"),
                    )
                )
                for i, s in enumerate(f.items("scanners", max_items=16))
            ),
            result=cast(Result, f.choice("result", RESULTS)),
            levels=tuple(f.texts("levels")),
            risk_rating=f.choice("riskRating", RISK_RATINGS),
            requirements=tuple(
                RequirementOutcome.parse(
                    Fields(r, f"{f.at('requirements')}/{i}", ("id", "passed", "reasons"))
                )
                for i, r in enumerate(f.items("requirements", max_items=1024))
            ),
            summary=_parse_summary(findings.child("summary")),
            items=tuple(
                FindingItem.parse(Fields(it, f"{findings.at('items')}/{i}", ITEM_FIELDS))
                for i, it in enumerate(findings.items("items"))
            ),
            items_truncated=findings.flag("truncated", False),
            waivers=waivers,
            evidence=tuple(
                Evidence.parse(
                    Fields(e, f"{f.at('evidence')}/{i}", ("name", "digest", "mediaType", "annotations"))
                )
                for i, e in enumerate(f.items("evidence", required=False, max_items=64))
            ),
            backdoor_evidence=BackdoorEvidence.parse(
                f.child("backdoorEvidence", allowed=BackdoorEvidence.FIELDS)
            )
            if f.has("backdoorEvidence")
            else None,
            compliance=ComplianceClaim.parse(f.obj["compliance"], f.at("compliance"))
            if f.has("compliance")
            else None,
        )


def _parse_summary(f: Fields) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for verdict in f.obj:
        row = f.child(verdict)
        out[str(verdict)] = {str(sev): row.integer(sev, minimum=0) for sev in row.obj}
    return out
