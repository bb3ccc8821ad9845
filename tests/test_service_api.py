"""The HTTP API in-process: who may write, what is refused (4xx, nothing stored), proofs that verify."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.certificate.dsse import Envelope, add_signature
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.keys import SigningKey
from modelcert.registry.audit import (
    check_consistency,
    check_inclusion,
    log_verifier,
    open_checkpoint,
    witness,
)
from modelcert.registry.checkpoint import CosignatureSigner
from modelcert.registry.client import RegistryHTTPError
from modelcert.registry.currency import verify_statement
from modelcert.registry.feed import make_commitment, parse_feed
from modelcert.registry.requestsig import RequestAuthError, read_headers, sign_request
from modelcert.service.config import ConfigError, apply_settings, load_config_file, prepare_data_dir
from test_registry_support import LINE, RegistryHarness, certify_model, make_harness, make_model


@pytest.fixture
def reg(tmp_path: Path) -> RegistryHarness:
    harness = make_harness(tmp_path)
    harness.register("certifier", "Lab One", "DE")
    harness.register("certifier", "Lab Two", "FR", algorithm="ecdsa-p256")
    harness.register("publisher", "Acme")
    harness.register("publisher", "Other Corp")
    return harness


def _size(reg: RegistryHarness) -> int:
    return int(reg.ledger.store.log_size())


def _signed_post(reg: RegistryHarness, key: SigningKey, path: str, body: bytes, **overrides: Any) -> Any:
    headers = sign_request(key, "POST", path, body, now=overrides.pop("now", int(time.time())))
    headers.update(overrides.pop("headers", {}))
    headers["content-type"] = "application/json"
    return TestClient(reg.app).post(path, content=body, headers=headers)


def test_bootstrap_only_the_admin_registers_keys(reg: RegistryHarness, tmp_path: Path) -> None:
    before = _size(reg)
    assert before == 4  # four key registrations, each logged
    newcomer = SigningKey.generate()
    with reg.client(key=reg.keys["Acme"]) as acme, pytest.raises(RegistryHTTPError) as exc:
        acme._json(
            "POST",
            "/v1/admin/keys",
            auth="key",  # a signed request is not the admin
            body={
                "role": "certifier",
                "name": "X",
                "publicKeyPem": newcomer.verifying.public_pem(),
                "jurisdiction": "US",
            },
        )
    assert exc.value.status == 403
    bad = TestClient(reg.app).post(
        "/v1/admin/keys",
        headers={"authorization": "Bearer wrong"},
        json={"role": "certifier", "name": "X", "publicKeyPem": newcomer.verifying.public_pem()},
    )
    assert bad.status_code == 401
    with reg.client(admin=True) as admin, pytest.raises(RegistryHTTPError) as exc:
        admin.register_key(newcomer.verifying.public_pem(), "certifier", "No Country")  # certifiers need one
    assert exc.value.status == 400
    assert _size(reg) == before
    keys = TestClient(reg.app).get("/v1/keys", params={"role": "certifier"}).json()["keys"]
    assert sorted(k["jurisdiction"] for k in keys) == ["DE", "FR"]


def test_publish_certificate_logs_it_with_a_verifiable_inclusion_proof(
    reg: RegistryHarness, tmp_path: Path
) -> None:
    envelope, digest = certify_model(make_model(tmp_path / "m"), reg.keys["Lab One"])
    with reg.client(key=reg.keys["Lab One"]) as lab:
        answer = lab.publish_certificate(envelope)
        info = lab.info()
        with pytest.raises(RegistryHTTPError) as exc:
            lab.publish_certificate(envelope)  # the same certificate again: 409, logged once
        assert exc.value.status == 409
    log_key = log_verifier(info["logVerifierKey"])
    checkpoint = open_checkpoint(answer["inclusionProof"]["checkpoint"], log_key).checkpoint
    result = check_inclusion(answer, checkpoint)
    assert result.index == answer["logIndex"] == 4
    entry = TestClient(reg.app).get("/v1/log/entries", params={"start": 4, "end": 5}).json()["entries"][0]
    assert entry["entry"]["kind"] == "modelcert.certificate"
    assert entry["entry"]["subjectDigests"] == [digest]
    assert (
        check_inclusion({**answer["inclusionProof"], "entry": entry["entry"]}, checkpoint).leaf == result.leaf
    )
    stored = TestClient(reg.app).get(f"/v1/certificates/{answer['certificate']['envelopeSha256']}").json()
    assert Envelope.from_dict(stored["envelope"]).payload == envelope.payload
    model = TestClient(reg.app).get(f"/v1/models/{digest}").json()
    assert model["quorum"]["met"] and model["quorum"]["jurisdictions"] == ["DE"]


def test_certificates_not_signed_by_a_registered_certifier_are_refused(
    reg: RegistryHarness, tmp_path: Path
) -> None:
    before = _size(reg)
    outsider = SigningKey.generate()
    envelope, _ = certify_model(make_model(tmp_path / "m"), outsider)
    with reg.client(key=reg.keys["Acme"]) as acme:  # a registered key submits an outsider's certificate
        with pytest.raises(RegistryHTTPError) as exc:
            acme.publish_certificate(envelope)
        assert exc.value.status == 403
        genuine, _ = certify_model(make_model(tmp_path / "n"), reg.keys["Lab One"])
        doc = genuine.to_dict()
        payload = json.loads(base64.b64decode(doc["payload"]))
        payload["predicate"]["model"]["version"] = "9.9-tampered"
        doc["payload"] = base64.b64encode(canonicalize(payload)).decode()
        with pytest.raises(RegistryHTTPError) as exc:
            acme.publish_certificate(doc)  # payload altered after signing
        assert exc.value.status == 403
        with pytest.raises(RegistryHTTPError) as exc:
            acme.publish_certificate({**doc, "signatures": [{"keyid": "", "sig": "AAAA"}]})
        assert exc.value.status == 403
    assert _size(reg) == before


def test_cosigned_certificate_counts_both_certifiers(reg: RegistryHarness, tmp_path: Path) -> None:
    envelope, digest = certify_model(make_model(tmp_path / "m"), reg.keys["Lab One"])
    cosigned = add_signature(envelope, reg.keys["Lab Two"])
    with reg.client(key=reg.keys["Lab Two"]) as lab:
        lab.publish_certificate(cosigned)
    quorum = TestClient(reg.app).get(f"/v1/models/{digest}").json()["quorum"]
    assert quorum["jurisdictions"] == ["DE", "FR"] and len(quorum["passed"]) == 2


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "unknown-key",
        "bad-signature",
        "other-path",
        "other-body",
        "stale",
        "replayed",
        "malformed-json",
        "extra-field",
        "oversized",
        "bad-headers",
    ],
)
def test_refused_requests_are_4xx_and_store_nothing(reg: RegistryHarness, tmp_path: Path, case: str) -> None:
    envelope, _ = certify_model(make_model(tmp_path / "m"), reg.keys["Lab One"])
    body = canonicalize({"envelope": envelope.to_dict()})
    key = reg.keys["Lab One"]
    client = TestClient(reg.app)
    path = "/v1/certificates"
    if case == "replayed":
        first = _signed_post(
            reg, key, path, body, headers=(h := sign_request(key, "POST", path, body, now=int(time.time())))
        )
        assert first.status_code == 201
    before = _size(reg)
    if case == "unsigned":
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    elif case == "unknown-key":
        response = _signed_post(reg, SigningKey.generate(), path, body)
    elif case == "bad-signature":
        response = _signed_post(
            reg, key, path, body, headers={"Modelcert-Signature": base64.b64encode(b"x" * 64).decode()}
        )
    elif case == "other-path":
        headers = sign_request(key, "POST", "/v1/feed", body, now=int(time.time()))
        response = client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    elif case == "other-body":
        headers = sign_request(key, "POST", path, body + b" ", now=int(time.time()))
        response = client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    elif case == "stale":
        response = _signed_post(reg, key, path, body, now=int(time.time()) - 3600)
    elif case == "replayed":
        response = client.post(path, content=body, headers={**h, "content-type": "application/json"})
    elif case == "malformed-json":
        response = _signed_post(reg, key, path, b'{"envelope": {"payloadType": ')
    elif case == "extra-field":
        response = _signed_post(reg, key, path, canonicalize({"envelope": envelope.to_dict(), "admin": True}))
    elif case == "oversized":
        response = _signed_post(reg, key, path, b'{"envelope": "' + b"A" * (5 * 1024 * 1024) + b'"}')
    else:
        response = client.post(
            path, content=body, headers={"Modelcert-Key-Id": "nothex", "content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500, response.text
    expected = {
        "unsigned": 401,
        "unknown-key": 401,
        "bad-signature": 401,
        "other-path": 401,
        "other-body": 401,
        "stale": 401,
        "replayed": 401,
        "malformed-json": 422,
        "extra-field": 422,
        "oversized": 413,
        "bad-headers": 401,
    }[case]
    assert response.status_code == expected
    assert _size(reg) == before
    assert len(reg.ledger.store.recent_certificates(100)) == (1 if case == "replayed" else 0)


def test_rate_limit_per_key(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, rate_limit_burst=3, rate_limit_per_minute=1)
    publisher = harness.register("publisher", "Acme")
    codes = []
    with harness.client(key=publisher) as acme:
        for seq in range(5):
            try:
                acme.declare_release(LINE, seq, f"1.{seq}", f"{seq + 1:064x}")
                codes.append(201)
            except RegistryHTTPError as exc:
                codes.append(exc.status)
    assert codes == [201, 201, 201, 429, 429]
    assert TestClient(harness.app).get("/v1/lines", params={"line": LINE}).json()["lineStatusVersion"] == 3


def test_line_changes_only_by_its_publisher_or_the_admin(reg: RegistryHarness) -> None:
    d1, d2 = "11" * 32, "22" * 32
    with reg.client(key=reg.keys["Acme"]) as acme:
        acme.declare_release(LINE, 1, "1.0", d1)
    before = _size(reg)
    with reg.client(key=reg.keys["Other Corp"]) as other, pytest.raises(RegistryHTTPError) as exc:
        other.declare_release(LINE, 2, "1.1", d2)
    assert exc.value.status == 403
    with reg.client(key=reg.keys["Lab One"]) as lab, pytest.raises(RegistryHTTPError) as exc:
        lab.change_status(LINE, 1, "revoked", reason="malicious-artifact")  # certifiers do not own lines
    assert exc.value.status == 403
    assert _size(reg) == before
    with reg.client(admin=True) as admin:
        doc = admin.change_status(LINE, 1, "yanked", reason="license-legal")
    assert doc["line"]["releases"][0]["status"] == "yanked"
    with reg.client(key=reg.keys["Acme"]) as acme, pytest.raises(RegistryHTTPError) as exc:
        acme.declare_release(LINE, 1, "again", d2)
    assert exc.value.status == 409


def test_currency_statement_verifies_with_the_served_registry_key(reg: RegistryHarness) -> None:
    d1 = "11" * 32
    with reg.client(key=reg.keys["Acme"]) as acme:
        acme.declare_release(LINE, 1, "1.0", d1)
        statement = acme.currency(d1)
        key = acme.registry_key()
        with pytest.raises(RegistryHTTPError) as exc:
            acme.currency("99" * 32)
        assert exc.value.status == 404
    result = verify_statement(statement, key, datetime.now(UTC), None, None, expected_digest=d1)
    assert result.status == "current" and result.line == LINE


def test_witness_cosigns_and_consistency_proofs_verify(reg: RegistryHarness) -> None:
    signer_key = reg.register("witness", "witness.example/w1")
    with reg.client(key=signer_key) as client:
        log_key = client.log_verifier()
        signer = CosignatureSigner("witness.example/w1", signer_key.private_key)  # type: ignore[arg-type]
        first = witness(client, signer, log_key, None, int(time.time()))
        client.cosign(first.cosigned_note)
        old_note = client.checkpoint()
        with reg.client(key=reg.keys["Acme"]) as acme:
            acme.declare_release(LINE, 1, "1.0", "11" * 32)
        second = witness(client, signer, log_key, first.cosigned_note, int(time.time()))
        assert second.previous_size == first.checkpoint.size < second.checkpoint.size
        client.cosign(second.cosigned_note)
        latest = client.checkpoint()
    witness_key = signer.verifier
    assert open_checkpoint(latest, log_key, [witness_key], quorum=1).checkpoint.size == second.checkpoint.size
    old = open_checkpoint(old_note, log_key, [witness_key], quorum=1).checkpoint
    proof = (
        TestClient(reg.app)
        .get("/v1/log/proof/consistency", params={"old": old.size, "new": second.checkpoint.size})
        .json()
    )
    check_consistency(old, second.checkpoint, [bytes.fromhex(x) for x in proof["hashes"]])


def test_only_witness_keys_cosign_and_forged_cosignatures_are_refused(reg: RegistryHarness) -> None:
    with reg.client(key=reg.keys["Acme"]) as acme:
        note = acme.checkpoint()
        log_key = acme.log_verifier()
        fake = CosignatureSigner("Acme", SigningKey.generate().private_key)  # type: ignore[arg-type]
        cosigned = open_checkpoint(note, log_key).note.with_signature(
            fake.cosign(note.split("\n\n")[0] + "\n", 1)
        )
        with pytest.raises(RegistryHTTPError) as exc:
            acme.cosign(cosigned.encode())
        assert exc.value.status == 403
    witness_key = reg.register("witness", "w2.example")
    with reg.client(key=witness_key) as client:
        stranger = CosignatureSigner("w2.example", SigningKey.generate().private_key)  # type: ignore[arg-type]
        forged = open_checkpoint(client.checkpoint(), log_key).note
        with pytest.raises(RegistryHTTPError) as exc:
            client.cosign(forged.with_signature(stranger.cosign(forged.text, 1)).encode())
        assert exc.value.status in (400, 403)


def test_known_bad_feed_and_revocations(reg: RegistryHarness, tmp_path: Path) -> None:
    commitment, _ = make_commitment({"payload": "reverse shell"})
    with reg.client(key=reg.keys["Lab One"]) as lab:
        lab.report_known_bad("ab" * 32, "MC101", "critical", commitment)
        feed = parse_feed(json.dumps(lab.feed()), lab.registry_key())
        envelope, digest = certify_model(make_model(tmp_path / "m"), reg.keys["Lab One"])
        published = lab.publish_certificate(envelope)
    assert feed.verified and [e.sha256 for e in feed.entries] == ["ab" * 32]
    with reg.client(key=reg.keys["Acme"]) as acme, pytest.raises(RegistryHTTPError) as exc:
        acme.report_known_bad("cd" * 32, "MC101", "critical", commitment)
    assert exc.value.status == 403
    sha = published["certificate"]["envelopeSha256"]
    with reg.client(key=reg.keys["Lab Two"]) as other, pytest.raises(RegistryHTTPError) as exc:
        other.revoke_certificate(sha, "certification-withdrawn")
    assert exc.value.status == 403
    with reg.client(key=reg.keys["Lab One"]) as lab:
        lab.revoke_certificate(sha, "certification-withdrawn")
    model = TestClient(reg.app).get(f"/v1/models/{digest}").json()
    assert model["certificates"][0]["revokedReason"] == "certification-withdrawn"
    assert not model["quorum"]["met"]  # a revoked certificate casts no vote
    assert "certification-withdrawn" in TestClient(reg.app).get("/revocations").text


def test_pages_render_registry_content(reg: RegistryHarness, tmp_path: Path) -> None:
    envelope, digest = certify_model(make_model(tmp_path / "m"), reg.keys["Lab One"])
    with reg.client(key=reg.keys["Lab One"]) as lab:
        lab.publish_certificate(envelope)
    with reg.client(key=reg.keys["Acme"]) as acme:
        acme.declare_release(LINE, 1, "1.0", digest)
    client = TestClient(reg.app)
    model = client.get(f"/models/{digest}")
    assert model.status_code == 200
    for text in ("PASSED", "Lab One", "DE", "current", "quorum", "log inclusion".title().split()[0]):
        assert text.lower() in model.text.lower()
    assert LINE in client.get("/line", params={"name": LINE}).text
    assert "Lab Two" in client.get("/certifiers").text and "FR" in client.get("/certifiers").text
    log_page = client.get("/log").text
    assert "— modelcert.localhost/registry" in log_page
    assert "Inclusion verified" in client.get("/log/entries/4").text
    assert LINE in client.get("/search", params={"q": "acme"}).text
    assert digest in client.get("/search", params={"q": f"sha256:{digest}"}).text
    assert client.get("/models/" + "0" * 64).status_code == 404
    assert client.get("/log/entries/999").status_code == 404
    assert "<script>" not in client.get("/search", params={"q": "<script>alert(1)</script>"}).text


def test_proof_endpoints_reject_impossible_ranges(reg: RegistryHarness) -> None:
    client = TestClient(reg.app)
    assert client.get("/v1/log/proof/inclusion", params={"index": 10, "size": 4}).status_code == 400
    assert client.get("/v1/log/proof/inclusion", params={"index": 0, "size": 99}).status_code == 400
    assert client.get("/v1/log/proof/consistency", params={"old": 5, "new": 3}).status_code == 400
    assert client.get("/v1/log/proof/inclusion", params={"index": -1}).status_code == 422
    ok = client.get("/v1/log/proof/inclusion", params={"index": 1}).json()
    assert ok["treeSize"] == 4 and "checkpoint" in ok


def test_chunked_oversized_body_is_413_and_stores_nothing(reg: RegistryHarness) -> None:
    before = _size(reg)

    def chunks():  # type: ignore[no-untyped-def]  # no content-length: the limit is counted while reading
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    response = TestClient(reg.app).post(
        "/v1/certificates", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _size(reg) == before


def test_config_settings_are_validated(tmp_path: Path) -> None:
    base, token = prepare_data_dir(tmp_path / "data")
    assert token is not None and (tmp_path / "data" / "admin-token").read_text().strip() == token
    assert base.check_admin_token(token) and not base.check_admin_token(token + "x")
    (tmp_path / "token.txt").write_text("from-a-file\n")
    config_file = tmp_path / "registry.yaml"
    config_file.write_text(
        "origin: registry.example/eu\nrate_limit_per_minute: 10\nadmin_token_file: token.txt\n"
    )
    config = load_config_file(config_file, base)
    assert (config.origin, config.rate_limit_per_minute) == ("registry.example/eu", 10)
    assert config.check_admin_token("from-a-file")
    for bad in (
        {"rate_limit_per_minute": 0},
        {"origin": "has space"},
        {"nonsense": 1},
        {"max_body_bytes": "1"},
    ):
        with pytest.raises(ConfigError):
            apply_settings(bad, base, tmp_path)


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["Modelcert-Key-Id", "Modelcert-Timestamp", "Modelcert-Nonce", "Modelcert-Signature", "X-Other"]
        ),
        st.text(max_size=120),
    )
)
def test_property_arbitrary_signature_headers_parse_or_raise(headers: dict[str, str]) -> None:
    try:
        parsed = read_headers(headers)
    except RequestAuthError:
        return
    assert parsed is None or len(parsed.key_id) == 64
