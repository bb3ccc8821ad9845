"""Initial registry schema: log, keys, certificates, lines and releases, feed, checkpoints, nonces."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("log_head", sa.column("id", sa.Integer), sa.column("size", sa.BigInteger)),
        [{"id": 1, "size": 0}],
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_pem", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("log_index", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "certificates",
        sa.Column("envelope_sha256", sa.String(64), primary_key=True),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("subject_digest", sa.String(64), nullable=False),
        sa.Column("subject_name", sa.String(512), nullable=False),
        sa.Column("line", sa.String(256), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("certifier_key_id", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("certificate_id", sa.String(128), nullable=True),
        sa.Column("issued_at", sa.String(32), nullable=True),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("envelope_json", sa.Text, nullable=False),
        sa.Column("log_index", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_reason", sa.String(64), nullable=True),
        sa.Column("revoked_log_index", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_certificates_subject_digest", "certificates", ["subject_digest"])
    op.create_index("ix_certificates_line", "certificates", ["line"])
    op.create_table(
        "lines",
        sa.Column("line", sa.String(256), primary_key=True),
        sa.Column("publisher_key_id", sa.String(64), nullable=False),
        sa.Column("status_version", sa.BigInteger, nullable=False),
        sa.Column("document_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "releases",
        sa.Column("line", sa.String(256), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_releases_root_digest", "releases", ["root_digest"])
    op.create_table(
        "feed_entries",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("rule_id", sa.String(128), primary_key=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("reporter_key_id", sa.String(64), nullable=False),
        sa.Column("log_index", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "cosignatures",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("witness_key_id", sa.String(64), primary_key=True),
        sa.Column("signature_line", sa.Text, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "nonces",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_nonces_expires_at", "nonces", ["expires_at"])


def downgrade() -> None:
    for table in (
        "nonces",
        "cosignatures",
        "checkpoints",
        "feed_entries",
        "releases",
        "lines",
        "certificates",
        "keys",
        "log_entries",
        "log_head",
    ):
        op.drop_table(table)
