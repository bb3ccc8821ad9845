"""Result data: severities, verdicts, locations, findings and reports (frozen, serialisable)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum, IntEnum
from typing import Any, Final

from modelcert.records import Record


class Severity(IntEnum):
    """How bad it is if the finding is true."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; one of {', '.join(s.label for s in cls)}") from None


class Confidence(IntEnum):
    """How sure the check is that the finding is true."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Verdict(Enum):
    """Per-file outcome. Ordered by `rank`: a container's verdict is the worst of its contents."""

    CLEAN = "clean"
    SKIPPED = "skipped"
    SUSPICIOUS = "suspicious"
    UNSCANNABLE = "unscannable"
    UNSAFE = "unsafe"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]

    @classmethod
    def worst(cls, verdicts: Iterable[Verdict], default: Verdict | None = None) -> Verdict:
        best: Verdict = default or cls.CLEAN
        for verdict in verdicts:
            if verdict.rank > best.rank:
                best = verdict
        return best


_VERDICT_RANK = {
    Verdict.CLEAN: 0,
    Verdict.SKIPPED: 1,
    Verdict.SUSPICIOUS: 2,
    Verdict.UNSCANNABLE: 3,
    Verdict.UNSAFE: 4,
}


class Location(Record):
    """Where a finding is: the file, the chain of members inside it, and a position in the innermost."""

    __slots__ = ("line", "member", "offset", "opcode_index", "path", "pointer")
    path: Final[str]
    member: Final[tuple[str, ...]]
    offset: Final[int | None]
    opcode_index: Final[int | None]
    line: Final[int | None]
    pointer: Final[str | None]  # key path inside structured data, e.g. "config/layers/3/module"

    def __init__(
        self,
        path: str,
        member: tuple[str, ...] = (),
        offset: int | None = None,
        opcode_index: int | None = None,
        line: int | None = None,
        pointer: str | None = None,
    ) -> None:
        self.path = path
        self.member = member
        self.offset = offset
        self.opcode_index = opcode_index
        self.line = line
        self.pointer = pointer

    def inner(self, member: str) -> Location:
        """The location of a member of what this location names."""
        return Location(path=self.path, member=(*self.member, member))

    def at(
        self,
        *,
        offset: int | None = None,
        opcode_index: int | None = None,
        line: int | None = None,
        pointer: str | None = None,
    ) -> Location:
        return Location(
            path=self.path,
            member=self.member,
            offset=offset if offset is not None else self.offset,
            opcode_index=opcode_index if opcode_index is not None else self.opcode_index,
            line=line if line is not None else self.line,
            pointer=pointer if pointer is not None else self.pointer,
        )

    def display(self) -> str:
        text = "!".join((self.path, *self.member))
        parts = []
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        if self.opcode_index is not None:
            parts.append(f"opcode #{self.opcode_index}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.pointer:
            parts.append(self.pointer)
        return f"{text} ({', '.join(parts)})" if parts else text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.member:
            out["member"] = list(self.member)
        for key in ("offset", "opcode_index", "line", "pointer"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class Finding(Record):
    """One thing a check found. `verdict` is what it means for the file that holds it."""

    # No __slots__: callers rebuild findings from `finding.__dict__`.
    check_id: Final[str]
    title: Final[str]
    severity: Final[Severity]
    confidence: Final[Confidence]
    verdict: Final[Verdict]
    message: Final[str]
    location: Final[Location]
    cwe: Final[str | None]
    remediation: Final[str]
    tags: Final[tuple[str, ...]]
    details: Final[Mapping[str, Any]]

    def __init__(
        self,
        check_id: str,
        title: str,
        severity: Severity,
        confidence: Confidence,
        verdict: Verdict,
        message: str,
        location: Location,
        cwe: str | None = None,
        remediation: str = "",
        tags: tuple[str, ...] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.check_id = check_id
        self.title = title
        self.severity = severity
        self.confidence = confidence
        self.verdict = verdict
        self.message = message
        self.location = location
        self.cwe = cwe
        self.remediation = remediation
        self.tags = tags
        self.details = {} if details is None else details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.check_id,
            "title": self.title,
            "severity": self.severity.label,
            "confidence": self.confidence.label,
            "verdict": self.verdict.value,
            "message": self.message,
            "location": self.location.to_dict(),
        }
        if self.cwe:
            out["cwe"] = self.cwe
        if self.remediation:
            out["remediation"] = self.remediation
        if self.tags:
            out["tags"] = list(self.tags)
        if self.details:
            out["details"] = dict(self.details)
        return out


class ArtifactReport(Record):
    """A file on disk, or a member / embedded stream inside one, with what was found in it."""

    __slots__ = ("findings", "format", "members", "path", "sha256", "size", "skipped_reason")
    path: Final[str]
    format: Final[str]
    size: Final[int]
    sha256: Final[str | None]
    findings: Final[tuple[Finding, ...]]
    members: Final[tuple[ArtifactReport, ...]]
    skipped_reason: Final[str | None]

    def __init__(
        self,
        path: str,
        format: str,
        size: int,
        sha256: str | None = None,
        findings: tuple[Finding, ...] = (),
        members: tuple[ArtifactReport, ...] = (),
        skipped_reason: str | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.size = size
        self.sha256 = sha256
        self.findings = findings
        self.members = members
        self.skipped_reason = skipped_reason

    @property
    def own_verdict(self) -> Verdict:
        base = Verdict.SKIPPED if self.skipped_reason else Verdict.CLEAN
        return Verdict.worst((f.verdict for f in self.findings), default=base)

    @property
    def verdict(self) -> Verdict:
        """The worst of this artifact's findings and of everything inside it.

        A skipped member (a README inside an archive, raw tensor bytes) does not make its container
        skipped: the container itself was read.
        """
        inner = (m.verdict for m in self.members if m.verdict is not Verdict.SKIPPED)
        return Verdict.worst(inner, default=self.own_verdict)

    @property
    def is_clean(self) -> bool:
        return self.verdict is Verdict.CLEAN

    def all_findings(self) -> Iterable[Finding]:
        yield from self.findings
        for member in self.members:
            yield from member.all_findings()

    def max_severity(self) -> Severity | None:
        severities = [f.severity for f in self.all_findings() if f.verdict is not Verdict.CLEAN]
        return max(severities) if severities else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "size": self.size,
            "verdict": self.verdict.value,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.skipped_reason:
            out["skipped_reason"] = self.skipped_reason
        if self.members:
            out["members"] = [m.to_dict() for m in self.members]
        return out


class InputRoot(Record):
    """One PATH given to a scan and its OpenSSF Model Signing (OMS v1.0, files) root digest."""

    __slots__ = ("file_count", "path", "root_digest", "total_bytes")
    path: Final[str]
    root_digest: Final[str]
    file_count: Final[int]
    total_bytes: Final[int]

    def __init__(self, path: str, root_digest: str, file_count: int, total_bytes: int) -> None:
        self.path = path
        self.root_digest = root_digest
        self.file_count = file_count
        self.total_bytes = total_bytes


class ScanReport(Record):
    """Everything one scan found: one ArtifactReport per file on disk, plus package-level findings."""

    __slots__ = ("duration_seconds", "files", "inputs", "package_findings", "tool", "version")
    tool: Final[str]
    version: Final[str]
    inputs: Final[tuple[InputRoot, ...]]
    files: Final[tuple[ArtifactReport, ...]]
    package_findings: Final[tuple[Finding, ...]]
    duration_seconds: Final[float]

    def __init__(
        self,
        tool: str,
        version: str,
        inputs: tuple[InputRoot, ...],
        files: tuple[ArtifactReport, ...],
        package_findings: tuple[Finding, ...] = (),
        duration_seconds: float = 0.0,
    ) -> None:
        self.tool = tool
        self.version = version
        self.inputs = inputs
        self.files = files
        self.package_findings = package_findings
        self.duration_seconds = duration_seconds

    @property
    def root_digest(self) -> str | None:
        return self.inputs[0].root_digest if len(self.inputs) == 1 else None

    @property
    def verdict(self) -> Verdict:
        verdicts = [*(f.verdict for f in self.files), *(f.verdict for f in self.package_findings)]
        if verdicts and all(v is Verdict.SKIPPED for v in verdicts):
            return Verdict.SKIPPED
        return Verdict.worst(v for v in verdicts if v is not Verdict.SKIPPED)

    def all_findings(self) -> Iterable[Finding]:
        yield from self.package_findings
        for artifact in self.files:
            yield from artifact.all_findings()

    def fails_at(self, level: Severity) -> bool:
        """True when any finding that changes a verdict reaches `level`."""
        return any(
            f.verdict is not Verdict.CLEAN and f.severity >= level for f in self.all_findings()
        )

    def summary(self) -> dict[str, Any]:
        counts = {v.value: 0 for v in Verdict}
        for artifact in self.files:
            counts[artifact.verdict.value] += 1
        by_severity = {s.label: 0 for s in Severity}
        for finding in self.all_findings():
            by_severity[finding.severity.label] += 1
        return {
            "files": len(self.files),
            "bytes": sum(a.size for a in self.files),
            "verdict": self.verdict.value,
            "verdicts": counts,
            "findings": by_severity,
            "duration_seconds": round(self.duration_seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "version": self.version,
            "root_digest": self.root_digest,
            "inputs": [
                {
                    "path": i.path,
                    "root_digest": i.root_digest,
                    "files": i.file_count,
                    "bytes": i.total_bytes,
                }
                for i in self.inputs
            ],
            "summary": self.summary(),
            "package_findings": [f.to_dict() for f in self.package_findings],
            "files": [a.to_dict() for a in self.files],
        }
