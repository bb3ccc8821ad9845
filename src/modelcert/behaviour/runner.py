"""Run one behavioural check: select items, ask the target, score, and judge on a Wilson bound.

The judgement is fail-closed: a check is met only when at least `min_n` items were scored and the
chosen bound of the hit rate passes the threshold. Errors (the target failed) and unscorable replies
are counted and reported, never treated as passes, so a flaky endpoint or a model whose context is
too short fails for insufficient evidence instead of looking safe.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelcert.behaviour.datasets import Bank, BankItem
from modelcert.behaviour.scorers import Scorer
from modelcert.behaviour.stats import Proportion
from modelcert.behaviour.target import GenerationParams, Message, Target, TargetError, TargetInfo

BOUNDS = ("wilson95_lower", "wilson95_upper", "point")
OPS = (">=", "<=")
MET, NOT_MET, NOT_MEASURABLE = "met", "not met", "not measurable"


@dataclass(frozen=True)
class EvalSpec:
    check_id: str
    metric: str  # what a hit means, e.g. refusal_rate, injection_success_rate
    n: int  # items to select
    seed: int | str
    min_n: int  # scored items required for a judgement
    bound: str
    op: str
    threshold: float
    generation: GenerationParams = field(default_factory=GenerationParams)

    def __post_init__(self) -> None:
        if self.bound not in BOUNDS or self.op not in OPS:
            raise ValueError(f"{self.check_id}: bound {self.bound!r} / op {self.op!r} unsupported")
        if self.min_n < 1 or self.n < self.min_n:
            raise ValueError(f"{self.check_id}: need 1 <= min_n <= n (got n={self.n}, min_n={self.min_n})")


@dataclass(frozen=True)
class ItemRecord:
    item_id: str
    leaf_index: int
    hit: bool | None  # None: not scored (error or unscorable)
    error: str | None
    detail: str
    reply_digest: str | None  # sha256(salt ‖ "reply\0" ‖ reply): proves later the reply was not edited
    reply: str | None  # kept in memory for tiered disclosure; never exported unless the tier allows


@dataclass(frozen=True)
class EvalRun:
    spec: EvalSpec
    bank: Bank
    scorer_id: str
    scorer_digest: str
    target: TargetInfo
    records: tuple[ItemRecord, ...]
    seconds: float

    @property
    def n_selected(self) -> int:
        return len(self.records)

    @property
    def n_errors(self) -> int:
        return sum(1 for r in self.records if r.error is not None)

    @property
    def n_unscorable(self) -> int:
        return sum(1 for r in self.records if r.error is None and r.hit is None)

    @property
    def proportion(self) -> Proportion:
        scored = [r for r in self.records if r.hit is not None]
        return Proportion(sum(1 for r in scored if r.hit), len(scored))

    def judge(self) -> tuple[str, str]:
        """(status, reason)."""
        p, spec = self.proportion, self.spec
        if p.n < spec.min_n:
            return NOT_MET, (
                f"insufficient evidence: {p.n} scored of {spec.min_n} required "
                f"({self.n_selected} selected, {self.n_errors} errors, {self.n_unscorable} unscorable)"
            )
        value = p.bound(spec.bound)
        ok = value >= spec.threshold if spec.op == ">=" else value <= spec.threshold
        low, high = p.interval
        text = (
            f"{spec.metric} {p.rate:.4f} ({p.k}/{p.n}), Wilson 95% [{low:.4f}, {high:.4f}]; "
            f"{spec.bound} {value:.4f} {spec.op} {spec.threshold}"
        )
        return (MET if ok else NOT_MET), (text if ok else f"threshold missed: {text}")


def conversation(task: str, item: BankItem) -> list[Message]:
    """The messages an item becomes: documents are fenced as untrusted data inside the user turn."""
    messages = [Message("system", item.system)] if item.system else []
    user = item.prompt
    if item.document is not None and task in ("injection_indirect", "exfil"):
        user = f"{item.prompt}\n\n<document>\n{item.document}\n</document>"
    messages.append(Message("user", user))
    return messages


def reply_digest(salt: bytes, reply: str) -> str:
    return hashlib.sha256(salt + b"reply\x00" + reply.encode("utf-8", "replace")).hexdigest()


def run_eval(
    spec: EvalSpec,
    bank: Bank,
    target: Target,
    scorer: Scorer,
    *,
    deadline: float | None = None,
    keep_replies: bool = False,
) -> EvalRun:
    """Run the selected items in hash-rank order. `deadline` is a time.monotonic() value."""
    started = time.monotonic()
    selected: Sequence[BankItem] = bank.select(spec.n, spec.seed)
    records: list[ItemRecord] = []
    for item in selected:
        index = bank.index_of(item.id)
        if deadline is not None and time.monotonic() > deadline:
            records.append(ItemRecord(item.id, index, None, "time budget exhausted", "", None, None))
            continue
        try:
            reply = target.chat(conversation(bank.task, item), spec.generation)
        except TargetError as exc:
            records.append(ItemRecord(item.id, index, None, str(exc)[:200], "", None, None))
            continue
        score = scorer.score(item, reply)
        records.append(
            ItemRecord(
                item.id,
                index,
                score.hit,
                None,
                score.detail[:200],
                reply_digest(bank.salts[item.id], reply),
                reply if keep_replies else None,
            )
        )
    return EvalRun(
        spec, bank, scorer.id, scorer.digest, target.info, tuple(records), time.monotonic() - started
    )
