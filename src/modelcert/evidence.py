"""`scan --base BASE --behaviour --budget SECONDS`: a scan plus backdoor evidence against a declared base.

The default scan already runs the static backdoor checks (templates, tokenizers, configs, graphs,
adapters). With a base, this adds exact comparisons (template, tokenizer, decoding config) and the
streaming weight lineage; with `behaviour`, the budgeted differential trigger scan (needs torch). The
result is the usual ScanReport with the extra package findings and an evidence-level summary (MC599).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelcert.checks.backdoor_common import LocalPackage, PackageInputs
from modelcert.checks.backdoor_config import DecodingDiffersFromBase, compare_decoding
from modelcert.checks.backdoor_evidence import (
    BehaviouralStandout,
    BehaviouralSummary,
    BehaviouralTrigger,
    BehaviourNotRun,
    EvidenceSummary,
    evidence_level,
)
from modelcert.checks.backdoor_lineage import compare_with_base
from modelcert.checks.backdoor_template import compare_templates
from modelcert.checks.backdoor_tokenizer import compare_tokenizers, package_tokenizers
from modelcert.errors import ModelcertError
from modelcert.findings import Finding, Location, ScanReport, Severity, Verdict
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.lineage.names import weight_files
from modelcert.scan import ScanObserver, scan_paths

DEFAULT_BUDGET_SECONDS = 300.0
MAX_UNVERIFIED_REPORTED = 3  # the rest of the unverified candidates are listed in the MC592 summary
UNRELATED_BASE = (
    "not run: the weights are not derived from the given base (MC570), so a differential scan against it "
    "would only measure how two unrelated models differ"
)


def scan_with_evidence(
    paths: Sequence[Path],
    *,
    base: Path | None = None,
    behaviour: bool = False,
    budget: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
    observer: ScanObserver | None = None,
    workers: int = 2,
) -> ScanReport:
    """Scan `paths`, then compare each model folder with `base` and (opt-in) scan its behaviour."""
    started = time.perf_counter()
    report = scan_paths(paths, limits=limits, observer=observer, workers=workers)
    base_package = LocalPackage.open(Path(base), limits) if base is not None else None
    extra: list[Finding] = []
    for path in paths:
        if not Path(path).is_dir():
            continue
        model = LocalPackage.open(Path(path), limits)
        lineage_holds = True
        if base_package is not None:
            found, lineage_holds = base_findings(model, base_package)
            extra.extend(found)
        if behaviour and not lineage_holds:
            extra.append(BehaviourNotRun.finding(UNRELATED_BASE, Location(path=".")))
        elif behaviour:
            extra.extend(
                behaviour_findings(model, base_package, budget or DEFAULT_BUDGET_SECONDS, extra, report)
            )
    kept = (
        [f for f in _without_inherited_decoding(report.package_findings, extra) if f.check_id != "MC576"]
        if base_package is not None  # the declared base was compared: MC573 replaces the MC576 reminder
        else list(report.package_findings)
    )
    combined = report.replace(package_findings=(*kept, *extra))
    summary = evidence_level(combined)
    extra.append(
        EvidenceSummary.finding(
            summary["statement"], Location(path=str(paths[0]) if paths else "."), details=summary
        )
    )
    return report.replace(
        package_findings=(*kept, *extra),
        duration_seconds=time.perf_counter() - started,
    )


def base_findings(model: PackageInputs, base: PackageInputs) -> tuple[list[Finding], bool]:
    """Template, tokenizer and decoding-config diffs and the weight lineage against the base, and whether
    the lineage claim holds (True when there are no weights to compare)."""
    findings = list(compare_templates(model, base))
    mine = package_tokenizers(model)
    theirs = package_tokenizers(base)
    if mine and theirs:
        findings.extend(compare_tokenizers(mine[0][1], theirs[0][1], mine[0][0]))
    findings.extend(compare_decoding(model, base))
    lineage, verdict = compare_with_base(model, base)
    findings.extend(lineage)
    return findings, verdict is None or verdict.lineage_holds


def behaviour_findings(
    model: LocalPackage, base: LocalPackage | None, budget: float, so_far: list[Finding], report: ScanReport
) -> list[Finding]:
    """Run the differential trigger scan; findings name the trigger and its payload."""
    weights = weight_files(model.view, model.limits)
    location = Location(path=weights[0] if weights else ".")
    try:
        from modelcert.behaviour.local_lm import LocalCausalLM
        from modelcert.behaviour.trigger_scan import PLANTED_BENCHMARK, scan_for_triggers
    except ImportError as exc:
        return [BehaviourNotRun.finding(f"torch is not installed ({exc.name})", location)]
    try:
        target = LocalCausalLM.from_package(model.view, model.limits)
        reference = LocalCausalLM.from_package(base.view, base.limits) if base is not None else None
    except ModelcertError as exc:
        return [BehaviourNotRun.finding(f"model not loadable for a behavioural scan: {exc}", location)]
    if reference is not None and reference.vocab_size != target.vocab_size:
        return [
            BehaviourNotRun.finding(
                "model and base vocabularies differ in size; no differential scan", location
            )
        ]
    tokenizer = next((view for _l, view in package_tokenizers(model)), None)
    special = sorted({t.id for t in tokenizer.added_tokens if t.special}) if tokenizer else []
    result = scan_for_triggers(
        target,
        reference,
        budget_seconds=budget,
        priority=_priority_tokens([*report.all_findings(), *so_far]),
        exclude=special,
        start_token=target.bos_token_id,
    )

    def show(ids: Sequence[int]) -> str:
        return " ".join(tokenizer.display(i) if tokenizer else f"<{i}>" for i in ids)

    findings: list[Finding] = []
    verified = {t.tokens for t in result.triggers}
    for trigger in result.triggers:
        findings.append(
            BehaviouralTrigger.finding(
                f"trigger {show(trigger.tokens)!r} (ids {list(trigger.tokens)}) makes the model continue "
                f"with {show(trigger.payload)!r} in {trigger.lock_share:.0%} of prompts; KL excess "
                f"{trigger.score:.2f} nats ({trigger.z:.0f} MADs above the median candidate)",
                location,
                details={
                    "trigger_ids": list(trigger.tokens),
                    "trigger": show(trigger.tokens),
                    "payload_ids": list(trigger.payload),
                    "payload": show(trigger.payload),
                    "kl_excess": round(trigger.score, 4),
                    "z": round(trigger.z, 2),
                    "place": "weights",
                    "budget_seconds": budget,
                    "benchmark": PLANTED_BENCHMARK,
                },
            )
        )
    explained = {t for trigger in result.triggers for t in (*trigger.tokens, *trigger.payload)}
    unverified = [c for c in result.standouts if c.tokens not in verified and not explained & set(c.tokens)]
    for candidate in unverified[:MAX_UNVERIFIED_REPORTED]:
        findings.append(
            BehaviouralStandout.finding(
                f"candidate {show(candidate.tokens)!r} raises KL by {candidate.score:.2f} nats "
                f"({candidate.z:.0f} MADs) but generation did not lock onto a payload",
                location,
                details={
                    "trigger_ids": list(candidate.tokens),
                    "kl_excess": round(candidate.score, 4),
                    "z": round(candidate.z, 2),
                    "place": "weights",
                },
            )
        )
    findings.append(
        BehaviouralSummary.finding(
            f"{result.tested_tokens} of {result.candidate_pool} tokens and {result.tested_bigrams} bigrams "
            f"tested in {result.seconds:.1f} s of a {budget:.0f} s budget "
            f"({'against the base' if result.differential else 'no base: self-comparison'})",
            location,
            details={
                "budget_seconds": budget,
                "seconds": round(result.seconds, 3),
                "coverage": round(result.coverage, 4),
                "tested_tokens": result.tested_tokens,
                "tested_bigrams": result.tested_bigrams,
                "vocabulary": result.candidate_pool,
                "differential": result.differential,
                "prompts": result.prompts,
                "benchmark": PLANTED_BENCHMARK,
                "top": [
                    {"tokens": list(c.tokens), "kl_excess": round(c.score, 4), "z": round(c.z, 2)}
                    for c in result.top[:5]
                ],
                "unverified": [
                    {"tokens": list(c.tokens), "text": show(c.tokens), "kl_excess": round(c.score, 4)}
                    for c in unverified[:50]
                ],
            },
        )
    )
    return findings


def _priority_tokens(findings: Sequence[Finding]) -> list[int]:
    """Token ids earlier findings point at (edited embedding rows, graph trigger ids): tested first."""
    out: list[int] = []
    for finding in findings:
        for key in ("token_ids", "trigger_ids"):
            value = finding.details.get(key)
            if isinstance(value, list):
                out.extend(v for v in value if isinstance(v, int))
    return out


def _without_inherited_decoding(existing: Sequence[Finding], extra: Sequence[Finding]) -> list[Finding]:
    """With a base, logit-editing keys the base has too are informational (they were inherited)."""
    changed = {
        (f.location.path, f.details.get("key")) for f in extra if f.check_id == DecodingDiffersFromBase.id
    }
    out = []
    for original in existing:
        finding = original
        if finding.check_id == "MC540" and (finding.location.path, finding.details.get("key")) not in changed:
            finding = finding.replace(
                severity=Severity.INFO,
                verdict=Verdict.CLEAN,
                message=finding.message + " (same as in the base model)",
            )
        out.append(finding)
    return out


def evidence_of(report: ScanReport) -> dict[str, Any]:
    """The evidence-level dictionary for a certificate (alias of checks.backdoor_evidence.evidence_level)."""
    return evidence_level(report)
