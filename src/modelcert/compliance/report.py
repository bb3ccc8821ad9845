"""The per-clause report: met / not met / not measurable with the evidence level, as text or JSON."""

from __future__ import annotations

import json

from modelcert.compliance.engine import ComplianceRun
from modelcert.compliance.evidence import evidence_document
from modelcert.compliance.results import MET, NOT_MET

MARK = {MET: "✓", NOT_MET: "✗"}
STATUS_WIDTH = 15
BINDING_NOTES = {
    "mock": "note: a mock is a test double; its results say nothing about this package's weights",
    "endpoint": "note: the endpoint is trusted to serve this package's weights (not verifiable from here)",
    "other-folder": "note: the model was loaded from another folder than the package judged here",
}


def _mark(status: str) -> str:
    return MARK.get(status, "?")


def render_text(run: ComplianceRun, *, verbose: bool = False) -> str:
    pack, profile = run.pack, run.profile
    lines = [
        f"modelcert comply {run.package}",
        f"  profile  {profile.id}: {profile.title} [{profile.jurisdiction}]",
        f"  pack     {pack.id} v{pack.version} sha256:{pack.digest[:16]}…",
        f"  subject  {run.package_digest}",
    ]
    if run.target is not None:
        lines.append(f"  target   {run.target.kind} {run.target.name} (binding: {run.target.binding})")
        if run.target.binding in BINDING_NOTES:
            lines.append(f"           {BINDING_NOTES[run.target.binding]}")
    else:
        lines.append("  target   none (behavioural checks not measurable; give --target)")
    lines.append(f"  result   {run.status.upper()}")
    lines.append("")
    width = max([len(c.clause.id) for c in run.clauses] + [6])
    lines.append(f"  {'Clause':<{width}}  {'Status':<{STATUS_WIDTH}}  Level  Checks")
    for c in run.clauses:
        parts = ", ".join(f"{p.ref} {_mark(p.status)}" for p in c.parts) or "(not automatable)"
        lines.append(f"  {c.clause.id:<{width}}  {c.status:<{STATUS_WIDTH}}  {c.level or '—':<5}  {parts}")
        if verbose:
            lines.append(f"  {'':<{width}}  {c.clause.title}")
    lines.append("")
    lines.append("  Checks")
    for result in run.checks.values():
        level = result.level or "—"
        lines.append(
            f"  {_mark(result.status)} {result.check.id:<22} {result.status:<{STATUS_WIDTH}} {level:<3} "
            f"{result.reason}"
        )
        for req in result.requirements:
            if req.status != MET or verbose:
                lines.append(f"      {_mark(req.status)} {req.id:<24} {req.reason}")
    if run.problems:
        lines.append("")
        lines.extend(f"  note: {p}" for p in run.problems[:20])
    return "\n".join(lines) + "\n"


def render_json(run: ComplianceRun, audience: str = "public") -> str:
    return json.dumps(evidence_document(run, audience), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
