"""Server-rendered HTML pages (Jinja2, autoescaped, no JavaScript): search lines and models, a model's
certificates with findings summary, certifiers and jurisdictions, quorum, currency, log inclusion,
revocations and the latest checkpoint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from modelcert import __version__
from modelcert.registry import RegistryError
from modelcert.registry.currency import verify_statement
from modelcert.registry.ledger import Ledger
from modelcert.registry.log import ProofError, verify_inclusion

router = APIRouter(include_in_schema=False)
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
RECENT = 20


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.guard.ledger
    return ledger


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(name).render(version=__version__, **context)
    return HTMLResponse(html, status_code=status)


def _not_found(message: str) -> HTMLResponse:
    return _render("error.html", 404, title="Not found", message=message)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    ledger = _ledger(request)
    checkpoint = ledger.checkpoint()
    return _render(
        "index.html",
        title="modelcert registry",
        origin=ledger.origin,
        checkpoint=checkpoint,
        certificates=ledger.store.recent_certificates(RECENT),
        lines=ledger.store.search_lines("", RECENT),
    )


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: Annotated[str, Query(max_length=256)] = "") -> HTMLResponse:
    ledger = _ledger(request)
    query = q.strip()
    digest = query.lower().removeprefix("sha256:")
    certificates = ledger.store.certificates_for(digest) if _HEX64.match(digest) else []
    lines = ledger.store.search_lines(digest if _HEX64.match(digest) else query, 100) if query else []
    return _render(
        "search.html",
        title=f"Search: {query}",
        q=query,
        lines=lines,
        certificates=certificates,
        digest=digest if _HEX64.match(digest) else None,
    )


@router.get("/models/{digest}", response_class=HTMLResponse)
def model(request: Request, digest: str) -> HTMLResponse:
    if not _HEX64.match(digest):
        return _not_found("a model is named by its 64-hex root digest")
    ledger = _ledger(request)
    certificates = ledger.store.certificates_for(digest)
    states = ledger.store.lines_for_digest(digest)
    if not certificates and not states:
        return _not_found(f"nothing is registered for sha256:{digest}")
    keys = {k.key_id: k for k in ledger.store.list_keys()}
    currency = []
    for state in states:
        try:
            envelope = ledger.currency(digest, state.line)
            result = verify_statement(
                envelope, ledger.key.verifying, ledger.clock(), None, None, expected_digest=digest
            )
            currency.append(
                {
                    "line": state.line,
                    "text": result.describe(),
                    "status": result.status,
                    "expires": result.expires,
                    "version": result.line_status_version,
                }
            )
        except RegistryError as exc:
            currency.append({"line": state.line, "text": exc.diagnostics(), "status": "unknown"})
    return _render(
        "model.html",
        title=f"Model sha256:{digest[:16]}…",
        digest=digest,
        certificates=certificates,
        keys=keys,
        quorum=ledger.quorum_status(certificates),
        currency=currency,
        states=states,
    )


@router.get("/line", response_class=HTMLResponse)
def line(request: Request, name: Annotated[str, Query(max_length=256)] = "") -> HTMLResponse:
    ledger = _ledger(request)
    state = ledger.store.get_line(name)
    if state is None:
        return _not_found(f"no line {name}")
    publisher = ledger.store.get_key(state.publisher_key_id)
    releases = sorted(state.releases, key=lambda r: -r.sequence)
    return _render(
        "line.html",
        title=state.line,
        state=state,
        releases=releases,
        publisher=publisher,
        by_sequence={r.sequence: r for r in state.releases},
    )


@router.get("/certifiers", response_class=HTMLResponse)
def certifiers(request: Request) -> HTMLResponse:
    keys = _ledger(request).store.list_keys()
    jurisdictions = sorted(
        {k.jurisdiction for k in keys if k.role == "certifier" and k.jurisdiction and k.active}
    )
    return _render("certifiers.html", title="Certifiers and keys", keys=keys, jurisdictions=jurisdictions)


@router.get("/revocations", response_class=HTMLResponse)
def revocations(request: Request) -> HTMLResponse:
    ledger = _ledger(request)
    withdrawn = [
        (state, release)
        for state in ledger.store.search_lines("", 1000)
        for release in state.releases
        if release.status in ("revoked", "yanked", "superseded")
    ]
    return _render(
        "revocations.html",
        title="Revocations",
        certificates=ledger.store.revoked_certificates(200),
        releases=withdrawn,
    )


@router.get("/log", response_class=HTMLResponse)
def log(request: Request) -> HTMLResponse:
    ledger = _ledger(request)
    checkpoint = ledger.checkpoint()
    start = max(0, checkpoint.size - RECENT)
    entries = list(reversed(ledger.store.log_entries(start, checkpoint.size)))
    return _render(
        "log.html",
        title="Transparency log",
        checkpoint=checkpoint,
        entries=entries,
        vkey=ledger.note_signer.verifier.vkey(),
    )


@router.get("/log/entries/{index}", response_class=HTMLResponse)
def entry(request: Request, index: int) -> HTMLResponse:
    ledger = _ledger(request)
    checkpoint = ledger.checkpoint()
    if not 0 <= index < checkpoint.size:
        return _not_found(f"the log has no entry {index}")
    record = ledger.store.log_entries(index, index + 1)[0]
    hashes = ledger.inclusion_proof(index, checkpoint.size)
    try:
        verify_inclusion(index, checkpoint.size, record.leaf_hash, hashes, checkpoint.root_hash)
        verified = True
    except ProofError:
        verified = False
    return _render(
        "entry.html",
        title=f"Log entry {index}",
        record=record,
        entry=record.public_dict()["entry"],
        checkpoint=checkpoint,
        hashes=hashes,
        verified=verified,
    )
