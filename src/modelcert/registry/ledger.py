"""The registry's operations: validate a write, then record it and its log entry in one transaction.

Authorisation decisions that need registry state live here too (a certificate must be signed by a
registered, active certifier; a line is changed only by its publisher or an admin), so every front end
(HTTP service, tests, tools) gets the same rules. Who the caller *is* (request signature, admin token)
is established by the service before it calls in: `Actor`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from modelcert.certificate.dsse import Envelope, EnvelopeError, check_signatures
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.jurisdictions import check_jurisdiction
from modelcert.certificate.keys import KeyFileError, SigningKey, VerifyingKey
from modelcert.certificate.statement import Statement
from modelcert.errors import ModelcertError
from modelcert.registry import Conflict, Forbidden, Invalid, NotFound
from modelcert.registry import entries as E
from modelcert.registry.checkpoint import (
    Checkpoint,
    CosignatureVerifier,
    NoteError,
    NoteSigner,
    parse_note,
    sign_checkpoint,
)
from modelcert.registry.clock import Clock, format_time, utc_now
from modelcert.registry.currency import DEFAULT_LIFETIME, build_statement, sign_statement
from modelcert.registry.feed import Feed, FeedEntry, FeedError, build_feed, check_entry_fields, sign_feed
from modelcert.registry.lines import LineState, NewRelease, StatusChange, add_release, change_status, new_line
from modelcert.registry.log import MerkleTree, ProofError
from modelcert.registry.records import (
    ROLES,
    CertificateRecord,
    CheckpointRecord,
    FeedRecord,
    KeyRecord,
    LogEntryRecord,
)
from modelcert.registry.store import Store

IN_TOTO = "application/vnd.in-toto+json"
REVOCATION_REASONS = (
    "key-compromise",
    "certification-withdrawn",
    "superseded",
    "affiliation-changed",
    "error",
)


@dataclass(frozen=True)
class Actor:
    """Who is calling: a registered key, or the admin (bootstrap token)."""

    key: KeyRecord | None = None
    admin: bool = False

    @property
    def label(self) -> str:
        return "admin" if self.admin else (self.key.key_id if self.key else "anonymous")

    def key_ids(self) -> list[str]:
        return [self.key.key_id] if self.key else []


@dataclass(frozen=True)
class QuorumPolicy:
    """The registry's default quorum for its pages (verifiers apply their own trust file)."""

    min_certifiers: int = 1
    min_jurisdictions: int = 1


@dataclass(frozen=True)
class QuorumStatus:
    passed: list[tuple[str, str]]  # (certifier name, jurisdiction)
    failed: list[tuple[str, str]]
    jurisdictions: list[str]
    required_certifiers: int
    required_jurisdictions: int

    @property
    def met(self) -> bool:
        return (
            len(self.passed) >= self.required_certifiers
            and len(self.jurisdictions) >= self.required_jurisdictions
            and len(self.failed) < len(self.passed)
        )


class Ledger:
    """One registry: a store, the registry key (signs checkpoints, currency statements, the feed)."""

    def __init__(
        self,
        store: Store,
        registry_key: SigningKey,
        origin: str,
        *,
        clock: Clock = utc_now,
        currency_lifetime: timedelta = DEFAULT_LIFETIME,
        quorum: QuorumPolicy | None = None,
    ) -> None:
        private = registry_key.private_key
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise ModelcertError("the registry key must be Ed25519 (it signs C2SP checkpoints)")
        self.store = store
        self.key = registry_key
        self.origin = origin
        self.clock = clock
        self.currency_lifetime = currency_lifetime
        self.quorum = quorum or QuorumPolicy()
        self.note_signer = NoteSigner(origin, private)
        self._tree = MerkleTree()
        self._tree_lock = threading.Lock()

    # -- keys ----------------------------------------------------------------------------------------

    def register_key(
        self, actor: Actor, public_pem: str, role: str, name: str, jurisdiction: str | None
    ) -> tuple[KeyRecord, LogEntryRecord]:
        if not actor.admin:
            raise Forbidden("only the admin registers keys")
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}")
        if not name or len(name) > 256 or not name.isprintable() or (role == "witness" and " " in name):
            raise Invalid("name must be a short printable label (a witness name has no spaces)")
        try:
            key = VerifyingKey.from_pem(public_pem.encode("ascii"))
        except (KeyFileError, UnicodeEncodeError) as exc:
            raise Invalid(f"publicKeyPem: {exc}") from None
        if role == "witness" and key.algorithm != "ed25519":
            raise Invalid("a witness key must be Ed25519 (C2SP cosignature/v1)")
        if role == "certifier" or jurisdiction is not None:
            try:
                jurisdiction = check_jurisdiction(jurisdiction)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
        now = self.clock()
        record = KeyRecord(
            key.key_id, role, name, jurisdiction, key.algorithm, key.public_pem(), True, format_time(now)
        )
        entry = E.key_entry(
            at=now,
            action="add",
            key_id=key.key_id,
            role=role,
            name=name,
            jurisdiction=jurisdiction,
            by=actor.label,
        )
        logged = self.store.add_key(record, entry)
        return record, logged

    def set_key_active(self, actor: Actor, key_id: str, active: bool) -> LogEntryRecord:
        if not actor.admin:
            raise Forbidden("only the admin deactivates keys")
        record = self.store.get_key(key_id)
        if record is None:
            raise NotFound(f"no key {key_id[:16]}…")
        entry = E.key_entry(
            at=self.clock(),
            action="activate" if active else "deactivate",
            key_id=key_id,
            role=record.role,
            name=record.name,
            jurisdiction=record.jurisdiction,
            by=actor.label,
        )
        return self.store.set_key_active(key_id, active, entry)

    def active_key(self, key_id: str) -> KeyRecord | None:
        record = self.store.get_key(key_id)
        return record if record is not None and record.active else None

    # -- certificates -----------------------------------------------------------------------------

    def publish_certificate(
        self, actor: Actor, envelope_doc: Mapping[str, Any]
    ) -> tuple[CertificateRecord, LogEntryRecord]:
        if actor.key is None and not actor.admin:
            raise Forbidden("publishing needs a registered key")
        try:
            envelope = Envelope.from_dict(envelope_doc)
        except EnvelopeError as exc:
            raise Invalid(f"envelope: {exc}") from None
        if envelope.payload_type != IN_TOTO:
            raise Invalid(f"payloadType must be {IN_TOTO}")
        certifiers = {k.key_id: k for k in self.store.list_keys("certifier") if k.active}
        trusted = [VerifyingKey.from_pem(k.public_pem.encode("ascii")) for k in certifiers.values()]
        checks = check_signatures(envelope, trusted)
        if any(c.status == "invalid" for c in checks):
            raise Forbidden("a signature by a registered certifier does not verify: the payload was altered")
        signers = [c.keyid for c in checks if c.status == "valid"]
        if not signers:
            raise Forbidden("the certificate is not signed by a registered, active certifier")
        try:
            statement = Statement.from_payload(envelope.payload)
        except ModelcertError as exc:
            raise Invalid(f"certificate statement: {exc}") from None
        predicate = statement.predicate
        issuer_key = predicate.issuer.key_id if predicate.issuer.key_id in signers else signers[0]
        issuer = certifiers[issuer_key]
        now = self.clock()
        envelope_sha = hashlib.sha256(canonicalize(envelope.to_dict())).hexdigest()
        summary = {
            "findings": predicate.summary,
            "riskRating": predicate.risk_rating,
            "levels": list(predicate.levels),
            "policy": f"{predicate.policy.id} v{predicate.policy.version}",
            "signers": sorted(signers),
            "validUntil": format_time(predicate.valid_until),
            "issuerName": predicate.issuer.name,
        }
        record = CertificateRecord(
            envelope_sha256=envelope_sha,
            payload_sha256=hashlib.sha256(envelope.payload).hexdigest(),
            subject_digest=statement.subject_digest,
            subject_name=statement.subject_name,
            line=predicate.model.line,
            model_version=predicate.model.version,
            certifier_key_id=issuer.key_id,
            jurisdiction=issuer.jurisdiction,
            result=predicate.result,
            certificate_id=predicate.certificate_id,
            issued_at=format_time(predicate.issued_at),
            summary=summary,
            envelope_json=json.dumps(envelope.to_dict(), sort_keys=True),
            created_at=format_time(now),
        )
        entry = E.certificate_entry(
            at=now,
            envelope_sha256=envelope_sha,
            payload_sha256=record.payload_sha256,
            subject_digests=[statement.subject_digest],
            signer_key_ids=signers,
            line=predicate.model.line,
            public_summary={
                "certificateId": predicate.certificate_id,
                "result": predicate.result,
                "jurisdictions": sorted({certifiers[s].jurisdiction or "" for s in signers}),
                "findings": predicate.summary,
            },
        )
        logged = self.store.add_certificate(record, entry)
        return record, logged

    def revoke_certificate(self, actor: Actor, envelope_sha256: str, reason: str) -> LogEntryRecord:
        record = self.store.get_certificate(envelope_sha256)
        if record is None:
            raise NotFound("no such certificate")
        if reason not in REVOCATION_REASONS:
            raise Invalid(f"reason must be one of {', '.join(REVOCATION_REASONS)}")
        signers = record.summary.get("signers", [record.certifier_key_id])
        if not actor.admin and (actor.key is None or actor.key.key_id not in signers):
            raise Forbidden("only a certifier that signed the certificate (or the admin) may revoke it")
        entry = E.revocation_entry(
            at=self.clock(),
            envelope_sha256=envelope_sha256,
            subject_digests=[record.subject_digest],
            reason=reason,
            signer_key_ids=actor.key_ids(),
        )
        return self.store.revoke_certificate(envelope_sha256, reason, entry)

    def quorum_status(self, certificates: list[CertificateRecord]) -> QuorumStatus:
        votes: dict[str, tuple[str, str, bool]] = {}
        for cert in certificates:
            if cert.revoked_reason is not None:
                continue
            for signer in cert.summary.get("signers", [cert.certifier_key_id]):
                key = self.store.get_key(signer)
                if key is None or not key.active:
                    continue
                ok = cert.result != "FAILED"
                # one vote per certifier; a certifier that also said FAILED casts a FAILED vote
                if signer not in votes or not ok:
                    votes[signer] = (key.name, key.jurisdiction or "", ok)
        passed = [(n, j) for n, j, ok in votes.values() if ok]
        failed = [(n, j) for n, j, ok in votes.values() if not ok]
        return QuorumStatus(
            passed,
            failed,
            sorted({j for _, j in passed}),
            self.quorum.min_certifiers,
            self.quorum.min_jurisdictions,
        )

    # -- lines ------------------------------------------------------------------------------------

    def _may_change(self, actor: Actor, state: LineState) -> None:
        if actor.admin:
            return
        if actor.key is None or actor.key.key_id != state.publisher_key_id:
            raise Forbidden(f"only the publisher of {state.line} (or the admin) may change it")

    def declare_release(
        self, actor: Actor, line: str, release: NewRelease, publisher_key_id: str | None = None
    ) -> tuple[LineState, LogEntryRecord]:
        """Add a release; the first release by a publisher key claims an unclaimed line."""
        if not actor.admin and (actor.key is None or actor.key.role != "publisher"):
            raise Forbidden("only a registered publisher (or the admin) declares releases")
        owner = publisher_key_id if actor.admin else actor.key.key_id if actor.key else None
        now = self.clock()

        def mutate(state: LineState | None) -> tuple[LineState, Mapping[str, Any]]:
            if state is None:
                if owner is None or self.active_key(owner) is None:
                    raise Invalid("a new line needs an active publisher key (publisherKeyId)")
                state = new_line(line, owner)
            self._may_change(actor, state)
            next_state, change = add_release(state, release, now)
            return next_state, self._line_entry(next_state, change, actor)

        return self.store.update_line(line, mutate)

    def change_status(
        self, actor: Actor, line: str, change: StatusChange
    ) -> tuple[LineState, LogEntryRecord]:
        now = self.clock()

        def mutate(state: LineState | None) -> tuple[LineState, Mapping[str, Any]]:
            if state is None:
                raise NotFound(f"no line {line}")
            self._may_change(actor, state)
            next_state, logged = change_status(state, change, now)
            return next_state, self._line_entry(next_state, logged, actor)

        return self.store.update_line(line, mutate)

    def _line_entry(self, state: LineState, change: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        return E.line_status_entry(
            at=self.clock(),
            line=state.line,
            line_status_version=state.version,
            line_status_digest=state.digest(),
            change={**change, "by": actor.label},
            signer_key_ids=actor.key_ids(),
        )

    def currency(self, root_digest: str, line: str | None = None) -> Envelope:
        """A freshly signed currency statement for a release digest."""
        states = self.store.lines_for_digest(root_digest)
        if line is not None:
            states = [s for s in states if s.line == line]
        if not states:
            raise NotFound(f"no release with root digest {root_digest[:16]}… is registered")
        if len(states) > 1:
            raise Conflict("the digest is a release of several lines: " + ", ".join(s.line for s in states))
        state = states[0]
        release = state.by_digest(root_digest)
        assert release is not None  # lines_for_digest only returns lines holding it
        statement = build_statement(
            state, release, registry=self.origin, checked_at=self.clock(), lifetime=self.currency_lifetime
        )
        return sign_statement(statement, self.key)

    # -- feed -------------------------------------------------------------------------------------

    def report_known_bad(
        self, actor: Actor, sha256: str, rule_id: str, *, severity: str, commitment: str, scope: str
    ) -> LogEntryRecord:
        if actor.key is None or actor.key.role != "certifier":
            raise Forbidden("only a registered certifier reports known-bad digests")
        try:
            fields = check_entry_fields(sha256, rule_id, severity, commitment, scope)
        except FeedError as exc:
            raise Invalid(str(exc)) from None
        now = self.clock()
        record = FeedRecord(
            sha256, rule_id, fields.severity.label, commitment, scope, actor.key.key_id, format_time(now)
        )
        entry = E.known_bad_entry(
            at=now,
            sha256=sha256,
            rule_id=rule_id,
            severity=fields.severity.label,
            commitment=commitment,
            reporter_key_id=actor.key.key_id,
        )
        entry["scope"] = scope
        return self.store.add_feed_entry(record, entry)

    def feed(self) -> Feed:
        entries = []
        for r in self.store.feed_entries():
            checked = check_entry_fields(r.sha256, r.rule_id, r.severity, r.commitment, r.scope)
            entries.append(
                FeedEntry(r.sha256, r.rule_id, checked.severity, r.commitment, r.scope, r.log_index)
            )
        return build_feed(entries, self.origin, self.clock())

    def signed_feed(self) -> Envelope:
        return sign_feed(self.feed(), self.key)

    # -- log --------------------------------------------------------------------------------------

    def _sync(self) -> int:
        """Bring the in-memory tree up to the store's log; returns the size. Caller holds _tree_lock."""
        size = self.store.log_size()
        if size > self._tree.size:
            self._tree.extend(self.store.leaf_hashes(self._tree.size, size))
        return size

    def checkpoint(self, size: int | None = None, *, save: bool = True) -> CheckpointRecord:
        """The signed checkpoint at `size` (default: the current size), stored on first request.

        Ed25519 is deterministic, so a checkpoint handed out unsaved (`save=False`, in publish answers)
        is byte-identical to the one stored later for the same size.
        """
        with self._tree_lock:
            current = self._sync()
            size = current if size is None else size
            root = self._tree.root(size)
        existing = self.store.get_checkpoint(size)
        if existing is not None:
            return existing
        signed = sign_checkpoint(Checkpoint(self.origin, size, root), self.note_signer)
        record = CheckpointRecord(size, root, signed.encode(), format_time(self.clock()))
        if not save:
            return record
        self.store.save_checkpoint(record)
        saved = self.store.get_checkpoint(size)
        assert saved is not None
        return saved

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with self._tree_lock:
            self._sync()
            return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._tree_lock:
            self._sync()
            return self._tree.consistency_proof(old_size, new_size)

    def add_cosignature(self, actor: Actor, note_text: str) -> CheckpointRecord:
        """Store a witness's cosignature on a checkpoint this log signed."""
        if actor.key is None or actor.key.role != "witness":
            raise Forbidden("only a registered witness key cosigns checkpoints")
        try:
            note = parse_note(note_text)
            checkpoint = Checkpoint.from_text(note.text)
        except NoteError as exc:
            raise Invalid(f"cosigned checkpoint: {exc}") from None
        try:
            stored = self.checkpoint(checkpoint.size)
        except ProofError:
            raise Invalid("this log never signed that checkpoint (it is beyond the log's size)") from None
        if parse_note(stored.note).text != note.text:
            raise Invalid("this log never signed that checkpoint")
        public = VerifyingKey.from_pem(actor.key.public_pem.encode("ascii")).public_key
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise Invalid("a witness key must be Ed25519")
        verifier = CosignatureVerifier.create(actor.key.name, public)
        mine = [s for s in note.signatures if (s.name, s.key_id) == (verifier.name, verifier.key_id)]
        if not mine:
            raise Invalid(f"no cosignature line by witness {verifier.name}")
        timestamp = verifier.timestamp(note.text, mine[-1])
        if timestamp is None:
            raise Forbidden("the cosignature does not verify with the witness key")
        if timestamp > int(self.clock().timestamp()) + 300:
            raise Invalid("the cosignature is dated in the future")
        self.store.add_cosignature(checkpoint.size, actor.key.key_id, mine[-1].line(), timestamp)
        saved = self.store.get_checkpoint(checkpoint.size)
        assert saved is not None
        return saved
