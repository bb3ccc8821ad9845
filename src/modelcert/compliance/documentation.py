"""The two documentation checks: `doc.completeness` (fields present, not placeholders) and `doc.consistency`.

Completeness reaches evidence level E0 (the provider declared something); consistency E1 (the
declaration was compared with the package's own files). Both report one requirement per field or
comparison, so a clause can point at exactly what is missing or contradicted.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from modelcert.compliance.artifacts import ArtifactFacts
from modelcert.compliance.card import (
    CARD_NAMES,
    MISSING,
    PLACEHOLDER_TEXT,
    PRESENT,
    Card,
    cyclonedx_model_card,
    field_value,
    parse_card,
)
from modelcert.compliance.consistency import REQUIREMENTS
from modelcert.compliance.doc_schema import BY_ID
from modelcert.compliance.packs import CheckSpec
from modelcert.compliance.results import MET, NOT_MEASURABLE, NOT_MET, CheckResult, RequirementResult
from modelcert.policy.fields import DocumentError


def package_card(facts: ArtifactFacts) -> Card | None:
    """The model card (root README.md or MODEL_CARD.md) with CycloneDX and side documents attached."""
    card: Card | None = None
    for relpath, text in sorted(facts.card_texts.items(), key=lambda kv: (kv[0].count("/"), kv[0])):
        if "/" not in relpath and relpath.lower() in CARD_NAMES:
            card = parse_card(text, relpath)
            break
    cyclonedx: dict[str, object] = {}
    side: dict[str, str] = {}
    for relpath, text in facts.card_texts.items():
        name = PurePosixPath(relpath).name.lower()
        if name.endswith(".json"):
            cyclonedx = cyclonedx or cyclonedx_model_card(text.encode("utf-8"))
        elif card is None or relpath != card.path:
            side[name.rsplit(".", 1)[0].replace("-", "_")] = text
    if card is None and not cyclonedx:
        return None
    base = card or parse_card("", None)
    return Card(
        base.path,
        base.front_matter,
        base.sections,
        base.labels,
        base.text,
        base.problems,
        dict(cyclonedx),
        side,
    )


def completeness(spec: CheckSpec, card: Card | None) -> CheckResult:
    if card is None:
        reqs = tuple(
            RequirementResult(f, NOT_MET, "no model card (README.md) in the package", "E0")
            for f in spec.fields
        )
        return CheckResult(spec, NOT_MET, "no model card (README.md) in the package", "E0", reqs)
    results = []
    for field_id in spec.fields:
        if field_id not in BY_ID:
            raise DocumentError(f"check {spec.id}: unknown documentation field {field_id!r}")
        located = field_value(card, BY_ID[field_id])
        if located.status == PRESENT:
            results.append(RequirementResult(field_id, MET, f"present ({located.where})", "E0"))
        elif located.status == PLACEHOLDER_TEXT:
            results.append(
                RequirementResult(field_id, NOT_MET, f"placeholder text only ({located.where})", "E0")
            )
        else:
            assert located.status == MISSING
            results.append(RequirementResult(field_id, NOT_MET, f"missing: {BY_ID[field_id].title}", "E0"))
    bad = [r.id for r in results if r.status == NOT_MET]
    limit = spec.pass_rule.max_missing or 0
    status = MET if len(bad) <= limit else NOT_MET
    note = "; ".join(card.problems)
    reason = f"{len(results) - len(bad)}/{len(results)} required fields documented"
    if bad:
        reason += f"; missing or placeholder: {', '.join(bad)}"
    if note:
        reason += f" ({note})"
    return CheckResult(spec, status, reason, "E0", tuple(results))


def consistency(spec: CheckSpec, card: Card | None, facts: ArtifactFacts) -> CheckResult:
    if card is None:
        return CheckResult(spec, NOT_MEASURABLE, "no model card: nothing declared to verify", None)
    results = []
    for rid in spec.requirements:
        if rid not in REQUIREMENTS:
            raise DocumentError(f"check {spec.id}: unknown consistency requirement {rid!r}")
        results.append(REQUIREMENTS[rid](card, facts, spec.tolerance))
    bad = [r.id for r in results if r.status == NOT_MET]
    checked = [r for r in results if r.status != NOT_MEASURABLE]
    if len(bad) > (spec.pass_rule.max_inconsistent or 0):
        status, reason = NOT_MET, f"declared ≠ actual: {', '.join(bad)}"
    elif not checked:
        status, reason = NOT_MEASURABLE, "nothing declared could be compared with the artifacts"
    else:
        status, reason = MET, f"{len(checked)} declaration(s) verified against the artifacts"
    facts_out = {"chatTemplates": sorted(set(facts.chat_templates.values()))}
    if facts.parameters is not None:
        facts_out["parameters"] = [str(facts.parameters)]
    level = "E1" if checked else None
    return CheckResult(spec, status, reason, level, tuple(results), facts=facts_out)
