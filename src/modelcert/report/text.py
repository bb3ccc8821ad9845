"""Human-readable report (plain text; the CLI adds colour when writing to a terminal)."""

from __future__ import annotations

from modelcert.findings import ArtifactReport, Finding, ScanReport, Verdict

_MARK = {
    Verdict.CLEAN: "clean",
    Verdict.SKIPPED: "skipped",
    Verdict.SUSPICIOUS: "SUSPICIOUS",
    Verdict.UNSCANNABLE: "UNSCANNABLE",
    Verdict.UNSAFE: "UNSAFE",
}


def _finding_lines(finding: Finding, indent: str) -> list[str]:
    lines = [
        f"{indent}{finding.check_id} [{finding.severity.label}/{finding.confidence.label}] {finding.message}",
        f"{indent}    at {finding.location.display()}",
    ]
    if finding.remediation:
        lines.append(f"{indent}    fix: {finding.remediation}")
    return lines


def _artifact_lines(artifact: ArtifactReport, indent: str, verbose: bool) -> list[str]:
    lines: list[str] = []
    for finding in artifact.findings:
        lines.extend(_finding_lines(finding, indent))
    for member in artifact.members:
        if member.verdict in {Verdict.CLEAN, Verdict.SKIPPED} and not verbose:
            continue
        lines.append(f"{indent}- {member.path} ({member.format}): {_MARK[member.verdict]}")
        lines.extend(_artifact_lines(member, indent + "    ", verbose))
    return lines


def render_text(report: ScanReport, *, verbose: bool = False) -> str:
    lines: list[str] = []
    for root in report.inputs:
        lines.append(f"modelcert {report.version}: {root.path}")
        lines.append(f"  root digest (OMS v1.0, sha256): {root.root_digest}")
    for finding in report.package_findings:
        lines.extend(_finding_lines(finding, "  "))
    for artifact in report.files:
        if artifact.verdict is Verdict.CLEAN and not verbose:
            continue
        if artifact.verdict is Verdict.SKIPPED and not verbose:
            continue
        mark = _MARK[artifact.verdict]
        lines.append(f"{mark:>11}  {artifact.path}  ({artifact.format}, {artifact.size} bytes)")
        lines.extend(_artifact_lines(artifact, "             ", verbose))
    summary = report.summary()
    counts = ", ".join(f"{n} {v}" for v, n in summary["verdicts"].items() if n)
    seconds = summary["duration_seconds"]
    lines.append(f"{summary['files']} files, {summary['bytes']} bytes in {seconds} s: {counts or 'nothing'}")
    lines.append(f"verdict: {report.verdict.value}")
    return "\n".join(lines) + "\n"
