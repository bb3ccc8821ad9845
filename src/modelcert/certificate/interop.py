"""Interoperability: OpenSSF Model Signing (OMS) signatures in, SLSA VSA v1 and CycloneDX 1.6 out.

`check_oms_signature` verifies a publisher's `model_signing` bundle (key or certificate method) offline
with `cryptography` and compares its signed file list to the digests modelcert computed in its own
single read pass, so the evidence costs no second hash of the model. It is recorded in the certificate
as `model.publisherSignatures[]`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification

from modelcert.certificate.dsse import IN_TOTO_PAYLOAD_TYPE, pae
from modelcert.certificate.keys import key_id
from modelcert.certificate.predicate import PublisherSignature
from modelcert.certificate.statement import Statement
from modelcert.certificate.trust import Publisher
from modelcert.policy.fields import DocumentError, Fields, format_time, load_json

OMS_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
MAX_CHAIN = 8
# finding status -> CycloneDX vulnerability analysis state
_ANALYSIS_STATE = {
    "open": "in_triage",
    "accepted": "not_affected",
    "false-positive": "false_positive",
    "mitigated": "resolved",
}
_CURVE_HASH: dict[int, hashes.HashAlgorithm] = {  # as model_signing pairs curves and hashes
    256: hashes.SHA256(),
    384: hashes.SHA384(),
    521: hashes.SHA512(),
}


@dataclass(frozen=True)
class OmsCheck:
    """The outcome of checking one OMS bundle against the package digests."""

    ok: bool
    message: str
    evidence: PublisherSignature
    root_digest: str | None = None


class _Reject(Exception):
    def __init__(self, message: str, method: str = "key", identity: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.identity = identity


def check_oms_signature(
    bundle: bytes, publishers: Sequence[Publisher], digests: Mapping[str, bytes]
) -> OmsCheck:
    """Verify an OMS v1.0 `files` signature by a trusted publisher and compare it to `digests`.

    `digests` maps each regular file's POSIX relative path to its raw SHA-256 (modelcert's walk, which
    already leaves out OMS's default ignored paths). Files the bundle's `ignore_paths` name are left
    out of the comparison, as model_signing does.
    """
    bundle_digest = hashlib.sha256(bundle).hexdigest()
    method, identity = "key", ""
    try:
        method, identity, publisher, payload = _verify_bundle(bundle, publishers)
        root, resources, ignored = _oms_manifest(payload)
        problems = _compare(resources, digests, ignored)
    except _Reject as rej:
        rej.method, rej.identity = (method, identity) if identity else (rej.method, rej.identity)
        return OmsCheck(
            False,
            str(rej),
            PublisherSignature(bundle_digest, rej.method, rej.identity or "unknown", False, str(rej)),
        )
    except DocumentError as exc:
        text = f"not an OMS signature bundle: {exc}"
        return OmsCheck(False, text, PublisherSignature(bundle_digest, "key", "unknown", False, text))
    if problems:
        text = f"signature by publisher {publisher!r} is valid but does not match this package: " + "; ".join(
            problems
        )
        return OmsCheck(False, text, PublisherSignature(bundle_digest, method, identity, False, text), root)
    text = (
        f"publisher {publisher!r} signed these {len(resources)} files ({method} method, root digest {root})"
    )
    return OmsCheck(True, text, PublisherSignature(bundle_digest, method, identity, True, text), root)


def _verify_bundle(bundle: bytes, publishers: Sequence[Publisher]) -> tuple[str, str, str, bytes]:
    top = Fields(
        load_json(bundle, "OMS bundle"), "", allowed=("mediaType", "verificationMaterial", "dsseEnvelope")
    )
    if top.text("mediaType") != OMS_BUNDLE_MEDIA_TYPE:
        raise DocumentError(f"/mediaType: expected {OMS_BUNDLE_MEDIA_TYPE}")
    env = top.child("dsseEnvelope", allowed=("payload", "payloadType", "signatures"))
    if env.text("payloadType") != IN_TOTO_PAYLOAD_TYPE:
        raise DocumentError(f"/dsseEnvelope/payloadType: expected {IN_TOTO_PAYLOAD_TYPE}")
    payload = _b64(env.text("payload", max_len=64 * 1024 * 1024), "/dsseEnvelope/payload")
    signatures = env.items("signatures", max_items=2)
    if len(signatures) != 1:
        raise DocumentError("/dsseEnvelope/signatures: an OMS bundle holds exactly one signature")
    sig = _b64(Fields(signatures[0], "/dsseEnvelope/signatures/0", ("sig", "keyid")).text("sig"), "sig")
    material = top.child("verificationMaterial")
    message = pae(IN_TOTO_PAYLOAD_TYPE, payload)
    if material.has("x509CertificateChain"):
        chain = material.child("x509CertificateChain").items("certificates", max_items=MAX_CHAIN)
        ders = [
            _b64(
                Fields(c, "/verificationMaterial/x509CertificateChain/certificates").text("rawBytes"),
                "rawBytes",
            )
            for c in chain
        ]
        return _verify_certificate_method(ders, sig, message, publishers, payload)
    if not material.has("publicKey"):
        raise DocumentError("/verificationMaterial: neither publicKey nor x509CertificateChain")
    for publisher in publishers:
        if publisher.public_key_pem is None:
            continue
        try:
            public = serialization.load_pem_public_key(publisher.public_key_pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            continue  # a malformed trust entry matches nothing
        if isinstance(public, ec.EllipticCurvePublicKey) and _ec_verify(public, sig, message):
            return "key", key_id(public), publisher.name, payload
    raise _Reject("OMS signature is not by any trusted publisher key (or the bundle was altered)")


def _verify_certificate_method(
    ders: list[bytes], sig: bytes, message: bytes, publishers: Sequence[Publisher], payload: bytes
) -> tuple[str, str, str, bytes]:
    if not ders:
        raise DocumentError("x509CertificateChain is empty")
    try:
        certs = [x509.load_der_x509_certificate(d) for d in ders]
    except ValueError as exc:
        raise DocumentError(f"x509CertificateChain: {exc}") from None
    leaf = certs[0]
    subject = leaf.subject.rfc4514_string()
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise _Reject("the signing certificate's key is not an EC key", "certificate", subject)
    if not _can_sign(leaf):
        raise _Reject(
            "the signing certificate allows neither digitalSignature nor codeSigning", "certificate", subject
        )
    if not _ec_verify(public, sig, message):
        raise _Reject("OMS signature does not verify with its signing certificate", "certificate", subject)
    reasons = []
    for publisher in publishers:
        if publisher.certificate_chain_pem is None:
            continue
        try:
            roots = x509.load_pem_x509_certificates(publisher.certificate_chain_pem.encode("ascii"))
            # model_signing checks the chain at the leaf's issuance time: key/certificate bundles carry no
            # trusted timestamp, so "was this certificate valid when it was made" is all one can ask offline
            verifier = (
                verification.PolicyBuilder()
                .store(verification.Store(roots))
                .time(leaf.not_valid_before_utc)
                .max_chain_depth(MAX_CHAIN)
                .extension_policies(
                    ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                    ee_policy=verification.ExtensionPolicy.permit_all(),
                )
                .build_client_verifier()
            )
            verifier.verify(leaf, certs[1:])
        except (verification.VerificationError, ValueError, UnicodeEncodeError) as exc:
            reasons.append(f"{publisher.name}: {exc}")
            continue
        return "certificate", subject, publisher.name, payload
    detail = "; ".join(reasons) or "no trusted publisher has a certificate chain"
    raise _Reject(
        f"signing certificate {subject!r} does not chain to a trusted publisher: {detail}",
        "certificate",
        subject,
    )


def _can_sign(cert: x509.Certificate) -> bool:
    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return x509.oid.ExtendedKeyUsageOID.CODE_SIGNING in usages


def _ec_verify(public: ec.EllipticCurvePublicKey, sig: bytes, message: bytes) -> bool:
    algorithm = _CURVE_HASH.get(public.curve.key_size)
    if algorithm is None:
        return False
    try:
        public.verify(sig, message, ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


def _oms_manifest(payload: bytes) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """(root digest, name -> hex digest, ignore_paths) of an OMS v1.0 payload, checked for consistency."""
    top = Fields(load_json(payload, "OMS payload"), "")
    if (
        top.text("_type") != "https://in-toto.io/Statement/v1"
        or top.text("predicateType") != OMS_PREDICATE_TYPE
    ):
        raise DocumentError(f"payload is not an in-toto Statement v1 with predicate {OMS_PREDICATE_TYPE}")
    subjects = top.items("subject", max_items=2)
    if len(subjects) != 1:
        raise DocumentError("/subject: expected exactly one subject")
    root = Fields(subjects[0], "/subject/0").child("digest").sha256("sha256")
    predicate = top.child("predicate")
    ser = predicate.child("serialization")
    if ser.text("method") != "files" or ser.text("hash_type") != "sha256":
        raise _Reject(
            f"OMS serialization {ser.text('method')}/{ser.text('hash_type')} is not supported yet "
            "(modelcert compares files/sha256 manifests)"
        )
    resources: dict[str, str] = {}
    hasher = hashlib.sha256()
    for i, item in enumerate(predicate.items("resources")):
        res = Fields(item, f"/predicate/resources/{i}")
        name, digest = res.text("name", max_len=4096), res.sha256("digest")
        if res.text("algorithm") != "sha256" or name in resources:
            raise DocumentError(f"/predicate/resources/{i}: not a unique sha256 resource")
        resources[name] = digest
        hasher.update(bytes.fromhex(digest))
    if hasher.hexdigest() != root:
        raise _Reject("OMS manifest is inconsistent: its resources do not hash to its subject digest")
    return root, resources, tuple(ser.texts("ignore_paths", required=False))


def _compare(signed: Mapping[str, str], digests: Mapping[str, bytes], ignored: Sequence[str]) -> list[str]:
    def is_ignored(name: str) -> bool:
        return any(name == p or name.startswith(p.rstrip("/") + "/") for p in ignored)

    actual = {name: d.hex() for name, d in digests.items() if not is_ignored(name)}
    problems = [f"file {n!r} differs" for n in sorted(set(signed) & set(actual)) if signed[n] != actual[n]]
    problems += [f"file {n!r} is not signed" for n in sorted(set(actual) - set(signed))]
    problems += [f"signed file {n!r} is missing" for n in sorted(set(signed) - set(actual))]
    return problems[:20] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DocumentError(f"{where}: not valid base64") from None


def vsa_statement(statement: Statement, payload_sha256: str) -> dict[str, Any]:
    """The SLSA Verification Summary (VSA v1) twin of a certificate, derived field by field (§4.3)."""
    p = statement.predicate
    resource = f"{p.model.line}@{p.model.version}" if p.model.line and p.model.version else p.model.line
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": statement.subject_name, "digest": {"sha256": statement.subject_digest}}],
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": p.issuer.id, "version": {s.name: s.version for s in p.scanners}},
            "timeVerified": format_time(p.issued_at),
            "resourceUri": resource or f"urn:modelcert:sha256:{statement.subject_digest}",
            "policy": {"uri": p.policy.uri, "digest": {"sha256": p.policy.digest}},
            "inputAttestations": [{"uri": p.certificate_id, "digest": {"sha256": payload_sha256}}],
            "verificationResult": "FAILED" if p.result == "FAILED" else "PASSED",
            "verifiedLevels": list(p.levels),
        },
    }


def cyclonedx_bom(statement: Statement) -> dict[str, Any]:
    """A CycloneDX 1.6 ML-BOM: the model with its files, a modelCard carrying the result, and findings."""
    p = statement.predicate
    model_ref = "model"
    properties = [
        {"name": "modelcert:certificateId", "value": p.certificate_id},
        {"name": "modelcert:result", "value": p.result},
        {"name": "modelcert:riskRating", "value": p.risk_rating},
        {"name": "modelcert:policy", "value": f"{p.policy.id} v{p.policy.version} sha256:{p.policy.digest}"},
        {"name": "modelcert:issuer", "value": f"{p.issuer.name} ({p.issuer.jurisdiction}) {p.issuer.id}"},
        {"name": "modelcert:subjectDigest", "value": f"sha256:{statement.subject_digest}"},
        {"name": "modelcert:validUntil", "value": format_time(p.valid_until)},
        *({"name": "modelcert:level", "value": level} for level in p.levels),
    ]
    failed = [r for r in p.requirements if not r.passed]
    model: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": model_ref,
        "name": p.model.name,
        "modelCard": {
            "considerations": {
                "technicalLimitations": [f"{r.id}: {reason}" for r in failed for reason in r.reasons][:100]
                or [f"passed policy {p.policy.id} v{p.policy.version}"],
            },
            "properties": properties,
        },
        "properties": properties,
        "components": [
            {
                "type": "file",
                "bom-ref": f"file:{r.name}",
                "name": r.name,
                "hashes": [{"alg": "SHA-256", "content": r.digest}],
            }
            for r in p.model.resources
        ],
    }
    if p.model.version:
        model["version"] = p.model.version
    if p.model.line and p.model.line.startswith("pkg:"):
        model["purl"] = f"{p.model.line}@{p.model.version}" if p.model.version else p.model.line
    vulnerabilities = [
        {
            "bom-ref": f"finding:{item.id}",
            "id": item.rule_id,
            "source": {"name": "modelcert"},
            "ratings": [{"source": {"name": "modelcert"}, "severity": item.severity, "method": "other"}],
            "cwes": [int(t.split("-")[1]) for t in item.taxonomy if t.startswith("CWE-") and t[4:].isdigit()],
            "description": f"{item.rule_id} ({item.verdict}) in {item.location}",
            "analysis": {"state": _ANALYSIS_STATE[item.status]},
            "affects": [
                {
                    "ref": f"file:{item.location}"
                    if any(r.name == item.location for r in p.model.resources)
                    else model_ref
                }
            ],
        }
        for item in p.items
    ]
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, p.certificate_id)}",
        "version": 1,
        "metadata": {
            "timestamp": format_time(p.issued_at),
            "tools": {
                "components": [
                    {"type": "application", "name": s.name, "version": s.version} for s in p.scanners
                ]
            },
            "component": {
                "type": "machine-learning-model",
                "bom-ref": "metadata-model",
                "name": p.model.name,
            },
        },
        "components": [model],
        "vulnerabilities": vulnerabilities,
    }
