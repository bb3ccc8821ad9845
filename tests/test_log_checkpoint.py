"""C2SP signed notes, checkpoints and cosignatures: published vectors (Go sumdb/note, C2SP signed-note, a
real CT-log checkpoint cosigned by a public witness), round trips, tampering, and fuzzed input."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.registry.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Verifier,
    Note,
    NoteError,
    NoteSigner,
    open_note,
    parse_note,
    parse_vkey,
    sign_checkpoint,
    verified_cosignatures,
    verify_checkpoint,
)

# golang.org/x/mod/sumdb/note test vector (PeterNeumann): Ed25519 is deterministic, so signing
# the same text with the same key must reproduce the published note byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = GO_TEXT + (
    "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
# c2sp.org/signed-note example key and signature
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXm"
    "RKuwHjG1Yu72IneyaQM=\n"
)
# A real checkpoint of a staging CT log with its ECDSA log signature and a cosignature/v1 by a public
# witness (remora.n621.de): checks our tlog-cosignature verifier against deployed witness software.
CT_CHECKPOINT = (
    "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n\n"
    "— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3u"
    "rbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75"
    "MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU"
    "/zZ0WBxtqB0DrAWfBw==\n"
)
CT_LOG_VKEY = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
WITNESS_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"


def _go_signer() -> NoteSigner:
    material = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert material[0] == 0x01
    return NoteSigner("PeterNeumann", ed25519.Ed25519PrivateKey.from_private_bytes(material[1:]))


def test_go_sumdb_note_vector_verifies_and_signs_byte_for_byte() -> None:
    verifier = parse_vkey(GO_VKEY)
    assert isinstance(verifier, Ed25519Verifier)
    note = parse_note(GO_NOTE)
    assert note.text == GO_TEXT
    assert [s.name for s in open_note(note, [verifier])] == ["PeterNeumann"]
    signer = _go_signer()
    assert signer.verifier.vkey() == GO_VKEY
    assert Note(GO_TEXT, (signer.sign(GO_TEXT),)).encode() == GO_NOTE
    with pytest.raises(NoteError):
        open_note(parse_note(GO_NOTE.replace("cryptography", "cryptographY")), [verifier])


def test_c2sp_signed_note_vector() -> None:
    verifier = parse_vkey(C2SP_VKEY)
    assert verifier.public_key.hex() == "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    assert verifier.key_id.hex() == "530d903a"
    assert open_note(parse_note(C2SP_NOTE), [verifier])


def test_real_witness_cosignature_verifies() -> None:
    witness = parse_vkey(WITNESS_VKEY)
    assert isinstance(witness, CosignatureVerifier)
    note = parse_note(CT_CHECKPOINT)
    cosigned = verified_cosignatures(note, [witness])
    assert [(c.name, c.timestamp) for c in cosigned] == [("remora.n621.de", 1779573024)]
    checkpoint = Checkpoint.from_text(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("arche2025h1.staging.ct.transparency.dev", 1432088532)
    # the log's Ed25519 signature (type 0x01) verifies too; its RFC 6962 signature (0x05) is ignored
    assert verify_checkpoint(CT_CHECKPOINT, parse_vkey(CT_LOG_VKEY)).checkpoint == checkpoint
    altered = CT_CHECKPOINT.replace("1432088532", "1432088533")
    with pytest.raises(NoteError):
        verified_cosignatures(parse_note(altered), [witness])
    # a witness whose cosignature is dated after the verifier's clock bound is refused
    with pytest.raises(NoteError, match="future"):
        verified_cosignatures(note, [witness], max_timestamp=1779573023)


def test_sign_verify_round_trip_and_cosign() -> None:
    log = NoteSigner("registry.example/log", ed25519.Ed25519PrivateKey.generate())
    witness = CosignatureSigner("witness.example/w1", ed25519.Ed25519PrivateKey.generate())
    signed = sign_checkpoint(Checkpoint("registry.example/log", 7, bytes(range(32))), log)
    opened = verify_checkpoint(signed.encode(), log.verifier, origin="registry.example/log")
    assert opened.checkpoint.size == 7
    cosigned = opened.note.with_signature(witness.cosign(opened.note.text, 1_700_000_000))
    text = cosigned.encode()
    assert verify_checkpoint(text, log.verifier).checkpoint.root_hash == bytes(range(32))
    assert verified_cosignatures(parse_note(text), [witness.verifier])[0].timestamp == 1_700_000_000
    assert parse_vkey(witness.verifier.vkey()) == witness.verifier
    with pytest.raises(NoteError, match="origin"):
        verify_checkpoint(signed.encode(), log.verifier, origin="other.example/log")
    other = NoteSigner("registry.example/log", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        verify_checkpoint(signed.encode(), other.verifier)  # same name, different key: not trusted


def test_a_known_key_with_a_bad_signature_rejects_the_note() -> None:
    log = NoteSigner("log.example", ed25519.Ed25519PrivateKey.generate())
    note = Note("hello\n", (log.sign("hello\n"),))
    forged = Note("hello\n", (log.sign("hello\n").__class__(log.name, log.verifier.key_id, bytes(64)),))
    assert open_note(note, [log.verifier])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, [log.verifier])


@pytest.mark.parametrize(
    "text",
    [
        "origin\n5\n",  # no root line
        "origin\n05\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # leading zero
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n5\nAAAA\n",  # root not 32 bytes
        "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # no final newline
        "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",  # empty extension line
    ],
)
def test_malformed_checkpoint_text(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.from_text(text)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # truncated
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "PeterNeumann",
    ],
)
def test_mangled_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_property_arbitrary_notes_parse_or_raise_note_error(data: bytes | str) -> None:
    try:
        note = parse_note(data)
    except NoteError:
        return
    assert note.text.endswith("\n")
    try:
        Checkpoint.from_text(note.text)
    except NoteError:
        pass


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(GO_NOTE.encode()) - 1), st.integers(0, 255))
def test_property_flipped_bytes_never_verify(position: int, value: int) -> None:
    raw = bytearray(GO_NOTE.encode())
    if raw[position] == value:
        return
    raw[position] = value
    try:
        note = parse_note(bytes(raw))
        open_note(note, [parse_vkey(GO_VKEY)])
    except NoteError:
        return
    pytest.fail("a note with a flipped byte verified")
