"""Profiles end to end with the mock targets; evidence, disclosure tiers, certificate fragments, imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcert.behaviour.canonical import canonical_json
from modelcert.behaviour.datasets import load_bank, load_builtin_bank
from modelcert.behaviour.mock import FlakyTarget, cautious_mock, reckless_mock
from modelcert.compliance.engine import RunOptions, run_compliance
from modelcert.compliance.evidence import (
    certificate_evidence,
    certificate_requirements,
    compliance_predicate,
    evidence_digest,
    evidence_document,
    membership_proof,
    verify_membership,
)
from modelcert.compliance.packs import load_pack, parse_pack
from modelcert.compliance.report import render_text
from modelcert.compliance.results import MET, NOT_MEASURABLE, NOT_MET
from test_compliance_fixtures import build_package

PACK = load_pack("modelcert-core")
PROFILES = ("eu-gpai", "eu-gpai-systemic", "nist-600-1", "cn-gbt45654", "owasp-llm")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("pkg") / "tiny-widget")


@pytest.mark.parametrize("profile", PROFILES)
def test_good_and_bad_targets_land_on_opposite_sides_of_every_threshold(package: Path, profile: str) -> None:
    good = run_compliance(package, PACK, profile, RunOptions(target=cautious_mock()))
    bad = run_compliance(package, PACK, profile, RunOptions(target=reckless_mock()))
    evals = [cid for cid, spec in PACK.profile_checks(profile).items() if spec.kind == "eval"]
    for check_id in evals:
        assert good.checks[check_id].status == MET, good.checks[check_id].reason
        assert bad.checks[check_id].status == NOT_MET, bad.checks[check_id].reason
        assert "threshold missed" in bad.checks[check_id].reason
        assert good.checks[check_id].level == bad.checks[check_id].level == "E2"
    if evals:
        assert bad.status == NOT_MET
    automatable = [
        c for c in good.clauses if c.clause.refs and not any(p.ref == "uplift.ctf" for p in c.parts)
    ]
    assert all(c.status == MET for c in automatable)


def test_without_a_target_behaviour_is_not_measurable(package: Path) -> None:
    run = run_compliance(package, PACK, "nist-600-1")
    assert run.checks["cyber.refuse_offence"].status == NOT_MEASURABLE
    assert run.checks["cyber.refuse_offence"].level is None
    assert run.status == NOT_MEASURABLE
    clause = next(c for c in run.clauses if c.clause.id == "US:NIST-RMF:MEASURE-2.6")
    assert clause.status == NOT_MEASURABLE and clause.level is None


def test_half_failing_target_fails_for_insufficient_evidence(package: Path) -> None:
    run = run_compliance(package, PACK, "cn-gbt45654", RunOptions(target=FlakyTarget(cautious_mock())))
    for check_id in ("cyber.refuse_offence", "cyber.false_refusal"):
        result = run.checks[check_id]
        assert result.status == NOT_MET
        assert result.reason.startswith("insufficient evidence: 150 scored of 300 required")
    assert run.status == NOT_MET


def test_same_seed_gives_identical_evidence(package: Path) -> None:
    docs = [
        evidence_document(run_compliance(package, PACK, "owasp-llm", RunOptions(target=cautious_mock())))
        for _ in range(2)
    ]
    assert canonical_json(docs[0]) == canonical_json(docs[1])
    assert evidence_digest(docs[0]) == evidence_digest(docs[1])


def test_bank_not_matching_the_pinned_root_is_not_measurable(package: Path, tmp_path: Path) -> None:
    own = load_bank(
        b'{"modelcert_bank": {"id": "mine", "version": "1", "task": "should_refuse", "salt_key": "'
        + b"ab" * 16
        + b'"}}\n'
        + b"\n".join(
            b'{"id": "i%d", "category": "c", "prompt": "[should-refuse] p%d"}' % (i, i) for i in range(300)
        ),
        "mine.jsonl",
    )
    options = RunOptions(target=cautious_mock(), banks={"cyber-should-refuse-starter": own})
    result = run_compliance(package, PACK, "cn-gbt45654", options).checks["cyber.refuse_offence"]
    assert result.status == NOT_MEASURABLE and "the pack pins" in result.reason


def test_public_evidence_has_no_prompt_text_and_keeps_counts(package: Path) -> None:
    run = run_compliance(
        package, PACK, "eu-gpai-systemic", RunOptions(target=reckless_mock(), keep_replies=True)
    )
    public = json.dumps(evidence_document(run, "public"))
    private = evidence_document(run, "private")
    refusal_bank = load_builtin_bank("cyber-should-refuse-starter")
    assert all(item.prompt not in public for item in refusal_bank.items[:50])
    assert "SYNTHETIC compliance placeholder" not in public  # replies to should-refuse items stay sealed
    assert "SYNTHETIC compliance placeholder" in json.dumps(private)
    check = next(c for c in evidence_document(run, "public")["checks"] if c["id"] == "cyber.refuse_offence")
    counts = check["eval"]["counts"]
    assert counts == {"selected": 200, "scored": 200, "hits": 0, "errors": 0, "unscorable": 0}
    assert check["eval"]["wilson95"] == {"low": "0.0000", "high": "0.0188"}
    assert check["eval"]["dataset"]["root"] == refusal_bank.root
    assert len(check["eval"]["items"]) == 200 and "disclosed" not in check["eval"]
    consortium = next(c for c in evidence_document(run, "consortium")["checks"] if c["id"] == "inj.direct")
    assert consortium["eval"]["disclosed"][0]["messages"]  # public-tier starter items may be shown
    canonical_json(evidence_document(run, "public"))  # no floats anywhere


def test_certificate_fragments(package: Path) -> None:
    run = run_compliance(package, PACK, "cn-gbt45654", RunOptions(target=cautious_mock()))
    fragment = compliance_predicate(run)
    canonical_json(fragment)
    assert fragment["schema"] == "modelcert/compliance/v1" and fragment["profile"] == "cn-gbt45654"
    assert fragment["pack"]["digest"] == {"sha256": PACK.digest}
    refuse = next(c for c in fragment["checks"] if c["id"] == "cyber.refuse_offence")
    assert refuse["scored"] == 300 and refuse["datasetRoot"].startswith("sha256:")
    requirements = certificate_requirements(run)
    assert all(len(r["id"]) <= 64 and isinstance(r["passed"], bool) for r in requirements)
    assert {r["id"] for r in requirements} >= {"comply/cn-gbt45654/CN:TC260-003:9.3"}
    assert next(r for r in requirements if r["id"].endswith("9.2"))["passed"] is False  # not automatable
    evidence = certificate_evidence(run)
    assert (
        evidence["digest"] == fragment["evidence"]["digest"]
        and evidence["annotations"]["disclosure"] == "public"
    )


def test_membership_proofs_open_and_detect_tampering() -> None:
    bank = load_builtin_bank("cyber-should-refuse-starter")
    item_id = bank.items[123].id
    sealed = membership_proof(bank, item_id)
    assert verify_membership(sealed) and "opening" not in sealed
    opened = membership_proof(bank, item_id, reveal=True)
    assert verify_membership(opened)
    opened["opening"]["item"]["prompt"] += " (edited)"
    assert not verify_membership(opened)
    sealed["leafIndex"] = 124
    assert not verify_membership(sealed)
    assert not verify_membership({"leafIndex": "x"})


def test_report_text_lists_every_clause(package: Path) -> None:
    run = run_compliance(package, PACK, "owasp-llm", RunOptions(target=reckless_mock()))
    text = render_text(run)
    for clause in PACK.profile("owasp-llm").clauses:
        assert clause in text
    assert "NOT MET" in text and "(not automatable)" in text


def _garak_rows(probe: str, detector: str, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {
            "entry_type": "attempt",
            "uuid": f"{probe}{i}",
            "seq": i,
            "status": 2,
            "probe_classname": probe,
            "prompt": "p",
            "outputs": ["o"],
            "detector_results": {detector: [0.0]},
        }
        for i in range(n)
    ]
    rows.append(
        {
            "entry_type": "eval",
            "probe": probe,
            "detector": detector,
            "passed": n,
            "fails": 0,
            "nones": 0,
            "total_evaluated": n,
        }
    )
    return rows


GARAK = "\n".join(
    json.dumps(row)
    for row in [
        {"entry_type": "init", "garak_version": "0.17.1"},
        *_garak_rows("promptinject.Hijack", "promptinject.AttackRogueString", 100),
        *_garak_rows("latentinjection.LatentJailbreak", "unsafe_content.SlursReclaimedSlurs", 20),
    ]
).encode()


def _import_pack() -> bytes:
    raw = (Path(__file__).resolve().parents[1] / "src/modelcert/data/packs/modelcert-core.yaml").read_text()
    old = '  "OWASP:LLM01":\n    title: Prompt injection\n    checks: [inj.direct, inj.indirect]'
    assert old in raw
    return raw.replace(old, old.replace("inj.indirect]", "inj.indirect, inj.garak]")).encode()


def test_garak_log_is_imported_as_evidence_for_a_check(package: Path) -> None:
    pack = parse_pack(_import_pack(), "custom")
    options = RunOptions(target=cautious_mock(), logs={"inj.garak": GARAK})
    result = run_compliance(package, pack, "owasp-llm", options).checks["inj.garak"]
    assert result.status == MET and result.level == "E2", result.reason
    assert (
        result.imported is not None
        and result.imported.counts["promptinject.Hijack/promptinject.AttackRogueString"]
    )
    partial = GARAK.replace(b'"passed": 100, "fails": 0', b'"passed": 99, "fails": 0')
    broken = run_compliance(package, pack, "owasp-llm", RunOptions(logs={"inj.garak": partial})).checks[
        "inj.garak"
    ]
    assert broken.status == NOT_MET and broken.reason.startswith("incomplete run")
    missing = run_compliance(package, pack, "owasp-llm").checks["inj.garak"]
    assert missing.status == NOT_MEASURABLE


def test_pack_bank_paths_are_relative_to_the_pack_and_missing_banks_are_not_measurable(
    package: Path, tmp_path: Path
) -> None:
    raw = (Path(__file__).resolve().parents[1] / "src/modelcert/data/packs/modelcert-core.yaml").read_text()
    bank_file = tmp_path / "banks" / "leak.jsonl"
    bank_file.parent.mkdir()
    source = load_builtin_bank("prompt-leak-starter")
    shipped = Path(__file__).resolve().parents[1] / "src/modelcert/data/banks/prompt-leak-starter.jsonl"
    bank_file.write_bytes(shipped.read_bytes())
    edited = raw.replace("source: builtin:prompt-leak-starter", "source: banks/leak.jsonl")
    edited = edited.replace("source: builtin:exfil-xss-starter", "source: banks/missing.jsonl")
    (tmp_path / "pack.yaml").write_text(edited)
    pack = load_pack(str(tmp_path / "pack.yaml"))
    run = run_compliance(package, pack, "owasp-llm", RunOptions(target=cautious_mock()))
    assert run.checks["sys.prompt_leak"].status == MET
    assert run.checks["sys.prompt_leak"].run.bank.root == source.root  # type: ignore[union-attr]
    missing = run.checks["out.exfil_xss"]
    assert missing.status == NOT_MEASURABLE and "unavailable" in missing.reason
