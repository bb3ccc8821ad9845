"""DSSE v1 envelopes: the signed wrapper around a certificate's payload, with any number of signatures.

Signatures cover PAE(payloadType, payload) = "DSSEv1 <len type> <type> <len payload> <payload>"
(secure-systems-lab/dsse protocol.md). Co-signing appends a signature over the byte-identical payload;
nothing in the payload changes, so every signer vouches for exactly the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelcert.certificate.keys import SigningKey, VerifyingKey
from modelcert.errors import ModelcertError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_ENVELOPE_BYTES = 32 * 1024 * 1024  # a certificate with tens of thousands of files is a few MB
MAX_SIGNATURES = 64
MAX_SIGNATURE_BYTES = 1024


class EnvelopeError(ModelcertError):
    """The bytes are not a DSSE envelope we accept."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")} for s in self.signatures
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError(f"envelope is {len(raw)} bytes (limit {MAX_ENVELOPE_BYTES})")
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> Envelope:
        if not isinstance(doc, Mapping):
            raise EnvelopeError("a DSSE envelope is a JSON object")
        unknown = set(doc) - {"payload", "payloadType", "signatures"}
        if unknown:
            raise EnvelopeError(f"unknown envelope fields: {', '.join(sorted(map(str, unknown)))}")
        payload_type = doc.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise EnvelopeError("payloadType is missing")
        payload = _b64(doc.get("payload"), "payload")
        raw_sigs = doc.get("signatures")
        if not isinstance(raw_sigs, list):
            raise EnvelopeError("signatures must be a list")
        if len(raw_sigs) > MAX_SIGNATURES:
            raise EnvelopeError(f"{len(raw_sigs)} signatures (limit {MAX_SIGNATURES})")
        signatures = []
        for index, item in enumerate(raw_sigs):
            if not isinstance(item, Mapping) or set(item) - {"keyid", "sig"}:
                raise EnvelopeError(f"signature #{index} must be an object with keyid and sig")
            keyid = item.get("keyid", "")
            if not isinstance(keyid, str) or len(keyid) > 256:
                raise EnvelopeError(f"signature #{index}: keyid must be a short string")
            sig = _b64(item.get("sig"), f"signature #{index}")
            if not sig or len(sig) > MAX_SIGNATURE_BYTES:
                raise EnvelopeError(f"signature #{index} is empty or too long")
            signatures.append(Signature(keyid, sig))
        return cls(payload_type, payload, tuple(signatures))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"{what} must be a base64 string")
    try:
        # DSSE allows standard or URL-safe base64; normalise to standard before strict decoding
        return base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{what} is not valid base64") from None


def sign(payload_type: str, payload: bytes, key: SigningKey) -> Envelope:
    """A new envelope with one signature."""
    return add_signature(Envelope(payload_type, payload), key)


def add_signature(envelope: Envelope, key: SigningKey) -> Envelope:
    """The same envelope with one more signature over its byte-identical payload."""
    if any(s.keyid == key.key_id for s in envelope.signatures):
        raise EnvelopeError(f"key {key.key_id} has already signed this envelope")
    if len(envelope.signatures) >= MAX_SIGNATURES:
        raise EnvelopeError(f"envelope already holds {MAX_SIGNATURES} signatures")
    sig = Signature(key.key_id, key.sign(pae(envelope.payload_type, envelope.payload)))
    return Envelope(envelope.payload_type, envelope.payload, (*envelope.signatures, sig))


SignatureStatus = Literal["valid", "invalid", "untrusted", "duplicate"]


@dataclass(frozen=True)
class SignatureCheck:
    """What one signature of an envelope turned out to be."""

    index: int
    keyid: str  # the key that verified it, or the unauthenticated keyid field when none did
    status: SignatureStatus
    message: str


def check_signatures(envelope: Envelope, trusted: Iterable[VerifyingKey]) -> list[SignatureCheck]:
    """Check every signature against the trusted keys. One key counts once, however often it signed.

    The keyid field is only a hint (DSSE does not authenticate it): a signature whose keyid names no
    trusted key is still tried against every trusted key, so a relabelled signature is neither lost
    nor credited to the wrong key.
    """
    keys = list(trusted)
    by_id = {k.key_id: k for k in keys}
    message = pae(envelope.payload_type, envelope.payload)
    seen: set[str] = set()
    results = []
    for index, signature in enumerate(envelope.signatures):
        hinted = by_id.get(signature.keyid)
        candidates = [hinted] if hinted is not None else keys
        signer = next((k for k in candidates if k.verify(signature.sig, message)), None)
        if signer is None and hinted is not None:
            results.append(
                SignatureCheck(
                    index,
                    signature.keyid,
                    "invalid",
                    f"signature #{index} by trusted key {_short(signature.keyid)} does not verify: "
                    "the payload or the signature was altered",
                )
            )
        elif signer is None:
            results.append(
                SignatureCheck(
                    index,
                    signature.keyid,
                    "untrusted",
                    f"signature #{index} is by key {_short(signature.keyid) or '(no keyid)'}, "
                    "which is not in the trust file",
                )
            )
        elif signer.key_id in seen:
            results.append(
                SignatureCheck(
                    index,
                    signer.key_id,
                    "duplicate",
                    f"signature #{index} repeats key {_short(signer.key_id)}: counted once",
                )
            )
        else:
            seen.add(signer.key_id)
            results.append(
                SignatureCheck(
                    index,
                    signer.key_id,
                    "valid",
                    f"signature #{index} by key {_short(signer.key_id)} verifies",
                )
            )
    return results


def _short(keyid: str) -> str:
    return keyid[:16]
