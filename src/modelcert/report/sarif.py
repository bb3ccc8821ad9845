"""SARIF 2.1.0: one run, one rule per check ID that fired, one result per finding.

Code-scanning UIs (GitHub, GitLab, Azure DevOps) read this directly. Locations point at the file on
disk; members and byte offsets travel in the logical location and the result's properties.
"""

from __future__ import annotations

import json
from typing import Any

from modelcert import __version__
from modelcert.findings import Finding, ScanReport, Severity

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/modelcert/modelcert"

_LEVEL = {
    Severity.INFO: "note",
    Severity.LOW: "note",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "error",
    Severity.CRITICAL: "error",
}
# GitHub reads `security-severity` (0.0-10.0) to rank security results.
_SECURITY_SEVERITY = {
    Severity.INFO: "0.0",
    Severity.LOW: "3.0",
    Severity.MEDIUM: "5.5",
    Severity.HIGH: "8.0",
    Severity.CRITICAL: "9.5",
}


def _rule(finding: Finding) -> dict[str, Any]:
    tags = ["security", *finding.tags]
    if finding.cwe:
        tags.append(f"external/cwe/{finding.cwe.lower()}")
    rule: dict[str, Any] = {
        "id": finding.check_id,
        "name": "".join(w.capitalize() for w in finding.title.replace("-", " ").split()),
        "shortDescription": {"text": finding.title},
        "helpUri": f"{INFORMATION_URI}/blob/main/docs/checks/{finding.check_id}.md",
        "defaultConfiguration": {"level": _LEVEL[finding.severity]},
        "properties": {"tags": tags, "security-severity": _SECURITY_SEVERITY[finding.severity]},
    }
    if finding.remediation:
        rule["help"] = {"text": finding.remediation}
    return rule


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    loc = finding.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.path, "uriBaseId": "SCANROOT"}}
    if loc.line is not None and loc.line > 0:
        physical["region"] = {"startLine": loc.line}
    elif loc.offset is not None and not loc.member:
        physical["region"] = {"byteOffset": max(0, loc.offset)}
    location: dict[str, Any] = {"physicalLocation": physical}
    if loc.member or loc.pointer:
        logical = "!".join((loc.path, *loc.member))
        if loc.pointer:
            logical += f"#{loc.pointer}"
        location["logicalLocations"] = [{"fullyQualifiedName": logical, "kind": "member"}]
    properties: dict[str, Any] = {
        "severity": finding.severity.label,
        "confidence": finding.confidence.label,
        "verdict": finding.verdict.value,
    }
    if loc.offset is not None:
        properties["byteOffset"] = loc.offset
    if loc.opcode_index is not None:
        properties["opcodeIndex"] = loc.opcode_index
    if finding.details:
        properties["details"] = dict(finding.details)
    return {
        "ruleId": finding.check_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [location],
        "properties": properties,
    }


def to_sarif(report: ScanReport) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for finding in report.all_findings():
        if finding.check_id not in index:
            index[finding.check_id] = len(rules)
            rules.append(_rule(finding))
        results.append(_result(finding, index[finding.check_id]))
    base = report.inputs[0].path if len(report.inputs) == 1 else "."
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelcert",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"SCANROOT": {"description": {"text": f"the scanned path: {base}"}}},
                "results": results,
                "properties": {"rootDigest": report.root_digest, "summary": report.summary()},
            }
        ],
    }


def render_sarif(report: ScanReport) -> str:
    return json.dumps(to_sarif(report), indent=2) + "\n"
