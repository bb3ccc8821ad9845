"""The registry's tables (SQLAlchemy Core). Migrations in `migrations/versions` create exactly these;
a test compares the migrated database with this metadata so the two cannot drift.

Times are RFC 3339 strings (portable across SQLite and PostgreSQL, and what the API shows); nonce expiry
is epoch seconds because it is compared.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# One row (id = 1): the log's size. Every write locks it first, which totally orders appends.
log_head = Table(
    "log_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

keys = Table(
    "keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("name", String(256), nullable=False),
    Column("jurisdiction", String(8), nullable=True),
    Column("algorithm", String(16), nullable=False),
    Column("public_pem", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("log_index", BigInteger, nullable=False),
)

certificates = Table(
    "certificates",
    metadata,
    Column("envelope_sha256", String(64), primary_key=True),
    Column("payload_sha256", String(64), nullable=False),
    Column("subject_digest", String(64), nullable=False),
    Column("subject_name", String(512), nullable=False),
    Column("line", String(256), nullable=True),
    Column("model_version", String(128), nullable=True),
    Column("certifier_key_id", String(64), nullable=False),
    Column("jurisdiction", String(8), nullable=True),
    Column("result", String(32), nullable=False),
    Column("certificate_id", String(128), nullable=True),
    Column("issued_at", String(32), nullable=True),
    Column("summary_json", Text, nullable=False),
    Column("envelope_json", Text, nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_reason", String(64), nullable=True),
    Column("revoked_log_index", BigInteger, nullable=True),
    Index("ix_certificates_subject_digest", "subject_digest"),
    Index("ix_certificates_line", "line"),
)

lines = Table(
    "lines",
    metadata,
    Column("line", String(256), primary_key=True),
    Column("publisher_key_id", String(64), nullable=False),
    Column("status_version", BigInteger, nullable=False),
    Column("document_json", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

releases = Table(
    "releases",
    metadata,
    Column("line", String(256), primary_key=True),
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("root_digest", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Index("ix_releases_root_digest", "root_digest"),
)

feed_entries = Table(
    "feed_entries",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("rule_id", String(128), primary_key=True),
    Column("severity", String(16), nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("reporter_key_id", String(64), nullable=False),
    Column("log_index", BigInteger, nullable=False),
    Column("created_at", String(32), nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness_key_id", String(64), primary_key=True),
    Column("signature_line", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

nonces = Table(
    "nonces",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_nonces_expires_at", "expires_at"),
)
