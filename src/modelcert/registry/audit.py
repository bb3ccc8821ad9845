"""Client-side log auditing: check inclusion proofs and checkpoint consistency, and witness a log.

Used by `modelcert log verify` and `modelcert witness`; pure functions over documents the registry
serves (or that were stapled), so they work offline too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelcert.certificate.jcs import CanonicalizationError, canonicalize
from modelcert.registry import RegistryError
from modelcert.registry.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Verifier,
    NoteError,
    SignedCheckpoint,
    parse_vkey,
    verified_cosignatures,
    verify_checkpoint,
)
from modelcert.registry.client import RegistryClient
from modelcert.registry.log import ProofError, leaf_hash, verify_consistency, verify_inclusion


class AuditError(RegistryError):
    """A proof, checkpoint or witness policy check failed."""


def log_verifier(vkey: str) -> Ed25519Verifier:
    verifier = parse_vkey(vkey)
    if not isinstance(verifier, Ed25519Verifier):
        raise AuditError("the log key must be an Ed25519 note verifier key (type 0x01)")
    return verifier


def witness_verifier(vkey: str) -> CosignatureVerifier:
    verifier = parse_vkey(vkey)
    if not isinstance(verifier, CosignatureVerifier):
        raise AuditError("a witness key must be a cosignature/v1 verifier key (type 0x04)")
    return verifier


def hashes_from_hex(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list) or len(values) > 64:
        raise AuditError(f"{what}: expected a list of at most 64 hex hashes")
    try:
        out = [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError):
        raise AuditError(f"{what}: not hex") from None
    if any(len(h) != 32 for h in out):
        raise AuditError(f"{what}: every hash is 32 bytes")
    return out


def open_checkpoint(
    note: str, log_key: Ed25519Verifier, witnesses: Sequence[CosignatureVerifier] = (), quorum: int = 0
) -> SignedCheckpoint:
    """Verify the log's signature and at least `quorum` witness cosignatures."""
    try:
        signed = verify_checkpoint(note, log_key, origin=log_key.name)
        cosigned = verified_cosignatures(signed.note, witnesses)
    except NoteError as exc:
        raise AuditError(f"checkpoint: {exc}") from None
    if len(cosigned) < quorum:
        raise AuditError(f"checkpoint has {len(cosigned)} valid witness cosignature(s), {quorum} required")
    return signed


@dataclass(frozen=True)
class InclusionResult:
    index: int
    tree_size: int
    leaf: bytes


def leaf_of(doc: Mapping[str, Any]) -> bytes:
    """The leaf hash a proof document vouches for: recomputed from `entry` when present (so the entry's
    content is what gets proven), else taken from `leafHash`."""
    if "entry" in doc:
        try:
            computed = leaf_hash(canonicalize(doc["entry"]))
        except CanonicalizationError as exc:
            raise AuditError(f"entry is not canonical JSON: {exc}") from None
        stated = doc.get("leafHash")
        if stated is not None and stated != computed.hex():
            raise AuditError("leafHash does not match the entry")
        return computed
    try:
        leaf = bytes.fromhex(str(doc["leafHash"]))
    except (KeyError, ValueError):
        raise AuditError("proof document has neither entry nor a hex leafHash") from None
    if len(leaf) != 32:
        raise AuditError("leafHash is not 32 bytes")
    return leaf


def check_inclusion(doc: Mapping[str, Any], checkpoint: Checkpoint) -> InclusionResult:
    """Verify an inclusion proof document ({logIndex, treeSize, hashes, leafHash|entry}) against a
    verified checkpoint. A publish answer (proof nested under `inclusionProof`) is accepted too."""
    nested = doc.get("inclusionProof")
    proof = nested if isinstance(nested, Mapping) else doc
    leaf = leaf_of(doc if "leafHash" in doc or "entry" in doc else proof)
    try:
        index, size = int(proof["logIndex"]), int(proof["treeSize"])
    except (KeyError, TypeError, ValueError):
        raise AuditError("proof document needs integer logIndex and treeSize") from None
    if size != checkpoint.size:
        raise AuditError(f"the proof is for tree size {size}, the checkpoint has size {checkpoint.size}")
    try:
        verify_inclusion(
            index, size, leaf, hashes_from_hex(proof.get("hashes"), "hashes"), checkpoint.root_hash
        )
    except ProofError as exc:
        raise AuditError(str(exc)) from None
    return InclusionResult(index, size, leaf)


def check_consistency(old: Checkpoint, new: Checkpoint, hashes: Sequence[bytes]) -> None:
    if old.origin != new.origin:
        raise AuditError(f"checkpoints are of different logs ({old.origin!r}, {new.origin!r})")
    try:
        verify_consistency(old.size, new.size, hashes, old.root_hash, new.root_hash)
    except ProofError as exc:
        raise AuditError(str(exc)) from None


def fetch_consistency(client: RegistryClient, old: Checkpoint, new: Checkpoint) -> list[bytes]:
    if old.size > new.size:
        raise AuditError(f"the log shrank from {old.size} to {new.size} entries")
    doc = client.consistency_proof(old.size, new.size)
    return hashes_from_hex(doc.get("hashes"), "consistency proof")


@dataclass(frozen=True)
class WitnessResult:
    previous_size: int | None
    checkpoint: Checkpoint
    cosigned_note: str


def witness(
    client: RegistryClient,
    signer: CosignatureSigner,
    log_key: Ed25519Verifier,
    previous_note: str | None,
    now: int,
) -> WitnessResult:
    """One witness round: fetch the checkpoint, check it extends the last one we cosigned, cosign it.

    Raises AuditError (and cosigns nothing) when the log's signature fails, the log shrank or forked.
    """
    latest = open_checkpoint(client.checkpoint(), log_key)
    previous_size = None
    if previous_note is not None:
        previous = open_checkpoint(previous_note, log_key).checkpoint
        check_consistency(previous, latest.checkpoint, fetch_consistency(client, previous, latest.checkpoint))
        previous_size = previous.size
    cosigned = latest.note.with_signature(signer.cosign(latest.note.text, now))
    return WitnessResult(previous_size, latest.checkpoint, cosigned.encode())
