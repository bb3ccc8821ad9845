"""Known-bad feed: salted commitments, signed feeds, and MC950/MC951 matches on real scan reports."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.certificate.keys import SigningKey
from modelcert.findings import Severity, Verdict
from modelcert.registry.feed import (
    Feed,
    FeedEntry,
    FeedError,
    build_feed,
    check_commitment,
    load_feed,
    make_commitment,
    match_report,
    parse_feed,
    sign_feed,
)
from modelcert.scan import scan_paths

AT = datetime(2026, 6, 1, tzinfo=UTC)
KEY = SigningKey.generate()
PAYLOAD = b"cos\nsystem\n(S'echo modelcert-test'\ntR."  # never loaded: only hashed


def _entry(digest: str, scope: str = "file", severity: Severity = Severity.CRITICAL) -> FeedEntry:
    commitment, _ = make_commitment({"note": "reverse shell gadget"})
    return FeedEntry(digest, "MC101", severity, commitment, scope, 4)


def _package(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "README.md").write_text("hello\n")
    (root / "payload.bin").write_bytes(PAYLOAD + b"\x00padding")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner/notes.txt", "inner member that someone flagged\n")
    (root / "bundle.zip").write_bytes(buffer.getvalue())
    return root


def test_commitments_bind_salt_and_detail() -> None:
    detail = {"trigger": "cf", "evidence": ["eval transcript 17"]}
    commitment, salt = make_commitment(detail)
    assert check_commitment(commitment, detail, salt)
    assert not check_commitment(commitment, {**detail, "trigger": "cg"}, salt)
    assert not check_commitment(commitment, detail, "00" * 32)
    again, salt2 = make_commitment(detail)
    assert again != commitment and salt2 != salt  # fresh salt: equal details do not link across feeds
    assert make_commitment(detail, bytes(32)) == make_commitment(detail, bytes(32))


def test_matches_files_members_and_package_root(tmp_path: Path) -> None:
    root = _package(tmp_path)
    before = scan_paths([root])
    payload_digest = hashlib.sha256((root / "payload.bin").read_bytes()).hexdigest()
    member_digest = hashlib.sha256(b"inner member that someone flagged\n").hexdigest()
    assert before.root_digest is not None
    feed = build_feed(
        [
            _entry(payload_digest),
            _entry(member_digest, severity=Severity.HIGH),
            _entry(before.root_digest, "package"),
            _entry("ee" * 32),
        ],
        "reg.example",
        AT,
    )
    findings = match_report(before, feed)
    by_id = {(f.check_id, f.location.display()) for f in findings}
    assert ("MC950", "payload.bin") in by_id
    assert ("MC950", "bundle.zip!inner/notes.txt") in by_id
    assert ("MC951", str(root)) in by_id
    assert len(findings) == 3
    assert all(f.verdict is Verdict.UNSAFE for f in findings)
    member = next(f for f in findings if f.location.member)
    assert member.severity is Severity.HIGH and member.details["ruleId"] == "MC101"
    # a package-scoped entry never matches a single file with that digest, and vice versa
    swapped = build_feed([_entry(payload_digest, "package"), _entry(before.root_digest, "file")], "r", AT)
    assert match_report(before, swapped) == []


def test_signed_feed_round_trip_and_refusals(tmp_path: Path) -> None:
    feed = build_feed([_entry("ab" * 32)], "reg.example", AT)
    envelope = sign_feed(feed, KEY)
    parsed = parse_feed(envelope.to_json(), KEY.verifying)
    assert parsed.verified and parsed.entries[0].sha256 == "ab" * 32
    assert parse_feed(envelope.to_json()).verified is False  # readable, but not verified without a key
    with pytest.raises(FeedError, match="not signed by the registry"):
        parse_feed(envelope.to_json(), SigningKey.generate().verifying)
    with pytest.raises(FeedError, match="not signed"):
        parse_feed(json.dumps(feed.document()), KEY.verifying)
    path = tmp_path / "feed.json"
    path.write_text(envelope.to_json())
    assert load_feed(path, KEY.verifying).entries == parsed.entries
    with pytest.raises(FeedError, match="cannot read"):
        load_feed(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "entry",
    [
        {"sha256": "AB" * 32, "ruleId": "MC101", "severity": "high", "commitment": "00" * 32},
        {"sha256": "ab" * 32, "ruleId": "bad rule", "severity": "high", "commitment": "00" * 32},
        {"sha256": "ab" * 32, "ruleId": "MC101", "severity": "apocalyptic", "commitment": "00" * 32},
        {"sha256": "ab" * 32, "ruleId": "MC101", "severity": "high", "commitment": "zz"},
        {"sha256": "ab" * 32, "ruleId": "MC101", "severity": "high", "commitment": "00" * 32, "scope": "x"},
    ],
)
def test_malformed_entries_are_refused(entry: dict[str, str]) -> None:
    doc = {"feed": "modelcert-known-bad/v1", "entries": [entry]}
    with pytest.raises(FeedError):
        parse_feed(json.dumps(doc))


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_property_garbage_feeds_raise_feed_error(data: bytes | str) -> None:
    try:
        feed = parse_feed(data)
    except FeedError:
        return
    assert isinstance(feed, Feed)
