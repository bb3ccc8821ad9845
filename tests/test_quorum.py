"""k-of-n quorum over distinct certifiers and jurisdictions, and the conflict rule for FAILED votes.

Three certifiers in two jurisdictions (Lab A and Lab C in the US, Lab B in China). The package passes
`baseline` and fails `strict` (its raw weight files are not analysed by any reader), so a certifier
applying strict casts a genuine FAILED vote on the same subject digest.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from modelcert.certificate.trust import Certifier, build_trust
from modelcert.certificate.verify import VerifyReport, verify_package
from modelcert.policy.load import PolicyDocument, builtin_bytes, load_policy, parse_policy
from test_certificate_support import NOW, Lab, certify, lab, make_model, trust


@dataclasses.dataclass(frozen=True)
class World:
    model: Path
    a: Lab
    b: Lab
    c: Lab
    strict_majority: PolicyDocument


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("quorum")
    doc = json.loads(builtin_bytes("strict"))
    doc.update(id="strict-majority", conflictRule="majority")
    strict_majority = parse_policy(json.dumps(doc).encode(), "strict-majority.json")
    return World(
        make_model(root / "model"),
        lab("Lab A", "US"),
        lab("Lab B", "CN", "ecdsa-p256"),
        lab("Lab C", "US"),
        strict_majority,
    )


def _certs(world: World, votes: list[tuple[Lab, PolicyDocument | str]]) -> list[tuple[str, bytes]]:
    return [
        (f"{who.name}.json", certify(world.model, who, policy).envelope.to_json().encode())
        for who, policy in votes
    ]


def _run(
    world: World, votes: list[tuple[Lab, PolicyDocument | str]], k: int, j: int, **trust_kw: object
) -> VerifyReport:
    root = trust(
        world.a, world.b, world.c, policies=("baseline", "strict", world.strict_majority), **trust_kw
    )
    return verify_package(
        world.model, _certs(world, votes), root, now=NOW, min_certifiers=k, min_jurisdictions=j
    )


def _quorum_text(report: VerifyReport) -> str:
    return " | ".join(s.message for s in report.quorum)


def test_fixture_votes_really_differ(world: World) -> None:
    assert certify(world.model, world.a, "baseline").statement.predicate.result == "PASSED"
    assert certify(world.model, world.c, "strict").statement.predicate.result == "FAILED"


def test_two_of_three_across_two_jurisdictions_passes(world: World) -> None:
    report = _run(world, [(world.a, "baseline"), (world.b, "baseline")], k=2, j=2)
    assert report.passed, report.failures()
    assert "2 certifier(s) of 2 required (Lab A [US], Lab B [CN]), 2 jurisdiction(s)" in _quorum_text(report)


def test_one_of_three_fails(world: World) -> None:
    report = _run(world, [(world.a, "baseline")], k=2, j=2)
    assert not report.passed
    assert "1 distinct certifier(s) passed, 2 required" in _quorum_text(report)


def test_two_certifiers_in_one_jurisdiction_fail_a_two_jurisdiction_quorum(world: World) -> None:
    report = _run(world, [(world.a, "baseline"), (world.c, "baseline")], k=2, j=2)
    assert not report.passed
    assert "1 jurisdiction(s) among passing certifiers (US), 2 required" in _quorum_text(report)


def test_failed_vote_under_a_veto_policy_vetoes(world: World) -> None:
    votes = [(world.a, "baseline"), (world.b, "baseline"), (world.c, "strict")]
    report = _run(world, votes, k=2, j=2)
    assert not report.passed
    assert "FAILED vote(s) by Lab C [US] veto the quorum (conflict rule: veto)" in _quorum_text(report)


def test_failed_vote_under_a_majority_policy_is_outvoted(world: World) -> None:
    votes = [(world.a, "baseline"), (world.b, "baseline"), (world.c, world.strict_majority)]
    report = _run(world, votes, k=2, j=2)
    assert report.passed, report.failures()
    assert "1 FAILED vote(s) outweighed by 2 PASSED (conflict rule: majority)" in _quorum_text(report)


def test_majority_needs_more_passes_than_fails(world: World) -> None:
    votes = [(world.a, "baseline"), (world.c, world.strict_majority)]
    report = _run(world, votes, k=1, j=1)
    assert not report.passed
    assert "1 FAILED vote(s) against 1 PASSED: no majority" in _quorum_text(report)


def test_trust_file_conflict_rule_overrides_the_policies(world: World) -> None:
    votes = [(world.a, "baseline"), (world.b, "baseline"), (world.c, world.strict_majority)]
    assert not _run(world, votes, k=2, j=2, conflict_rule="veto").passed
    votes = [(world.a, "baseline"), (world.b, "baseline"), (world.c, "strict")]
    assert _run(world, votes, k=2, j=2, conflict_rule="majority").passed


def test_quorum_defaults_come_from_the_trust_file(world: World) -> None:
    root = trust(world.a, world.b, world.c, min_certifiers=2, min_jurisdictions=2)
    report = verify_package(world.model, _certs(world, [(world.a, "baseline")]), root, now=NOW)
    assert "1 distinct certifier(s) passed, 2 required" in _quorum_text(report)


def test_a_certifier_that_also_voted_failed_counts_as_failed(world: World) -> None:
    votes = [(world.a, "baseline"), (world.a, "strict"), (world.b, "baseline")]
    report = _run(world, votes, k=1, j=1)
    text = _quorum_text(report)
    assert "certifier 'Lab A' counted once" in text
    assert "FAILED vote(s) by Lab A [US] veto" in text


def test_no_certificate_at_all_fails(world: World) -> None:
    report = verify_package(world.model, [], trust(world.a), now=NOW)
    assert not report.passed and "no certificate was given" in _quorum_text(report)


def test_registry_role_signature_is_not_a_vote(world: World) -> None:
    registry = Certifier(world.b.key.verifying, "Registry", "CN", role="registry")
    root = build_trust([world.a.certifier, registry], [load_policy("baseline")])
    report = verify_package(world.model, _certs(world, [(world.b, "baseline")]), root, now=NOW)
    assert not report.passed
    assert any(
        "signed as registry: not a certification vote" in s.message for s in report.certificates[0].steps
    )
