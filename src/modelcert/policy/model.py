"""Policies: requirements over a ScanReport, each giving pass/fail with reasons, composed with AllOf/AnyOf.

A policy never looks at raw bytes: it reads the findings the scanner produced, the verdict of every
file, and the waivers in force at `now`. The built-in profiles (baseline, strict) are data files built
from the two leaf requirements here; see `modelcert.policy.load`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from modelcert.errors import ModelcertError
from modelcert.findings import ArtifactReport, Confidence, Finding, ScanReport, Severity, Verdict
from modelcert.policy.waivers import Waiver, WaiverSet

MAX_REASONS = 50  # per requirement: enough to act on, bounded for reports and certificates


class PolicyError(ModelcertError):
    """A policy is malformed (for example an empty AllOf)."""


@dataclass(frozen=True)
class RequirementVerdict:
    """Pass/fail of one requirement (or a composite), with the reasons a human needs."""

    id: str
    title: str
    passed: bool
    reasons: tuple[str, ...]
    children: tuple[RequirementVerdict, ...] = ()

    def failing_reasons(self) -> list[str]:
        """Reasons of the failed leaves under this verdict, prefixed by their requirement ID."""
        if self.passed:
            return []
        if not self.children:
            return [f"{self.id}: {r}" for r in self.reasons]
        return [r for child in self.children for r in child.failing_reasons()]

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "passed": self.passed, "reasons": list(self.reasons)}
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass(frozen=True)
class AppliedWaiver:
    """A waiver that exempted a finding in this evaluation."""

    waiver: Waiver
    finding: str  # "MC101 in model.pkl (opcode #12)"


@dataclass(frozen=True)
class PolicyResult:
    verdict: RequirementVerdict
    waivers_applied: tuple[AppliedWaiver, ...] = ()
    waivers_expired: tuple[Waiver, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def conditional(self) -> bool:
        """Passed, but only because waivers exempted findings."""
        return self.passed and bool(self.waivers_applied)

    def reasons(self) -> list[str]:
        notes = [f"waiver expired and no longer applies: {w.describe()}" for w in self.waivers_expired]
        return [*self.verdict.failing_reasons(), *notes]


class Policy(Protocol):
    """Anything that judges a scan report."""

    def evaluate(self, report: ScanReport, waivers: WaiverSet, now: datetime) -> PolicyResult: ...


@dataclass(frozen=True)
class LocatedFinding:
    """A finding with the SHA-256 digests of the file holding it and of every container around it."""

    finding: Finding
    digests: frozenset[str]


def located_findings(report: ScanReport) -> Iterator[LocatedFinding]:
    """Every finding of the report; package-level findings carry the package root digest."""
    root = frozenset({report.root_digest} if report.root_digest else ())
    for finding in report.package_findings:
        yield LocatedFinding(finding, root)
    for artifact in report.files:
        yield from _walk(artifact, frozenset())


def _walk(artifact: ArtifactReport, outer: frozenset[str]) -> Iterator[LocatedFinding]:
    digests = outer | {artifact.sha256} if artifact.sha256 else outer
    for finding in artifact.findings:
        yield LocatedFinding(finding, digests)
    for member in artifact.members:
        yield from _walk(member, digests)


class Requirement:
    """A leaf of a policy. Subclasses implement `check` and get waiver handling for free."""

    def __init__(self, id: str, title: str) -> None:
        self.id = id
        self.title = title

    def evaluate(self, report: ScanReport, waivers: WaiverSet, now: datetime) -> PolicyResult:
        applied: list[AppliedWaiver] = []
        reasons, ok_reason = self.check(report, waivers, now, applied)
        passed = not reasons
        verdict = RequirementVerdict(
            self.id, self.title, passed, _bounded(reasons) if reasons else (ok_reason,)
        )
        return PolicyResult(verdict, tuple(applied), waivers.expired(now))

    def check(
        self, report: ScanReport, waivers: WaiverSet, now: datetime, applied: list[AppliedWaiver]
    ) -> tuple[list[str], str]:
        """(blocking reasons, the sentence that says why it passed when there are none)."""
        raise NotImplementedError


class FindingsRule(Requirement):
    """Fails on any finding whose verdict is listed and that reaches both minimum severity and confidence."""

    def __init__(
        self,
        id: str,
        title: str,
        verdicts: Iterable[Verdict],
        min_severity: Severity = Severity.INFO,
        min_confidence: Confidence = Confidence.LOW,
    ) -> None:
        super().__init__(id, title)
        self.verdicts = frozenset(verdicts)
        if not self.verdicts or Verdict.CLEAN in self.verdicts:
            raise PolicyError(f"requirement {id!r}: list the blocking verdicts (not 'clean')")
        self.min_severity = min_severity
        self.min_confidence = min_confidence

    def check(
        self, report: ScanReport, waivers: WaiverSet, now: datetime, applied: list[AppliedWaiver]
    ) -> tuple[list[str], str]:
        reasons = []
        for located in located_findings(report):
            f = located.finding
            if f.verdict not in self.verdicts or f.severity < self.min_severity:
                continue
            if f.confidence < self.min_confidence:
                continue
            label = f"{f.check_id} in {f.location.display()}"
            waiver = waivers.find(f.check_id, located.digests, now)
            if waiver is not None:
                applied.append(AppliedWaiver(waiver, label))
                continue
            reasons.append(
                f"{label}: {f.title} ({f.verdict.value}, {f.severity.label}, {f.confidence.label} confidence)"
            )
        which = "/".join(sorted(v.value for v in self.verdicts))
        return reasons, (
            f"no {which} finding at severity ≥ {self.min_severity.label} "
            f"and confidence ≥ {self.min_confidence.label}"
        )


class SkippedFilesRule(Requirement):
    """Fails when a file of the package was not analysed, unless its format is in `allowed_formats`.

    Only files on disk count: a skipped member (a README inside an archive, raw tensor bytes) does not
    make its container skipped, as in `ArtifactReport.verdict`.
    """

    def __init__(self, id: str, title: str, allowed_formats: Iterable[str] = ()) -> None:
        super().__init__(id, title)
        self.allowed_formats = frozenset(allowed_formats)

    def check(
        self, report: ScanReport, waivers: WaiverSet, now: datetime, applied: list[AppliedWaiver]
    ) -> tuple[list[str], str]:
        reasons = [
            f"{a.path} was not analysed ({a.format}: {a.skipped_reason})"
            for a in report.files
            if a.skipped_reason and a.format not in self.allowed_formats
        ]
        allowed = ", ".join(sorted(self.allowed_formats)) or "none"
        return reasons, f"every file was analysed (skipping allowed only for: {allowed})"


class _Composite:
    kind = ""

    def __init__(self, id: str, title: str, parts: Sequence[Policy]) -> None:
        if not parts:
            raise PolicyError(
                f"{id!r}: {self.kind} needs at least one requirement (an empty one decides nothing)"
            )
        self.id = id
        self.title = title
        self.parts = tuple(parts)

    def _children(self, report: ScanReport, waivers: WaiverSet, now: datetime) -> list[PolicyResult]:
        return [p.evaluate(report, waivers, now) for p in self.parts]


def _merge(verdict: RequirementVerdict, results: Sequence[PolicyResult]) -> PolicyResult:
    applied: dict[tuple[Waiver, str], AppliedWaiver] = {}
    expired: dict[Waiver, None] = {}
    for result in results:
        for a in result.waivers_applied:
            applied.setdefault((a.waiver, a.finding), a)
        for w in result.waivers_expired:
            expired.setdefault(w, None)
    return PolicyResult(verdict, tuple(applied.values()), tuple(expired))


class AllOf(_Composite):
    """Passes when every part passes. An empty AllOf would pass everything, so it is refused."""

    kind = "AllOf"

    def evaluate(self, report: ScanReport, waivers: WaiverSet, now: datetime) -> PolicyResult:
        results = self._children(report, waivers, now)
        passed = all(r.passed for r in results)
        failed = [r.verdict.id for r in results if not r.passed]
        reason = "all requirements met" if passed else f"not met: {', '.join(failed)}"
        verdict = RequirementVerdict(
            self.id, self.title, passed, (reason,), tuple(r.verdict for r in results)
        )
        return _merge(verdict, results)


class AnyOf(_Composite):
    """Passes when at least one part passes. Only the waivers of a passing part count as applied.

    An empty AnyOf would fail everything; it is refused too, so a typo cannot block every model.
    """

    kind = "AnyOf"

    def evaluate(self, report: ScanReport, waivers: WaiverSet, now: datetime) -> PolicyResult:
        results = self._children(report, waivers, now)
        passing = [r for r in results if r.passed]
        passed = bool(passing)
        reason = f"met by: {passing[0].verdict.id}" if passed else "no alternative met"
        verdict = RequirementVerdict(
            self.id, self.title, passed, (reason,), tuple(r.verdict for r in results)
        )
        merged = _merge(verdict, passing[:1] or results)
        return PolicyResult(merged.verdict, merged.waivers_applied if passed else (), merged.waivers_expired)


def _bounded(reasons: list[str]) -> tuple[str, ...]:
    if len(reasons) <= MAX_REASONS:
        return tuple(reasons)
    return (*reasons[:MAX_REASONS], f"… and {len(reasons) - MAX_REASONS} more")
