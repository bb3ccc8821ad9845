"""Build the optional predicate members from what the certifier ran: the evidence level of the scan
(`backdoorEvidence`) and a compliance run (`compliance`, its per-clause requirements and evidence)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelcert.certificate.claims import (
    MAX_BLOCKERS,
    BackdoorEvidence,
    BehaviourSummary,
    ComplianceClaim,
    LineageSummary,
)
from modelcert.certificate.predicate import Evidence, RequirementOutcome
from modelcert.compliance.engine import ComplianceRun
from modelcert.compliance.evidence import (
    certificate_evidence,
    certificate_requirements,
    compliance_predicate,
    evidence_document,
)
from modelcert.compliance.results import MET

NOT_AUTOMATABLE = "not automatable: reported, does not decide the result"


def backdoor_member(summary: dict[str, Any], base_digest: str | None, commitment: str) -> BackdoorEvidence:
    """The public part of `evidence_level(report)`: level, statement, blockers and summaries.

    `commitment` binds the whole `summary` (trigger candidates, per-tensor changes) for the disclosure.
    """
    lineage = summary.get("lineage")
    behaviour = summary.get("behaviour")
    blocked = summary.get("blocked_by") or {}
    return BackdoorEvidence(
        level=str(summary["level"]),
        statement=str(summary["statement"])[:4096],
        blocked_by={
            str(level): tuple(str(reason)[:512] for reason in reasons[:MAX_BLOCKERS])
            for level, reasons in sorted(blocked.items())
        },
        base_digest=base_digest,
        lineage=LineageSummary.from_details(lineage) if isinstance(lineage, dict) else None,
        behaviour=BehaviourSummary.from_details(behaviour) if isinstance(behaviour, dict) else None,
        commitment=commitment,
    )


@dataclass(frozen=True)
class ComplianceAttachment:
    claim: ComplianceClaim
    requirements: tuple[RequirementOutcome, ...]
    evidence: Evidence
    document: dict[str, Any]  # the evidence document `evidence` names by digest
    failures: tuple[str, ...]  # automatable clauses that are not met, for the certifier's console

    @property
    def met(self) -> bool:
        return self.claim.met


def attach_compliance(run: ComplianceRun, audience: str = "public") -> ComplianceAttachment:
    """The certificate fragments of a compliance run, the member read back through the strict parser."""
    claim = ComplianceClaim.from_fragment(compliance_predicate(run, audience))
    requirements = []
    for clause, entry in zip(run.clauses, certificate_requirements(run), strict=True):
        reasons = [str(r) for r in entry["reasons"]]
        if not clause.clause.refs:
            reasons.append(NOT_AUTOMATABLE)
        requirements.append(RequirementOutcome(str(entry["id"]), bool(entry["passed"]), tuple(reasons)))
    fragment = certificate_evidence(run, audience)
    evidence = Evidence(
        fragment["name"],
        fragment["digest"]["sha256"],
        fragment["mediaType"],
        fragment["annotations"]["disclosure"],
    )
    failures = tuple(
        f"compliance {run.profile.id}: clause {c.clause.id} is {c.status}"
        for c in run.clauses
        if c.clause.refs and c.status != MET
    )
    return ComplianceAttachment(
        claim, tuple(requirements), evidence, evidence_document(run, audience), failures
    )
