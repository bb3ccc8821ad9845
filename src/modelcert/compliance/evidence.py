"""Evidence that can cross borders: aggregates, Wilson intervals, dataset roots, scorer digests.

`evidence_document(run, audience)` is the full record of a compliance run for one audience
(`public`, `consortium` or `private`, the certificate's disclosure tiers). Prompt and reply text is
included only for items whose own tier is at most the audience's, and replies to should-refuse
items only for `private` (they are the sensitive payload). Everything else is counts, decimal-string
rates (no floats: the document hashes the same in any language), Merkle roots and digests, plus one
result bit per selected item keyed by its leaf index, so a second certifier holding the bank can
compare item by item. `membership_proof` lets a bank holder prove an item was in the set.

`compliance_predicate`, `certificate_requirements` and `certificate_evidence` build the fragments a
certificate carries (see docs/compliance.md, "In the certificate").
"""

from __future__ import annotations

import hashlib
from typing import Any

from modelcert.behaviour.canonical import canonical_json, digest
from modelcert.behaviour.datasets import COMMIT_PREFIX, DISCLOSURE_TIERS, Bank, publishable_categories
from modelcert.behaviour.merkle import InclusionProof, verify_inclusion
from modelcert.behaviour.runner import EvalRun, conversation
from modelcert.behaviour.stats import decimal
from modelcert.compliance.engine import ComplianceRun
from modelcert.compliance.results import MET, CheckResult

SCHEMA = "modelcert/compliance-evidence/v1"
PREDICATE_SCHEMA = "modelcert/compliance/v1"
MEDIA_TYPE = "application/vnd.modelcert.compliance+json"
MIN_CELL = 20  # category counts below this are not published (they could single items out)


def _rank(tier: str) -> int:
    return DISCLOSURE_TIERS.index(tier)


def _sha(hex_or_prefixed: str) -> dict[str, str]:
    return {"sha256": hex_or_prefixed.removeprefix("sha256:")}


def evidence_document(
    run: ComplianceRun, audience: str = "public", min_cell: int = MIN_CELL
) -> dict[str, Any]:
    if audience not in DISCLOSURE_TIERS:
        raise ValueError(f"audience must be one of {', '.join(DISCLOSURE_TIERS)}")
    return {
        "schema": SCHEMA,
        "audience": audience,
        "subject": {"name": run.package.rsplit("/", 1)[-1], "digest": _sha(run.package_digest)},
        "pack": {
            "id": run.pack.id,
            "version": run.pack.version,
            "digest": _sha(run.pack.digest),
            "source": run.pack.source,
        },
        "profile": {
            "id": run.profile.id,
            "title": run.profile.title,
            "jurisdiction": run.profile.jurisdiction,
        },
        "target": run.target.to_dict() if run.target is not None else None,
        "status": run.status,
        "clauses": [
            {
                "id": c.clause.id,
                "title": c.clause.title,
                "status": c.status,
                "level": c.level,
                "checks": [{"ref": p.ref, "status": p.status, "level": p.level} for p in c.parts],
            }
            for c in run.clauses
        ],
        "checks": [_check(result, audience, min_cell) for result in run.checks.values()],
        "problems": list(run.problems),
    }


def _check(result: CheckResult, audience: str, min_cell: int) -> dict[str, Any]:
    spec = result.check
    out: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "kind": spec.kind,
        "status": result.status,
        "reason": result.reason,
        "level": result.level,
        "evidenceMin": spec.evidence_min,
        "tags": {k: list(v) for k, v in spec.tags.items()},
    }
    if result.requirements:
        out["requirements"] = [r.to_dict() for r in result.requirements]
    if result.facts:
        out["facts"] = result.facts
    if result.run is not None:
        out["eval"] = _eval(result.run, audience, min_cell)
    if result.imported is not None:
        imp = result.imported
        out["import"] = {
            "harness": imp.harness,
            "version": imp.harness_version,
            "logDigest": _sha(imp.log_digest),
            "root": imp.root,
            "items": len(imp.items),
            "counts": imp.counts,
            "problems": list(imp.problems),
        }
    return out


def _eval(run: EvalRun, audience: str, min_cell: int) -> dict[str, Any]:
    p, spec, bank = run.proportion, run.spec, run.bank
    low, high = p.interval
    selected = [bank.items[r.leaf_index] for r in run.records]
    doc: dict[str, Any] = {
        "metric": spec.metric,
        "dataset": {
            "id": bank.id,
            "version": bank.version,
            "root": bank.root,
            "nItems": len(bank.items),
            "synthetic": bank.synthetic,
            "categories": publishable_categories(selected, min_cell),
        },
        "sample": {"n": spec.n, "seed": spec.seed, "method": "hash-rank"},
        "generation": spec.generation.to_dict(),
        "scorer": {"id": run.scorer_id, "digest": run.scorer_digest},
        "counts": {
            "selected": run.n_selected,
            "scored": p.n,
            "hits": p.k,
            "errors": run.n_errors,
            "unscorable": run.n_unscorable,
        },
        "rate": decimal(p.rate),
        "wilson95": {"low": decimal(low), "high": decimal(high)},
        "threshold": {
            "bound": spec.bound,
            "op": spec.op,
            "value": decimal(spec.threshold),
            "minN": spec.min_n,
        },
        "items": [
            {"leaf": r.leaf_index, "hit": r.hit, "error": r.error is not None, "reply": r.reply_digest}
            for r in run.records
        ],
    }
    disclosed = []
    for record in run.records:
        item = bank.items[record.leaf_index]
        if _rank(item.disclosure) > _rank(audience):
            continue
        entry: dict[str, Any] = {
            "leaf": record.leaf_index,
            "id": item.id,
            "messages": [m.to_dict() for m in conversation(bank.task, item)],
        }
        if record.reply is not None and (bank.task != "should_refuse" or audience == "private"):
            entry["reply"] = record.reply
        disclosed.append(entry)
    if disclosed:
        doc["disclosed"] = disclosed
    return doc


def evidence_digest(doc: dict[str, Any]) -> str:
    return digest(doc)


def compliance_predicate(run: ComplianceRun, audience: str = "public") -> dict[str, Any]:
    """The `compliance` fragment for a certificate predicate: outcomes, intervals, roots and digests."""
    doc = evidence_document(run, audience)
    checks = []
    for result in run.checks.values():
        entry: dict[str, Any] = {"id": result.check.id, "status": result.status, "level": result.level}
        if result.run is not None:
            p = result.run.proportion
            low, high = p.interval
            entry.update(
                {
                    "hits": p.k,
                    "scored": p.n,
                    "wilson95": {"low": decimal(low), "high": decimal(high)},
                    "datasetRoot": result.run.bank.root,
                    "scorerDigest": result.run.scorer_digest,
                }
            )
        checks.append(entry)
    return {
        "schema": PREDICATE_SCHEMA,
        "subject": doc["subject"]["digest"],  # must equal the certificate's subject digest
        "pack": doc["pack"],
        "profile": run.profile.id,
        "status": run.status,
        "clauses": [{"id": c.clause.id, "status": c.status, "level": c.level} for c in run.clauses],
        "checks": checks,
        "target": doc["target"],
        "evidence": {"digest": _sha(evidence_digest(doc)), "audience": audience},
    }


def certificate_requirements(run: ComplianceRun) -> list[dict[str, Any]]:
    """One RequirementOutcome-shaped entry per clause (`{"id", "passed", "reasons"}`, id ≤ 64 chars)."""
    out = []
    for c in run.clauses:
        reasons = [f"{p.ref}: {p.status}" + (f" ({p.level})" if p.level else "") for p in c.parts]
        out.append(
            {
                "id": f"comply/{run.profile.id}/{c.clause.id}"[:64],
                "passed": c.status == MET,
                "reasons": [f"{c.status}" + (f" at {c.level}" if c.level else ""), *reasons],
            }
        )
    return out


def certificate_evidence(run: ComplianceRun, audience: str = "public") -> dict[str, Any]:
    """An Evidence-shaped entry naming the evidence document by digest."""
    doc = evidence_document(run, audience)
    return {
        "name": f"compliance-{run.profile.id}.json",
        "digest": _sha(evidence_digest(doc)),
        "mediaType": MEDIA_TYPE,
        "annotations": {"disclosure": audience},
    }


def membership_proof(bank: Bank, item_id: str, *, reveal: bool = False) -> dict[str, Any]:
    """Proof that `item_id` is a leaf of the bank's root; with `reveal`, the opening (salt and item) too."""
    proof = bank.prove(item_id)
    out: dict[str, Any] = {"bank": bank.id, "root": bank.root, **proof.to_dict()}
    if reveal:
        out["opening"] = {"salt": bank.salts[item_id].hex(), "item": bank.items[proof.index].content()}
    return out


def verify_membership(doc: dict[str, Any]) -> bool:
    """Check a membership proof (and its opening, when present) against the root it names."""
    try:
        proof = InclusionProof(
            int(doc["leafIndex"]),
            int(doc["treeSize"]),
            bytes.fromhex(doc["commitment"]),
            tuple(bytes.fromhex(h) for h in doc["auditPath"]),
        )
        root = str(doc["root"]).removeprefix("sha256:")
        if not verify_inclusion(root, proof):
            return False
        opening = doc.get("opening")
        if opening is None:
            return True
        salt = bytes.fromhex(opening["salt"])
        recomputed = hashlib.sha256(COMMIT_PREFIX + salt + canonical_json(opening["item"])).digest()
        return recomputed == proof.leaf
    except (KeyError, TypeError, ValueError):
        return False
