"""Policies: baseline vs strict, waivers (check ID + file digest, expiry), composition, strict parsing."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.errors import ModelcertError
from modelcert.findings import (
    ArtifactReport,
    Confidence,
    Finding,
    InputRoot,
    Location,
    ScanReport,
    Severity,
    Verdict,
)
from modelcert.policy import (
    NO_WAIVERS,
    AllOf,
    AnyOf,
    FindingsRule,
    PolicyError,
    SkippedFilesRule,
    Waiver,
    WaiverSet,
    load_policy,
)
from modelcert.policy.fields import DocumentError
from modelcert.policy.load import builtin_bytes, parse_policy

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ROOT = "ab" * 32
PKL = "11" * 32
MEMBER = "22" * 32
BIN = "33" * 32


def finding(
    check: str,
    verdict: Verdict,
    severity: Severity,
    confidence: Confidence,
    path: str = "model.pkl",
    member: tuple[str, ...] = (),
) -> Finding:
    return Finding(
        check,
        f"title of {check}",
        severity,
        confidence,
        verdict,
        "message with payload details",
        Location(path, member),
    )


def report(*files: ArtifactReport, package: tuple[Finding, ...] = ()) -> ScanReport:
    return ScanReport("modelcert", "0", (InputRoot("m", ROOT, len(files), 0),), files, package)


def pkl(*findings: Finding) -> ArtifactReport:
    return ArtifactReport("model.pkl", "pickle", 10, PKL, findings)


def skipped(path: str, fmt: str) -> ArtifactReport:
    return ArtifactReport(path, fmt, 10, BIN, skipped_reason="no reader claims this content")


BASELINE, STRICT = load_policy("baseline"), load_policy("strict")


@pytest.mark.parametrize(
    ("case", "scan", "baseline_passes", "strict_passes"),
    [
        ("clean", report(pkl()), True, True),
        (
            "suspicious medium, high confidence",
            report(pkl(finding("MC120", Verdict.SUSPICIOUS, Severity.MEDIUM, Confidence.HIGH))),
            True,
            False,
        ),
        (
            "suspicious high, high confidence",
            report(pkl(finding("MC120", Verdict.SUSPICIOUS, Severity.HIGH, Confidence.HIGH))),
            False,
            False,
        ),
        (
            "suspicious high, medium confidence",
            report(pkl(finding("MC120", Verdict.SUSPICIOUS, Severity.HIGH, Confidence.MEDIUM))),
            True,
            False,
        ),
        (
            "suspicious info",
            report(pkl(finding("MC120", Verdict.SUSPICIOUS, Severity.INFO, Confidence.HIGH))),
            True,
            True,
        ),
        (
            "unsafe, low confidence",
            report(pkl(finding("MC101", Verdict.UNSAFE, Severity.HIGH, Confidence.LOW))),
            True,
            False,
        ),
        (
            "unsafe, high confidence",
            report(pkl(finding("MC101", Verdict.UNSAFE, Severity.CRITICAL, Confidence.HIGH))),
            False,
            False,
        ),
        (
            "unscannable",
            report(pkl(finding("MC901", Verdict.UNSCANNABLE, Severity.MEDIUM, Confidence.HIGH))),
            False,
            False,
        ),
        ("raw data skipped", report(skipped("w.bin", "binary")), True, False),
        ("text skipped", report(skipped("README.md", "text")), True, True),
        (
            "clean info finding",
            report(pkl(finding("MC001", Verdict.CLEAN, Severity.CRITICAL, Confidence.HIGH))),
            True,
            True,
        ),
    ],
)
def test_baseline_and_strict_differ_where_they_should(
    case: str, scan: ScanReport, baseline_passes: bool, strict_passes: bool
) -> None:
    assert BASELINE.evaluate(scan, NO_WAIVERS, NOW).passed is baseline_passes, case
    assert STRICT.evaluate(scan, NO_WAIVERS, NOW).passed is strict_passes, case


def test_failing_reasons_name_requirement_check_and_place_not_the_message() -> None:
    scan = report(
        pkl(finding("MC101", Verdict.UNSAFE, Severity.CRITICAL, Confidence.HIGH, member=("data.pkl",)))
    )
    result = BASELINE.evaluate(scan, NO_WAIVERS, NOW)
    assert result.reasons() == [
        "no-unsafe: MC101 in model.pkl!data.pkl: title of MC101 (unsafe, critical, high confidence)"
    ]
    assert "payload" not in " ".join(result.reasons())


def waiver(check: str, digest: str, expires: datetime = NOW + timedelta(days=30)) -> Waiver:
    return Waiver(check, digest, "reviewed: loader never runs this path", expires, "sec-team")


UNSAFE = finding("MC101", Verdict.UNSAFE, Severity.CRITICAL, Confidence.HIGH)


def test_waiver_applies_by_check_id_and_file_digest() -> None:
    scan = report(pkl(UNSAFE))
    result = BASELINE.evaluate(scan, WaiverSet((waiver("MC101", PKL),)), NOW)
    assert result.passed and result.conditional
    assert [a.finding for a in result.waivers_applied] == ["MC101 in model.pkl"]


@pytest.mark.parametrize(("check", "digest"), [("MC102", PKL), ("MC101", BIN), ("MC101", ROOT)])
def test_waiver_for_another_check_or_file_does_not_apply(check: str, digest: str) -> None:
    result = BASELINE.evaluate(report(pkl(UNSAFE)), WaiverSet((waiver(check, digest),)), NOW)
    assert not result.passed and not result.waivers_applied


def test_waiver_matches_the_member_or_its_container() -> None:
    inner = finding("MC101", Verdict.UNSAFE, Severity.CRITICAL, Confidence.HIGH, member=("archive/data.pkl",))
    member = ArtifactReport("archive/data.pkl", "pickle", 5, MEMBER, (inner,))
    scan = report(ArtifactReport("model.pkl", "zip", 10, PKL, members=(member,)))
    for digest in (PKL, MEMBER):
        assert BASELINE.evaluate(scan, WaiverSet((waiver("MC101", digest),)), NOW).passed


def test_expired_waiver_stops_applying_and_is_reported() -> None:
    expired = waiver("MC101", PKL, expires=NOW - timedelta(seconds=1))
    result = BASELINE.evaluate(report(pkl(UNSAFE)), WaiverSet((expired,)), NOW)
    assert not result.passed
    assert result.waivers_expired == (expired,)
    assert any(r.startswith("waiver expired and no longer applies: MC101") for r in result.reasons())
    # the same waiver a second before its expiry still applies
    assert BASELINE.evaluate(report(pkl(UNSAFE)), WaiverSet((expired,)), NOW - timedelta(seconds=2)).passed


def test_package_level_finding_is_waived_by_the_root_digest() -> None:
    scan = report(package=(finding("MC310", Verdict.UNSAFE, Severity.HIGH, Confidence.HIGH, path="."),))
    assert not BASELINE.evaluate(scan, NO_WAIVERS, NOW).passed
    assert BASELINE.evaluate(scan, WaiverSet((waiver("MC310", ROOT),)), NOW).passed


def test_empty_allof_and_anyof_raise() -> None:
    with pytest.raises(PolicyError, match="AllOf needs at least one requirement"):
        AllOf("empty", "nothing", [])
    with pytest.raises(PolicyError, match="AnyOf needs at least one requirement"):
        AnyOf("empty", "nothing", [])
    doc = json.loads(builtin_bytes("baseline"))
    doc["requirements"]["allOf"] = []
    with pytest.raises(PolicyError):
        parse_policy(json.dumps(doc).encode(), "empty.json")


def test_composition_allof_anyof() -> None:
    no_unsafe = FindingsRule("no-unsafe", "no unsafe", [Verdict.UNSAFE])
    covered = SkippedFilesRule("covered", "all read", ["text"])
    scan = report(pkl(UNSAFE), skipped("README.md", "text"))
    either = AnyOf("either", "one of", [no_unsafe, covered])
    both = AllOf("both", "all of", [no_unsafe, covered])
    assert either.evaluate(scan, NO_WAIVERS, NOW).passed
    result = both.evaluate(scan, NO_WAIVERS, NOW)
    assert not result.passed
    assert result.verdict.reasons == ("not met: no-unsafe",)
    assert [c.passed for c in result.verdict.children] == [False, True]
    nested = AllOf("outer", "outer", [either, AnyOf("inner", "inner", [no_unsafe])])
    assert not nested.evaluate(scan, NO_WAIVERS, NOW).passed


def test_findings_rule_refuses_clean_or_no_verdicts() -> None:
    with pytest.raises(PolicyError):
        FindingsRule("x", "x", [])
    with pytest.raises(PolicyError):
        FindingsRule("x", "x", [Verdict.CLEAN])


def test_builtin_digest_is_sha256_of_the_file_and_differs_between_profiles() -> None:
    assert BASELINE.digest == hashlib.sha256(builtin_bytes("baseline")).hexdigest()
    assert BASELINE.digest != STRICT.digest
    assert (BASELINE.conflict_rule, STRICT.conflict_rule) == ("majority", "veto")


def test_policy_file_by_path_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(builtin_bytes("strict"))
    assert load_policy(str(path)).digest == STRICT.digest
    with pytest.raises(DocumentError, match="neither a built-in profile"):
        load_policy(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema="other"), "/schema"),
        (lambda d: d.update(extra=1), "unknown field"),
        (lambda d: d.update(conflictRule="unanimity"), "conflictRule"),
        (lambda d: d["requirements"]["allOf"][0].update(verdicts=["dangerous"]), "unknown verdict"),
        (lambda d: d["requirements"]["allOf"][0].update(minSeverity="huge"), "unknown severity"),
        (lambda d: d["requirements"]["allOf"][0].update(minSeverity="HIGH", typo=True), "unknown field"),
        (lambda d: d["requirements"]["allOf"][0].update(kind="vibes"), "kind"),
        (lambda d: d["requirements"].update(anyOf=[]), "not both"),
    ],
)
def test_malformed_policies_are_refused_with_a_pointer(edit: Any, message: str) -> None:
    doc = json.loads(builtin_bytes("baseline"))
    edit(doc)
    with pytest.raises(ModelcertError, match=message):
        parse_policy(json.dumps(doc).encode(), "bad.json")


def test_deeply_nested_policy_is_bounded() -> None:
    leaf: dict[str, Any] = {"id": "l", "title": "l", "kind": "findings", "verdicts": ["unsafe"]}
    for i in range(20):
        leaf = {"id": f"n{i}", "title": "n", "allOf": [leaf]}
    doc = json.loads(builtin_bytes("baseline"))
    doc["requirements"] = leaf
    with pytest.raises(DocumentError, match="nested deeper"):
        parse_policy(json.dumps(doc).encode(), "deep.json")


def test_waivers_file_round_trip_and_errors() -> None:
    waivers = WaiverSet((waiver("MC101", PKL),))
    assert WaiverSet.load(json.dumps(waivers.to_dict())) == waivers
    good = waivers.to_dict()["waivers"][0]
    for bad, message in [
        ({**good, "checkId": "rm -rf"}, "not a check ID"),
        ({**good, "reason": "  "}, "needs a reason"),
        ({**good, "expires": "2026-12-31T00:00:00"}, "no UTC offset"),
        ({**good, "fileSha256": "AB" * 32}, "lowercase hex"),
        ({k: v for k, v in good.items() if k != "expires"}, "required field is missing"),
    ]:
        with pytest.raises(DocumentError, match=message):
            WaiverSet.load(json.dumps({"schema": "modelcert/waivers/v1", "waivers": [bad]}))
    with pytest.raises(DocumentError, match="duplicate key"):
        WaiverSet.load('{"schema": "modelcert/waivers/v1", "waivers": [], "waivers": []}')


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["unsafe", "findings", "allOf", "baseline", "modelcert/policy/v1", "veto"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "schema",
                    "id",
                    "version",
                    "title",
                    "conflictRule",
                    "requirements",
                    "allOf",
                    "anyOf",
                    "kind",
                    "verdicts",
                    "minSeverity",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(_json)
def test_arbitrary_json_gives_a_policy_or_a_document_error(doc: Any) -> None:
    try:
        policy = parse_policy(json.dumps(doc).encode(), "fuzz.json")
    except ModelcertError:
        return
    assert policy is not None


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200)
    | _json.map(lambda d: json.dumps({"schema": "modelcert/waivers/v1", "waivers": d}).encode())
)
def test_arbitrary_bytes_give_waivers_or_a_document_error(data: bytes) -> None:
    try:
        waivers = WaiverSet.load(data)
    except DocumentError:
        return
    assert isinstance(waivers, WaiverSet)
