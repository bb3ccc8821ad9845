"""Verification steps for the optional predicate members: what the verifier demands of every
certificate (`--min-evidence`, `--require-clause`) and what an accepted certificate claims."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelcert.certificate.claims import backdoor_rank
from modelcert.certificate.predicate import CertificatePredicate
from modelcert.compliance.results import MET

Status = Literal["pass", "fail", "warn", "info"]
StepSpec = tuple[str, Status, str]  # step name, status, message


@dataclass(frozen=True)
class Demands:
    """What the verifier asks of every certificate beyond the trust file."""

    min_evidence: str | None = None  # E0..E3
    require_clauses: tuple[str, ...] = ()


def demand_steps(label: str, p: CertificatePredicate, demands: Demands) -> list[StepSpec]:
    """One step per demand; a failing step rejects the certificate, naming the level or clause."""
    steps: list[StepSpec] = []
    evidence, compliance, need = p.backdoor_evidence, p.compliance, demands.min_evidence
    if need is not None and evidence is None:
        steps.append(("evidence", "fail", f"{label}: records no backdoor evidence level; {need} required"))
    elif need is not None and evidence is not None:
        if backdoor_rank(evidence.level) < backdoor_rank(need):
            message = f"{label}: backdoor evidence level {evidence.level} is below the required {need}"
            steps.append(("evidence", "fail", message))
        else:
            steps.append(("evidence", "pass", f"backdoor evidence level {evidence.level} (required {need})"))
    for clause_id in demands.require_clauses:
        if compliance is None:
            steps.append(
                ("compliance", "fail", f"{label}: no compliance results; clause {clause_id} required")
            )
            continue
        clause = compliance.clause(clause_id)
        profile = compliance.profile
        if clause is None:
            message = f"{label}: compliance profile {profile} does not report clause {clause_id}"
            steps.append(("compliance", "fail", message))
        elif clause.status != MET:
            message = f"{label}: compliance clause {clause_id} is {clause.status} (profile {profile})"
            steps.append(("compliance", "fail", message))
        else:
            level = f" at {clause.level}" if clause.level else ""
            steps.append(("compliance", "pass", f"clause {clause_id} met{level} (profile {profile})"))
    return steps


def claim_steps(p: CertificatePredicate) -> list[StepSpec]:
    """What an accepted certificate says about backdoors and compliance, in its own words."""
    steps: list[StepSpec] = []
    evidence, compliance = p.backdoor_evidence, p.compliance
    if evidence is not None:
        steps.append(("evidence", "info", f"backdoor evidence level {evidence.level}: {evidence.statement}"))
    if compliance is None:
        return steps
    target = compliance.target
    answered = (
        f"target {target['kind']} {target['name']} (binding: {target['binding']})" if target else "no target"
    )
    steps.append(
        (
            "compliance",
            "info",
            f"profile {compliance.profile} of pack {compliance.pack_id} v{compliance.pack_version}: "
            f"{compliance.status}; {answered}",
        )
    )
    if target is not None and target["binding"] == "mock":
        steps.append(
            (
                "compliance",
                "warn",
                "behaviour was measured on a mock (a test double): it says nothing about this package",
            )
        )
    return steps
