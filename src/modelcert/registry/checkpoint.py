"""C2SP signed notes (c2sp.org/signed-note), log checkpoints (tlog-checkpoint) and witness cosignatures
(tlog-cosignature, Ed25519 `cosignature/v1`).

A checkpoint is the note text `origin\\nsize\\nbase64(root)\\n`, signed by the log key (signature type
0x01). A witness that checked consistency adds a cosignature line (type 0x04) whose signature covers
`cosignature/v1\\ntime <t>\\n` followed by the checkpoint text, and carries that timestamp. Verifiers are
configured with *verifier keys* (`name+keyid+base64(type ‖ public key)`), so the same text verifies in
Go (`golang.org/x/mod/sumdb/note`, transparency-dev witnesses) and here; the tests check the published
Go and C2SP vectors.

Only the cryptography comes from `cryptography` (Ed25519); everything here is text handling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from modelcert.registry import RegistryError

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
MAX_NOTE_BYTES = 1024 * 1024
MAX_SIGNATURES = 100  # the spec says verifiers must accept at least 16
MAX_TREE_SIZE = 2**63 - 1
EM_DASH = "\u2014"


class NoteError(RegistryError):
    """A signed note, checkpoint or key string is malformed or does not verify."""


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature bytes that follow it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{EM_DASH} {self.name} {blob}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends with a newline
    signatures: tuple[NoteSignature, ...] = ()

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, signature: NoteSignature) -> Note:
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) != (signature.name, signature.key_id))
        return Note(self.text, (*kept, signature))


def _check_name(name: str) -> str:
    if not name or any(ch.isspace() or ch == "+" for ch in name) or not name.isprintable():
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def compute_key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signature lines (no verification)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_NOTE_BYTES:
        raise NoteError(f"note is {len(raw)} bytes (limit {MAX_NOTE_BYTES})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    if any(ch < " " and ch != "\n" for ch in text):
        raise NoteError("note contains control characters")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block.endswith("\n"):
        raise NoteError("note does not end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures (limit {MAX_SIGNATURES})")
    signatures = tuple(_parse_signature_line(line) for line in lines)
    return Note(body, signatures)


def _parse_signature_line(line: str) -> NoteSignature:
    prefix = EM_DASH + " "
    if not line.startswith(prefix):
        raise NoteError("signature line does not start with an em dash")
    parts = line[len(prefix) :].split(" ")
    if len(parts) != 2:
        raise NoteError("signature line must be '— <name> <base64>'")
    name, blob = parts
    _check_name(name)
    try:
        decoded = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"signature of {name!r} is not base64") from None
    if len(decoded) < 5:
        raise NoteError(f"signature of {name!r} is too short")
    return NoteSignature(name, decoded[:4], decoded[4:])


class NoteVerifier(Protocol):
    """A trusted key: its name and ID select signature lines, `verify` checks one against the text."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: str, signature: NoteSignature) -> bool: ...


@dataclass(frozen=True)
class Ed25519Verifier:
    """Signature type 0x01: plain Ed25519 over the note text (log checkpoints)."""

    name: str
    public_key: bytes
    key_id: bytes

    @classmethod
    def create(cls, name: str, public_key: ed25519.Ed25519PublicKey) -> Ed25519Verifier:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(_check_name(name), raw, compute_key_id(name, SIG_ED25519, raw))

    def verify(self, text: str, signature: NoteSignature) -> bool:
        if (signature.name, signature.key_id) != (self.name, self.key_id) or len(signature.signature) != 64:
            return False
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature.signature, text.encode("utf-8")
            )
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return _vkey(self.name, self.key_id, SIG_ED25519, self.public_key)


@dataclass(frozen=True)
class CosignatureVerifier:
    """Signature type 0x04: a witness's timestamped Ed25519 cosignature (tlog-cosignature v1)."""

    name: str
    public_key: bytes
    key_id: bytes

    @classmethod
    def create(cls, name: str, public_key: ed25519.Ed25519PublicKey) -> CosignatureVerifier:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(_check_name(name), raw, compute_key_id(name, SIG_COSIGNATURE_V1, raw))

    def timestamp(self, text: str, signature: NoteSignature) -> int | None:
        """The cosignature's timestamp when it verifies, else None."""
        if (signature.name, signature.key_id) != (self.name, self.key_id) or len(signature.signature) != 72:
            return None
        (timestamp,) = struct.unpack(">Q", signature.signature[:8])
        if timestamp > MAX_TREE_SIZE:
            return None
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature.signature[8:], cosigned_message(text, timestamp)
            )
        except InvalidSignature:
            return None
        return int(timestamp)

    def verify(self, text: str, signature: NoteSignature) -> bool:
        return self.timestamp(text, signature) is not None

    def vkey(self) -> str:
        return _vkey(self.name, self.key_id, SIG_COSIGNATURE_V1, self.public_key)


def _vkey(name: str, key_id: bytes, sig_type: int, public_key: bytes) -> str:
    return f"{name}+{key_id.hex()}+{base64.b64encode(bytes([sig_type]) + public_key).decode('ascii')}"


def parse_vkey(vkey: str) -> Ed25519Verifier | CosignatureVerifier:
    """A verifier key string `name+hexkeyid+base64(type ‖ key)` of type 0x01 or 0x04."""
    name, _, rest = vkey.strip().partition("+")
    hex_id, _, material = rest.partition("+")
    _check_name(name)
    try:
        key_id = bytes.fromhex(hex_id)
        decoded = base64.b64decode(material, validate=True)
    except (ValueError, binascii.Error):
        raise NoteError("verifier key is not name+hex+base64") from None
    if len(key_id) != 4 or len(decoded) != 33:
        raise NoteError("verifier key must hold a 4-byte ID and a type byte plus a 32-byte Ed25519 key")
    sig_type, public_key = decoded[0], decoded[1:]
    if compute_key_id(name, sig_type, public_key) != key_id:
        raise NoteError("verifier key ID does not match its name and key")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        raise NoteError("verifier key is not an Ed25519 public key") from None
    if sig_type == SIG_ED25519:
        return Ed25519Verifier(name, public_key, key_id)
    if sig_type == SIG_COSIGNATURE_V1:
        return CosignatureVerifier(name, public_key, key_id)
    raise NoteError(f"unsupported verifier key type 0x{sig_type:02x}")


@dataclass(frozen=True)
class NoteSigner:
    """Signs notes with Ed25519 (type 0x01): the log's checkpoint key."""

    name: str
    private_key: ed25519.Ed25519PrivateKey

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier.create(self.name, self.private_key.public_key())

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self.name, self.verifier.key_id, self.private_key.sign(text.encode("utf-8")))


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness key: cosigns checkpoints it has checked (type 0x04)."""

    name: str
    private_key: ed25519.Ed25519PrivateKey

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier.create(self.name, self.private_key.public_key())

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        if not 0 <= timestamp <= MAX_TREE_SIZE:
            raise NoteError("cosignature timestamp out of range")
        sig = self.private_key.sign(cosigned_message(text, timestamp))
        return NoteSignature(self.name, self.verifier.key_id, struct.pack(">Q", timestamp) + sig)


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def open_note(note: Note, verifiers: Iterable[NoteVerifier]) -> list[NoteSignature]:
    """The signatures by known keys, all verified. Unknown keys are ignored (the spec); a known key whose
    signature fails rejects the whole note; no verified signature at all rejects it too."""
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verify(note.text, signature):
            raise NoteError(f"signature by {signature.name} does not verify")
        verified.append(signature)
    if not verified:
        raise NoteError("no signature by a trusted key")
    return verified


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head at one size (the note text of a checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("checkpoint needs origin, size and root hash lines, none empty")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
            raise NoteError(f"checkpoint size {size_text!r} is not a decimal without leading zeroes")
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise NoteError("checkpoint size out of range")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("checkpoint root hash is not base64") from None
        if len(root) != 32:
            raise NoteError("checkpoint root hash is not 32 bytes")
        return cls(origin, size, root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: Note

    def encode(self) -> str:
        return self.note.encode()


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> SignedCheckpoint:
    text = checkpoint.text()
    return SignedCheckpoint(checkpoint, Note(text, (signer.sign(text),)))


def verify_checkpoint(
    data: str | bytes | Note, log_key: NoteVerifier, origin: str | None = None
) -> SignedCheckpoint:
    """Parse a signed checkpoint and check the log's own signature (and origin when given)."""
    note = data if isinstance(data, Note) else parse_note(data)
    if not any(s.name == log_key.name and s.key_id == log_key.key_id for s in note.signatures):
        raise NoteError(f"checkpoint is not signed by the log key {log_key.name}")
    open_note(note, [log_key])
    checkpoint = Checkpoint.from_text(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return SignedCheckpoint(checkpoint, note)


@dataclass(frozen=True)
class WitnessCosignature:
    name: str
    timestamp: int


def verified_cosignatures(
    note: Note, witnesses: Sequence[CosignatureVerifier], max_timestamp: int | None = None
) -> list[WitnessCosignature]:
    """The witnesses (from `witnesses`) whose cosignature on this note verifies; one per witness.

    A cosignature by a known witness that fails to verify is an error (someone forged or altered it),
    not a silent omission. Cosignatures dated after `max_timestamp` (e.g. now + skew) are refused.
    """
    by_id = {(w.name, w.key_id): w for w in witnesses}
    found: dict[str, WitnessCosignature] = {}
    for signature in note.signatures:
        witness = by_id.get((signature.name, signature.key_id))
        if witness is None:
            continue
        timestamp = witness.timestamp(note.text, signature)
        if timestamp is None:
            raise NoteError(f"cosignature by witness {witness.name} does not verify")
        if max_timestamp is not None and timestamp > max_timestamp:
            raise NoteError(f"cosignature by witness {witness.name} is dated in the future")
        found[witness.name] = WitnessCosignature(witness.name, timestamp)
    return list(found.values())
