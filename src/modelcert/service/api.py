"""The JSON API (`/v1/...`). Handlers are thin: parse → ledger call → JSON. Hashes are lowercase hex;
checkpoints are C2SP signed-note text (`text/plain`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse

from modelcert.registry import NotFound
from modelcert.registry.ledger import Actor, Ledger
from modelcert.registry.lines import NewRelease, StatusChange, check_line
from modelcert.registry.log import ProofError
from modelcert.registry.records import LogEntryRecord
from modelcert.service import bodies as B
from modelcert.service.security import authenticate

router = APIRouter(prefix="/v1")
Writer = Annotated[Actor, Depends(authenticate)]
Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]
MAX_ENTRIES_PAGE = 1000
MAX_SIZE = 2**53 - 1


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.guard.ledger
    return ledger


def _logged(entry: LogEntryRecord) -> dict[str, Any]:
    return {"logIndex": entry.index, "leafHash": entry.leaf_hash.hex()}


def _proof_bundle(ledger: Ledger, entry: LogEntryRecord) -> dict[str, Any]:
    """Inclusion proof of a fresh entry against a checkpoint that covers it (for certificate packs)."""
    checkpoint = ledger.checkpoint(save=False)
    hashes = ledger.inclusion_proof(entry.index, checkpoint.size)
    return {
        **_logged(entry),
        "inclusionProof": {
            "logIndex": entry.index,
            "treeSize": checkpoint.size,
            "rootHash": checkpoint.root_hash.hex(),
            "hashes": [h.hex() for h in hashes],
            "checkpoint": checkpoint.full_note(),
        },
    }


# -- registry identity ----------------------------------------------------------------------------


@router.get("/info")
def info(request: Request) -> dict[str, Any]:
    """The registry's origin, its log verifier key and its public key (pin these)."""
    ledger = _ledger(request)
    return {
        "origin": ledger.origin,
        "logVerifierKey": ledger.note_signer.verifier.vkey(),
        "registryKeyId": ledger.key.key_id,
        "registryPublicKeyPem": ledger.key.verifying.public_pem(),
    }


# -- keys -------------------------------------------------------------------------------------------


@router.post("/admin/keys", status_code=201)
def register_key(body: B.RegisterKey, actor: Writer, request: Request) -> dict[str, Any]:
    record, entry = _ledger(request).register_key(
        actor, body.publicKeyPem, body.role, body.name, body.jurisdiction
    )
    return {"key": record.public_dict() | {"logIndex": entry.index}, **_logged(entry)}


@router.post("/admin/keys/{key_id}/deactivate")
def deactivate_key(key_id: Digest, actor: Writer, request: Request) -> dict[str, Any]:
    return _logged(_ledger(request).set_key_active(actor, key_id, False))


@router.get("/keys")
def list_keys(
    request: Request, role: Annotated[str | None, Query(pattern=r"^(certifier|publisher|witness)$")] = None
) -> dict[str, Any]:
    return {"keys": [k.public_dict() for k in _ledger(request).store.list_keys(role)]}


# -- certificates -----------------------------------------------------------------------------------


@router.post("/certificates", status_code=201)
def publish_certificate(body: B.PublishCertificate, actor: Writer, request: Request) -> dict[str, Any]:
    ledger = _ledger(request)
    record, entry = ledger.publish_certificate(actor, body.envelope.model_dump())
    return {"certificate": record.public_dict() | {"logIndex": entry.index}, **_proof_bundle(ledger, entry)}


@router.get("/certificates/{envelope_sha256}")
def get_certificate(envelope_sha256: Digest, request: Request) -> dict[str, Any]:
    record = _ledger(request).store.get_certificate(envelope_sha256)
    if record is None:
        raise NotFound("no such certificate")
    return record.public_dict(with_envelope=True)


@router.post("/certificates/{envelope_sha256}/revocation")
def revoke_certificate(
    envelope_sha256: Digest, body: B.RevokeCertificate, actor: Writer, request: Request
) -> dict[str, Any]:
    return _logged(_ledger(request).revoke_certificate(actor, envelope_sha256, body.reason))


@router.get("/models/{digest}")
def model(digest: Digest, request: Request) -> dict[str, Any]:
    """Everything about one root digest: certificates, the lines holding it, quorum."""
    ledger = _ledger(request)
    certificates = ledger.store.certificates_for(digest)
    quorum = ledger.quorum_status(certificates)
    lines = ledger.store.lines_for_digest(digest)
    return {
        "rootDigest": digest,
        "certificates": [c.public_dict() for c in certificates],
        "lines": [
            {"line": s.line, "lineStatusVersion": s.version, "release": r.to_dict()}
            for s in lines
            if (r := s.by_digest(digest)) is not None
        ],
        "quorum": {
            "met": quorum.met,
            "passed": [{"certifier": n, "jurisdiction": j} for n, j in quorum.passed],
            "failed": [{"certifier": n, "jurisdiction": j} for n, j in quorum.failed],
            "jurisdictions": quorum.jurisdictions,
            "requiredCertifiers": quorum.required_certifiers,
            "requiredJurisdictions": quorum.required_jurisdictions,
        },
    }


@router.get("/models/{digest}/currency")
def currency(
    digest: Digest,
    request: Request,
    line: Annotated[str | None, Query(max_length=256)] = None,
) -> dict[str, Any]:
    """A freshly signed, short-lived currency statement (DSSE envelope) to staple or verify."""
    envelope = _ledger(request).currency(digest, line)
    return envelope.to_dict()


# -- lines ------------------------------------------------------------------------------------------


@router.post("/releases", status_code=201)
def declare_release(body: B.DeclareRelease, actor: Writer, request: Request) -> dict[str, Any]:
    release = NewRelease(
        body.sequence, body.version, body.rootDigest, body.revision, body.status, body.supersedeReason
    )
    state, entry = _ledger(request).declare_release(
        actor, check_line(body.line), release, body.publisherKeyId
    )
    return {"line": state.document(), **_logged(entry)}


@router.post("/status-changes")
def change_status(body: B.ChangeStatus, actor: Writer, request: Request) -> dict[str, Any]:
    change = StatusChange(body.sequence, body.status, body.reason, body.successor)
    state, entry = _ledger(request).change_status(actor, check_line(body.line), change)
    return {"line": state.document(), **_logged(entry)}


@router.get("/lines")
def get_line(line: Annotated[str, Query(min_length=5, max_length=256)], request: Request) -> dict[str, Any]:
    """The current line-status document (query parameter: a line has slashes)."""
    state = _ledger(request).store.get_line(line)
    if state is None:
        raise NotFound(f"no line {line}")
    return {**state.document(), "lineStatusDigest": state.digest()}


@router.get("/search")
def search(q: Annotated[str, Query(min_length=1, max_length=256)], request: Request) -> dict[str, Any]:
    ledger = _ledger(request)
    lines = ledger.store.search_lines(q.strip(), 50)
    certificates = (
        ledger.store.certificates_for(q.strip().lower()) if re.fullmatch(r"[0-9a-fA-F]{64}", q) else []
    )
    return {"lines": [s.document() for s in lines], "certificates": [c.public_dict() for c in certificates]}


# -- known-bad feed ---------------------------------------------------------------------------------


@router.get("/feed")
def feed(request: Request) -> dict[str, Any]:
    """The known-bad feed, signed by the registry key (DSSE)."""
    return _ledger(request).signed_feed().to_dict()


@router.post("/feed", status_code=201)
def report_known_bad(body: B.ReportKnownBad, actor: Writer, request: Request) -> dict[str, Any]:
    entry = _ledger(request).report_known_bad(
        actor, body.sha256, body.ruleId, severity=body.severity, commitment=body.commitment, scope=body.scope
    )
    return _logged(entry)


# -- transparency log --------------------------------------------------------------------------------


@router.get("/log/checkpoint", response_class=PlainTextResponse)
def checkpoint(request: Request) -> PlainTextResponse:
    """The latest checkpoint as a C2SP signed note, with witness cosignatures."""
    record = _ledger(request).checkpoint()
    return PlainTextResponse(record.full_note(), media_type="text/plain; charset=utf-8")


@router.get("/log/entries")
def entries(
    request: Request,
    start: Annotated[int, Query(ge=0, le=MAX_SIZE)] = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_SIZE)] = None,
) -> dict[str, Any]:
    store = _ledger(request).store
    stop = min(end if end is not None else start + 100, start + MAX_ENTRIES_PAGE)
    return {"entries": [e.public_dict() for e in store.log_entries(start, stop)]}


@router.get("/log/proof/inclusion")
def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, le=MAX_SIZE)],
    size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` (default: the latest checkpoint)."""
    ledger = _ledger(request)
    note = None
    if size is None:
        latest = ledger.checkpoint()
        size, note = latest.size, latest.full_note()
    try:
        hashes = ledger.inclusion_proof(index, size)
    except ProofError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    leaf = ledger.store.leaf_hashes(index, index + 1)[0]
    out: dict[str, Any] = {
        "logIndex": index,
        "treeSize": size,
        "leafHash": leaf.hex(),
        "hashes": [h.hex() for h in hashes],
    }
    if note is not None:
        out["checkpoint"] = note
    return out


@router.get("/log/proof/consistency")
def consistency(
    request: Request,
    old: Annotated[int, Query(ge=0, le=MAX_SIZE)],
    new: Annotated[int, Query(ge=0, le=MAX_SIZE)],
) -> dict[str, Any]:
    """RFC 9162 consistency proof between two tree sizes."""
    try:
        hashes = _ledger(request).consistency_proof(old, new)
    except ProofError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"oldSize": old, "newSize": new, "hashes": [h.hex() for h in hashes]}


@router.post("/log/cosignatures")
def cosign(body: B.Cosign, actor: Writer, request: Request) -> dict[str, Any]:
    """A witness hands back the checkpoint with its cosignature line added."""
    record = _ledger(request).add_cosignature(actor, body.checkpoint)
    return {"treeSize": record.size, "checkpoint": record.full_note()}
