"""Policy documents: the built-in profiles (baseline, strict) and user files, parsed into a Policy.

A document's digest is the SHA-256 of its exact bytes: that is what certificates record and what a
trust file accepts, so editing one character of a policy makes it a different policy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from modelcert.findings import Confidence, ScanReport, Severity, Verdict
from modelcert.policy.fields import DocumentError, Fields, load_json
from modelcert.policy.model import AllOf, AnyOf, FindingsRule, Policy, PolicyResult, SkippedFilesRule
from modelcert.policy.waivers import WaiverSet

POLICY_SCHEMA = "modelcert/policy/v1"
BUILTIN_PROFILES = ("baseline", "strict")
MAX_POLICY_DEPTH = 8

ConflictRule = Literal["veto", "majority"]
CONFLICT_RULES: tuple[ConflictRule, ...] = ("veto", "majority")


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed policy file: its identity, its quorum conflict rule and the requirement tree."""

    id: str
    version: str
    title: str
    conflict_rule: ConflictRule
    policy: Policy
    digest: str  # sha256 hex of the file's bytes
    source: str  # "builtin:baseline" or the file path
    raw: bytes

    @property
    def uri(self) -> str:
        return (
            f"https://modelcert.dev/policies/{self.id}/v{self.version}"
            if self.source.startswith("builtin:")
            else f"urn:modelcert:policy:{self.id}:{self.version}"
        )

    def evaluate(self, report: ScanReport, waivers: WaiverSet, now: datetime) -> PolicyResult:
        return self.policy.evaluate(report, waivers, now)


def builtin_bytes(name: str) -> bytes:
    if name not in BUILTIN_PROFILES:
        raise DocumentError(f"no built-in policy {name!r}; one of {', '.join(BUILTIN_PROFILES)}")
    return (resources.files("modelcert") / "data" / "policies" / f"{name}.json").read_bytes()


def load_policy(name_or_path: str) -> PolicyDocument:
    """A built-in profile by name, or a policy file by path."""
    if name_or_path in BUILTIN_PROFILES:
        return parse_policy(builtin_bytes(name_or_path), f"builtin:{name_or_path}")
    path = Path(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"policy {name_or_path!r} is neither a built-in profile ({', '.join(BUILTIN_PROFILES)}) "
            f"nor a readable file: {exc.strerror}"
        ) from None
    return parse_policy(raw, str(path))


def parse_policy(raw: bytes, source: str) -> PolicyDocument:
    top = Fields(
        load_json(raw, f"policy {source}"),
        "",
        allowed=("schema", "id", "version", "title", "description", "conflictRule", "requirements"),
    )
    if top.text("schema") != POLICY_SCHEMA:
        raise DocumentError(f"policy {source}: /schema must be {POLICY_SCHEMA!r}")
    return PolicyDocument(
        id=top.text("id", max_len=64),
        version=top.text("version", max_len=32),
        title=top.text("title", max_len=256),
        conflict_rule=cast(ConflictRule, top.choice("conflictRule", CONFLICT_RULES)),
        policy=_node(top.child("requirements").obj, "/requirements", 0),
        digest=hashlib.sha256(raw).hexdigest(),
        source=source,
        raw=raw,
    )


_LEAF_FIELDS = (
    "id",
    "title",
    "rationale",
    "kind",
    "verdicts",
    "minSeverity",
    "minConfidence",
    "allowFormats",
)


def _node(obj: Any, where: str, depth: int) -> Policy:
    if depth > MAX_POLICY_DEPTH:
        raise DocumentError(f"{where}: requirements nested deeper than {MAX_POLICY_DEPTH}")
    probe = Fields(obj, where)
    if probe.has("allOf") or probe.has("anyOf"):
        node = Fields(obj, where, allowed=("id", "title", "rationale", "allOf", "anyOf"))
        if node.has("allOf") and node.has("anyOf"):
            raise DocumentError(f"{where}: a node is allOf or anyOf, not both")
        key = "allOf" if node.has("allOf") else "anyOf"
        parts = [_node(item, f"{where}/{key}/{i}", depth + 1) for i, item in enumerate(node.items(key))]
        composite = AllOf if key == "allOf" else AnyOf
        return composite(node.text("id", max_len=64), node.text("title", max_len=256), parts)
    leaf = Fields(obj, where, allowed=_LEAF_FIELDS)
    kind = leaf.choice("kind", ("findings", "skipped-files"))
    ident, title = leaf.text("id", max_len=64), leaf.text("title", max_len=256)
    if kind == "skipped-files":
        return SkippedFilesRule(ident, title, leaf.texts("allowFormats", required=False))
    verdicts = []
    for index, value in enumerate(leaf.texts("verdicts")):
        try:
            verdicts.append(Verdict(value))
        except ValueError:
            raise DocumentError(f"{where}/verdicts/{index}: unknown verdict {value!r}") from None
    try:
        severity = Severity.parse(leaf.text("minSeverity")) if leaf.has("minSeverity") else Severity.INFO
        confidence = (
            Confidence[leaf.text("minConfidence").upper()] if leaf.has("minConfidence") else Confidence.LOW
        )
    except (ValueError, KeyError) as exc:
        raise DocumentError(f"{where}: {exc}") from None
    return FindingsRule(ident, title, verdicts, severity, confidence)
