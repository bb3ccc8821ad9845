"""Currency statements: short-lived, registry-signed answers to "is this release current?" (provenance.md §5).

A statement is an in-toto Statement v1 in a DSSE envelope signed by the registry key:

    subject:       [{name: <line>, digest: {sha256: <release root digest>}}]
    predicateType: https://modelcert.dev/currency/v0.1
    predicate:     {line, sequence, version, status, reason?, successor?{sequence, version, rootDigest},
                    lineStatusVersion, lineStatusDigest, registry, checkedAt, expires}

It can be *stapled* to a certificate pack so an air-gapped verifier gets a bounded-staleness answer:
`verify_statement` accepts it only while `now < expires` and `now - checkedAt <= max_age`, and refuses
a `lineStatusVersion` lower than one it has already seen for the line (rollback protection, as TUF
does for metadata versions). `RollbackState` keeps those last-seen versions in a small JSON file.

For the certificate helper's `verify --registry URL` / stapled currency:

    result = verify_statement(envelope_json, registry_key_pem, now, max_age=timedelta(hours=72),
                              last_seen_version=state.last_seen(line), expected_digest=root_digest)
    result.acceptable()   # True for current / supported
    state.record(result)  # after acceptance

Every failure raises `CurrencyError` with a stable `code` (see CURRENCY_ERROR_CODES).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from modelcert.certificate.dsse import Envelope, EnvelopeError, check_signatures, sign
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.keys import KeyFileError, SigningKey, VerifyingKey
from modelcert.registry import RegistryError
from modelcert.registry.clock import format_time, parse_time
from modelcert.registry.lines import STATUSES, LineState, Release

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
CURRENCY_PREDICATE_TYPE = "https://modelcert.dev/currency/v0.1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
DEFAULT_LIFETIME = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=5)

CURRENCY_ERROR_CODES = (
    "malformed",  # not a currency statement we can read
    "bad-signature",  # not signed by the registry key
    "wrong-subject",  # about another release than the one being verified
    "not-yet-valid",  # checkedAt is in the future (beyond clock skew)
    "expired",  # now >= expires
    "too-old",  # older than the verifier's max_age
    "rollback",  # lineStatusVersion lower than one already seen for this line
)


class CurrencyError(RegistryError):
    """A currency statement was refused; `code` says why (one of CURRENCY_ERROR_CODES)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Successor:
    sequence: int
    version: str
    root_digest: str


@dataclass(frozen=True)
class CurrencyResult:
    """What a verified statement says, and how old it is."""

    line: str
    root_digest: str
    sequence: int
    version: str
    status: str
    reason: str | None
    successor: Successor | None
    line_status_version: int
    line_status_digest: str
    registry: str
    checked_at: datetime
    expires: datetime
    age: timedelta

    def acceptable(self, allow_supported: bool = True) -> bool:
        """True when the release may be used: current (or supported, when allowed)."""
        return self.status == "current" or (allow_supported and self.status == "supported")

    def describe(self) -> str:
        """One line: "current / superseded by X / revoked because Y, as of T"."""
        as_of = f"as of {format_time(self.checked_at)}"
        if self.status in ("current", "supported"):
            return f"{self.status} ({self.line} {self.version}), {as_of}"
        text = self.status
        if self.successor is not None:
            text += f" by {self.successor.version} (sha256:{self.successor.root_digest[:16]}…)"
        if self.reason:
            text += f" because {self.reason}"
        return f"{text} ({self.line} {self.version}), {as_of}"


def build_statement(
    state: LineState,
    release: Release,
    *,
    registry: str,
    checked_at: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> dict[str, Any]:
    """The in-toto Statement for one release of a line at its current lineStatusVersion."""
    predicate: dict[str, Any] = {
        "line": state.line,
        "sequence": release.sequence,
        "version": release.version,
        "status": release.status,
        "lineStatusVersion": state.version,
        "lineStatusDigest": state.digest(),
        "registry": registry,
        "checkedAt": format_time(checked_at),
        "expires": format_time(checked_at + lifetime),
    }
    if release.reason:
        predicate["reason"] = release.reason
    if release.successor is not None:
        follower = state.release(release.successor)
        if follower is not None:
            predicate["successor"] = {
                "sequence": follower.sequence,
                "version": follower.version,
                "rootDigest": follower.root_digest,
            }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": state.line, "digest": {"sha256": release.root_digest}}],
        "predicateType": CURRENCY_PREDICATE_TYPE,
        "predicate": predicate,
    }


def sign_statement(statement: Mapping[str, Any], key: SigningKey) -> Envelope:
    return sign(PAYLOAD_TYPE, canonicalize(statement), key)


def _envelope(statement: Envelope | Mapping[str, Any] | str | bytes) -> Envelope:
    try:
        if isinstance(statement, Envelope):
            return statement
        if isinstance(statement, Mapping):
            return Envelope.from_dict(statement)
        return Envelope.from_json(statement)
    except EnvelopeError as exc:
        raise CurrencyError("malformed", f"not a DSSE envelope: {exc}") from None


def _registry_key(registry_key: VerifyingKey | bytes | str) -> VerifyingKey:
    if isinstance(registry_key, VerifyingKey):
        return registry_key
    try:
        return VerifyingKey.from_pem(
            registry_key.encode("ascii") if isinstance(registry_key, str) else registry_key
        )
    except (KeyFileError, UnicodeEncodeError) as exc:
        raise CurrencyError("malformed", f"registry key is not a PEM public key: {exc}") from None


def verify_statement(
    statement: Envelope | Mapping[str, Any] | str | bytes,
    registry_key: VerifyingKey | bytes | str,
    now: datetime,
    max_age: timedelta | None,
    last_seen_version: int | None,
    *,
    expected_digest: str | None = None,
) -> CurrencyResult:
    """Check a (stapled) currency statement offline; raise CurrencyError with a code, or return what it says.

    `statement` is the DSSE envelope (object, JSON text or bytes); `registry_key` the registry's public
    key (VerifyingKey or PEM); `now` an aware datetime; `max_age` the verifier's staleness bound on
    checkedAt (None: only `expires` applies); `last_seen_version` the highest lineStatusVersion this
    verifier has accepted for the line (None: never seen). The status itself is reported, not judged:
    call `result.acceptable()` for the usual policy.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    envelope = _envelope(statement)
    key = _registry_key(registry_key)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise CurrencyError("malformed", f"payload type {envelope.payload_type!r} is not in-toto")
    checks = check_signatures(envelope, [key])
    if not any(c.status == "valid" for c in checks):
        raise CurrencyError("bad-signature", "the statement is not signed by the registry key")
    result = _read(envelope.payload, now)
    if expected_digest is not None and result.root_digest != expected_digest.lower():
        raise CurrencyError(
            "wrong-subject", f"the statement is about {result.root_digest[:16]}…, not {expected_digest[:16]}…"
        )
    if result.checked_at > now + CLOCK_SKEW:
        raise CurrencyError("not-yet-valid", f"checkedAt {format_time(result.checked_at)} is in the future")
    if now >= result.expires:
        raise CurrencyError(
            "expired",
            f"the statement expired at {format_time(result.expires)}; fetch a fresh one from the registry",
        )
    if max_age is not None and result.age > max_age:
        raise CurrencyError(
            "too-old", f"the statement is {_hours(result.age)} old; policy allows at most {_hours(max_age)}"
        )
    if last_seen_version is not None and result.line_status_version < last_seen_version:
        raise CurrencyError(
            "rollback",
            f"lineStatusVersion {result.line_status_version} of {result.line} is older than version "
            f"{last_seen_version} already seen: refusing a rolled-back status",
        )
    return result


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def _read(payload: bytes, now: datetime) -> CurrencyResult:
    try:
        doc = json.loads(payload)
        if doc.get("_type") != STATEMENT_TYPE or doc.get("predicateType") != CURRENCY_PREDICATE_TYPE:
            raise CurrencyError("malformed", "not a modelcert currency statement")
        subject = doc["subject"]
        if not isinstance(subject, list) or len(subject) != 1:
            raise CurrencyError("malformed", "a currency statement has exactly one subject")
        pred = doc["predicate"]
        digest = str(subject[0]["digest"]["sha256"])
        status = str(pred["status"])
        if status not in STATUSES:
            raise CurrencyError("malformed", f"unknown status {status!r}")
        if str(subject[0]["name"]) != str(pred["line"]):
            raise CurrencyError("malformed", "subject name and predicate line differ")
        raw_successor = pred.get("successor")
        successor = (
            Successor(
                int(raw_successor["sequence"]),
                str(raw_successor["version"]),
                str(raw_successor["rootDigest"]),
            )
            if raw_successor is not None
            else None
        )
        checked_at = parse_time(str(pred["checkedAt"]))
        version = pred["lineStatusVersion"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise CurrencyError("malformed", "lineStatusVersion must be a non-negative integer")
        return CurrencyResult(
            line=str(pred["line"]),
            root_digest=digest,
            sequence=int(pred["sequence"]),
            version=str(pred["version"]),
            status=status,
            reason=pred.get("reason"),
            successor=successor,
            line_status_version=version,
            line_status_digest=str(pred["lineStatusDigest"]),
            registry=str(pred["registry"]),
            checked_at=checked_at,
            expires=parse_time(str(pred["expires"])),
            age=max(now - checked_at, timedelta(0)),
        )
    except CurrencyError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise CurrencyError("malformed", f"currency statement is malformed: {exc}") from None


class RollbackState:
    """The highest lineStatusVersion accepted per line, persisted in a JSON file (atomic replace)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"currency state {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise RegistryError(f"currency state {self.path} is not a JSON object")
        return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}

    def last_seen(self, line: str) -> int | None:
        return self._load().get(line)

    def record(self, result: CurrencyResult) -> None:
        seen = self._load()
        if seen.get(result.line, -1) >= result.line_status_version:
            return
        seen[result.line] = result.line_status_version
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(seen, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.path)
