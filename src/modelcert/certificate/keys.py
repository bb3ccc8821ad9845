"""Certifier keys: Ed25519 and ECDSA P-256 through `cryptography` (no hand-made crypto).

A key ID is the lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo: it names the key
itself, not a file encoding of it. (model_signing's `publicKey.hint` hashes the PEM text instead; the
two are different values for the same key.) ECDSA signatures are DER-encoded over SHA-256, as DSSE and
Sigstore expect; Ed25519 signatures are the raw 64 bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from modelcert.errors import ModelcertError

Algorithm = Literal["ed25519", "ecdsa-p256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ed25519", "ecdsa-p256")

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class KeyFileError(ModelcertError):
    """A key file is unreadable, encrypted without a password, or of an unsupported type."""


def key_id(public_key: PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _algorithm_of(key: PublicKey) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    curve = getattr(getattr(key, "curve", None), "name", type(key).__name__)
    raise KeyFileError(f"unsupported key type {curve}: use Ed25519 or ECDSA P-256")


@dataclass(frozen=True)
class VerifyingKey:
    """A public key that checks signatures, with its key ID and algorithm."""

    public_key: PublicKey
    key_id: str
    algorithm: Algorithm

    @classmethod
    def from_public_key(cls, public_key: PublicKey) -> VerifyingKey:
        return cls(public_key, key_id(public_key), _algorithm_of(public_key))

    @classmethod
    def from_pem(cls, pem: bytes) -> VerifyingKey:
        try:
            loaded = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFileError(f"not a PEM public key: {exc}") from None
        if not isinstance(loaded, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
            raise KeyFileError(
                f"unsupported public key type {type(loaded).__name__}: use Ed25519 or ECDSA P-256"
            )
        return cls.from_public_key(loaded)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            if isinstance(self.public_key, ed25519.Ed25519PublicKey):
                self.public_key.verify(signature, message)
            else:
                self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private key that signs, with the matching verifying key."""

    private_key: PrivateKey
    verifying: VerifyingKey

    @property
    def key_id(self) -> str:
        return self.verifying.key_id

    @property
    def algorithm(self) -> Algorithm:
        return self.verifying.algorithm

    @classmethod
    def generate(cls, algorithm: Algorithm = "ed25519") -> SigningKey:
        private: PrivateKey
        if algorithm == "ed25519":
            private = ed25519.Ed25519PrivateKey.generate()
        elif algorithm == "ecdsa-p256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise KeyFileError(f"unknown algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}")
        return cls.from_private_key(private)

    @classmethod
    def from_private_key(cls, private: PrivateKey) -> SigningKey:
        return cls(private, VerifyingKey.from_public_key(private.public_key()))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> SigningKey:
        try:
            loaded = serialization.load_pem_private_key(pem, password)
        except TypeError as exc:  # encrypted without a password, or a password for a plain key
            raise KeyFileError(f"cannot load private key: {exc}") from None
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFileError(f"not a PEM private key (or a wrong password): {exc}") from None
        if not isinstance(loaded, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyFileError(
                f"unsupported private key type {type(loaded).__name__}: use Ed25519 or ECDSA P-256"
            )
        return cls.from_private_key(loaded)

    def private_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(message)
        return self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))
