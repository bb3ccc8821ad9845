"""The registry: an append-only, verifiable record of certificates, model lines, currency and revocations.

Modules, each with one job:

- `log` — RFC 6962/9162 Merkle tree hashing, inclusion and consistency proofs (ours; `pymerkle`
  cross-checks it in tests).
- `checkpoint` — C2SP signed notes, checkpoints and witness cosignatures (Ed25519).
- `entries` — what a log entry holds: hashes and public metadata only (provenance.md §7).
- `lines` — model lines, releases, statuses and reason codes; the rules of a status change.
- `currency` — short-lived signed currency statements and their offline verification.
- `feed` — the shared known-bad feed and matching a scan report against it.
- `store` — persistence (SQLAlchemy; SQLite file or PostgreSQL); `schema`, `rows`, `records` its tables,
  row mapping and plain records; `database` connections and alembic migrations (`migrations/`).
- `ledger` — the registry's operations: every accepted write is one atomic log append.
- `requestsig` — signed HTTP requests (who may write), shared by client and server.
- `client` — the Python client with an injectable HTTP transport.
- `audit` — client-side checks of proofs and checkpoints, and one witness round.
- `clock` — RFC 3339 time helpers.
"""

from __future__ import annotations

from modelcert.errors import ModelcertError


class RegistryError(ModelcertError):
    """A registry operation was refused or a registry document does not verify."""


class NotFound(RegistryError):
    """The thing asked for is not in the registry."""


class Conflict(RegistryError):
    """The write contradicts what the registry already holds (duplicate, non-monotonic, terminal)."""


class Forbidden(RegistryError):
    """The caller is authenticated but may not do this."""


class Invalid(RegistryError):
    """The request is well formed JSON but its content breaks a registry rule."""
