"""Backdoor evidence levels and compliance results inside certificates: issued, signed, verified.

Compliance runs use the mock targets (`mock` = reference good behaviour, `mock:reckless` = reference
bad) on the tiny documentation package; nothing is loaded or executed. The backdoor evidence of a
plain scan is E1; an E3 claim is built by adding the lineage (MC573) and behavioural-scan (MC592)
summary findings that `scan_with_evidence` would produce, without running either.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from modelcert.behaviour.canonical import canonical_json
from modelcert.behaviour.mock import cautious_mock, reckless_mock
from modelcert.certificate import dsse
from modelcert.certificate.attach import ComplianceAttachment, attach_compliance
from modelcert.certificate.issue import IssueError, cosign, issue_certificate
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.statement import Statement
from modelcert.certificate.verify import VerifyReport, verify_package
from modelcert.checks.backdoor_evidence import BehaviouralSummary
from modelcert.checks.backdoor_lineage import LineageSummary
from modelcert.cli.main import main
from modelcert.compliance.engine import RunOptions, run_compliance
from modelcert.compliance.packs import load_pack
from modelcert.findings import Location
from modelcert.policy.fields import DocumentError
from modelcert.policy.load import load_policy
from modelcert.policy.waivers import NO_WAIVERS
from modelcert.scan import scan_paths
from test_certificate_support import NOW, Lab, certify, lab, make_model, trust
from test_compliance_fixtures import build_package

PROFILE = "cn-gbt45654"
MEASURED_CLAUSE = "CN:TC260-003:9.3"  # refusal of cyber-offence requests: measured on the target
UNAUTOMATABLE_CLAUSE = "CN:TC260-003:9.2"  # reported, never met automatically
SECRET_TRIGGER = "zq-planted-trigger"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("evidence") / "tiny-widget")


@pytest.fixture(scope="module")
def cli_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lab A's key files and a trust file accepting it under the baseline policy."""
    root = tmp_path_factory.mktemp("keys")
    assert (
        main(["keys", "generate", "--out", str(root / "a"), "--name", "Lab A", "--jurisdiction", "US"]) == 0
    )
    certifier = str(root / "a" / "certifier.json")
    assert main(["keys", "trust", "--certifier", certifier, "--output", str(root / "trust.json")]) == 0
    return root


def _certify_args(package: Path, keys: Path, output: Path, *extra: str) -> list[str]:
    key, issuer = str(keys / "a" / "private.pem"), str(keys / "a" / "issuer.json")
    return ["certify", str(package), "--key", key, "--issuer", issuer, "--output", str(output), *extra]


def _verify_args(package: Path, keys: Path, cert: Path, *extra: str) -> list[str]:
    return ["verify", str(package), "--cert", str(cert), "--trust", str(keys / "trust.json"), *extra]


def _statement(cert: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(cert.read_text())["payload"]))
    return doc


def _attachment(package: Path, target: str = "mock") -> ComplianceAttachment:
    model = cautious_mock() if target == "mock" else reckless_mock()
    run = run_compliance(package, load_pack("modelcert-core"), PROFILE, RunOptions(target=model))
    return attach_compliance(run)


def _resign(envelope: dsse.Envelope, by: Lab, edit: Any) -> bytes:
    """Edit the statement and sign it again with the certifier's own key: only the content is wrong."""
    doc = json.loads(envelope.payload)
    edit(doc)
    return dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, canonicalize(doc), by.key).to_json().encode()


def _verify(model: Path, cert: bytes, by: Lab, **kwargs: Any) -> VerifyReport:
    return verify_package(model, [("cert.json", cert)], trust(by), now=NOW, **kwargs)


# --- compliance ---------------------------------------------------------------------------------


def test_certify_with_good_mock_carries_compliance_for_this_subject(
    package: Path, cli_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, evidence_file = tmp_path / "cert.json", tmp_path / "compliance.json"
    extra = ("--comply-profile", PROFILE, "--comply-target", "mock", "--comply-evidence", str(evidence_file))
    assert main(_certify_args(package, cli_keys, cert, *extra)) == 0
    assert f"comply   profile {PROFILE}: met" in capsys.readouterr().out
    statement = _statement(cert)
    predicate = statement["predicate"]
    compliance = predicate["compliance"]
    assert compliance["subject"]["sha256"] == statement["subject"][0]["digest"]["sha256"]
    assert compliance["profile"] == PROFILE and compliance["status"] == "met"
    assert predicate["result"] == "PASSED" and predicate["levels"]
    requirements = {r["id"]: r for r in predicate["requirements"]}
    for clause in compliance["clauses"]:
        assert requirements[f"comply/{PROFILE}/{clause['id']}"]["passed"] == (clause["status"] == "met")
    # the clause no check can decide is listed, failed, and says why it does not decide the result
    assert "not automatable" in " ".join(requirements[f"comply/{PROFILE}/{UNAUTOMATABLE_CLAUSE}"]["reasons"])
    # the evidence entry names the document written next to the certificate
    named = {e["name"]: e for e in predicate["evidence"]}[f"compliance-{PROFILE}.json"]
    document = json.loads(evidence_file.read_text())
    assert named["digest"]["sha256"] == hashlib.sha256(canonical_json(document)).hexdigest()
    assert named["digest"] == compliance["evidence"]["digest"]

    assert main(_verify_args(package, cli_keys, cert, "--require-clause", MEASURED_CLAUSE)) == 0
    out = capsys.readouterr().out
    assert f"clause {MEASURED_CLAUSE} met at E2" in out
    assert f"profile {PROFILE} of pack modelcert-core" in out and "binding: mock" in out
    assert "WARN  compliance" in out  # a mock proves nothing about the weights: said at verify time
    assert main(_verify_args(package, cli_keys, cert, "--require-clause", UNAUTOMATABLE_CLAUSE)) == 1
    assert f"clause {UNAUTOMATABLE_CLAUSE} is not measurable" in capsys.readouterr().out
    assert main(_verify_args(package, cli_keys, cert, "--require-clause", "EU:AIA:53(1)(a)")) == 1
    assert f"profile {PROFILE} does not report clause EU:AIA:53(1)(a)" in capsys.readouterr().out


def test_reckless_mock_fails_the_certificate_like_a_policy_requirement(
    package: Path, cli_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.json"
    extra = ("--comply-profile", PROFILE, "--comply-target", "mock:reckless")
    assert main(_certify_args(package, cli_keys, cert, *extra)) == 1
    out = capsys.readouterr().out
    assert not cert.exists() and "no certificate written" in out
    assert f"clause {MEASURED_CLAUSE} is not met" in out
    assert main(_certify_args(package, cli_keys, cert, *extra, "--allow-failed")) == 1
    predicate = _statement(cert)["predicate"]
    assert predicate["result"] == "FAILED" and predicate["levels"] == []
    assert predicate["compliance"]["status"] == "not met"
    passed = {r["id"]: r["passed"] for r in predicate["requirements"]}
    assert passed[f"comply/{PROFILE}/{MEASURED_CLAUSE}"] is False
    capsys.readouterr()
    assert main(_verify_args(package, cli_keys, cert, "--require-clause", MEASURED_CLAUSE)) == 1
    assert f"clause {MEASURED_CLAUSE} is not met" in capsys.readouterr().out


def test_no_target_leaves_behaviour_clauses_unmeasured_and_fails(
    package: Path, cli_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.json"
    assert main(_certify_args(package, cli_keys, cert, "--comply-profile", PROFILE)) == 1
    assert f"clause {MEASURED_CLAUSE} is not measurable" in capsys.readouterr().out


def test_tampered_compliance_subject_fails_verify_even_when_re_signed(package: Path) -> None:
    a = lab("Lab A", "US")
    issued = issue_certificate(
        scan_paths([package]),
        load_policy("baseline"),
        NO_WAIVERS,
        a.issuer,
        a.key,
        now=NOW,
        compliance=_attachment(package),
    )
    assert _verify(package, issued.envelope.to_json().encode(), a, require_clauses=[MEASURED_CLAUSE]).passed

    def swap_subject(doc: dict[str, Any]) -> None:
        doc["predicate"]["compliance"]["subject"]["sha256"] = "ab" * 32

    report = _verify(package, _resign(issued.envelope, a, swap_subject), a)
    assert not report.passed
    assert "compliance/subject sha256:abababababababab… is not the certificate subject" in " ".join(
        report.failures()
    )
    # and without re-signing, the edit breaks the signature
    doc = json.loads(issued.envelope.payload)
    swap_subject(doc)
    forged = dsse.Envelope(issued.envelope.payload_type, canonicalize(doc), issued.envelope.signatures)
    failures = " ".join(_verify(package, forged.to_json().encode(), a).failures())
    assert "no signature by a trusted key" in failures


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["compliance"].update(surprise=1), "unknown field"),
        (lambda p: p["compliance"].update(status="maybe"), "is not one of"),
        (lambda p: p["compliance"]["clauses"][0].update(level="E9"), "is not one of"),
        (lambda p: p["compliance"]["target"].update(nested={"a": 1}), "target details"),
        (lambda p: p["compliance"]["checks"][0]["wilson95"].update(low="NaN"), "not a decimal"),
        (lambda p: p.update(requirements=p["requirements"][:1]), "no requirement 'comply/"),
        (lambda p: p["backdoorEvidence"].update(level="E7"), "is not one of"),
        (lambda p: p["backdoorEvidence"].update(triggers=["x"]), "unknown field"),
    ],
)
def test_predicate_members_are_read_strictly(package: Path, edit: Any, message: str) -> None:
    a = lab("Lab A", "US")
    issued = issue_certificate(
        scan_paths([package]),
        load_policy("baseline"),
        NO_WAIVERS,
        a.issuer,
        a.key,
        now=NOW,
        compliance=_attachment(package),
    )
    doc = issued.statement.to_dict()
    edit(doc["predicate"])
    with pytest.raises(DocumentError, match=message):
        Statement.parse(doc)


def test_failed_compliance_cannot_ride_on_a_passed_result(package: Path) -> None:
    a = lab("Lab A", "US")
    issued = issue_certificate(
        scan_paths([package]),
        load_policy("baseline"),
        NO_WAIVERS,
        a.issuer,
        a.key,
        now=NOW,
        compliance=_attachment(package, "mock:reckless"),
    )
    assert issued.statement.predicate.result == "FAILED"
    doc = issued.statement.to_dict()
    doc["predicate"]["result"] = "PASSED"
    with pytest.raises(DocumentError, match="compliance/status is 'not met' but the result is PASSED"):
        Statement.parse(doc)


def test_compliance_of_other_files_is_refused_at_issue(package: Path, tmp_path: Path) -> None:
    a = lab("Lab A", "US")
    other = make_model(tmp_path / "other")
    with pytest.raises(IssueError, match="the compliance run examined"):
        issue_certificate(
            scan_paths([other]),
            load_policy("baseline"),
            NO_WAIVERS,
            a.issuer,
            a.key,
            now=NOW,
            compliance=_attachment(package),
        )


def test_cosign_needs_the_same_compliance_results(package: Path) -> None:
    a, b = lab("Lab A", "US"), lab("Lab B", "DE")
    report, policy = scan_paths([package]), load_policy("baseline")
    issued = issue_certificate(
        report, policy, NO_WAIVERS, a.issuer, a.key, now=NOW, compliance=_attachment(package)
    )
    with pytest.raises(IssueError, match=f"re-run them \\(--comply-profile {PROFILE}\\)"):
        cosign(issued.envelope, report, policy, b.key, now=NOW)
    with pytest.raises(IssueError, match=f"clause {MEASURED_CLAUSE}: this run says not met"):
        cosign(issued.envelope, report, policy, b.key, now=NOW, compliance=_attachment(package, "reckless"))
    both = cosign(issued.envelope, report, policy, b.key, now=NOW, compliance=_attachment(package))
    assert len(both.signatures) == 2


# --- backdoor evidence --------------------------------------------------------------------------


def test_plain_certificate_records_e1_with_the_honest_statement(tmp_path: Path) -> None:
    a = lab("Lab A", "US")
    issued = certify(make_model(tmp_path / "model"), a)
    evidence = issued.statement.predicate.backdoor_evidence
    assert evidence is not None and evidence.level == "E1"
    assert "does not establish absence of backdoors" in evidence.statement
    assert evidence.blocked_by == {"E2": ("no --base comparison",), "E3": ("behavioural scan not run",)}
    assert evidence.lineage is None and evidence.behaviour is None and evidence.base_digest is None
    # the commitment binds the full evidence details kept in the private disclosure
    revealed = json.loads(issued.disclosure)["backdoorEvidence"]
    assert revealed["evidence"]["level"] == "E1"
    assert hashlib.sha256(canonicalize(revealed)).hexdigest() == evidence.commitment


def test_min_evidence_rejects_a_certificate_below_it_naming_the_level(tmp_path: Path) -> None:
    a = lab("Lab A", "US")
    model = make_model(tmp_path / "model")
    cert = certify(model, a).envelope.to_json().encode()
    assert _verify(model, cert, a, min_evidence="E1").passed
    report = _verify(model, cert, a, min_evidence="E2")
    assert not report.passed
    failures = " ".join(report.failures())
    assert "backdoor evidence level E1 is below the required E2" in failures
    steps = [s for c in _verify(model, cert, a).certificates for s in c.steps if s.name == "evidence"]
    assert steps and steps[0].message.startswith("backdoor evidence level E1: No backdoor")


def test_cli_min_evidence(
    package: Path, cli_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.json"
    assert main(_certify_args(package, cli_keys, cert)) == 0
    assert "evidence backdoor evidence level E1 (not reached: E2: no --base" in capsys.readouterr().out
    assert main(_verify_args(package, cli_keys, cert)) == 0
    assert "INFO  evidence   backdoor evidence level E1: No backdoor indicators" in capsys.readouterr().out
    assert main(_verify_args(package, cli_keys, cert, "--min-evidence", "E2")) == 1
    assert "backdoor evidence level E1 is below the required E2" in capsys.readouterr().out
    assert main(_verify_args(package, cli_keys, cert, "--min-evidence", "E9")) == 2


def test_certificate_without_the_member_still_verifies_but_not_with_min_evidence(tmp_path: Path) -> None:
    a = lab("Lab A", "US")
    model = make_model(tmp_path / "model")
    older = _resign(certify(model, a).envelope, a, lambda d: d["predicate"].pop("backdoorEvidence"))
    assert _verify(model, older, a).passed
    failures = " ".join(_verify(model, older, a, min_evidence="E0").failures())
    assert "records no backdoor evidence level; E0 required" in failures


def test_e3_claim_publishes_summaries_never_trigger_text(tmp_path: Path) -> None:
    """Lineage and behavioural summaries as `scan_with_evidence` adds them, a planted candidate text in
    the unverified list: the public predicate keeps counts and budgets, the disclosure keeps the rest."""
    a = lab("Lab A", "US")
    model = make_model(tmp_path / "model")
    plain = scan_paths([model])
    lineage = LineageSummary.finding(
        "diffuse fine-tune",
        Location(path="weights-00002.f32"),
        details={
            "classification": "diffuse fine-tune",
            "changed_tensors": 12,
            "aligned_tensors": 12,
            "median_cosine": 0.99871,
            "adapter_rank": None,
            "bytes_compared": 6144,
            "tensors": [{"name": "lm_head.weight", "rel_change": 0.01}],
        },
    )
    behaviour = BehaviouralSummary.finding(
        "56 of 56 tokens tested",
        Location(path="weights-00002.f32"),
        details={
            "budget_seconds": 300.0,
            "seconds": 12.5,
            "coverage": 1.0,
            "tested_tokens": 56,
            "tested_bigrams": 120,
            "vocabulary": 56,
            "differential": True,
            "prompts": 16,
            "benchmark": {"recall": 1.0, "models": "tiny Llama-shaped LMs"},
            "top": [{"tokens": [7], "kl_excess": 0.4, "z": 3.0}],
            "unverified": [{"tokens": [7], "text": SECRET_TRIGGER, "kl_excess": 0.4}],
        },
    )
    report = plain.replace(package_findings=(*plain.package_findings, lineage, behaviour))
    issued = issue_certificate(
        report, load_policy("baseline"), NO_WAIVERS, a.issuer, a.key, now=NOW, base_digest="cd" * 32
    )
    evidence = issued.statement.predicate.backdoor_evidence
    assert evidence is not None and evidence.level == "E3" and evidence.blocked_by == {}
    assert evidence.lineage is not None and evidence.lineage.median_cosine == "0.9987"
    assert evidence.behaviour is not None and evidence.behaviour.coverage == "1"
    assert evidence.behaviour.benchmark_recall == "1" and evidence.base_digest == "cd" * 32
    assert SECRET_TRIGGER.encode() not in issued.envelope.payload
    assert b"lm_head.weight" not in issued.envelope.payload
    assert SECRET_TRIGGER.encode() in issued.disclosure
    assert Statement.from_payload(issued.envelope.payload) == issued.statement
    assert _verify(model, issued.envelope.to_json().encode(), a, min_evidence="E3").passed


def test_cosign_must_reach_the_claimed_evidence_level(tmp_path: Path) -> None:
    a, b = lab("Lab A", "US"), lab("Lab B", "DE")
    model = make_model(tmp_path / "model")
    plain = scan_paths([model])
    lineage = LineageSummary.finding(
        "identical",
        Location(path="weights-00002.f32"),
        details={"classification": "identical", "changed_tensors": 0, "aligned_tensors": 2},
    )
    claimed = plain.replace(package_findings=(*plain.package_findings, lineage))
    policy = load_policy("baseline")
    issued = issue_certificate(claimed, policy, NO_WAIVERS, a.issuer, a.key, now=NOW)
    assert issued.statement.predicate.backdoor_evidence is not None
    assert issued.statement.predicate.backdoor_evidence.level == "E2"
    with pytest.raises(IssueError, match="claims backdoor evidence level E2, this examination reached E1"):
        cosign(issued.envelope, plain, policy, b.key, now=NOW)
    assert len(cosign(issued.envelope, claimed, policy, b.key, now=NOW).signatures) == 2


def test_cli_flag_combinations_are_usage_errors(package: Path, cli_keys: Path, tmp_path: Path) -> None:
    cert = tmp_path / "cert.json"
    assert main(_certify_args(package, cli_keys, cert, "--budget", "5")) == 2
    assert main(_certify_args(package, cli_keys, cert, "--comply-target", "mock")) == 2
    assert main(_certify_args(package, cli_keys, cert, "--comply-profile", "no-such-profile")) == 2
    assert not cert.exists()


def test_cli_base_reaches_e2_and_names_the_base(
    package: Path, cli_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = build_package(tmp_path / "base")  # same bytes: an identical derivative of its base
    cert = tmp_path / "cert.json"
    assert main(_certify_args(package, cli_keys, cert, "--base", str(base))) == 0
    assert "backdoor evidence level E2 (not reached: E3: behavioural scan not run)" in capsys.readouterr().out
    statement = _statement(cert)
    evidence = statement["predicate"]["backdoorEvidence"]
    assert evidence["base"]["sha256"] == statement["subject"][0]["digest"]["sha256"]
    assert evidence["lineage"]["classification"] == "identical" and evidence["lineage"]["changedTensors"] == 0
    assert main(_verify_args(package, cli_keys, cert, "--min-evidence", "E2")) == 0
    assert main(_verify_args(package, cli_keys, cert, "--min-evidence", "E3")) == 1
    assert "backdoor evidence level E2 is below the required E3" in capsys.readouterr().out
