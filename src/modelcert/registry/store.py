"""Persistence: the `Store` protocol and its SQLAlchemy implementation (SQLite file or PostgreSQL URL).

Every write that the log must record goes through one method that, in ONE transaction, locks the log
head row, applies the change, appends the entry at index = size and bumps the size. A crash (even
SIGKILL) therefore leaves either all of it or none of it, and appends are totally ordered on both
backends: PostgreSQL through `SELECT … FOR UPDATE` on the head row, SQLite through `BEGIN IMMEDIATE`
(one writer at a time) plus a process lock so threads queue instead of spinning on SQLITE_BUSY.

The schema is created and upgraded by alembic migrations (`database.migrate`) run in `open_store`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from modelcert.registry import Conflict, NotFound, RegistryError
from modelcert.registry import schema as t
from modelcert.registry.clock import format_time, utc_now
from modelcert.registry.database import create_store_engine, migrate
from modelcert.registry.entries import encode
from modelcert.registry.lines import LineState, state_from_document
from modelcert.registry.log import leaf_hash
from modelcert.registry.records import (
    CertificateRecord,
    CheckpointRecord,
    FeedRecord,
    KeyRecord,
    LogEntryRecord,
)
from modelcert.registry.rows import certificate_from_row, certificate_values, key_from_row, key_values

LineMutation = Callable[[LineState | None], tuple[LineState, Mapping[str, Any]]]
MAX_PAGE = 1000


class StoreError(RegistryError):
    """The database is unreachable or its schema cannot be brought up to date."""


class Store(Protocol):
    """What the ledger needs from persistence. Writes that return a LogEntryRecord appended it atomically."""

    def close(self) -> None: ...

    def log_size(self) -> int: ...
    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...
    def log_entries(self, start: int, end: int) -> list[LogEntryRecord]: ...

    def add_key(self, record: KeyRecord, entry: Mapping[str, Any]) -> LogEntryRecord: ...
    def set_key_active(self, key_id: str, active: bool, entry: Mapping[str, Any]) -> LogEntryRecord: ...
    def add_certificate(self, record: CertificateRecord, entry: Mapping[str, Any]) -> LogEntryRecord: ...
    def revoke_certificate(
        self, envelope_sha256: str, reason: str, entry: Mapping[str, Any]
    ) -> LogEntryRecord: ...
    def update_line(self, line: str, mutate: LineMutation) -> tuple[LineState, LogEntryRecord]: ...
    def add_feed_entry(self, record: FeedRecord, entry: Mapping[str, Any]) -> LogEntryRecord: ...

    def use_nonce(self, key_id: str, nonce: str, expires_at: int, now: int) -> bool: ...

    def save_checkpoint(self, record: CheckpointRecord) -> None: ...
    def get_checkpoint(self, size: int) -> CheckpointRecord | None: ...
    def latest_checkpoint(self) -> CheckpointRecord | None: ...
    def add_cosignature(
        self, size: int, witness_key_id: str, signature_line: str, timestamp: int
    ) -> None: ...

    def get_key(self, key_id: str) -> KeyRecord | None: ...
    def list_keys(self, role: str | None = None) -> list[KeyRecord]: ...
    def get_certificate(self, envelope_sha256: str) -> CertificateRecord | None: ...
    def certificates_for(self, subject_digest: str) -> list[CertificateRecord]: ...
    def recent_certificates(self, limit: int) -> list[CertificateRecord]: ...
    def revoked_certificates(self, limit: int) -> list[CertificateRecord]: ...
    def get_line(self, line: str) -> LineState | None: ...
    def search_lines(self, query: str, limit: int) -> list[LineState]: ...
    def lines_for_digest(self, root_digest: str) -> list[LineState]: ...
    def feed_entries(self) -> list[FeedRecord]: ...


def open_store(url: str) -> SqlStore:
    """Connect, migrate, and return the store. SQLite paths are created; PostgreSQL must exist."""
    try:
        store = SqlStore(create_store_engine(url))
        migrate(store.engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the registry database: {type(exc).__name__}: {exc}") from None
    return store


def _page(start: int, end: int) -> tuple[int, int]:
    start = max(0, start)
    return start, max(start, min(end, start + MAX_PAGE))


class SqlStore:
    """The Store on SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self._sqlite else None

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect().execution_options(modelcert_write=True) as conn, conn.begin():
                yield conn
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def _append(self, conn: Connection, entry: Mapping[str, Any]) -> LogEntryRecord:
        """Append one entry inside the caller's transaction; the head row lock orders appends."""
        size = conn.execute(
            select(t.log_head.c.size).where(t.log_head.c.id == 1).with_for_update()
        ).scalar_one()
        body = encode(entry)
        record = LogEntryRecord(int(size), str(entry["kind"]), leaf_hash(body), body, format_time(utc_now()))
        conn.execute(
            insert(t.log_entries).values(
                idx=record.index,
                kind=record.kind,
                leaf_hash=record.leaf_hash,
                body=body,
                created_at=record.created_at,
            )
        )
        conn.execute(update(t.log_head).where(t.log_head.c.id == 1).values(size=size + 1))
        return record

    def _lock_head(self, conn: Connection) -> None:
        conn.execute(select(t.log_head.c.size).where(t.log_head.c.id == 1).with_for_update()).scalar_one()

    # -- log -----------------------------------------------------------------------------------------

    def log_size(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(t.log_head.c.size).where(t.log_head.c.id == 1)).scalar_one())

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.log_entries.c.idx, t.log_entries.c.leaf_hash)
                .where(t.log_entries.c.idx >= start, t.log_entries.c.idx < end)
                .order_by(t.log_entries.c.idx)
            ).all()
        hashes = [bytes(r.leaf_hash) for r in rows]
        if [r.idx for r in rows] != list(range(start, start + len(rows))):
            raise StoreError("the log has a gap: the database was altered outside the registry")
        return hashes

    def log_entries(self, start: int, end: int) -> list[LogEntryRecord]:
        start, end = _page(start, end)
        with self._read() as conn:
            rows = conn.execute(
                select(t.log_entries)
                .where(t.log_entries.c.idx >= start, t.log_entries.c.idx < end)
                .order_by(t.log_entries.c.idx)
            ).all()
        return [
            LogEntryRecord(int(r.idx), r.kind, bytes(r.leaf_hash), bytes(r.body), r.created_at) for r in rows
        ]

    # -- logged writes ------------------------------------------------------------------------------

    def add_key(self, record: KeyRecord, entry: Mapping[str, Any]) -> LogEntryRecord:
        with self._write() as conn:
            self._lock_head(conn)
            if conn.execute(select(t.keys.c.key_id).where(t.keys.c.key_id == record.key_id)).first():
                raise Conflict(f"key {record.key_id[:16]}… is already registered")
            logged = self._append(conn, entry)
            values = {**key_values(record), "log_index": logged.index}
            conn.execute(insert(t.keys).values(**values))
            return logged

    def set_key_active(self, key_id: str, active: bool, entry: Mapping[str, Any]) -> LogEntryRecord:
        with self._write() as conn:
            self._lock_head(conn)
            row = conn.execute(select(t.keys.c.active).where(t.keys.c.key_id == key_id)).first()
            if row is None:
                raise NotFound(f"no key {key_id[:16]}…")
            if bool(row.active) == active:
                raise Conflict(f"key {key_id[:16]}… is already {'active' if active else 'inactive'}")
            logged = self._append(conn, entry)
            conn.execute(update(t.keys).where(t.keys.c.key_id == key_id).values(active=active))
            return logged

    def add_certificate(self, record: CertificateRecord, entry: Mapping[str, Any]) -> LogEntryRecord:
        with self._write() as conn:
            self._lock_head(conn)
            existing = conn.execute(
                select(t.certificates.c.log_index).where(
                    t.certificates.c.envelope_sha256 == record.envelope_sha256
                )
            ).first()
            if existing is not None:
                raise Conflict(f"certificate already published at log index {existing.log_index}")
            logged = self._append(conn, entry)
            conn.execute(insert(t.certificates).values(**certificate_values(record), log_index=logged.index))
            return logged

    def revoke_certificate(
        self, envelope_sha256: str, reason: str, entry: Mapping[str, Any]
    ) -> LogEntryRecord:
        with self._write() as conn:
            self._lock_head(conn)
            row = conn.execute(
                select(t.certificates.c.revoked_reason).where(
                    t.certificates.c.envelope_sha256 == envelope_sha256
                )
            ).first()
            if row is None:
                raise NotFound("no such certificate")
            if row.revoked_reason is not None:
                raise Conflict(f"certificate already revoked ({row.revoked_reason})")
            logged = self._append(conn, entry)
            conn.execute(
                update(t.certificates)
                .where(t.certificates.c.envelope_sha256 == envelope_sha256)
                .values(revoked_reason=reason, revoked_log_index=logged.index)
            )
            return logged

    def update_line(self, line: str, mutate: LineMutation) -> tuple[LineState, LogEntryRecord]:
        with self._write() as conn:
            self._lock_head(conn)
            row = conn.execute(select(t.lines.c.document_json).where(t.lines.c.line == line)).first()
            current = state_from_document(json.loads(row.document_json)) if row is not None else None
            state, entry = mutate(current)
            logged = self._append(conn, entry)
            values = {
                "publisher_key_id": state.publisher_key_id,
                "status_version": state.version,
                "document_json": json.dumps(state.document(), sort_keys=True),
                "updated_at": state.updated_at or logged.created_at,
            }
            if row is None:
                conn.execute(insert(t.lines).values(line=line, **values))
            else:
                conn.execute(update(t.lines).where(t.lines.c.line == line).values(**values))
            conn.execute(delete(t.releases).where(t.releases.c.line == line))
            if state.releases:
                conn.execute(
                    insert(t.releases),
                    [
                        {
                            "line": line,
                            "sequence": r.sequence,
                            "root_digest": r.root_digest,
                            "status": r.status,
                        }
                        for r in state.releases
                    ],
                )
            return state, logged

    def add_feed_entry(self, record: FeedRecord, entry: Mapping[str, Any]) -> LogEntryRecord:
        with self._write() as conn:
            self._lock_head(conn)
            existing = conn.execute(
                select(t.feed_entries.c.log_index).where(
                    t.feed_entries.c.sha256 == record.sha256, t.feed_entries.c.rule_id == record.rule_id
                )
            ).first()
            if existing is not None:
                raise Conflict(
                    f"this digest and rule are already in the feed (log index {existing.log_index})"
                )
            logged = self._append(conn, entry)
            conn.execute(
                insert(t.feed_entries).values(
                    sha256=record.sha256,
                    rule_id=record.rule_id,
                    severity=record.severity,
                    commitment=record.commitment,
                    scope=record.scope,
                    reporter_key_id=record.reporter_key_id,
                    log_index=logged.index,
                    created_at=record.created_at,
                )
            )
            return logged

    # -- replay protection --------------------------------------------------------------------------

    def use_nonce(self, key_id: str, nonce: str, expires_at: int, now: int) -> bool:
        """Record a request nonce; False when this key already used it (a replay)."""
        try:
            with self._write() as conn:
                conn.execute(delete(t.nonces).where(t.nonces.c.expires_at < now))
                conn.execute(insert(t.nonces).values(key_id=key_id, nonce=nonce, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    # -- checkpoints ------------------------------------------------------------------------------------

    def save_checkpoint(self, record: CheckpointRecord) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    insert(t.checkpoints).values(
                        size=record.size,
                        root_hash=record.root_hash,
                        note=record.note,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError:
            pass  # already saved for this size (Ed25519 is deterministic: the same note)

    def get_checkpoint(self, size: int) -> CheckpointRecord | None:
        with self._read() as conn:
            row = conn.execute(select(t.checkpoints).where(t.checkpoints.c.size == size)).first()
            return self._checkpoint(conn, row) if row is not None else None

    def latest_checkpoint(self) -> CheckpointRecord | None:
        with self._read() as conn:
            row = conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.size.desc()).limit(1)).first()
            return self._checkpoint(conn, row) if row is not None else None

    def _checkpoint(self, conn: Connection, row: Row[Any]) -> CheckpointRecord:
        lines = conn.execute(
            select(t.cosignatures.c.signature_line)
            .where(t.cosignatures.c.size == row.size)
            .order_by(t.cosignatures.c.witness_key_id)
        ).scalars()
        return CheckpointRecord(int(row.size), bytes(row.root_hash), row.note, row.created_at, tuple(lines))

    def add_cosignature(self, size: int, witness_key_id: str, signature_line: str, timestamp: int) -> None:
        with self._write() as conn:
            conn.execute(
                delete(t.cosignatures).where(
                    t.cosignatures.c.size == size, t.cosignatures.c.witness_key_id == witness_key_id
                )
            )
            conn.execute(
                insert(t.cosignatures).values(
                    size=size,
                    witness_key_id=witness_key_id,
                    signature_line=signature_line,
                    timestamp=timestamp,
                )
            )

    # -- reads ----------------------------------------------------------------------------------------

    def get_key(self, key_id: str) -> KeyRecord | None:
        with self._read() as conn:
            row = conn.execute(select(t.keys).where(t.keys.c.key_id == key_id)).first()
        return key_from_row(row) if row is not None else None

    def list_keys(self, role: str | None = None) -> list[KeyRecord]:
        query = select(t.keys).order_by(t.keys.c.role, t.keys.c.name)
        if role is not None:
            query = query.where(t.keys.c.role == role)
        with self._read() as conn:
            return [key_from_row(r) for r in conn.execute(query).all()]

    def get_certificate(self, envelope_sha256: str) -> CertificateRecord | None:
        with self._read() as conn:
            row = conn.execute(
                select(t.certificates).where(t.certificates.c.envelope_sha256 == envelope_sha256)
            ).first()
        return certificate_from_row(row) if row is not None else None

    def certificates_for(self, subject_digest: str) -> list[CertificateRecord]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.certificates)
                .where(t.certificates.c.subject_digest == subject_digest)
                .order_by(t.certificates.c.log_index)
                .limit(MAX_PAGE)
            ).all()
        return [certificate_from_row(r) for r in rows]

    def recent_certificates(self, limit: int) -> list[CertificateRecord]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.certificates).order_by(t.certificates.c.log_index.desc()).limit(min(limit, MAX_PAGE))
            ).all()
        return [certificate_from_row(r) for r in rows]

    def revoked_certificates(self, limit: int) -> list[CertificateRecord]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.certificates)
                .where(t.certificates.c.revoked_reason.is_not(None))
                .order_by(t.certificates.c.revoked_log_index.desc())
                .limit(min(limit, MAX_PAGE))
            ).all()
        return [certificate_from_row(r) for r in rows]

    def get_line(self, line: str) -> LineState | None:
        with self._read() as conn:
            row = conn.execute(select(t.lines.c.document_json).where(t.lines.c.line == line)).first()
        return state_from_document(json.loads(row.document_json)) if row is not None else None

    def search_lines(self, query: str, limit: int) -> list[LineState]:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._read() as conn:
            digest_lines = select(t.releases.c.line).where(t.releases.c.root_digest == query.lower())
            rows = conn.execute(
                select(t.lines.c.document_json)
                .where(
                    or_(
                        func.lower(t.lines.c.line).like(pattern.lower(), escape="\\"),
                        t.lines.c.line.in_(digest_lines),
                    )
                )
                .order_by(t.lines.c.line)
                .limit(min(limit, MAX_PAGE))
            ).all()
        return [state_from_document(json.loads(r.document_json)) for r in rows]

    def lines_for_digest(self, root_digest: str) -> list[LineState]:
        with self._read() as conn:
            names = (
                conn.execute(
                    select(t.releases.c.line).where(t.releases.c.root_digest == root_digest).distinct()
                )
                .scalars()
                .all()
            )
            rows = conn.execute(select(t.lines.c.document_json).where(t.lines.c.line.in_(names))).all()
        return [state_from_document(json.loads(r.document_json)) for r in rows]

    def feed_entries(self) -> list[FeedRecord]:
        with self._read() as conn:
            rows = conn.execute(select(t.feed_entries).order_by(t.feed_entries.c.log_index)).all()
        return [
            FeedRecord(
                r.sha256,
                r.rule_id,
                r.severity,
                r.commitment,
                r.scope,
                r.reporter_key_id,
                r.created_at,
                int(r.log_index),
            )
            for r in rows
        ]
