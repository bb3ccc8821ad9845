"""Issue a certificate: scan report + policy result → statement → DSSE envelope signed by the certifier.

Also co-signing: a second certifier re-examines the same package under the same policy and, when it
reaches the same result, adds its signature over the byte-identical payload.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import secrets
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from modelcert.certificate import dsse
from modelcert.certificate.attach import ComplianceAttachment, backdoor_member
from modelcert.certificate.claims import BackdoorEvidence, ComplianceClaim, backdoor_rank
from modelcert.certificate.jcs import CanonicalizationError, canonicalize
from modelcert.certificate.keys import SigningKey
from modelcert.certificate.predicate import (
    CertificatePredicate,
    Evidence,
    FindingItem,
    Issuer,
    Manifest,
    ModelInfo,
    PolicyRef,
    PublisherSignature,
    RequirementOutcome,
    Resource,
    Result,
    Scanner,
)
from modelcert.certificate.statement import Statement, resources_digest, root_digest_of
from modelcert.certificate.trust import IssuerInfo
from modelcert.checks.backdoor_evidence import evidence_level
from modelcert.checks.registry import all_checks
from modelcert.errors import ModelcertError
from modelcert.findings import ScanReport, Severity, Verdict
from modelcert.package import OMS_DEFAULT_IGNORED
from modelcert.policy.load import PolicyDocument
from modelcert.policy.model import PolicyResult, RequirementVerdict, located_findings
from modelcert.policy.waivers import WaiverSet

DISCLOSURE_SCHEMA = "modelcert/disclosure/v1"
DEFAULT_VALIDITY_DAYS = 180
MAX_FINDING_ITEMS = 1000  # the summary counts every finding; items beyond this are only in the disclosure


class IssueError(ModelcertError):
    """The package cannot be certified as asked (not one package, a symlink, a disagreeing co-signer)."""


@dataclass(frozen=True)
class Issued:
    envelope: dsse.Envelope
    statement: Statement
    policy_result: PolicyResult
    disclosure: bytes  # JCS document with each finding in full and its salt: the certifier keeps it private


def issue_certificate(
    report: ScanReport,
    policy: PolicyDocument,
    waivers: WaiverSet,
    issuer: IssuerInfo,
    key: SigningKey,
    *,
    now: datetime,
    line: str | None = None,
    version: str | None = None,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    publisher_signatures: Sequence[PublisherSignature] = (),
    model_name: str | None = None,
    compliance: ComplianceAttachment | None = None,
    base_digest: str | None = None,
) -> Issued:
    """Evaluate the policy on the report and sign the result (PASSED, CONDITIONAL or FAILED).

    The backdoor evidence level of the report is always recorded (`base_digest` names the declared
    base a lineage comparison used). A compliance run adds its member, one requirement per clause
    and its evidence document's digest; an automatable clause that is not met fails the certificate.
    """
    if len(report.inputs) != 1 or report.root_digest is None:
        raise IssueError("a certificate covers exactly one package: scan one folder or file")
    if validity_days < 1:
        raise IssueError("validity must be at least one day")
    resources = _resources(report)
    if root_digest_of(resources) != report.root_digest:
        raise IssueError(
            "the scan's root digest does not match its files (the package changed during the scan?)"
        )
    if compliance is not None and compliance.claim.subject != report.root_digest:
        raise IssueError(
            f"the compliance run examined sha256:{compliance.claim.subject}, the scan "
            f"sha256:{report.root_digest} (the package changed between them?)"
        )
    result = policy.evaluate(report, waivers, now)
    outcome = _result(result)
    if compliance is not None and not compliance.met:
        outcome = "FAILED"
    certificate_id = f"urn:uuid:{uuid.uuid4()}"
    items, truncated, disclosure = _finding_items(report, waivers, now, certificate_id)
    backdoor, disclosure["backdoorEvidence"] = _backdoor_evidence(report, base_digest)
    disclosure_bytes = canonicalize(disclosure)
    predicate = CertificatePredicate(
        certificate_id=certificate_id,
        issuer=Issuer(issuer.id, issuer.name, issuer.jurisdiction, key.key_id, issuer.role),
        issued_at=now,
        scanned_at=now - timedelta(seconds=int(report.duration_seconds)),
        valid_until=now + timedelta(days=validity_days),
        model=ModelInfo(
            name=model_name or Path(report.inputs[0].path).name or "model",
            line=line,
            version=version,
            manifest=Manifest(
                report.root_digest,
                resources_digest(resources),
                len(resources),
                sum(r.size for r in resources),
                OMS_DEFAULT_IGNORED,
            ),
            resources=tuple(resources),
            publisher_signatures=tuple(publisher_signatures),
        ),
        policy=PolicyRef(policy.id, policy.version, policy.uri, policy.digest, policy.conflict_rule),
        scanners=(_scanner(report),),
        result=outcome,
        levels=_levels(result, policy) if outcome != "FAILED" else (),
        risk_rating=_risk_rating(report, waivers, now),
        requirements=(
            *_leaves(result.verdict),
            *(compliance.requirements if compliance is not None else ()),
        ),
        summary=_summary(report),
        items=tuple(items),
        items_truncated=truncated,
        waivers=WaiverSet(tuple(a.waiver for a in result.waivers_applied)),
        evidence=(
            Evidence(
                "scan-report.json",
                hashlib.sha256(canonicalize(_jsonable(report.to_dict()))).hexdigest(),
                "application/json",
            ),
            Evidence(
                "findings-disclosure.json", hashlib.sha256(disclosure_bytes).hexdigest(), "application/json"
            ),
            *((compliance.evidence,) if compliance is not None else ()),
        ),
        backdoor_evidence=backdoor,
        compliance=compliance.claim if compliance is not None else None,
    )
    statement = Statement(predicate.model.name, report.root_digest, predicate)
    statement.check_consistency()
    envelope = dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, statement.to_payload(), key)
    return Issued(envelope, statement, result, disclosure_bytes)


def cosign(
    envelope: dsse.Envelope,
    report: ScanReport,
    policy: PolicyDocument,
    key: SigningKey,
    *,
    now: datetime,
    compliance: ComplianceAttachment | None = None,
) -> dsse.Envelope:
    """Add `key`'s signature when an independent evaluation of this package reaches the same result.

    The co-signer's scan must give the certificate's subject digest, the policy must be the very file
    the certificate names (same digest), and the result under the certificate's waivers must be equal.
    The co-signer vouches for the whole payload, so its scan must reach at least the certificate's
    backdoor evidence level, and a certificate with compliance results needs the co-signer's own run
    of the same profile of the same pack, clause by clause equal.
    """
    statement = Statement.from_payload(envelope.payload)
    predicate = statement.predicate
    disagreements = []
    if report.root_digest != statement.subject_digest:
        disagreements.append(
            f"this package's root digest {report.root_digest} is not the certificate subject "
            f"{statement.subject_digest}"
        )
    if policy.digest != predicate.policy.digest:
        disagreements.append(
            f"policy {policy.id} (sha256 {policy.digest[:16]}…) is not the certificate's policy "
            f"{predicate.policy.id} (sha256 {predicate.policy.digest[:16]}…)"
        )
    if now > predicate.valid_until:
        disagreements.append(f"the certificate expired at {predicate.valid_until.isoformat()}")
    disagreements += _evidence_disagreements(predicate.backdoor_evidence, report)
    disagreements += _compliance_disagreements(predicate.compliance, compliance)
    if not disagreements:
        mine = _result(policy.evaluate(report, predicate.waivers, now))
        if compliance is not None and not compliance.met:
            mine = "FAILED"
        if mine != predicate.result:
            disagreements.append(f"this evaluation gives {mine}, the certificate says {predicate.result}")
    if disagreements:
        raise IssueError("will not co-sign: " + "; ".join(disagreements))
    return dsse.add_signature(envelope, key)


def _backdoor_evidence(
    report: ScanReport, base_digest: str | None
) -> tuple[BackdoorEvidence, dict[str, Any]]:
    """The public member and its disclosure entry: the full evidence details, salted and committed."""
    summary = _jsonable(evidence_level(report))
    salt = secrets.token_hex(16)
    commitment = hashlib.sha256(canonicalize({"salt": salt, "evidence": summary})).hexdigest()
    return backdoor_member(summary, base_digest, commitment), {"salt": salt, "evidence": summary}


def _evidence_disagreements(claimed: BackdoorEvidence | None, report: ScanReport) -> list[str]:
    if claimed is None:
        return []
    mine = str(evidence_level(report)["level"])
    if backdoor_rank(mine) >= backdoor_rank(claimed.level):
        return []
    return [
        f"the certificate claims backdoor evidence level {claimed.level}, this examination reached "
        f"{mine} (scan with the same --base/--behaviour as the certifier)"
    ]


def _compliance_disagreements(
    claimed: ComplianceClaim | None, mine: ComplianceAttachment | None
) -> list[str]:
    if claimed is None:
        return ["the certificate has no compliance results; co-signing cannot add them"] if mine else []
    if mine is None:
        return [
            f"the certificate carries compliance results for profile {claimed.profile}: "
            f"re-run them (--comply-profile {claimed.profile})"
        ]
    ours = mine.claim
    if (ours.profile, ours.pack_digest) != (claimed.profile, claimed.pack_digest):
        return [
            f"compliance profile {ours.profile} of pack sha256 {ours.pack_digest[:16]}… is not the "
            f"certificate's {claimed.profile} of pack sha256 {claimed.pack_digest[:16]}…"
        ]
    theirs = {c.id: c.status for c in claimed.clauses}
    return [
        f"compliance clause {c.id}: this run says {c.status}, the certificate {theirs.get(c.id, 'nothing')}"
        for c in ours.clauses
        if theirs.get(c.id) != c.status
    ]


def _resources(report: ScanReport) -> list[Resource]:
    resources = []
    for artifact in report.files:
        if artifact.sha256 is None:
            raise IssueError(
                f"{artifact.path} is a {artifact.format} entry, not a readable regular file: "
                "certificates cover "
                "regular files only (remove symlinks and special files, fix unreadable files)"
            )
        resources.append(Resource(artifact.path, artifact.sha256, artifact.size))
    return sorted(resources, key=lambda r: r.name)


def _result(result: PolicyResult) -> Result:
    if not result.passed:
        return "FAILED"
    return "CONDITIONAL" if result.conditional else "PASSED"


def _levels(result: PolicyResult, policy: PolicyDocument) -> tuple[str, ...]:
    if not result.passed:
        return ()
    name = re.sub(r"[^A-Z0-9]+", "_", policy.id.upper())
    return (
        "MODELCERT_INTEGRITY_L1",
        f"MODELCERT_{name}_V{re.sub(r'[^0-9A-Z]+', '_', policy.version.upper())}",
    )


def _risk_rating(report: ScanReport, waivers: WaiverSet, now: datetime) -> str:
    worst = max(
        (
            lf.finding.severity
            for lf in located_findings(report)
            if lf.finding.verdict is not Verdict.CLEAN
            and waivers.find(lf.finding.check_id, lf.digests, now) is None
        ),
        default=Severity.INFO,
    )
    return {Severity.CRITICAL: "serious", Severity.HIGH: "high", Severity.MEDIUM: "medium"}.get(worst, "low")


def _leaves(verdict: RequirementVerdict) -> list[RequirementOutcome]:
    if not verdict.children:
        return [RequirementOutcome(verdict.id, verdict.passed, verdict.reasons)]
    return [leaf for child in verdict.children for leaf in _leaves(child)]


def _summary(report: ScanReport) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for finding in report.all_findings():
        row = counts.setdefault(finding.verdict.value, {})
        row[finding.severity.label] = row.get(finding.severity.label, 0) + 1
    return counts


def _finding_items(
    report: ScanReport, waivers: WaiverSet, now: datetime, certificate_id: str
) -> tuple[list[FindingItem], bool, dict[str, Any]]:
    items: list[FindingItem] = []
    revealed: list[dict[str, Any]] = []
    truncated = False
    for located in located_findings(report):
        finding = located.finding
        if finding.verdict is Verdict.CLEAN:
            continue
        salt = secrets.token_hex(16)
        detail = _jsonable(finding.to_dict())
        item_id = f"f-{len(revealed) + 1}"
        revealed.append({"id": item_id, "salt": salt, "finding": detail})
        if len(items) >= MAX_FINDING_ITEMS:
            truncated = True
            continue
        waived = waivers.find(finding.check_id, located.digests, now) is not None
        items.append(
            FindingItem(
                id=item_id,
                rule_id=finding.check_id,
                severity=finding.severity.label,
                confidence=finding.confidence.label,
                verdict=finding.verdict.value,
                status="accepted" if waived else "open",
                location=finding.location.path,
                taxonomy=(finding.cwe,) if finding.cwe else (),
                disclosure="private",
                commitment=hashlib.sha256(canonicalize({"salt": salt, "finding": detail})).hexdigest(),
            )
        )
    disclosure = {"schema": DISCLOSURE_SCHEMA, "certificateId": certificate_id, "items": revealed}
    return items, truncated, disclosure


def _scanner(report: ScanReport) -> Scanner:
    catalogue = [
        {
            "id": c.id,
            "severity": c.severity.label,
            "confidence": c.confidence.label,
            "verdict": c.verdict.value,
        }
        for c in all_checks().values()
    ]
    return Scanner(
        name=report.tool,
        version=report.version,
        purl=f"pkg:pypi/{report.tool}@{report.version}",
        ruleset_digest=hashlib.sha256(canonicalize(catalogue)).hexdigest(),
        python=platform.python_version(),
        os=sys.platform,
    )


def _jsonable(value: Any) -> Any:
    """Finding details as plain JSON that JCS accepts (bytes as hex, huge numbers as strings)."""
    cleaned = json.loads(json.dumps(value, default=lambda v: v.hex() if isinstance(v, bytes) else str(v)))
    try:
        canonicalize(cleaned)
    except CanonicalizationError:
        return json.loads(
            json.dumps(cleaned, default=str), parse_int=str, parse_float=str, parse_constant=str
        )
    return cleaned
