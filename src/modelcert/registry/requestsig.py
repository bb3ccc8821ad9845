"""Signed HTTP requests: how a registered key proves it sent a write, once, just now.

The client signs, with its certifier/publisher/witness key (Ed25519 or ECDSA P-256):

    modelcert-request/v1\\n<METHOD>\\n<raw path and query>\\n<unix time>\\n<nonce>\\n<hex SHA-256 of body>\\n

and sends `Modelcert-Key-Id`, `Modelcert-Timestamp`, `Modelcert-Nonce`, `Modelcert-Signature` (base64).
The server checks the key is registered and active, the signature, the time (± MAX_SKEW_SECONDS) and
that the (key, nonce) pair was never used before: a captured request cannot be replayed, redirected to
another path or given another body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from modelcert.certificate.keys import SigningKey, VerifyingKey
from modelcert.registry import RegistryError

HEADER_KEY_ID = "Modelcert-Key-Id"
HEADER_TIMESTAMP = "Modelcert-Timestamp"
HEADER_NONCE = "Modelcert-Nonce"
HEADER_SIGNATURE = "Modelcert-Signature"
MAX_SKEW_SECONDS = 300
_KEY_ID = re.compile(r"[0-9a-f]{64}")
_NONCE = re.compile(r"[0-9A-Za-z_-]{16,64}")


class RequestAuthError(RegistryError):
    """The request signature headers are missing, malformed, stale or do not verify."""


@dataclass(frozen=True)
class RequestSignature:
    key_id: str
    timestamp: int
    nonce: str
    signature: bytes


def signing_input(method: str, target: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"modelcert-request/v1\n{method.upper()}\n{target}\n{timestamp}\n{nonce}\n{digest}\n".encode()


def sign_request(
    key: SigningKey, method: str, target: str, body: bytes, *, now: int, nonce: str | None = None
) -> dict[str, str]:
    """The headers that authenticate this request (target = raw path plus '?query' when present)."""
    nonce = nonce or secrets.token_urlsafe(24)
    signature = key.sign(signing_input(method, target, now, nonce, body))
    return {
        HEADER_KEY_ID: key.key_id,
        HEADER_TIMESTAMP: str(now),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode("ascii"),
    }


def read_headers(headers: Mapping[str, str]) -> RequestSignature | None:
    """The signature headers, None when the request carries none; RequestAuthError when malformed."""
    lowered = {k.lower(): v for k, v in headers.items()}
    names = (HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
    values = [lowered.get(n.lower()) for n in names]
    if all(v is None for v in values):
        return None
    key_id, timestamp, nonce, signature = values
    if key_id is None or timestamp is None or nonce is None or signature is None:
        raise RequestAuthError("incomplete request signature headers")
    if not _KEY_ID.fullmatch(key_id):
        raise RequestAuthError("Modelcert-Key-Id must be 64 lowercase hex characters")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise RequestAuthError("Modelcert-Timestamp must be unix seconds")
    if not _NONCE.fullmatch(nonce):
        raise RequestAuthError("Modelcert-Nonce must be 16-64 URL-safe characters")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise RequestAuthError("Modelcert-Signature is not base64") from None
    if not 0 < len(raw) <= 256:
        raise RequestAuthError("Modelcert-Signature has an impossible length")
    return RequestSignature(key_id, int(timestamp), nonce, raw)


def verify_request(
    sig: RequestSignature, key: VerifyingKey, method: str, target: str, body: bytes, *, now: int
) -> None:
    if abs(now - sig.timestamp) > MAX_SKEW_SECONDS:
        raise RequestAuthError(f"request time is more than {MAX_SKEW_SECONDS} s away from the server's clock")
    if not key.verify(sig.signature, signing_input(method, target, sig.timestamp, sig.nonce, body)):
        raise RequestAuthError("request signature does not verify")
