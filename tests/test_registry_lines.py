"""Line-status rules: monotonic sequences, supersession with successor, revocation is final, reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelcert.registry import Conflict, Invalid
from modelcert.registry.lines import (
    REASON_CODES,
    REASONS,
    NewRelease,
    StatusChange,
    add_release,
    change_status,
    check_line,
    new_line,
    state_from_document,
)

AT = datetime(2026, 6, 1, tzinfo=UTC)
LINE = "pkg:huggingface/acme/widget"


def _digest(n: int) -> str:
    return f"{n:064x}"


def _line_with(*sequences: int):  # type: ignore[no-untyped-def]
    state = new_line(LINE, "ab" * 32)
    for seq in sequences:
        state, _ = add_release(state, NewRelease(seq, f"1.{seq}", _digest(seq)), AT)
    return state


def test_line_names_are_package_urls() -> None:
    assert check_line("pkg:huggingface/org/name") == "pkg:huggingface/org/name"
    assert check_line("pkg:generic/acme/widget-llm") == "pkg:generic/acme/widget-llm"
    for bad in ("huggingface/org/name", "pkg:HF/org/name", "pkg:huggingface/../x", "pkg:hf/a b", "pkg:x", ""):
        with pytest.raises(Invalid):
            check_line(bad)


def test_sequences_only_grow_and_digests_are_unique() -> None:
    state = _line_with(1, 5)
    assert state.version == 2
    with pytest.raises(Conflict, match="only grow"):
        add_release(state, NewRelease(5, "again", _digest(99)), AT)
    with pytest.raises(Conflict, match="only grow"):
        add_release(state, NewRelease(3, "older", _digest(98)), AT)
    with pytest.raises(Conflict, match="already a release"):
        add_release(state, NewRelease(6, "dup", _digest(1)), AT)
    with pytest.raises(Invalid):
        add_release(state, NewRelease(6, "x", "not-a-digest"), AT)


def test_safety_fix_supersedes_previous_current_releases() -> None:
    state = _line_with(1, 2)
    state, change = add_release(
        state, NewRelease(3, "1.3", _digest(3), supersede_reason="superseded-safety-fix"), AT
    )
    assert change["superseded"] == [1, 2]
    assert [(r.sequence, r.status, r.successor, r.reason) for r in state.releases] == [
        (1, "superseded", 3, "superseded-safety-fix"),
        (2, "superseded", 3, "superseded-safety-fix"),
        (3, "current", None, None),
    ]
    assert state.version == 3


def test_status_changes_and_their_rules() -> None:
    state = _line_with(1, 2)
    with pytest.raises(Invalid, match="needs a successor"):
        change_status(state, StatusChange(1, "superseded", "superseded-quality"), AT)
    with pytest.raises(Invalid, match="later release"):
        change_status(state, StatusChange(2, "superseded", "superseded-quality", successor=1), AT)
    with pytest.raises(Invalid, match="needs a reason"):
        change_status(state, StatusChange(1, "revoked"), AT)
    with pytest.raises(Invalid, match="takes no reason"):
        change_status(state, StatusChange(1, "current", "malicious-artifact"), AT)
    with pytest.raises(Invalid, match="no release"):
        change_status(state, StatusChange(9, "yanked", "publisher-withdrawn"), AT)
    state, logged = change_status(state, StatusChange(1, "superseded", "superseded-quality", successor=2), AT)
    assert logged == {
        "action": "status",
        "sequence": 1,
        "status": "superseded",
        "reason": "superseded-quality",
        "successor": 2,
    }
    with pytest.raises(Conflict, match="already"):
        change_status(state, StatusChange(1, "superseded", "superseded-quality", successor=2), AT)
    state, _ = change_status(state, StatusChange(2, "revoked", "malicious-artifact"), AT)
    with pytest.raises(Conflict, match="final"):
        change_status(state, StatusChange(2, "current"), AT)
    state, _ = add_release(state, NewRelease(3, "1.3", _digest(3)), AT)
    state, _ = change_status(state, StatusChange(1, "supported"), AT)
    state, _ = change_status(state, StatusChange(3, "revoked", "backdoor-found"), AT)
    with pytest.raises(Invalid, match="revoked"):  # a revoked release cannot be anyone's successor
        change_status(state, StatusChange(1, "superseded", "superseded", successor=3), AT)
    assert state.version == 7


def test_document_round_trip_and_digest_changes_with_every_version() -> None:
    state = _line_with(1, 2)
    again = state_from_document(state.document())
    assert again == state
    assert again.digest() == state.digest()
    changed, _ = change_status(state, StatusChange(1, "yanked", "publisher-withdrawn"), AT)
    assert changed.digest() != state.digest()
    assert changed.version == state.version + 1


def test_reason_vocabulary_is_consistent() -> None:
    assert set(REASON_CODES) == {r for reasons in REASONS.values() for r in reasons}
    assert REASONS["current"] == () and "superseded-safety-fix" in REASONS["superseded"]
    assert "malicious-artifact" in REASONS["revoked"]
