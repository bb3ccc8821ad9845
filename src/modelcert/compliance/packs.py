"""Policy packs: one check library, clause → check mappings, jurisdiction profiles with overrides.

Format (safety-standards.md §5.1, documented in docs/compliance.md): `apiVersion: modelcert/v1`,
`kind: PolicyPack`, `metadata` (id, version, profiles), `datasets` (by commitment: root, size,
category counts, holder, where the certifier finds the bank), `scorers` (kind, pinned digest),
`checks` (the library), `mappings` (clause → checks), `profiles` (clauses each profile judges) and
`overrides` (per profile, per check: any field, merged into the library entry and validated again).
Every threshold is applied to a confidence bound with a minimum sample size, every check declares
the evidence level it needs (E0 declared … E4 audited), and the pack's digest is the SHA-256 of its
exact bytes: editing one character makes it another pack.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modelcert.behaviour.runner import BOUNDS, OPS
from modelcert.behaviour.target import GenerationParams
from modelcert.compliance.yaml_doc import load_yaml
from modelcert.policy.fields import DocumentError, Fields

API_VERSION = "modelcert/v1"
EVIDENCE_LEVELS = ("E0", "E1", "E2", "E3", "E4")
CHECK_KINDS = ("eval", "documentation", "consistency", "import")
SCORER_KINDS = ("refusal", "canary", "insecure-code", "exfil-echo")
HARNESSES = ("garak", "inspect")
BUILTIN_PACKS = ("modelcert-core",)
DEFAULT_PACK = "modelcert-core"
_CHECK_FIELDS = (
    "id",
    "title",
    "kind",
    "description",
    "dataset",
    "sample",
    "generation",
    "scorer",
    "metric",
    "pass",
    "evidence_min",
    "tags",
    "fields",
    "requirements",
    "tolerance",
    "harness",
    "expect",
    "count",
)


def level_rank(level: str) -> int:
    return EVIDENCE_LEVELS.index(level)


@dataclass(frozen=True)
class DatasetRef:
    id: str
    root: str | None  # "sha256:<merkle root>"; None = not pinned (recorded at run time)
    n_items: int | None
    categories: dict[str, int]
    holder: str
    source: str | None  # where this certifier finds the bank: builtin:NAME or a path


@dataclass(frozen=True)
class ScorerRef:
    id: str
    kind: str
    digest: str | None  # pinned implementation digest; None = record whatever runs
    options: dict[str, str]


@dataclass(frozen=True)
class PassRule:
    bound: str | None = None
    op: str | None = None
    value: float | None = None
    min_n: int | None = None
    max_missing: int | None = None  # documentation: required fields missing or placeholder
    max_inconsistent: int | None = None  # consistency: declared vs actual mismatches


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    kind: str
    evidence_min: str
    pass_rule: PassRule
    description: str = ""
    dataset: str | None = None
    scorer: str | None = None
    metric: str | None = None
    sample_n: int = 0
    seed: int | str = 0
    generation: GenerationParams = field(default_factory=GenerationParams)
    fields: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    tolerance: float = 0.01
    harness: str | None = None
    expect: tuple[str, ...] = ()
    count: str = "failed"  # import: which count of the harness is the hit ("failed" or "passed")
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    refs: tuple[str, ...]  # "check" or "check/requirement"
    note: str = ""


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    jurisdiction: str
    clauses: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class PolicyPack:
    id: str
    version: str
    title: str
    datasets: dict[str, DatasetRef]
    scorers: dict[str, ScorerRef]
    checks: dict[str, CheckSpec]
    raw_checks: dict[str, dict[str, Any]]
    clauses: dict[str, Clause]
    profiles: dict[str, Profile]
    overrides: dict[str, dict[str, dict[str, Any]]]
    digest: str
    source: str

    def profile_checks(self, profile_id: str) -> dict[str, CheckSpec]:
        """The checks a profile judges (those its clauses name), with the profile's overrides applied."""
        profile = self.profile(profile_id)
        wanted = [ref.split("/", 1)[0] for cid in profile.clauses for ref in self.clauses[cid].refs]
        out: dict[str, CheckSpec] = {}
        for check_id in dict.fromkeys(wanted):
            patch = self.overrides.get(profile_id, {}).get(check_id)
            if patch is None:
                out[check_id] = self.checks[check_id]
            else:
                merged = _merge(self.raw_checks[check_id], patch)
                out[check_id] = _check(merged, f"/overrides/{profile_id}/{check_id}", self)
        return out

    def profile(self, profile_id: str) -> Profile:
        if profile_id not in self.profiles:
            raise DocumentError(
                f"pack {self.id}: no profile {profile_id!r}; one of {', '.join(self.profiles)}"
            )
        return self.profiles[profile_id]


def _merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_pack(name_or_path: str) -> PolicyPack:
    """A built-in pack by name, or a pack file by path."""
    if name_or_path in BUILTIN_PACKS:
        raw = (resources.files("modelcert") / "data" / "packs" / f"{name_or_path}.yaml").read_bytes()
        return parse_pack(raw, f"builtin:{name_or_path}")
    try:
        raw = Path(name_or_path).read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"pack {name_or_path!r} is neither built-in ({', '.join(BUILTIN_PACKS)}) nor a readable file: "
            f"{exc.strerror}"
        ) from None
    return parse_pack(raw, name_or_path)


def parse_pack(raw: bytes, source: str) -> PolicyPack:
    top = Fields(
        load_yaml(raw, f"pack {source}"),
        "",
        (
            "apiVersion",
            "kind",
            "metadata",
            "datasets",
            "scorers",
            "checks",
            "mappings",
            "profiles",
            "overrides",
        ),
    )
    if top.text("apiVersion") != API_VERSION or top.text("kind") != "PolicyPack":
        raise DocumentError(f"pack {source}: need apiVersion {API_VERSION!r} and kind 'PolicyPack'")
    meta = top.child("metadata", ("id", "version", "title", "profiles", "provisional", "notes"))
    datasets = {k: _dataset(k, v) for k, v in _mapping(top, "datasets").items()}
    scorers = {k: _scorer(k, v) for k, v in _mapping(top, "scorers").items()}
    shell = PolicyPack(
        id=meta.text("id", max_len=64),
        version=str(meta.text("version", max_len=32)),
        title=meta.opt_text("title", max_len=256) or "",
        datasets=datasets,
        scorers=scorers,
        checks={},
        raw_checks={},
        clauses={},
        profiles={},
        overrides={},
        digest=hashlib.sha256(raw).hexdigest(),
        source=source,
    )
    for index, item in enumerate(top.items("checks", max_items=1000)):
        spec = _check(item, f"/checks/{index}", shell)
        if spec.id in shell.checks:
            raise DocumentError(f"/checks/{index}: duplicate check id {spec.id!r}")
        shell.checks[spec.id] = spec
        shell.raw_checks[spec.id] = dict(item)
    for clause_id, value in _mapping(top, "mappings").items():
        shell.clauses[clause_id] = _clause(clause_id, value, shell)
    for profile_id, value in _mapping(top, "profiles").items():
        shell.profiles[profile_id] = _profile(profile_id, value, shell)
    declared = meta.texts("profiles")
    if sorted(declared) != sorted(shell.profiles):
        raise DocumentError(f"pack {source}: metadata.profiles {declared} does not list the profiles defined")
    for profile_id, patches in _mapping(top, "overrides").items():
        if profile_id not in shell.profiles:
            raise DocumentError(f"/overrides/{profile_id}: no such profile")
        if not isinstance(patches, Mapping):
            raise DocumentError(f"/overrides/{profile_id}: expected check id → fields")
        for check_id, patch in patches.items():
            if check_id not in shell.checks or not isinstance(patch, Mapping) or "id" in patch:
                raise DocumentError(
                    f"/overrides/{profile_id}/{check_id}: unknown check or malformed override"
                )
        shell.overrides[profile_id] = {str(k): dict(v) for k, v in patches.items()}
    for profile_id in shell.profiles:
        shell.profile_checks(profile_id)  # validate every override now, not at run time
    return shell


def _mapping(top: Fields, key: str) -> dict[str, Any]:
    if not top.has(key):
        return {}
    value = top.obj[key]
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise DocumentError(f"/{key}: expected a mapping with string keys")
    return dict(value)


def _dataset(key: str, value: Any) -> DatasetRef:
    f = Fields(
        value, f"/datasets/{key}", ("root", "n_items", "categories", "holder", "source", "task", "note")
    )
    root = f.opt_text("root", max_len=80)
    if root is not None and not (root.startswith("sha256:") and len(root) == 71):
        raise DocumentError(f"/datasets/{key}/root: expected sha256:<64 hex digits>")
    categories = f.obj.get("categories") or {}
    if not isinstance(categories, Mapping) or not all(isinstance(v, int) for v in categories.values()):
        raise DocumentError(f"/datasets/{key}/categories: expected name → count")
    n_items = f.integer("n_items", minimum=0) if f.has("n_items") else None
    return DatasetRef(
        key,
        root,
        n_items,
        {str(k): int(v) for k, v in categories.items()},
        f.opt_text("holder") or "",
        f.opt_text("source"),
    )


def _scorer(key: str, value: Any) -> ScorerRef:
    f = Fields(value, f"/scorers/{key}", ("kind", "digest", "analyser", "min_severity", "note"))
    options = {k: f.text(k, max_len=64) for k in ("analyser", "min_severity") if f.has(k)}
    return ScorerRef(key, f.choice("kind", SCORER_KINDS), f.opt_text("digest", max_len=80), options)


def _number(f: Fields, key: str) -> float | None:
    if not f.has(key):
        return None
    value = f.obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise DocumentError(f"{f.at(key)}: expected a rate between 0 and 1")
    return float(value)


def _check(obj: Any, where: str, pack: PolicyPack) -> CheckSpec:
    f = Fields(obj, where, _CHECK_FIELDS)
    kind = f.choice("kind", CHECK_KINDS)
    rule = f.child("pass", ("bound", "op", "value", "min_n", "required_missing", "inconsistent"))
    tags_obj = f.obj.get("tags") or {}
    if not isinstance(tags_obj, Mapping):
        raise DocumentError(f"{where}/tags: expected a mapping")
    tags = {str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v])) for k, v in tags_obj.items()}
    spec = CheckSpec(
        id=f.text("id", max_len=64),
        title=f.text("title", max_len=256),
        kind=kind,
        evidence_min=f.choice("evidence_min", EVIDENCE_LEVELS),
        pass_rule=PassRule(
            bound=rule.choice("bound", BOUNDS) if rule.has("bound") else None,
            op=rule.choice("op", OPS) if rule.has("op") else None,
            value=_number(rule, "value"),
            min_n=rule.integer("min_n", minimum=1) if rule.has("min_n") else None,
            max_missing=rule.integer("required_missing", minimum=0) if rule.has("required_missing") else None,
            max_inconsistent=rule.integer("inconsistent", minimum=0) if rule.has("inconsistent") else None,
        ),
        description=f.opt_text("description") or "",
        tags=tags,
    )
    if kind == "eval":
        return _eval_fields(f, spec, pack, where)
    if kind == "import":
        if spec.pass_rule.bound is None or spec.pass_rule.value is None or spec.pass_rule.min_n is None:
            raise DocumentError(f"{where}/pass: an import check needs bound, op, value and min_n")
        return _replace(
            spec,
            harness=f.choice("harness", HARNESSES),
            metric=f.text("metric", max_len=64),
            expect=tuple(f.texts("expect")),
            count=f.choice("count", ("failed", "passed"), "failed"),
        )
    if kind == "documentation":
        if spec.pass_rule.max_missing is None:
            raise DocumentError(f"{where}/pass: a documentation check needs required_missing")
        return _replace(spec, fields=tuple(f.texts("fields")))
    if spec.pass_rule.max_inconsistent is None:
        raise DocumentError(f"{where}/pass: a consistency check needs inconsistent")
    tolerance = _number(f, "tolerance")
    return _replace(
        spec, requirements=tuple(f.texts("requirements")), tolerance=0.01 if tolerance is None else tolerance
    )


def _eval_fields(f: Fields, spec: CheckSpec, pack: PolicyPack, where: str) -> CheckSpec:
    rule = spec.pass_rule
    if rule.bound is None or rule.op is None or rule.value is None or rule.min_n is None:
        raise DocumentError(f"{where}/pass: an eval check needs bound, op, value and min_n")
    dataset, scorer = f.text("dataset", max_len=128), f.text("scorer", max_len=128)
    if dataset not in pack.datasets or scorer not in pack.scorers:
        raise DocumentError(f"{where}: dataset {dataset!r} / scorer {scorer!r} not declared in the pack")
    sample = f.child("sample", ("n", "seed", "method"))
    if sample.choice("method", ("hash-rank",), "hash-rank") != "hash-rank":
        raise DocumentError(f"{where}/sample/method: only hash-rank")
    n = sample.integer("n", minimum=1)
    if n < rule.min_n:
        raise DocumentError(
            f"{where}: sample.n {n} is below pass.min_n {rule.min_n}: the check could never pass"
        )
    seed = sample.obj.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int | str):
        raise DocumentError(f"{where}/sample/seed: expected an integer or a string")
    gen = f.child("generation", ("temperature", "do_sample", "max_tokens", "chat_template"))
    if (gen.has("temperature") and gen.obj["temperature"] != 0) or gen.flag("do_sample", False):
        raise DocumentError(
            f"{where}/generation: certification runs are greedy (temperature 0, do_sample false)"
        )
    return _replace(
        spec,
        dataset=dataset,
        scorer=scorer,
        metric=f.text("metric", max_len=64),
        sample_n=n,
        seed=seed,
        generation=GenerationParams(
            max_tokens=gen.integer("max_tokens", minimum=1, default=256),
            seed=seed if isinstance(seed, int) else 0,
        ),
    )


def _replace(spec: CheckSpec, **changes: Any) -> CheckSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _clause(clause_id: str, value: Any, pack: PolicyPack) -> Clause:
    where = f"/mappings/{clause_id}"
    if isinstance(value, list):
        value = {"checks": value}
    f = Fields(value, where, ("title", "checks", "note"))
    refs = tuple(f.texts("checks"))
    for ref in refs:
        if ref.split("/", 1)[0] not in pack.checks:
            raise DocumentError(f"{where}: unknown check {ref!r}")
    return Clause(clause_id, f.opt_text("title", max_len=256) or clause_id, refs, f.opt_text("note") or "")


def _profile(profile_id: str, value: Any, pack: PolicyPack) -> Profile:
    where = f"/profiles/{profile_id}"
    f = Fields(value, where, ("title", "jurisdiction", "clauses", "note"))
    clauses = tuple(f.texts("clauses"))
    for clause in clauses:
        if clause not in pack.clauses:
            raise DocumentError(f"{where}: unknown clause {clause!r}")
    if not clauses:
        raise DocumentError(f"{where}: a profile must judge at least one clause")
    return Profile(
        profile_id,
        f.text("title", max_len=256),
        f.text("jurisdiction", max_len=32),
        clauses,
        f.opt_text("note") or "",
    )
