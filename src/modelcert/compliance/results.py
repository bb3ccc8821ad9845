"""Results of checks and clauses: met / not met / not measurable, with the evidence level reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelcert.behaviour.importers.common import ImportedRun
from modelcert.behaviour.runner import EvalRun
from modelcert.compliance.packs import CheckSpec

MET, NOT_MET, NOT_MEASURABLE = "met", "not met", "not measurable"
STATUSES = (MET, NOT_MET, NOT_MEASURABLE)


@dataclass(frozen=True)
class RequirementResult:
    """One field of a documentation check, or one declared-vs-actual comparison."""

    id: str
    status: str
    reason: str
    level: str  # E0 declared (present in the card) or E1 (verified against the artifacts)
    declared: str | None = None
    actual: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "level": self.level,
        }
        if self.declared is not None:
            out["declared"] = self.declared
        if self.actual is not None:
            out["actual"] = self.actual
        return out


@dataclass(frozen=True)
class CheckResult:
    check: CheckSpec
    status: str
    reason: str
    level: str | None  # evidence level reached; None when nothing was measured
    requirements: tuple[RequirementResult, ...] = ()
    run: EvalRun | None = None
    imported: ImportedRun | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # extra public facts (digests found, counts)

    def requirement(self, rid: str) -> RequirementResult | None:
        for req in self.requirements:
            if req.id == rid:
                return req
        return None


def combine(statuses: list[str]) -> str:
    """not met if any is; else not measurable if any is (or there are none); else met."""
    if NOT_MET in statuses:
        return NOT_MET
    if not statuses or NOT_MEASURABLE in statuses:
        return NOT_MEASURABLE
    return MET
