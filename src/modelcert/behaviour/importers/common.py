"""Shared pieces of the importers: bounded JSON reading, salted re-hashing, the imported-run record."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from modelcert.behaviour.canonical import canonical_json
from modelcert.behaviour.merkle import merkle_root
from modelcert.policy.fields import DocumentError

MAX_LOG_BYTES = 512 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_RECORDS = 1_000_000


def parse_line(line: bytes, where: str) -> Any:
    if len(line) > MAX_LINE_BYTES:
        raise DocumentError(f"{where}: line longer than {MAX_LINE_BYTES} bytes")
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"{where}: not JSON ({exc})") from None


def salt_for(salt_key: bytes, *parts: str) -> bytes:
    return hmac.new(salt_key, "\x00".join(parts).encode("utf-8"), hashlib.sha256).digest()


def commit_text(salt: bytes, turns: list[list[str]]) -> bytes:
    """Commitment to a prompt as [[role, text], ...] (the same shape for every harness)."""
    return hashlib.sha256(b"modelcert-imported-v1\x00" + salt + canonical_json(turns)).digest()


def output_digest(salt: bytes, text: str) -> str:
    return hashlib.sha256(salt + b"reply\x00" + text.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class ImportedItem:
    """One prompt that ran, with its text replaced by a salted commitment."""

    key: str  # harness-specific identity: "probe#seq" or "sample-id#epoch"
    commitment: bytes
    output_digests: tuple[str, ...]


@dataclass(frozen=True)
class ImportedRun:
    """What an importer keeps: counts, commitments, the log digest and every problem it found."""

    harness: str
    harness_version: str
    log_digest: str  # sha256 of the log bytes as given
    items: tuple[ImportedItem, ...]
    counts: dict[str, dict[str, int]]  # "probe/detector" or scorer name -> {"passed", "failed", "unscored"}
    problems: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> str:
        ordered = sorted(self.items, key=lambda it: it.key)
        return "sha256:" + merkle_root([it.commitment for it in ordered])

    @property
    def complete(self) -> bool:
        return not self.problems
