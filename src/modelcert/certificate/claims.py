"""Two optional predicate members: `backdoorEvidence` and `compliance` (docs/certificates.md).

`backdoorEvidence` is the evidence level the scan reached (E0 inventory … E3 behavioural scan at a
budget), the honest statement that goes with it and public summaries of the lineage comparison and
the behavioural scan. Trigger candidates, payloads and per-tensor maps stay out of it: they are
bound by a salted `commitment` and revealed only in the private disclosure file, like findings.

`compliance` is the fragment `modelcert.compliance.evidence.compliance_predicate` builds. It is
read as strictly as the rest of the predicate and kept byte for byte as signed (`document`); the
typed fields are what verification decides on.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from modelcert.compliance.packs import EVIDENCE_LEVELS as COMPLIANCE_LEVELS
from modelcert.compliance.results import MET, STATUSES
from modelcert.policy.fields import DocumentError, Fields

BACKDOOR_LEVELS = ("none", "E0", "E1", "E2", "E3")
COMPLIANCE_SCHEMA = "modelcert/compliance/v1"
AUDIENCES = ("public", "consortium", "private")
MAX_BLOCKERS = 40
MAX_CLAUSES = 512
MAX_TARGET_EXTRAS = 16
DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")


def backdoor_rank(level: str) -> int:
    return BACKDOOR_LEVELS.index(level)


def decimal_text(value: Any) -> str | None:
    """A number as a short decimal string (no float in the signed document: same bytes everywhere)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return f"{float(value):.4f}".rstrip("0").rstrip(".") or "0"


def _opt_decimal(f: Fields, key: str) -> str | None:
    text = f.opt_text(key, max_len=48)
    if text is not None and not DECIMAL.fullmatch(text):
        raise DocumentError(f"{f.at(key)}: {text!r} is not a decimal number")
    return text


def _opt_int(f: Fields, key: str) -> int | None:
    return f.integer(key, minimum=0) if f.has(key) else None


@dataclass(frozen=True)
class LineageSummary:
    """How the weights differ from the declared base (MC573), without the per-tensor map."""

    classification: str
    changed_tensors: int
    aligned_tensors: int
    median_cosine: str | None
    adapter_rank: int | None
    bytes_compared: int

    FIELDS = (
        "classification",
        "changedTensors",
        "alignedTensors",
        "medianCosine",
        "adapterRank",
        "bytesCompared",
    )

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> LineageSummary:
        rank = details.get("adapter_rank")
        return cls(
            str(details.get("classification", "unknown"))[:128],
            _count(details.get("changed_tensors")),
            _count(details.get("aligned_tensors")),
            decimal_text(details.get("median_cosine")),
            rank if isinstance(rank, int) and not isinstance(rank, bool) and rank >= 0 else None,
            _count(details.get("bytes_compared")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "classification": self.classification,
            "changedTensors": self.changed_tensors,
            "alignedTensors": self.aligned_tensors,
            "medianCosine": self.median_cosine,
            "adapterRank": self.adapter_rank,
            "bytesCompared": self.bytes_compared,
        }

    @classmethod
    def parse(cls, f: Fields) -> LineageSummary:
        return cls(
            f.text("classification", max_len=128),
            f.integer("changedTensors", minimum=0),
            f.integer("alignedTensors", minimum=0),
            _opt_decimal(f, "medianCosine"),
            _opt_int(f, "adapterRank"),
            f.integer("bytesCompared", minimum=0),
        )


@dataclass(frozen=True)
class BehaviourSummary:
    """Budget and coverage of the behavioural trigger scan (MC592) and the recall it was measured at;
    never the tokens it tried or flagged."""

    budget_seconds: str | None
    seconds: str | None
    coverage: str | None
    tested_tokens: int
    tested_bigrams: int
    vocabulary: int
    differential: bool
    prompts: int
    benchmark_recall: str | None
    benchmark_models: str | None

    FIELDS = (
        "budgetSeconds",
        "seconds",
        "coverage",
        "testedTokens",
        "testedBigrams",
        "vocabulary",
        "differential",
        "prompts",
        "benchmarkRecall",
        "benchmarkModels",
    )

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> BehaviourSummary:
        bench = details.get("benchmark")
        bench = bench if isinstance(bench, dict) else {}
        models = bench.get("models")
        return cls(
            decimal_text(details.get("budget_seconds")),
            decimal_text(details.get("seconds")),
            decimal_text(details.get("coverage")),
            _count(details.get("tested_tokens")),
            _count(details.get("tested_bigrams")),
            _count(details.get("vocabulary")),
            details.get("differential") is True,
            _count(details.get("prompts")),
            decimal_text(bench.get("recall")),
            models[:512] if isinstance(models, str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "budgetSeconds": self.budget_seconds,
            "seconds": self.seconds,
            "coverage": self.coverage,
            "testedTokens": self.tested_tokens,
            "testedBigrams": self.tested_bigrams,
            "vocabulary": self.vocabulary,
            "differential": self.differential,
            "prompts": self.prompts,
            "benchmarkRecall": self.benchmark_recall,
            "benchmarkModels": self.benchmark_models,
        }

    @classmethod
    def parse(cls, f: Fields) -> BehaviourSummary:
        return cls(
            _opt_decimal(f, "budgetSeconds"),
            _opt_decimal(f, "seconds"),
            _opt_decimal(f, "coverage"),
            f.integer("testedTokens", minimum=0),
            f.integer("testedBigrams", minimum=0),
            f.integer("vocabulary", minimum=0),
            f.flag("differential", False),
            f.integer("prompts", minimum=0),
            _opt_decimal(f, "benchmarkRecall"),
            f.opt_text("benchmarkModels", max_len=512),
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass(frozen=True)
class BackdoorEvidence:
    level: str  # none, E0, E1, E2, E3
    statement: str
    blocked_by: dict[str, tuple[str, ...]]  # next level -> what kept the scan from reaching it
    base_digest: str | None  # OMS root digest of the declared base the lineage was checked against
    lineage: LineageSummary | None
    behaviour: BehaviourSummary | None
    commitment: str  # sha256(JCS({"salt": hex, "evidence": <evidence_level() in full>}))

    FIELDS = ("level", "statement", "blockedBy", "base", "lineage", "behaviour", "commitment")

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "statement": self.statement,
            "blockedBy": {k: list(v) for k, v in self.blocked_by.items()},
            "base": None if self.base_digest is None else {"sha256": self.base_digest},
            "lineage": None if self.lineage is None else self.lineage.to_dict(),
            "behaviour": None if self.behaviour is None else self.behaviour.to_dict(),
            "commitment": {"sha256": self.commitment},
        }

    @classmethod
    def parse(cls, f: Fields) -> BackdoorEvidence:
        blocked = f.child("blockedBy", allowed=BACKDOOR_LEVELS[1:])
        return cls(
            f.choice("level", BACKDOOR_LEVELS),
            f.text("statement", max_len=4096),
            {str(level): _blockers(blocked, str(level)) for level in sorted(blocked.obj)},
            f.child("base", allowed=("sha256",)).sha256("sha256") if f.has("base") else None,
            LineageSummary.parse(f.child("lineage", allowed=LineageSummary.FIELDS))
            if f.has("lineage")
            else None,
            BehaviourSummary.parse(f.child("behaviour", allowed=BehaviourSummary.FIELDS))
            if f.has("behaviour")
            else None,
            f.child("commitment", allowed=("sha256",)).sha256("sha256"),
        )


def _blockers(f: Fields, level: str) -> tuple[str, ...]:
    f.items(level, max_items=MAX_BLOCKERS)
    values = f.texts(level)
    if any(len(text) > 512 for text in values):
        raise DocumentError(f"{f.at(level)}: an entry is longer than 512 characters")
    return tuple(values)


@dataclass(frozen=True)
class ClauseOutcome:
    id: str
    status: str  # met, not met, not measurable
    level: str | None


@dataclass(frozen=True)
class ComplianceClaim:
    """The `compliance` member: a profile of a policy pack applied to this package (and its behaviour)."""

    subject: str  # OMS root digest the compliance run examined; must be the certificate subject
    profile: str
    status: str
    pack_id: str
    pack_version: str
    pack_digest: str
    clauses: tuple[ClauseOutcome, ...]
    target: dict[str, Any] | None  # kind, name, binding (+ kind-specific scalars)
    document: dict[str, Any]  # the member exactly as signed

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.document)

    def clause(self, clause_id: str) -> ClauseOutcome | None:
        return next((c for c in self.clauses if c.id == clause_id), None)

    @property
    def met(self) -> bool:
        return self.status == MET

    def requirement_ids(self) -> dict[str, bool]:
        """The requirement each clause is echoed as (`comply/<profile>/<clause>`) and whether it passed."""
        return {f"comply/{self.profile}/{c.id}"[:64]: c.status == MET for c in self.clauses}

    @classmethod
    def from_fragment(cls, fragment: dict[str, Any]) -> ComplianceClaim:
        """Read what `compliance_predicate` built through the same strict parser a verifier uses."""
        return cls.parse(copy.deepcopy(fragment), "/predicate/compliance")

    @classmethod
    def parse(cls, obj: Any, where: str) -> ComplianceClaim:
        f = Fields(
            obj,
            where,
            ("schema", "subject", "pack", "profile", "status", "clauses", "checks", "target", "evidence"),
        )
        if f.text("schema", max_len=64) != COMPLIANCE_SCHEMA:
            raise DocumentError(f"{f.at('schema')}: expected {COMPLIANCE_SCHEMA!r}")
        pack = f.child("pack", allowed=("id", "version", "digest", "source"))
        pack.opt_text("source", max_len=1024)
        clauses = tuple(
            _clause(Fields(c, f"{f.at('clauses')}/{i}", ("id", "status", "level")))
            for i, c in enumerate(f.items("clauses", max_items=MAX_CLAUSES))
        )
        for i, c in enumerate(f.items("checks", max_items=MAX_CLAUSES)):
            _check(Fields(c, f"{f.at('checks')}/{i}", _CHECK_FIELDS))
        evidence = f.child("evidence", allowed=("digest", "audience"))
        evidence.child("digest", allowed=("sha256",)).sha256("sha256")
        evidence.choice("audience", AUDIENCES)
        return cls(
            subject=f.child("subject", allowed=("sha256",)).sha256("sha256"),
            profile=f.text("profile", max_len=64),
            status=f.choice("status", STATUSES),
            pack_id=pack.text("id", max_len=128),
            pack_version=pack.text("version", max_len=64),
            pack_digest=pack.child("digest", allowed=("sha256",)).sha256("sha256"),
            clauses=clauses,
            target=_target(f.child("target")) if f.has("target") else None,
            document=dict(f.obj),
        )


_CHECK_FIELDS = ("id", "status", "level", "hits", "scored", "wilson95", "datasetRoot", "scorerDigest")


def _clause(f: Fields) -> ClauseOutcome:
    level = f.choice("level", COMPLIANCE_LEVELS) if f.has("level") else None
    return ClauseOutcome(f.text("id", max_len=128), f.choice("status", STATUSES), level)


def _check(f: Fields) -> None:
    f.text("id", max_len=128)
    f.choice("status", STATUSES)
    if f.has("level"):
        f.choice("level", COMPLIANCE_LEVELS)
    _opt_int(f, "hits")
    _opt_int(f, "scored")
    if f.has("wilson95"):
        interval = f.child("wilson95", allowed=("low", "high"))
        for bound in ("low", "high"):
            if _opt_decimal(interval, bound) is None:
                raise DocumentError(f"{interval.at(bound)}: required field is missing")
    f.opt_text("datasetRoot", max_len=80)
    f.opt_text("scorerDigest", max_len=80)


def _target(f: Fields) -> dict[str, Any]:
    """What answered: kind, name and binding are required; the rest are kind-specific scalars."""
    out: dict[str, Any] = {
        "kind": f.text("kind", max_len=64),
        "name": f.text("name", max_len=256),
        "binding": f.text("binding", max_len=32),
    }
    extras = [k for k in f.obj if k not in out]
    if len(extras) > MAX_TARGET_EXTRAS:
        raise DocumentError(f"{f.where}: more than {MAX_TARGET_EXTRAS} target details")
    for key in extras:
        value = f.obj[key]
        if (isinstance(value, str) and len(value) > 1024) or not isinstance(value, str | int | bool | None):
            raise DocumentError(f"{f.at(key)}: target details are short strings, numbers or booleans")
        out[key] = value
    return out
