"""Model lines, releases and their statuses: the rules of a line-status change (provenance.md §5).

A *line* is a package URL such as `pkg:huggingface/org/name`; a *release* is one model in it, identified
by its OMS root digest, with a publisher-chosen sequence that only ever grows. Each release has a status:

- `current`   — the recommended release;
- `supported` — older, still fine to use;
- `superseded`— replaced by `successor` (reason e.g. `superseded-safety-fix`); policy decides on grace;
- `yanked`    — do not select unless exactly pinned (PEP 592);
- `revoked`   — never accept (malicious artifact, key compromise). Terminal: a revoked release can
  never come back, and no status change may name it as a successor.

Every change bumps the line's `lineStatusVersion` (monotonic, like TUF metadata versions) and yields a
new line-status document whose SHA-256 goes into the log, so a publisher cannot quietly roll a release
back: a verifier that saw version N refuses N-1 (see `currency`).

This module is pure: it validates and computes new states; the ledger stores and logs them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from modelcert.certificate.jcs import canonicalize
from modelcert.registry import Conflict, Invalid
from modelcert.registry.clock import format_time

Status = Literal["current", "supported", "superseded", "yanked", "revoked"]
STATUSES: tuple[Status, ...] = ("current", "supported", "superseded", "yanked", "revoked")

# Reason codes: RFC 5280 CRL reasons plus model-specific ones; each status accepts its own set.
REASONS: dict[str, tuple[str, ...]] = {
    "current": (),
    "supported": (),
    "superseded": ("superseded-safety-fix", "superseded-security-fix", "superseded-quality", "superseded"),
    "yanked": ("publisher-withdrawn", "license-legal", "quality-defect", "unspecified"),
    "revoked": (
        "malicious-artifact",
        "key-compromise",
        "certification-withdrawn",
        "license-legal",
        "backdoor-found",
        "unspecified",
    ),
}
REASON_CODES: tuple[str, ...] = tuple(sorted({r for rs in REASONS.values() for r in rs}))

MAX_LINE_LENGTH = 256
MAX_VERSION_LENGTH = 128
MAX_SEQUENCE = 2**53 - 1  # stays exact in every JSON parser
MAX_RELEASES_PER_LINE = 10_000

# pkg:<type>/<namespace...>/<name>: lowercase type, path segments of URL-safe characters (purl spec)
_LINE = re.compile(r"pkg:[a-z][a-z0-9.+-]{0,31}(/[A-Za-z0-9._~%-]{1,96}){1,4}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_REVISION = re.compile(r"[0-9A-Za-z._/-]{1,128}")


def check_line(line: str) -> str:
    if not isinstance(line, str) or len(line) > MAX_LINE_LENGTH or not _LINE.fullmatch(line):
        raise Invalid(f"line {line!r} must be a package URL such as pkg:huggingface/org/name")
    if any(seg in (".", "..") for seg in line.split("/")):
        raise Invalid(f"line {line!r} has a '.' or '..' segment")
    return line


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise Invalid("a root digest is 64 lowercase hex characters (SHA-256)")
    return digest


def as_status(text: str) -> Status:
    for status in STATUSES:
        if status == text:
            return status
    raise Invalid(f"status {text!r} is not one of {', '.join(STATUSES)}")


def check_status(text: str, reason: str | None) -> tuple[Status, str | None]:
    status = as_status(text)
    allowed = REASONS[status]
    if not allowed:
        if reason:
            raise Invalid(f"status {status} takes no reason")
        return status, None
    if reason not in allowed:
        raise Invalid(f"status {status} needs a reason, one of {', '.join(allowed)}")
    return status, reason


@dataclass(frozen=True)
class Release:
    sequence: int
    version: str
    root_digest: str
    status: Status
    revision: str | None = None
    reason: str | None = None
    successor: int | None = None  # sequence of the successor release in the same line
    effective_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sequence": self.sequence,
            "version": self.version,
            "rootDigest": self.root_digest,
            "status": self.status,
            "effectiveAt": self.effective_at,
        }
        if self.revision:
            out["revision"] = self.revision
        if self.reason:
            out["reason"] = self.reason
        if self.successor is not None:
            out["successor"] = self.successor
        return out


@dataclass(frozen=True)
class LineState:
    """A line and its releases at one lineStatusVersion."""

    line: str
    publisher_key_id: str
    version: int
    releases: tuple[Release, ...] = ()
    updated_at: str = ""

    def document(self) -> dict[str, Any]:
        """The line-status document whose digest is logged and quoted by currency statements."""
        return {
            "line": self.line,
            "publisherKeyId": self.publisher_key_id,
            "lineStatusVersion": self.version,
            "updatedAt": self.updated_at,
            "releases": [r.to_dict() for r in sorted(self.releases, key=lambda r: r.sequence)],
        }

    def digest(self) -> str:
        return hashlib.sha256(canonicalize(self.document())).hexdigest()

    def release(self, sequence: int) -> Release | None:
        return next((r for r in self.releases if r.sequence == sequence), None)

    def by_digest(self, root_digest: str) -> Release | None:
        return next((r for r in self.releases if r.root_digest == root_digest), None)

    def latest(self) -> Release | None:
        return max(self.releases, key=lambda r: r.sequence, default=None)


@dataclass(frozen=True)
class NewRelease:
    sequence: int
    version: str
    root_digest: str
    revision: str | None = None
    status: Status = "current"
    supersede_reason: str | None = None  # when set, every current/supported release becomes superseded


@dataclass(frozen=True)
class StatusChange:
    sequence: int
    status: Status
    reason: str | None = None
    successor: int | None = None


def _check_release_fields(new: NewRelease) -> None:
    if not 0 <= new.sequence <= MAX_SEQUENCE:
        raise Invalid(f"sequence must be between 0 and {MAX_SEQUENCE}")
    if not new.version or len(new.version) > MAX_VERSION_LENGTH or not new.version.isprintable():
        raise Invalid("version must be a short printable label such as 1.3.0")
    check_digest(new.root_digest)
    if new.revision is not None and not _REVISION.fullmatch(new.revision):
        raise Invalid("revision must be a commit id or tag (letters, digits, . _ / -)")
    if new.status not in ("current", "supported"):
        raise Invalid("a new release starts as current or supported")


def add_release(state: LineState, new: NewRelease, at: datetime) -> tuple[LineState, dict[str, Any]]:
    """The line with one more release (sequence strictly above every existing one) and the logged change."""
    _check_release_fields(new)
    if len(state.releases) >= MAX_RELEASES_PER_LINE:
        raise Conflict(f"line {state.line} already has {MAX_RELEASES_PER_LINE} releases")
    latest = state.latest()
    if latest is not None and new.sequence <= latest.sequence:
        raise Conflict(
            f"sequence {new.sequence} must be above the latest {latest.sequence}: sequences only grow"
        )
    if state.by_digest(new.root_digest) is not None:
        raise Conflict(f"root digest {new.root_digest[:16]}… is already a release of {state.line}")
    when = format_time(at)
    releases = list(state.releases)
    superseded: list[int] = []
    if new.supersede_reason is not None:
        check_status("superseded", new.supersede_reason)
        for index, old in enumerate(releases):
            if old.status in ("current", "supported"):
                releases[index] = replace(
                    old,
                    status="superseded",
                    reason=new.supersede_reason,
                    successor=new.sequence,
                    effective_at=when,
                )
                superseded.append(old.sequence)
    releases.append(
        Release(new.sequence, new.version, new.root_digest, new.status, new.revision, None, None, when)
    )
    next_state = LineState(state.line, state.publisher_key_id, state.version + 1, tuple(releases), when)
    change: dict[str, Any] = {
        "action": "release",
        "sequence": new.sequence,
        "version": new.version,
        "rootDigest": new.root_digest,
        "status": new.status,
    }
    if superseded:
        change["superseded"] = superseded
        change["reason"] = new.supersede_reason
    return next_state, change


def change_status(state: LineState, change: StatusChange, at: datetime) -> tuple[LineState, dict[str, Any]]:
    """The line with one release's status changed, and the logged change."""
    status, reason = check_status(change.status, change.reason)
    target = state.release(change.sequence)
    if target is None:
        raise Invalid(f"line {state.line} has no release with sequence {change.sequence}")
    if target.status == "revoked":
        raise Conflict(f"release {target.version} is revoked: revocation is final")
    successor: int | None = None
    if status == "superseded":
        if change.successor is None:
            raise Invalid("a superseded release needs a successor (the sequence of the release replacing it)")
        follower = state.release(change.successor)
        if follower is None or follower.sequence <= target.sequence:
            raise Invalid("the successor must be a later release of the same line")
        if follower.status in ("revoked", "yanked"):
            raise Invalid(f"the successor {follower.version} is {follower.status}")
        successor = follower.sequence
    elif change.successor is not None:
        raise Invalid(f"status {status} takes no successor")
    if (target.status, target.reason, target.successor) == (status, reason, successor):
        raise Conflict(f"release {target.version} already has status {status}")
    when = format_time(at)
    releases = tuple(
        replace(r, status=status, reason=reason, successor=successor, effective_at=when)
        if r.sequence == target.sequence
        else r
        for r in state.releases
    )
    next_state = LineState(state.line, state.publisher_key_id, state.version + 1, releases, when)
    logged: dict[str, Any] = {"action": "status", "sequence": target.sequence, "status": status}
    if reason:
        logged["reason"] = reason
    if successor is not None:
        logged["successor"] = successor
    return next_state, logged


def new_line(line: str, publisher_key_id: str) -> LineState:
    return LineState(check_line(line), publisher_key_id, 0)


def state_from_document(doc: Mapping[str, Any]) -> LineState:
    """Rebuild a LineState from its stored document (trusted input: written by the ledger)."""
    releases: Sequence[Mapping[str, Any]] = doc.get("releases", [])
    return LineState(
        line=str(doc["line"]),
        publisher_key_id=str(doc["publisherKeyId"]),
        version=int(doc["lineStatusVersion"]),
        updated_at=str(doc.get("updatedAt", "")),
        releases=tuple(
            Release(
                sequence=int(r["sequence"]),
                version=str(r["version"]),
                root_digest=str(r["rootDigest"]),
                status=as_status(str(r["status"])),
                revision=r.get("revision"),
                reason=r.get("reason"),
                successor=r.get("successor"),
                effective_at=str(r.get("effectiveAt", "")),
            )
            for r in releases
        ),
    )
