"""The shared known-bad feed: digests of files found malicious, the rule and severity, details committed.

Feed document (JSON; served by the registry inside a DSSE envelope signed with the registry key):

    {"feed": "modelcert-known-bad/v1", "registry": "<origin>", "generatedAt": "<RFC 3339>",
     "entries": [{"sha256": "<hex>", "ruleId": "MC101", "severity": "critical",
                  "commitment": "<hex>", "scope": "file" | "package", "logIndex": 7}]}

`commitment` = SHA-256(JCS({"salt": <hex>, "detail": <any JSON>})): the reporter keeps salt and detail,
and can later show them to an authorised party, who checks them against the commitment. Nothing that
could teach an attacker (payload, trigger, exploit string) is ever in the feed.

`match_report(report, feed)` turns matches into MC950 (file or member) / MC951 (package root digest)
findings; `load_feed(source, registry_key)` reads a feed from bytes, a file or an http(s) URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from modelcert.certificate.dsse import Envelope, EnvelopeError, check_signatures, sign
from modelcert.certificate.jcs import CanonicalizationError, canonicalize
from modelcert.certificate.keys import SigningKey, VerifyingKey
from modelcert.checks.known_bad import KnownBadFile, KnownBadPackage
from modelcert.findings import ArtifactReport, Finding, Location, ScanReport, Severity
from modelcert.registry import RegistryError
from modelcert.registry.clock import format_time

FEED_FORMAT = "modelcert-known-bad/v1"
FEED_PAYLOAD_TYPE = "application/vnd.modelcert.known-bad-feed+json"
MAX_FEED_BYTES = 64 * 1024 * 1024
MAX_FEED_ENTRIES = 1_000_000
SCOPES = ("file", "package")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RULE = re.compile(r"[A-Za-z0-9._:/-]{1,128}")


class FeedError(RegistryError):
    """A feed is unreadable, malformed or not signed by the expected registry key."""


@dataclass(frozen=True)
class FeedEntry:
    sha256: str
    rule_id: str
    severity: Severity
    commitment: str
    scope: str = "file"
    log_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sha256": self.sha256,
            "ruleId": self.rule_id,
            "severity": self.severity.label,
            "commitment": self.commitment,
            "scope": self.scope,
        }
        if self.log_index is not None:
            out["logIndex"] = self.log_index
        return out


def check_entry_fields(sha256: str, rule_id: str, severity: str, commitment: str, scope: str) -> FeedEntry:
    """Validate one entry's fields (used by the server on submission and by `load_feed`)."""
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
        raise FeedError("sha256 must be 64 lowercase hex characters")
    if not isinstance(commitment, str) or not _HEX64.fullmatch(commitment):
        raise FeedError("commitment must be 64 lowercase hex characters")
    if not isinstance(rule_id, str) or not _RULE.fullmatch(rule_id):
        raise FeedError("ruleId must be a short identifier such as MC101")
    if scope not in SCOPES:
        raise FeedError(f"scope must be one of {', '.join(SCOPES)}")
    try:
        level = Severity.parse(severity)
    except (ValueError, AttributeError):
        raise FeedError(f"unknown severity {severity!r}") from None
    return FeedEntry(sha256, rule_id, level, commitment, scope)


@dataclass(frozen=True)
class Feed:
    entries: tuple[FeedEntry, ...]
    registry: str = ""
    generated_at: str = ""
    verified: bool = False  # True when the feed's signature checked out against a registry key

    def index(self) -> dict[str, list[FeedEntry]]:
        table: dict[str, list[FeedEntry]] = {}
        for entry in self.entries:
            table.setdefault(entry.sha256, []).append(entry)
        return table

    def document(self) -> dict[str, Any]:
        return {
            "feed": FEED_FORMAT,
            "registry": self.registry,
            "generatedAt": self.generated_at,
            "entries": [e.to_dict() for e in self.entries],
        }


def make_commitment(detail: Any, salt: bytes | None = None) -> tuple[str, str]:
    """(commitment, salt) for a finding detail: SHA-256 of JCS({"salt", "detail"})."""
    salt_hex = (salt if salt is not None else secrets.token_bytes(32)).hex()
    try:
        blob = canonicalize({"salt": salt_hex, "detail": detail})
    except CanonicalizationError as exc:
        raise FeedError(f"the detail is not canonical JSON: {exc}") from None
    return hashlib.sha256(blob).hexdigest(), salt_hex


def check_commitment(commitment: str, detail: Any, salt_hex: str) -> bool:
    """True when (salt, detail) is what the commitment commits to."""
    try:
        blob = canonicalize({"salt": salt_hex, "detail": detail})
    except CanonicalizationError:
        return False
    return hmac.compare_digest(hashlib.sha256(blob).hexdigest(), commitment)


def build_feed(entries: Iterable[FeedEntry], registry: str, at: datetime) -> Feed:
    return Feed(tuple(entries), registry, format_time(at))


def sign_feed(feed: Feed, key: SigningKey) -> Envelope:
    return sign(FEED_PAYLOAD_TYPE, canonicalize(feed.document()), key)


def parse_feed(data: bytes | str, registry_key: VerifyingKey | None = None) -> Feed:
    """A feed from its JSON: a signed envelope (checked when `registry_key` is given) or a bare document.

    With a registry key, a bare document or an envelope not signed by that key is refused.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError(f"feed is {len(raw)} bytes (limit {MAX_FEED_BYTES})")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"feed is not JSON: {exc}") from None
    verified = False
    if isinstance(doc, Mapping) and "payloadType" in doc:
        try:
            envelope = Envelope.from_dict(doc)
        except EnvelopeError as exc:
            raise FeedError(f"feed envelope: {exc}") from None
        if envelope.payload_type != FEED_PAYLOAD_TYPE:
            raise FeedError(f"envelope holds {envelope.payload_type!r}, not a known-bad feed")
        if registry_key is not None:
            if not any(c.status == "valid" for c in check_signatures(envelope, [registry_key])):
                raise FeedError("feed is not signed by the registry key")
            verified = True
        try:
            doc = json.loads(envelope.payload)
        except (ValueError, RecursionError) as exc:
            raise FeedError(f"feed payload is not JSON: {exc}") from None
    elif registry_key is not None:
        raise FeedError("feed is not signed, but a registry key was given")
    return _read_document(doc, verified)


def _read_document(doc: Any, verified: bool) -> Feed:
    if not isinstance(doc, Mapping) or doc.get("feed") != FEED_FORMAT:
        raise FeedError(f"not a {FEED_FORMAT} document")
    raw_entries = doc.get("entries")
    if not isinstance(raw_entries, list):
        raise FeedError("feed entries must be a list")
    if len(raw_entries) > MAX_FEED_ENTRIES:
        raise FeedError(f"feed has {len(raw_entries)} entries (limit {MAX_FEED_ENTRIES})")
    entries = []
    for index, item in enumerate(raw_entries):
        if not isinstance(item, Mapping):
            raise FeedError(f"feed entry #{index} is not an object")
        try:
            entry = check_entry_fields(
                item.get("sha256", ""),
                item.get("ruleId", ""),
                item.get("severity", ""),
                item.get("commitment", ""),
                item.get("scope", "file"),
            )
        except FeedError as exc:
            raise FeedError(f"feed entry #{index}: {exc}") from None
        log_index = item.get("logIndex")
        entries.append(
            FeedEntry(
                entry.sha256,
                entry.rule_id,
                entry.severity,
                entry.commitment,
                entry.scope,
                log_index if isinstance(log_index, int) else None,
            )
        )
    return Feed(tuple(entries), str(doc.get("registry", "")), str(doc.get("generatedAt", "")), verified)


def load_feed(source: str | Path, registry_key: VerifyingKey | None = None, timeout: float = 30.0) -> Feed:
    """A feed from a file path or an http(s) URL (for `modelcert scan --feed FILE|URL`)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(text, timeout=timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise FeedError(f"cannot fetch feed {text}: {exc}") from None
        if response.status_code != 200:
            raise FeedError(f"feed {text} answered HTTP {response.status_code}")
        return parse_feed(response.content, registry_key)
    path = Path(source)
    try:
        if path.stat().st_size > MAX_FEED_BYTES:
            raise FeedError(f"feed {path} is larger than {MAX_FEED_BYTES} bytes")
        return parse_feed(path.read_bytes(), registry_key)
    except OSError as exc:
        raise FeedError(f"cannot read feed {path}: {exc.strerror}") from None


def _walk(artifact: ArtifactReport, location: Location) -> Iterator[tuple[ArtifactReport, Location]]:
    yield artifact, location
    for member in artifact.members:
        yield from _walk(member, location.inner(member.path))


def match_report(report: ScanReport, feed: Feed) -> list[Finding]:
    """MC950/MC951 findings for every scanned file, member or package root digest the feed lists."""
    table = feed.index()
    findings: list[Finding] = []
    for root in report.inputs:
        for entry in table.get(root.root_digest, ()):
            if entry.scope == "package":
                findings.append(
                    _finding(KnownBadPackage, entry, Location(path=root.path), "package root digest")
                )
    for top in report.files:
        for artifact, location in _walk(top, Location(path=top.path)):
            for entry in table.get(artifact.sha256 or "", ()):
                if entry.scope == "file":
                    findings.append(_finding(KnownBadFile, entry, location, "file"))
    return findings


def _finding(
    check: type[KnownBadFile | KnownBadPackage], entry: FeedEntry, location: Location, what: str
) -> Finding:
    where = f" (log entry {entry.log_index})" if entry.log_index is not None else ""
    return check.finding(
        f"{what} sha256:{entry.sha256[:16]}… is in the known-bad feed{where}: rule {entry.rule_id}, "
        f"severity {entry.severity.label}",
        location,
        severity=entry.severity,
        details={
            "sha256": entry.sha256,
            "ruleId": entry.rule_id,
            "commitment": entry.commitment,
            "logIndex": entry.log_index,
        },
    )
