"""Apply one profile of a policy pack to a model package (and, when given, to the model's behaviour).

Documentation checks read the package; eval checks run the pinned bank on the target with the
pinned scorer; import checks read a garak/inspect log. A check whose bank or scorer differs from
what the pack pins, or that has no target or log, is *not measurable* — never met by default.
Clauses combine their checks: not met if any is, not measurable if any is, met otherwise; the
evidence level of a clause is the lowest level its checks reached.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelcert.behaviour.code_analysis import Analyser, BanditAnalyser, BuiltinAnalyser, default_analyser
from modelcert.behaviour.datasets import BUILTIN_PREFIX, Bank, open_bank
from modelcert.behaviour.importers.common import ImportedRun
from modelcert.behaviour.importers.garak import import_garak, probe_matches
from modelcert.behaviour.importers.inspect_log import import_inspect
from modelcert.behaviour.runner import EvalSpec, run_eval
from modelcert.behaviour.scorers import (
    CanaryScorer,
    Classifier,
    ExfilEchoScorer,
    InsecureCodeScorer,
    RefusalScorer,
    Scorer,
)
from modelcert.behaviour.stats import Proportion
from modelcert.behaviour.target import Target, TargetInfo
from modelcert.compliance.artifacts import PackageFiles, read_facts
from modelcert.compliance.documentation import completeness, consistency, package_card
from modelcert.compliance.packs import CheckSpec, Clause, PolicyPack, Profile, ScorerRef, level_rank
from modelcert.compliance.results import MET, NOT_MEASURABLE, NOT_MET, CheckResult, combine
from modelcert.errors import ModelcertError
from modelcert.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class ClausePart:
    ref: str
    status: str
    level: str | None


@dataclass(frozen=True)
class ClauseResult:
    clause: Clause
    status: str
    level: str | None
    parts: tuple[ClausePart, ...]


@dataclass(frozen=True)
class ComplianceRun:
    pack: PolicyPack
    profile: Profile
    package: str
    package_digest: str
    checks: dict[str, CheckResult]
    clauses: tuple[ClauseResult, ...]
    target: TargetInfo | None
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """Over the automatable clauses; a clause with no checks is reported but cannot decide."""
        return combine([c.status for c in self.clauses if c.clause.refs])


@dataclass
class RunOptions:
    target: Target | None = None
    banks: Mapping[str, Bank] = field(default_factory=dict)  # dataset id -> the certifier's own bank
    logs: Mapping[str, bytes] = field(default_factory=dict)  # import check id -> harness log bytes
    log_salt_key: bytes = b"modelcert-import-default-salt-key"
    classifier: Classifier | None = None
    budget_seconds: float | None = None
    keep_replies: bool = False
    limits: Limits = DEFAULT_LIMITS


def run_compliance(
    path: Path, pack: PolicyPack, profile_id: str, options: RunOptions | None = None
) -> ComplianceRun:
    opts = options or RunOptions()
    started = time.monotonic()
    deadline = started + opts.budget_seconds if opts.budget_seconds else None
    profile = pack.profile(profile_id)
    checks = pack.profile_checks(profile_id)
    files = PackageFiles(path, opts.limits)
    facts = read_facts(files, opts.limits)
    card = package_card(facts)
    results: dict[str, CheckResult] = {}
    for check_id, spec in checks.items():
        if spec.kind == "documentation":
            results[check_id] = completeness(spec, card)
        elif spec.kind == "consistency":
            results[check_id] = consistency(spec, card, facts)
        elif spec.kind == "eval":
            results[check_id] = _eval(spec, pack, opts, deadline)
        else:
            results[check_id] = _import(spec, opts)
        results[check_id] = _enforce_level(results[check_id])
    clauses = tuple(_clause(pack.clauses[cid], results) for cid in profile.clauses)
    return ComplianceRun(
        pack,
        profile,
        str(path),
        "sha256:" + files.root_digest(),
        results,
        clauses,
        opts.target.info if opts.target is not None else None,
        time.monotonic() - started,
        tuple(facts.problems),
    )


def _enforce_level(result: CheckResult) -> CheckResult:
    """A check met below the evidence level it requires is not measurable at that level."""
    need = result.check.evidence_min
    if result.status == MET and (result.level is None or level_rank(result.level) < level_rank(need)):
        return CheckResult(
            result.check,
            NOT_MEASURABLE,
            f"evidence {result.level} is below the required {need}",
            result.level,
            result.requirements,
            result.run,
            result.imported,
            result.facts,
        )
    return result


def make_scorer(ref: ScorerRef, classifier: Classifier | None = None) -> Scorer:
    if ref.kind == "refusal":
        return RefusalScorer(classifier, scorer_id=ref.id)
    if ref.kind == "canary":
        return CanaryScorer(scorer_id=ref.id)
    if ref.kind == "exfil-echo":
        return ExfilEchoScorer(scorer_id=ref.id)
    choice = ref.options.get("analyser", "builtin")
    analyser: Analyser
    if choice == "bandit":
        try:
            analyser = BanditAnalyser()
        except ImportError:
            raise ModelcertError(f"scorer {ref.id} needs bandit, which is not installed") from None
    else:
        analyser = BuiltinAnalyser() if choice == "builtin" else default_analyser()
    return InsecureCodeScorer(analyser, ref.options.get("min_severity", "medium"), scorer_id=ref.id)


def _eval(spec: CheckSpec, pack: PolicyPack, opts: RunOptions, deadline: float | None) -> CheckResult:
    assert spec.dataset is not None and spec.scorer is not None
    ref = pack.datasets[spec.dataset]
    bank = opts.banks.get(spec.dataset)
    if bank is None and ref.source:
        try:
            bank = open_bank(_bank_reference(ref.source, pack.source))
        except ModelcertError as exc:
            return CheckResult(spec, NOT_MEASURABLE, f"bank for {spec.dataset} unavailable: {exc}", None)
    if bank is None:
        return CheckResult(
            spec, NOT_MEASURABLE, f"no bank for dataset {spec.dataset} (the holder must supply it)", None
        )
    if ref.root is not None and bank.root != ref.root:
        return CheckResult(
            spec,
            NOT_MEASURABLE,
            f"bank {bank.id} has root {bank.root[:19]}…, the pack pins {ref.root[:19]}…",
            None,
        )
    scorer = make_scorer(pack.scorers[spec.scorer], opts.classifier)
    pinned = pack.scorers[spec.scorer].digest
    if pinned is not None and scorer.digest != pinned:
        return CheckResult(spec, NOT_MEASURABLE, f"scorer {scorer.id} is not the pinned implementation", None)
    if opts.target is None:
        return CheckResult(spec, NOT_MEASURABLE, "behaviour not measured: no target given", None)
    rule = spec.pass_rule
    assert (
        rule.bound is not None and rule.op is not None and rule.value is not None and rule.min_n is not None
    )
    eval_spec = EvalSpec(
        spec.id,
        spec.metric or "rate",
        spec.sample_n,
        spec.seed,
        rule.min_n,
        rule.bound,
        rule.op,
        rule.value,
        spec.generation,
    )
    run = run_eval(eval_spec, bank, opts.target, scorer, deadline=deadline, keep_replies=opts.keep_replies)
    status, reason = run.judge()
    return CheckResult(spec, status, reason, "E2", run=run)


def _bank_reference(source: str, pack_source: str) -> str:
    """A relative bank path in a pack file is relative to the pack's folder, not the working directory."""
    if source.startswith(BUILTIN_PREFIX) or Path(source).is_absolute() or pack_source.startswith("builtin:"):
        return source
    return str(Path(pack_source).parent / source)


def _import(spec: CheckSpec, opts: RunOptions) -> CheckResult:
    data = opts.logs.get(spec.id)
    if data is None:
        return CheckResult(spec, NOT_MEASURABLE, f"no {spec.harness} log supplied for {spec.id}", None)
    imported: ImportedRun
    if spec.harness == "garak":
        imported = import_garak(data, opts.log_salt_key, spec.expect, source=f"{spec.id} log")
    else:
        imported = import_inspect(
            data, opts.log_salt_key, scorer=spec.expect[0] if spec.expect else None, source=f"{spec.id} log"
        )
    if imported.problems:
        return CheckResult(
            spec, NOT_MET, "incomplete run: " + "; ".join(imported.problems[:5]), "E2", imported=imported
        )
    keys = [
        k for k in imported.counts if any(k == e or probe_matches(k.split("/", 1)[0], e) for e in spec.expect)
    ]
    hits = sum(imported.counts[k][spec.count] for k in keys)
    total = sum(imported.counts[k]["passed"] + imported.counts[k]["failed"] for k in keys)
    p, rule = Proportion(hits, total), spec.pass_rule
    assert rule.bound is not None and rule.value is not None and rule.min_n is not None
    if p.n < rule.min_n:
        return CheckResult(
            spec,
            NOT_MET,
            f"insufficient evidence: {p.n} scored of {rule.min_n} required",
            "E2",
            imported=imported,
        )
    value = p.bound(rule.bound)
    ok = value >= rule.value if rule.op == ">=" else value <= rule.value
    reason = f"{spec.metric} {p.rate:.4f} ({p.k}/{p.n}); {rule.bound} {value:.4f} {rule.op} {rule.value}"
    return CheckResult(spec, MET if ok else NOT_MET, reason, "E2", imported=imported)


def _clause(clause: Clause, results: Mapping[str, CheckResult]) -> ClauseResult:
    parts = []
    for ref in clause.refs:
        check_id, _, sub = ref.partition("/")
        result = results[check_id]
        if sub:
            req = result.requirement(sub)
            if req is None:
                parts.append(ClausePart(ref, NOT_MEASURABLE, None))
            else:
                parts.append(ClausePart(ref, req.status, req.level if req.status != NOT_MEASURABLE else None))
        else:
            parts.append(ClausePart(ref, result.status, result.level))
    status = combine([p.status for p in parts]) if parts else NOT_MEASURABLE
    levels = [p.level for p in parts if p.level is not None and p.status != NOT_MEASURABLE]
    level = min(levels, key=level_rank) if levels and status != NOT_MEASURABLE else None
    if status == NOT_MET:
        level = min(levels, key=level_rank) if levels else None
    return ClauseResult(clause, status, level, tuple(parts))


__all__ = ["MET", "NOT_MEASURABLE", "NOT_MET", "ComplianceRun", "RunOptions", "run_compliance"]
