"""Offline verification of certificates against a package and a trust file, as a per-step report.

Order (provenance.md §4.4): re-hash the package in one parallel pass → for each certificate: envelope,
signatures against the trust file, statement, subject and file list, validity window, accepted policy,
issuer → quorum over distinct certifiers and jurisdictions with the conflict rule → optional publisher
(OMS) signatures. A certificate that fails a step casts no vote; the verdict is the quorum's, and
every rejected certificate's cause is repeated in the quorum message so a failure always says why.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from modelcert.certificate import dsse
from modelcert.certificate.claim_checks import Demands, claim_steps, demand_steps
from modelcert.certificate.claims import BACKDOOR_LEVELS
from modelcert.certificate.interop import check_oms_signature
from modelcert.certificate.predicate import Result
from modelcert.certificate.statement import Statement
from modelcert.certificate.trust import TrustRoot
from modelcert.errors import ModelcertError
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.package import OMS_DEFAULT_IGNORED, ModelPackage, hash_package, oms_root_digest
from modelcert.policy.fields import format_time
from modelcert.policy.load import ConflictRule

Status = Literal["pass", "fail", "warn", "info"]
MAX_LISTED = 20


@dataclass(frozen=True)
class Step:
    name: str
    status: Status
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"step": self.name, "status": self.status, "message": self.message}


@dataclass(frozen=True)
class Vote:
    certifier: str
    key_id: str
    jurisdiction: str
    result: Result
    certificate: str
    policy: str
    conflict_rule: ConflictRule

    @property
    def passed(self) -> bool:
        return self.result != "FAILED"


@dataclass
class CertificateCheck:
    label: str
    steps: list[Step] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return all(s.status != "fail" for s in self.steps)

    def add(self, name: str, status: Status, message: str) -> bool:
        self.steps.append(Step(name, status, message))
        return status != "fail"

    def cause(self) -> str:
        return "; ".join(s.message for s in self.steps if s.status == "fail")


@dataclass(frozen=True)
class VerifyReport:
    root_digest: str
    package: list[Step]
    certificates: list[CertificateCheck]
    quorum: list[Step]
    publishers: list[Step]
    hash_seconds: float
    total_bytes: int

    @property
    def passed(self) -> bool:
        steps = [*self.package, *self.quorum, *self.publishers]
        return bool(self.quorum) and all(s.status != "fail" for s in steps)

    def failures(self) -> list[str]:
        return [s.message for s in (*self.package, *self.quorum, *self.publishers) if s.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": "PASSED" if self.passed else "FAILED",
            "rootDigest": self.root_digest,
            "package": [s.to_dict() for s in self.package],
            "certificates": [
                {"certificate": c.label, "accepted": c.accepted, "steps": [s.to_dict() for s in c.steps]}
                for c in self.certificates
            ],
            "quorum": [s.to_dict() for s in self.quorum],
            "publishers": [s.to_dict() for s in self.publishers],
            "hashSeconds": round(self.hash_seconds, 3),
            "totalBytes": self.total_bytes,
        }


def verify_package(
    path: Path,
    certificates: Sequence[tuple[str, bytes]],
    trust: TrustRoot,
    *,
    now: datetime,
    min_certifiers: int | None = None,
    min_jurisdictions: int | None = None,
    publisher_bundles: Sequence[tuple[str, bytes]] = (),
    detached: Iterable[str] = (),
    workers: int = 2,
    limits: Limits = DEFAULT_LIMITS,
    min_evidence: str | None = None,
    require_clauses: Sequence[str] = (),
) -> VerifyReport:
    """Verify `certificates` (label, envelope bytes) for the package at `path`.

    `detached` names files inside the package that are certificates or signatures about it (relative
    POSIX paths): they are left out unless a certificate lists them, so shipping a certificate inside
    the model folder after certification does not change what is verified. `min_evidence` (E0–E3)
    rejects a certificate whose backdoor evidence level is lower; each of `require_clauses` rejects
    a certificate that does not report that compliance clause as met. Never raises on bad
    certificates; raises ModelcertError only when the package itself cannot be read.
    """
    if min_evidence is not None and min_evidence not in BACKDOOR_LEVELS[1:]:
        raise ModelcertError(f"minimum evidence level {min_evidence!r} is not one of E0, E1, E2, E3")
    demands = Demands(min_evidence, tuple(require_clauses))
    package = ModelPackage.open(path, limits, ignore_paths=OMS_DEFAULT_IGNORED)
    started = time.perf_counter()
    digests = hash_package(package, workers=workers)
    seconds = time.perf_counter() - started
    loose = frozenset(detached) & digests.keys()
    root = oms_root_digest({n: d for n, d in digests.items() if n not in loose})
    package_steps = [
        Step(
            "integrity",
            "pass",
            f"hashed {len(digests)} files ({package.total_bytes} bytes) in {seconds:.2f} s: "
            f"root digest sha256:{root}",
        )
    ]
    uncovered = [f"symlink {link.relpath!r}" for link in package.links] + [
        f"special file {s!r}" for s in package.special
    ]
    if uncovered:
        package_steps.append(
            Step(
                "integrity",
                "fail",
                "package holds entries no certificate covers: " + ", ".join(uncovered[:MAX_LISTED]),
            )
        )
    checks = [
        _check_certificate(label, raw, trust, digests=digests, detached=loose, now=now, demands=demands)
        for label, raw in certificates
    ]
    quorum = _quorum(checks, trust, min_certifiers, min_jurisdictions)
    publishers = []
    for label, bundle in publisher_bundles:
        result = check_oms_signature(
            bundle, trust.publishers, {n: d for n, d in digests.items() if n not in loose}
        )
        publishers.append(Step(f"publisher {label}", "pass" if result.ok else "fail", result.message))
    return VerifyReport(root, package_steps, checks, quorum, publishers, seconds, package.total_bytes)


def _check_certificate(
    label: str,
    raw: bytes,
    trust: TrustRoot,
    *,
    digests: Mapping[str, bytes],
    detached: frozenset[str],
    now: datetime,
    demands: Demands | None = None,
) -> CertificateCheck:
    check = CertificateCheck(label)
    try:
        envelope = dsse.Envelope.from_json(raw)
    except ModelcertError as exc:
        check.add("envelope", "fail", f"{label}: not a DSSE envelope: {exc.diagnostics()}")
        return check
    if envelope.payload_type != dsse.IN_TOTO_PAYLOAD_TYPE:
        check.add("envelope", "fail", f"{label}: payload type {envelope.payload_type!r} is not in-toto")
        return check
    signers = _signatures(check, envelope, trust)
    try:
        statement = Statement.from_payload(envelope.payload)
    except ModelcertError as exc:
        check.add("statement", "fail", f"{label}: not a valid modelcert certificate: {exc.diagnostics()}")
        return check
    p = statement.predicate
    check.add(
        "statement",
        "info",
        f"{label}: {p.result} under policy {p.policy.id} v{p.policy.version}, issued by "
        f"{p.issuer.name} ({p.issuer.jurisdiction}) at {format_time(p.issued_at)}",
    )
    _subject(check, statement, digests, detached)
    _validity(check, statement, trust, now)
    if p.policy.digest in trust.accepted_policies:
        check.add(
            "policy",
            "pass",
            f"policy {p.policy.id} v{p.policy.version} (sha256 {p.policy.digest[:16]}…) "
            "is accepted by the trust file",
        )
    else:
        check.add(
            "policy",
            "fail",
            f"{label}: policy {p.policy.id} v{p.policy.version} (sha256 "
            f"{p.policy.digest[:16]}…) is not accepted by the trust file",
        )
    issuer = trust.certifier(p.issuer.key_id)
    if p.issuer.key_id not in signers:
        check.add(
            "issuer",
            "warn",
            f"the named issuer {p.issuer.name!r} did not sign this envelope; "
            "only its co-signers vouch for it",
        )
    elif issuer is not None and issuer.jurisdiction != p.issuer.jurisdiction:
        check.add(
            "issuer",
            "warn",
            f"the certificate says jurisdiction {p.issuer.jurisdiction}, the trust file "
            f"says {issuer.jurisdiction}: the trust file is used",
        )
    for name, status, message in demand_steps(label, p, demands) if demands is not None else ():
        check.add(name, status, message)
    if check.accepted:
        for name, status, message in claim_steps(p):
            check.add(name, status, message)
        for key_id in signers:
            certifier = trust.certifier(key_id)
            if certifier is None:
                continue
            if certifier.role != "certifier":
                check.add(
                    "vote", "info", f"{certifier.name} signed as {certifier.role}: not a certification vote"
                )
                continue
            check.votes.append(
                Vote(
                    certifier.name,
                    key_id,
                    certifier.jurisdiction,
                    p.result,
                    label,
                    f"{p.policy.id} v{p.policy.version}",
                    p.policy.conflict_rule,
                )
            )
    return check


def _signatures(check: CertificateCheck, envelope: dsse.Envelope, trust: TrustRoot) -> list[str]:
    results = dsse.check_signatures(envelope, trust.keys())
    valid = [r.keyid for r in results if r.status == "valid"]
    if not envelope.signatures:
        check.add("signatures", "fail", f"{check.label}: the envelope has no signature")
    elif not valid:
        check.add(
            "signatures",
            "fail",
            f"{check.label}: no signature by a trusted key: " + "; ".join(r.message for r in results),
        )
    else:
        names = ", ".join(_name(trust, k) for k in valid)
        check.add("signatures", "pass", f"{len(valid)} trusted signature(s): {names}")
        for r in results:
            if r.status != "valid":
                check.add("signatures", "warn", r.message)
    return valid


def _name(trust: TrustRoot, key_id: str) -> str:
    certifier = trust.certifier(key_id)
    return f"{certifier.name} [{certifier.jurisdiction}]" if certifier else key_id[:16]


def _subject(
    check: CertificateCheck, statement: Statement, digests: Mapping[str, bytes], detached: frozenset[str]
) -> None:
    certified = {r.name: r.digest for r in statement.predicate.model.resources}
    view = {n: d for n, d in digests.items() if n not in detached or n in certified}
    root = oms_root_digest(view)
    if statement.subject_digest == root:
        check.add("subject", "pass", f"subject sha256:{root[:16]}… is this package")
        return
    actual = {name: d.hex() for name, d in view.items()}
    shared = {n for n in set(certified) & set(actual) if certified[n] == actual[n]}
    if 2 * len(shared) < max(len(certified), len(actual)):  # most files differ: not an edit of this model
        check.add(
            "subject",
            "fail",
            f"{check.label}: certificate of another model: it certifies {statement.subject_name!r} "
            f"(sha256:{statement.subject_digest[:16]}…), this package is sha256:{root[:16]}…",
        )
        return
    problems = [
        f"file {n!r} changed" for n in sorted(set(certified) & set(actual)) if certified[n] != actual[n]
    ]
    problems += [f"file {n!r} added (not in the certificate)" for n in sorted(set(actual) - set(certified))]
    problems += [f"file {n!r} removed" for n in sorted(set(certified) - set(actual))]
    listed = problems[:MAX_LISTED] + (
        [f"… and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else []
    )
    check.add(
        "subject",
        "fail",
        f"{check.label}: package does not match the certificate "
        f"(root sha256:{root[:16]}… ≠ certified sha256:{statement.subject_digest[:16]}…): "
        + ", ".join(listed),
    )


def _validity(check: CertificateCheck, statement: Statement, trust: TrustRoot, now: datetime) -> None:
    p = statement.predicate
    skew = timedelta(seconds=trust.max_clock_skew_seconds)
    if now > p.valid_until:
        check.add(
            "validity",
            "fail",
            f"{check.label}: certificate expired at {format_time(p.valid_until)} (now {format_time(now)})",
        )
    elif now + skew < p.issued_at:
        check.add(
            "validity",
            "fail",
            f"{check.label}: certificate is issued in the future "
            f"({format_time(p.issued_at)}, now {format_time(now)})",
        )
    else:
        check.add(
            "validity", "pass", f"valid from {format_time(p.issued_at)} until {format_time(p.valid_until)}"
        )


def _quorum(
    checks: Sequence[CertificateCheck],
    trust: TrustRoot,
    min_certifiers: int | None,
    min_jurisdictions: int | None,
) -> list[Step]:
    k = min_certifiers if min_certifiers is not None else trust.min_certifiers
    j = min_jurisdictions if min_jurisdictions is not None else trust.min_jurisdictions
    steps: list[Step] = []
    if not checks:
        return [Step("quorum", "fail", "no certificate was given")]
    by_certifier: dict[str, list[Vote]] = {}
    for check in checks:
        for vote in check.votes:
            by_certifier.setdefault(vote.certifier, []).append(vote)
    final: dict[str, Vote] = {}
    for name, votes in by_certifier.items():
        if len(votes) > 1:
            sources = ", ".join(f"{v.certificate} (key {v.key_id[:16]}…)" for v in votes)
            steps.append(
                Step(
                    "quorum",
                    "info",
                    f"certifier {name!r} counted once: it appears {len(votes)} times ({sources})",
                )
            )
        failed = [v for v in votes if not v.passed]
        final[name] = failed[0] if failed else votes[0]  # a certifier that also said FAILED is a FAILED vote
    passed = [v for v in final.values() if v.passed]
    failed = [v for v in final.values() if not v.passed]
    jurisdictions = sorted({v.jurisdiction for v in passed})
    rule: ConflictRule = trust.conflict_rule or (
        "veto" if any(v.conflict_rule == "veto" for v in failed) else "majority"
    )
    reasons = []
    if len(passed) < k:
        reasons.append(f"{len(passed)} distinct certifier(s) passed, {k} required")
    if passed and len(jurisdictions) < j:
        reasons.append(
            f"{len(jurisdictions)} jurisdiction(s) among passing certifiers "
            f"({', '.join(jurisdictions) or 'none'}), {j} required"
        )
    if failed and rule == "veto":
        reasons.append(
            "FAILED vote(s) by "
            + ", ".join(f"{v.certifier} [{v.jurisdiction}]" for v in failed)
            + " veto the quorum (conflict rule: veto)"
        )
    elif failed and len(failed) >= len(passed):
        reasons.append(
            f"{len(failed)} FAILED vote(s) against {len(passed)} PASSED: no majority "
            "(conflict rule: majority)"
        )
    elif failed:
        steps.append(
            Step(
                "quorum",
                "info",
                f"{len(failed)} FAILED vote(s) outweighed by {len(passed)} PASSED (conflict rule: majority)",
            )
        )
    rejected = [c.cause() for c in checks if not c.accepted]
    duplicates = [s.message for s in steps if s.message.startswith("certifier ")]
    who = ", ".join(f"{v.certifier} [{v.jurisdiction}]" for v in passed) or "nobody"
    if reasons:
        text = "quorum not met: " + "; ".join(reasons)
        if duplicates:
            text += ". " + "; ".join(duplicates)
        if rejected:
            text += ". Rejected: " + " | ".join(rejected)
        steps.append(Step("quorum", "fail", text))
    else:
        steps.append(
            Step(
                "quorum",
                "pass",
                f"quorum met: {len(passed)} certifier(s) of {k} required ({who}), "
                f"{len(jurisdictions)} jurisdiction(s) of {j} required",
            )
        )
    return steps
