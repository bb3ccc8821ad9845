"""Keys, DSSE envelopes, the certificate statement, issuing, co-signing and the certify/keys CLI."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.certificate import dsse
from modelcert.certificate.issue import IssueError, cosign
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.keys import KeyFileError, SigningKey, VerifyingKey
from modelcert.certificate.statement import PREDICATE_TYPE, Statement
from modelcert.certificate.trust import IssuerInfo, TrustRoot
from modelcert.cli.main import main
from modelcert.errors import ModelcertError
from modelcert.policy.fields import DocumentError
from modelcert.policy.load import load_policy
from modelcert.policy.waivers import Waiver, WaiverSet
from modelcert.scan import scan_paths
from test_certificate_support import NOW, add_malicious_pickle, certify, lab, make_model, trust


@pytest.mark.parametrize("algorithm", ["ed25519", "ecdsa-p256"])
def test_keys_round_trip_and_key_id_is_sha256_of_spki_der(algorithm: str) -> None:
    key = SigningKey.generate(algorithm)  # type: ignore[arg-type]
    der = key.verifying.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key.key_id == hashlib.sha256(der).hexdigest()
    again = SigningKey.from_pem(key.private_pem())
    assert again.key_id == key.key_id
    public = VerifyingKey.from_pem(key.verifying.public_pem().encode())
    assert public.verify(key.sign(b"message"), b"message")
    assert not public.verify(key.sign(b"message"), b"messagE")
    locked = key.private_pem(password=b"pw")
    assert SigningKey.from_pem(locked, password=b"pw").key_id == key.key_id
    with pytest.raises(KeyFileError):
        SigningKey.from_pem(locked)


def test_unsupported_keys_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for private in (p384, rsa_key):
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with pytest.raises(KeyFileError, match="Ed25519 or ECDSA P-256"):
            SigningKey.from_pem(pem)
    with pytest.raises(KeyFileError):
        VerifyingKey.from_pem(b"not a key")


def test_pae_matches_the_dsse_specification() -> None:
    # secure-systems-lab/dsse protocol.md example
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_envelope_holds_several_signatures_over_the_same_bytes() -> None:
    a, b = SigningKey.generate(), SigningKey.generate("ecdsa-p256")
    env = dsse.add_signature(dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, b"{}", a), b)
    parsed = dsse.Envelope.from_json(env.to_json())
    assert parsed == env
    checks = dsse.check_signatures(parsed, [a.verifying, b.verifying])
    assert [c.status for c in checks] == ["valid", "valid"]
    with pytest.raises(dsse.EnvelopeError, match="already signed"):
        dsse.add_signature(env, a)
    # a relabelled keyid is neither lost nor credited to the wrong key
    relabelled = dsse.Envelope(
        env.payload_type, env.payload, (dsse.Signature("bogus", env.signatures[0].sig),)
    )
    assert dsse.check_signatures(relabelled, [a.verifying])[0].keyid == a.key_id


def test_securesystemslib_verifies_our_envelopes() -> None:
    sslib_dsse = pytest.importorskip("securesystemslib.dsse")
    signer_mod = pytest.importorskip("securesystemslib.signer")
    a, b = SigningKey.generate(), SigningKey.generate("ecdsa-p256")
    env = dsse.add_signature(dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, b'{"a":1}', a), b)
    theirs = sslib_dsse.Envelope.from_dict(env.to_dict())
    keys = [signer_mod.SSlibKey.from_crypto(k.verifying.public_key, keyid=k.key_id) for k in (a, b)]
    assert set(theirs.verify(keys, 2)) == {a.key_id, b.key_id}


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_an_envelope_or_an_envelope_error(data: bytes) -> None:
    try:
        envelope = dsse.Envelope.from_json(data)
    except dsse.EnvelopeError:
        return
    assert isinstance(envelope, dsse.Envelope)


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_payloads_give_a_statement_or_a_document_error(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    payload = bytearray(_payload(tmp_path_factory))
    for _ in range(data.draw(st.integers(1, 4))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    try:
        statement = Statement.from_payload(bytes(payload))
    except ModelcertError:
        return
    assert isinstance(statement, Statement)


_PAYLOAD: list[bytes] = []


def _payload(factory: pytest.TempPathFactory) -> bytes:
    if not _PAYLOAD:
        model = make_model(factory.mktemp("payload") / "model")
        _PAYLOAD.append(certify(model, lab("Lab A", "US")).envelope.payload)
    return _PAYLOAD[0]


def test_statement_shape_and_round_trip(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    a = lab("Lab A", "DE")
    issued = certify(model, a)
    doc = json.loads(issued.envelope.payload)
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == PREDICATE_TYPE
    assert doc["subject"] == [{"name": "model", "digest": {"sha256": scan_paths([model]).root_digest}}]
    p = doc["predicate"]
    assert p["issuer"] == {
        "id": "https://lab-a.example",
        "name": "Lab A",
        "jurisdiction": "DE",
        "keyId": a.key.key_id,
        "role": "certifier",
    }
    assert p["result"] == "PASSED" and p["model"]["manifest"]["resourceCount"] == 4
    assert p["policy"]["digest"] == {"sha256": load_policy("baseline").digest}
    assert p["validUntil"] == "2026-11-28T12:00:00Z"
    assert Statement.from_payload(issued.envelope.payload) == issued.statement


def test_findings_are_public_only_as_salted_commitments(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    add_malicious_pickle(model)
    issued = certify(model, lab("Lab A", "US"))
    assert issued.statement.predicate.result == "FAILED"
    assert issued.statement.predicate.risk_rating == "serious"
    items = issued.statement.predicate.items
    disclosure = json.loads(issued.disclosure)
    assert items and len(disclosure["items"]) == len(items)
    for item, revealed in zip(items, disclosure["items"], strict=True):
        assert (
            item.commitment
            == hashlib.sha256(
                canonicalize({"salt": revealed["salt"], "finding": revealed["finding"]})
            ).hexdigest()
        )
        assert revealed["finding"]["message"] not in issued.envelope.payload.decode()
    assert "modelcert-test" not in issued.envelope.payload.decode()
    assert [(i.rule_id, i.location, i.status) for i in items] == [("MC100", "model.pkl", "open")]
    evidence = {e.name: e.digest for e in issued.statement.predicate.evidence}
    assert evidence["findings-disclosure.json"] == hashlib.sha256(issued.disclosure).hexdigest()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("subject", [], "exactly one subject"),
        ("predicateType", "https://slsa.dev/provenance/v1", "not a modelcert certificate"),
        ("extra", 1, "unknown field"),
    ],
)
def test_malformed_statements_are_refused(tmp_path: Path, field: str, value: object, message: str) -> None:
    doc = json.loads(certify(make_model(tmp_path / "m"), lab("Lab A", "US")).envelope.payload)
    doc[field] = value
    with pytest.raises(DocumentError, match=message):
        Statement.parse(doc)


def test_inconsistent_manifest_is_refused(tmp_path: Path) -> None:
    doc = json.loads(certify(make_model(tmp_path / "m"), lab("Lab A", "US")).envelope.payload)
    doc["predicate"]["model"]["resources"][0]["digest"] = "00" * 32
    with pytest.raises(DocumentError, match="do not hash to the manifest root digest"):
        Statement.parse(doc)
    duplicate = '{"_type": "a", "_type": "b"}'
    with pytest.raises(DocumentError, match="duplicate key"):
        Statement.from_payload(duplicate.encode())


def test_packages_with_symlinks_are_not_certified(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m")
    (model / "alias.bin").symlink_to(model / "weights-00002.f32")
    with pytest.raises(IssueError, match=r"alias\.bin is a symlink entry"):
        certify(model, lab("Lab A", "US"))


def test_waived_pass_is_conditional_and_records_the_waiver(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m")
    report = scan_paths([model])
    bins = [a for a in report.files if a.format == "binary"]
    assert bins, "the builder's raw shards are skipped as binary"
    strict = load_policy("strict")
    assert not strict.evaluate(
        report, WaiverSet(), NOW
    ).passed  # not waivable: skipped files are not findings
    waiver = Waiver("MC999", bins[0].sha256 or "", "n/a", NOW + timedelta(days=1))
    assert (
        certify(model, lab("Lab A", "US"), waivers=WaiverSet((waiver,))).statement.predicate.waivers
        == WaiverSet()
    )


def test_cosign_adds_a_signature_only_when_the_cosigner_agrees(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m")
    a, b = lab("Lab A", "US"), lab("Lab B", "CN", "ecdsa-p256")
    issued = certify(model, a)
    report = scan_paths([model])
    both = cosign(issued.envelope, report, load_policy("baseline"), b.key, now=NOW)
    assert both.payload == issued.envelope.payload and len(both.signatures) == 2
    with pytest.raises(IssueError, match="this evaluation gives FAILED, the certificate says PASSED"):
        cosign(issued.envelope, report, _strict_as("baseline"), b.key, now=NOW)
    other = scan_paths([make_model(tmp_path / "other", seed=3)])
    with pytest.raises(IssueError, match="is not the certificate subject"):
        cosign(issued.envelope, other, load_policy("baseline"), b.key, now=NOW)
    with pytest.raises(IssueError, match="is not the certificate's policy"):
        cosign(issued.envelope, report, load_policy("strict"), b.key, now=NOW)
    with pytest.raises(IssueError, match="expired"):
        cosign(issued.envelope, report, load_policy("baseline"), b.key, now=NOW + timedelta(days=200))


def _strict_as(name: str) -> object:
    """strict's requirements under baseline's digest: a co-signer that disagrees about the same policy."""
    return dataclasses.replace(load_policy("strict"), digest=load_policy(name).digest)


def test_trust_file_is_validated(tmp_path: Path) -> None:
    a = lab("Lab A", "US")
    good = trust(a).to_dict()
    assert TrustRoot.parse(good).certifier(a.key.key_id) is not None
    for edit, message in [
        (lambda d: d["certifiers"][0].update(keyId="00" * 32), "is not the key ID of publicKeyPem"),
        (lambda d: d["certifiers"][0].update(jurisdiction="XX"), "not an assigned ISO 3166-1"),
        (lambda d: d["certifiers"][0].update(jurisdiction="usa"), "alpha-2"),
        (lambda d: d["certifiers"].append(dict(d["certifiers"][0])), "listed twice"),
        (lambda d: d["quorum"].update(minCertifiers=0), "below the minimum"),
        (lambda d: d.update(surprise=True), "unknown field"),
    ]:
        doc = json.loads(json.dumps(good))
        edit(doc)
        with pytest.raises(DocumentError, match=message):
            TrustRoot.parse(doc)


def test_cli_keys_certify_cosign_verify_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = make_model(tmp_path / "model")
    assert (
        main(["keys", "generate", "--out", str(tmp_path / "a"), "--name", "Lab A", "--jurisdiction", "US"])
        == 0
    )
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "private.pem").st_mode) == 0o600
    assert main(["keys", "generate", "--out", str(tmp_path / "a")]) == 2  # never overwrites a private key
    assert (
        main(
            [
                "keys",
                "generate",
                "--out",
                str(tmp_path / "b"),
                "--algorithm",
                "ecdsa-p256",
                "--name",
                "Lab B",
                "--jurisdiction",
                "CN",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "keys",
                "trust",
                "--certifier",
                str(tmp_path / "a" / "certifier.json"),
                "--certifier",
                str(tmp_path / "b" / "certifier.json"),
                "--output",
                str(tmp_path / "trust.json"),
            ]
        )
        == 0
    )
    issuer = IssuerInfo.load((tmp_path / "a" / "issuer.json").read_bytes())
    assert issuer.name == "Lab A" and issuer.jurisdiction == "US"
    cert, both = tmp_path / "cert.json", tmp_path / "both.json"
    common = ["--key", str(tmp_path / "a" / "private.pem"), "--issuer", str(tmp_path / "a" / "issuer.json")]
    assert (
        main(
            [
                "certify",
                str(model),
                *common,
                "--line",
                "pkg:generic/acme/w",
                "--version",
                "1",
                "--output",
                str(cert),
                "--vsa",
                str(tmp_path / "vsa.json"),
                "--cyclonedx",
                str(tmp_path / "bom.json"),
                "--disclosure",
                str(tmp_path / "d.json"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "certify",
                str(model),
                "--key",
                str(tmp_path / "b" / "private.pem"),
                "--cosign",
                str(cert),
                "--output",
                str(both),
            ]
        )
        == 0
    )
    capsys.readouterr()
    verify = [
        "verify",
        str(model),
        "--trust",
        str(tmp_path / "trust.json"),
        "--min-certifiers",
        "2",
        "--min-jurisdictions",
        "2",
    ]
    assert main([*verify, "--cert", str(both)]) == 0
    assert "quorum met: 2 certifier(s) of 2 required" in capsys.readouterr().out
    assert main([*verify, "--cert", str(cert)]) == 1
    # strict fails this package: refused without --allow-failed, a FAILED certificate with it
    failed = tmp_path / "failed.json"
    assert main(["certify", str(model), *common, "--policy", "strict", "--output", str(failed)]) == 1
    assert not failed.exists()
    assert "full-coverage" in capsys.readouterr().out
    assert (
        main(
            ["certify", str(model), *common, "--policy", "strict", "--allow-failed", "--output", str(failed)]
        )
        == 1
    )
    payload = base64.b64decode(json.loads(failed.read_text())["payload"])
    assert json.loads(payload)["predicate"]["result"] == "FAILED"
    # usage errors are exit 2
    assert main(["certify", str(model), *common, "--line", "x", "--output", str(cert)]) == 2
    assert (
        main(["certify", str(model), "--key", str(tmp_path / "nope.pem"), "--issuer", "x", "--output", "y"])
        == 2
    )
