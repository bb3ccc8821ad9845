"""Currency statements: signed by the registry, bounded staleness, expiry, rollback protection."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.certificate.dsse import Envelope, sign
from modelcert.certificate.keys import SigningKey
from modelcert.registry.currency import (
    CURRENCY_ERROR_CODES,
    CurrencyError,
    RollbackState,
    build_statement,
    sign_statement,
    verify_statement,
)
from modelcert.registry.lines import NewRelease, StatusChange, add_release, change_status, new_line

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LINE = "pkg:huggingface/acme/widget"
D1, D2 = "11" * 32, "22" * 32
KEY = SigningKey.generate()


def _states():  # type: ignore[no-untyped-def]
    v1, _ = add_release(new_line(LINE, "ab" * 32), NewRelease(1, "1.0", D1), T0)
    v2, _ = add_release(v1, NewRelease(2, "1.1", D2, supersede_reason="superseded-safety-fix"), T0)
    return v1, v2


def _statement(state, digest: str, at: datetime = T0, hours: float = 24, key: SigningKey = KEY) -> Envelope:  # type: ignore[no-untyped-def]
    release = state.by_digest(digest)
    return sign_statement(
        build_statement(
            state, release, registry="reg.example", checked_at=at, lifetime=timedelta(hours=hours)
        ),
        key,
    )


def test_current_then_superseded_with_successor() -> None:
    v1, v2 = _states()
    current = verify_statement(
        _statement(v1, D1), KEY.verifying, T0 + timedelta(hours=1), timedelta(hours=72), None
    )
    assert (current.status, current.acceptable(), current.line_status_version) == ("current", True, 1)
    assert current.describe().startswith(
        "current (pkg:huggingface/acme/widget 1.0), as of 2026-06-01T12:00:00Z"
    )
    old = verify_statement(_statement(v2, D1), KEY.verifying, T0, None, 1, expected_digest=D1)
    assert old.status == "superseded" and not old.acceptable()
    assert old.successor is not None and old.successor.root_digest == D2
    assert "superseded by 1.1" in old.describe() and "because superseded-safety-fix" in old.describe()


def test_expiry_and_max_age_are_enforced() -> None:
    v1, _ = _states()
    envelope = _statement(v1, D1, hours=24)
    verify_statement(envelope, KEY.verifying, T0 + timedelta(hours=23, minutes=59), None, None)
    with pytest.raises(CurrencyError) as exc:
        verify_statement(envelope, KEY.verifying, T0 + timedelta(hours=24), None, None)
    assert exc.value.code == "expired"
    with pytest.raises(CurrencyError) as exc:
        verify_statement(envelope, KEY.verifying, T0 + timedelta(hours=5), timedelta(hours=4), None)
    assert exc.value.code == "too-old"
    with pytest.raises(CurrencyError) as exc:
        verify_statement(envelope, KEY.verifying, T0 - timedelta(hours=1), None, None)
    assert exc.value.code == "not-yet-valid"


def test_rollback_to_an_older_line_status_version_is_refused(tmp_path: Path) -> None:
    v1, v2 = _states()
    state = RollbackState(tmp_path / "state.json")
    newer = verify_statement(_statement(v2, D1), KEY.verifying, T0, None, state.last_seen(LINE))
    state.record(newer)
    assert state.last_seen(LINE) == 2
    replayed_old = _statement(v1, D1)  # genuinely signed, still unexpired, but says "current"
    with pytest.raises(CurrencyError) as exc:
        verify_statement(replayed_old, KEY.verifying, T0, None, state.last_seen(LINE))
    assert exc.value.code == "rollback"
    # the same version again is fine (re-issued statements), and recording never lowers the mark
    verify_statement(
        _statement(v2, D1, at=T0 + timedelta(hours=1)), KEY.verifying, T0 + timedelta(hours=1), None, 2
    )
    state.record(verify_statement(replayed_old, KEY.verifying, T0, None, None))
    assert state.last_seen(LINE) == 2


def test_signature_subject_and_shape_checks() -> None:
    v1, _ = _states()
    envelope = _statement(v1, D1)
    with pytest.raises(CurrencyError) as exc:
        verify_statement(envelope, SigningKey.generate().verifying, T0, None, None)
    assert exc.value.code == "bad-signature"
    with pytest.raises(CurrencyError) as exc:
        verify_statement(envelope, KEY.verifying, T0, None, None, expected_digest=D2)
    assert exc.value.code == "wrong-subject"
    # an altered payload no longer matches the signature
    doc = envelope.to_dict()
    payload = json.loads(base64.b64decode(doc["payload"]))
    payload["predicate"]["status"] = "current"
    payload["predicate"]["lineStatusVersion"] = 99
    doc["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(CurrencyError) as exc:
        verify_statement(doc, KEY.verifying, T0, None, None)
    assert exc.value.code == "bad-signature"
    # accepted in every form a caller may hold: object, dict, JSON text, bytes, PEM key
    for form in (envelope, envelope.to_dict(), envelope.to_json(), envelope.to_json().encode()):
        assert verify_statement(form, KEY.verifying.public_pem(), T0, None, None).status == "current"


def test_a_correctly_signed_non_currency_payload_is_malformed() -> None:
    envelope = sign("application/vnd.in-toto+json", b'{"_type": "https://in-toto.io/Statement/v1"}', KEY)
    with pytest.raises(CurrencyError) as exc:
        verify_statement(envelope, KEY.verifying, T0, None, None)
    assert exc.value.code == "malformed"


def test_revoked_status_is_reported_not_hidden() -> None:
    v1, _ = _states()
    revoked, _ = change_status(v1, StatusChange(1, "revoked", "malicious-artifact"), T0)
    result = verify_statement(_statement(revoked, D1), KEY.verifying, T0, None, None)
    assert result.status == "revoked" and not result.acceptable()
    assert "revoked because malicious-artifact" in result.describe()


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300),
        st.dictionaries(st.text(max_size=10), st.text(max_size=10)),
    )
)
def test_property_garbage_is_refused_with_a_code(data: bytes | str | dict[str, str]) -> None:
    with pytest.raises(CurrencyError) as exc:
        verify_statement(data, KEY.verifying, T0, None, None)
    assert exc.value.code in CURRENCY_ERROR_CODES
