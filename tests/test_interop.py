"""Interop: model_signing (OMS) signatures as publisher evidence; SLSA VSA v1 and CycloneDX 1.6 exports.

Every model_signing run here is offline (key and certificate methods: no Sigstore services). A fresh
`verifying.Config` is used per model: model_signing 1.1.1 reuses a guessed hashing config across calls
(fixed upstream after 1.1.1, PR sigstore/model-transparency#650), so reuse could hide a tampered model.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.certificate.interop import check_oms_signature, cyclonedx_bom, vsa_statement
from modelcert.certificate.trust import Publisher, TrustRoot, build_trust
from modelcert.certificate.verify import verify_package
from modelcert.cli.main import main
from modelcert.limits import DEFAULT_LIMITS
from modelcert.package import OMS_DEFAULT_IGNORED, ModelPackage, hash_package
from modelcert.policy.fields import DocumentError
from modelcert.policy.load import load_policy
from modelcert.scan import scan_paths
from test_certificate_support import NOW, add_malicious_pickle, certify, lab, make_model, trust

signing = pytest.importorskip("model_signing.signing")
verifying = pytest.importorskip("model_signing.verifying")


def _pem_private(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _pem_public(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _digests(model: Path) -> dict[str, bytes]:
    return hash_package(ModelPackage.open(model, DEFAULT_LIMITS, OMS_DEFAULT_IGNORED))


def _key_signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A model, its OMS signature made with `model_signing` (key method), and the public key."""
    model = make_model(tmp_path / "model")
    key = ec.generate_private_key(ec.SECP256R1())
    private = _pem_private(key, tmp_path / "publisher.pem")
    public = _pem_public(key, tmp_path / "publisher.pub.pem")
    signing.Config().use_elliptic_key_signer(private_key=private).sign(model, tmp_path / "model.sig")
    return model, tmp_path / "model.sig", public


def _oms_subject(sig: Path) -> str:
    bundle = json.loads(sig.read_text())
    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return str(payload["subject"][0]["digest"]["sha256"])


def test_root_digest_equals_oms_subject_and_key_signature_is_publisher_evidence(tmp_path: Path) -> None:
    model, sig, public = _key_signed(tmp_path)
    verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, sig)  # model_signing agrees
    assert scan_paths([model]).root_digest == _oms_subject(sig)
    publisher = Publisher("acme", public_key_pem=public.read_text())
    check = check_oms_signature(sig.read_bytes(), [publisher], _digests(model))
    assert check.ok, check.message
    assert check.evidence.verified and check.evidence.method == "key"
    assert check.evidence.bundle_digest == hashlib.sha256(sig.read_bytes()).hexdigest()
    # and `verify` accepts it next to the certificate
    a = lab("Lab A", "US")
    cert = certify(model, a).envelope.to_json().encode()
    root = build_trust([a.certifier], [load_policy("baseline")], publishers=[publisher])
    report = verify_package(
        model, [("cert.json", cert)], root, now=NOW, publisher_bundles=[("model.sig", sig.read_bytes())]
    )
    assert report.passed, report.failures()
    assert (
        report.publishers[0].status == "pass"
        and "publisher 'acme' signed these 4 files" in report.publishers[0].message
    )


def test_tampered_model_or_wrong_key_fails_the_publisher_check(tmp_path: Path) -> None:
    model, sig, public = _key_signed(tmp_path)
    other = _pem_public(ec.generate_private_key(ec.SECP256R1()), tmp_path / "other.pub.pem")
    wrong = check_oms_signature(
        sig.read_bytes(), [Publisher("x", public_key_pem=other.read_text())], _digests(model)
    )
    assert not wrong.ok and "not by any trusted publisher key" in wrong.message
    (model / "vocab.txt").write_text("tampered\n")
    tampered = check_oms_signature(
        sig.read_bytes(), [Publisher("acme", public_key_pem=public.read_text())], _digests(model)
    )
    assert not tampered.ok and "file 'vocab.txt' differs" in tampered.message
    with pytest.raises(ValueError, match="Signature mismatch"):  # model_signing says the same
        verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, sig)


def test_altered_oms_bundle_is_rejected(tmp_path: Path) -> None:
    model, sig, public = _key_signed(tmp_path)
    bundle = json.loads(sig.read_text())
    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    payload["predicate"]["resources"] = payload["predicate"]["resources"][:-1]
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    check = check_oms_signature(
        json.dumps(bundle).encode(), [Publisher("acme", public_key_pem=public.read_text())], _digests(model)
    )
    assert not check.ok and not check.evidence.verified
    for junk in (b"", b"{}", b"[]", b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}'):
        assert not check_oms_signature(junk, [], _digests(model)).ok


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
        ]
    )


def _ca(tmp_path: Path, tag: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{tag} root"))
        .issuer_name(_name(f"{tag} root"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / f"{tag}-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def test_certificate_method_signature_chains_to_the_trusted_publisher_ca(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    ca_key, ca_cert, ca_path = _ca(tmp_path, "acme")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("acme model signer"))
        .issuer_name(ca_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_path = tmp_path / "leaf.pem"
    leaf_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    private = _pem_private(leaf_key, tmp_path / "leaf.key.pem")
    sig = tmp_path / "model.sig"
    signing.Config().use_certificate_signer(
        private_key=private, signing_certificate=leaf_path, certificate_chain=[ca_path]
    ).sign(model, sig)
    verifying.Config().use_certificate_verifier(certificate_chain=[ca_path]).verify(
        model, sig
    )  # model_signing agrees
    check = check_oms_signature(
        sig.read_bytes(), [Publisher("acme", certificate_chain_pem=ca_path.read_text())], _digests(model)
    )
    assert check.ok, check.message
    assert check.evidence.method == "certificate" and "acme model signer" in check.evidence.identity
    _other_key, _other_cert, other_ca = _ca(tmp_path, "mallory")
    untrusted = check_oms_signature(
        sig.read_bytes(), [Publisher("m", certificate_chain_pem=other_ca.read_text())], _digests(model)
    )
    assert not untrusted.ok and "does not chain to a trusted publisher" in untrusted.message


def test_certify_records_the_publisher_signature(tmp_path: Path) -> None:
    model, sig, public = _key_signed(tmp_path)
    main(["keys", "generate", "--out", str(tmp_path / "a"), "--name", "Lab A", "--jurisdiction", "DE"])
    cert = tmp_path / "cert.json"
    args = [
        "certify",
        str(model),
        "--key",
        str(tmp_path / "a" / "private.pem"),
        "--issuer",
        str(tmp_path / "a" / "issuer.json"),
        "--output",
        str(cert),
        "--publisher-signature",
        str(sig),
    ]
    assert main([*args, "--publisher-key", str(public)]) == 0
    payload = json.loads(base64.b64decode(json.loads(cert.read_text())["payload"]))
    [evidence] = payload["predicate"]["model"]["publisherSignatures"]
    assert evidence["verified"] is True and evidence["method"] == "key"
    assert evidence["bundleDigest"] == {"sha256": hashlib.sha256(sig.read_bytes()).hexdigest()}
    other = _pem_public(ec.generate_private_key(ec.SECP256R1()), tmp_path / "other.pub.pem")
    cert.unlink()
    assert main([*args, "--publisher-key", str(other)]) == 1  # a claimed signature that does not verify
    assert not cert.exists()


# SLSA VSA v1.0 (slsa.dev/spec/v1.0/verification_summary) as a JSON schema. The in-toto-attestation
# 0.9.3 protobuf binding cannot be used as the oracle: it lacks verifier.version and types
# verifiedLevels as one string where the spec has an array.
_DIGEST = {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}
_VSA_V1 = {
    "type": "object",
    "required": ["verifier", "resourceUri", "policy", "verificationResult", "verifiedLevels"],
    "additionalProperties": False,
    "properties": {
        "verifier": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "format": "uri"},
                "version": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "timeVerified": {"type": "string", "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$"},
        "resourceUri": {"type": "string", "minLength": 1},
        "policy": {
            "type": "object",
            "required": ["uri"],
            "properties": {"uri": {"type": "string"}, "digest": _DIGEST},
        },
        "inputAttestations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["digest"],
                "properties": {"uri": {"type": "string"}, "digest": _DIGEST},
            },
        },
        "verificationResult": {"enum": ["PASSED", "FAILED"]},
        "verifiedLevels": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+$"}},
        "dependencyLevels": {"type": "object", "additionalProperties": {"type": "integer"}},
        "slsaVersion": {"type": "string"},
    },
}


def test_vsa_twin_is_a_valid_slsa_verification_summary(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    json_format = pytest.importorskip("google.protobuf.json_format")
    statement_mod = pytest.importorskip("in_toto_attestation.v1.statement")
    statement_pb2 = pytest.importorskip("in_toto_attestation.v1.statement_pb2")
    model = make_model(tmp_path / "m")
    for policy, result in (("baseline", "PASSED"), ("strict", "FAILED")):
        issued = certify(model, lab("Lab A", "US"), policy)
        payload_sha = hashlib.sha256(issued.envelope.payload).hexdigest()
        vsa = vsa_statement(issued.statement, payload_sha)
        jsonschema.validate(vsa["predicate"], _VSA_V1)
        statement_mod.Statement.copy_from_pb(json_format.ParseDict(vsa, statement_pb2.Statement())).validate()
        p = vsa["predicate"]
        assert vsa["predicateType"] == "https://slsa.dev/verification_summary/v1"
        assert vsa["subject"][0]["digest"]["sha256"] == issued.statement.subject_digest
        assert p["verificationResult"] == result
        assert p["policy"]["digest"]["sha256"] == load_policy(policy).digest
        assert p["inputAttestations"] == [
            {"uri": issued.statement.predicate.certificate_id, "digest": {"sha256": payload_sha}}
        ]
        assert p["resourceUri"] == "pkg:generic/acme/widget@1.0"
    assert p["verifiedLevels"] == []  # a FAILED summary verifies no level


def test_cyclonedx_ml_bom_validates_against_the_bundled_1_6_schema(tmp_path: Path) -> None:
    cdx_json = pytest.importorskip("cyclonedx.validation.json")
    cdx_schema = pytest.importorskip("cyclonedx.schema")
    model = make_model(tmp_path / "m")
    add_malicious_pickle(model)
    for policy in ("baseline", "strict"):  # both fail this model: findings and failed requirements appear
        issued = certify(model, lab("Lab A", "US"), policy)
        bom = cyclonedx_bom(issued.statement)
        error = cdx_json.JsonStrictValidator(cdx_schema.SchemaVersion.V1_6).validate_str(json.dumps(bom))
        assert error is None, str(error)[:2000]
        [component] = bom["components"]
        assert component["type"] == "machine-learning-model" and "modelCard" in component
        props = {p["name"]: p["value"] for p in component["modelCard"]["properties"]}
        assert props["modelcert:result"] == issued.statement.predicate.result
        assert len(component["components"]) == issued.statement.predicate.model.manifest.resource_count
    assert issued.statement.predicate.result == "FAILED"
    limitations = component["modelCard"]["considerations"]["technicalLimitations"]
    assert any(text.startswith("full-coverage:") for text in limitations)
    assert any(text.startswith("no-unsafe: MC100 in model.pkl") for text in limitations)
    assert [v["affects"] for v in bom["vulnerabilities"] if v["id"] == "MC100"] == [
        [{"ref": "file:model.pkl"}]
    ]


def test_trust_publisher_entries_need_exactly_one_material() -> None:
    a = lab("Lab A", "US")
    doc = trust(a).to_dict()
    doc["publishers"] = [{"name": "acme"}]
    with pytest.raises(DocumentError, match="exactly one of publicKeyPem and certificateChainPem"):
        TrustRoot.parse(doc)


def test_checks_are_stateless_across_models_model_transparency_pr_650(tmp_path: Path) -> None:
    """Regression for sigstore/model-transparency PR #650: model_signing 1.1.1 reused the hashing
    config guessed for one model when the same verifying.Config checked another, so a tampered model
    could verify clean. modelcert keeps no state between checks: same publishers, second model fails."""
    model, sig, public = _key_signed(tmp_path)
    publishers = [Publisher("acme", public_key_pem=public.read_text())]
    assert check_oms_signature(sig.read_bytes(), publishers, _digests(model)).ok
    tampered = _copy_tree(model, tmp_path / "tampered")
    (tampered / "shards" / "weights-00001.f32").write_bytes(b"\x00" * 4096)
    result = check_oms_signature(sig.read_bytes(), publishers, _digests(tampered))
    assert not result.ok and "file 'shards/weights-00001.f32' differs" in result.message


def _copy_tree(src: Path, dst: Path) -> Path:
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return dst


_BUNDLE: list[tuple[bytes, str, dict[str, bytes]]] = []


def _bundle(factory: pytest.TempPathFactory) -> tuple[bytes, str, dict[str, bytes]]:
    if not _BUNDLE:
        model, sig, public = _key_signed(factory.mktemp("fuzz"))
        _BUNDLE.append((sig.read_bytes(), public.read_text(), _digests(model)))
    return _BUNDLE[0]


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_oms_bundles_give_a_result_never_an_exception(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    bundle, public, digests = _bundle(tmp_path_factory)
    mutated = bytearray(bundle)
    for _ in range(data.draw(st.integers(1, 3))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    result = check_oms_signature(bytes(mutated), [Publisher("acme", public_key_pem=public)], digests)
    assert result.ok is result.evidence.verified
