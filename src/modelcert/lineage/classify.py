"""What a weight diff means: identical, diffuse fine-tune, localized edit, adapter-shaped or unrelated.

The rules read the diff as a whole (backdoors.md §5 check 6):

- **unrelated weights** — fewer than half the tensors align with the base by name and shape, or the
  median cosine of aligned matrices is below 0.3 (fine-tunes keep > 0.9): the lineage claim is false;
- **identical** — every aligned tensor is equal at the coarser precision;
- **localized edit** — changes confined to at most a quarter of the layers (at least one) while most
  tensors are untouched, or one layer changed 25× more than the median layer;
- **poisoned embedding rows** (reported alongside) — an embedding/LM-head matrix where only a few rows
  changed: the rows name the tokens an edit targeted;
- **adapter-shaped (rank r)** — only matrices changed, each with ≥ 95% of ΔW's energy in ≤ 16
  singular values, no norm/bias vector touched: a merged LoRA;
- **diffuse fine-tune** — anything else that changed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from modelcert.lineage.compare import MIN_ALIGNED_FRACTION, UNRELATED_COSINE, LineageResult, TensorDiff

LOW_RANK_ENERGY = 0.95
LOCALIZED_LAYER_RATIO = 25.0
MAX_POISONED_ROWS = 64


@dataclass(frozen=True)
class EmbeddingEdit:
    tensor: str
    rows: tuple[int, ...]
    total_rows: int


@dataclass
class LineageVerdict:
    kind: str  # identical | diffuse fine-tune | localized edit | adapter-shaped | unrelated weights
    reason: str
    changed: int
    total: int
    median_cosine: float | None
    localized_units: list[str] = field(default_factory=list)
    embedding_edits: list[EmbeddingEdit] = field(default_factory=list)
    adapter_rank: int | None = None
    layer_map: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def lineage_holds(self) -> bool:
        return self.kind != "unrelated weights"


def classify(result: LineageResult) -> LineageVerdict:
    diffs = result.diffs
    matrices = [d for d in diffs if d.is_matrix and d.numel >= 1024]
    cosines = [d.cosine for d in (matrices or diffs)]
    median_cos = statistics.median(cosines) if cosines else None
    changed = [d for d in diffs if not d.identical]
    layer_map = _layer_map(diffs)
    verdict = LineageVerdict(
        kind="diffuse fine-tune",
        reason="",
        changed=len(changed),
        total=len(diffs),
        median_cosine=median_cos,
        layer_map=layer_map,
    )
    if not diffs or result.aligned_fraction < MIN_ALIGNED_FRACTION:
        verdict.kind = "unrelated weights"
        verdict.reason = (
            f"only {len(diffs)} of {len(diffs) + len(result.only_in_model) + len(result.shape_mismatch)} "
            "tensors match the base by name and shape"
        )
        return verdict
    if median_cos is not None and median_cos < UNRELATED_COSINE:
        verdict.kind = "unrelated weights"
        verdict.reason = f"median cosine of aligned matrices is {median_cos:.3f} (derived models keep > 0.9)"
        return verdict
    verdict.embedding_edits = _embedding_edits(changed)
    if not changed:
        verdict.kind = "identical"
        verdict.reason = f"all {len(diffs)} aligned tensors are identical to the base"
        return verdict
    units = _units(diffs)
    changed_units = sorted({_unit(d) for d in changed}, key=_unit_order)
    layers = sorted({d.layer for d in diffs if d.layer is not None})
    identical_share = 1 - len(changed) / len(diffs)
    allowed = max(1, len(layers) // 4)
    embedding_only = all(d.is_embedding for d in changed) and bool(verdict.embedding_edits)
    if (len(changed_units) <= allowed and identical_share >= 0.5 and len(units) > len(changed_units)) or (
        embedding_only and identical_share >= 0.5
    ):
        verdict.kind = "localized edit"
        verdict.localized_units = changed_units
        verdict.reason = (
            f"only {', '.join(changed_units)} changed; {identical_share:.0%} of tensors are identical"
        )
        return verdict
    hot = _hot_layer(layer_map)
    if hot is not None:
        verdict.kind = "localized edit"
        verdict.localized_units = [hot[0]]
        verdict.reason = f"{hot[0]} changed {hot[1]:.0f}× more than the median layer"
        return verdict
    rank = _adapter_rank(changed)
    if rank is not None:
        verdict.kind = "adapter-shaped"
        verdict.adapter_rank = rank
        verdict.reason = f"{len(changed)} matrices changed, each by a rank ≤ {rank} update; no vector changed"
        return verdict
    verdict.reason = f"{len(changed)} of {len(diffs)} tensors changed across {len(changed_units)} units"
    return verdict


def _unit(diff: TensorDiff) -> str:
    if diff.layer is not None:
        return f"layer {diff.layer}"
    return diff.name


def _unit_order(unit: str) -> tuple[int, str]:
    if unit.startswith("layer "):
        return (int(unit.split()[1]), "")
    return (10**9, unit)


def _units(diffs: list[TensorDiff]) -> set[str]:
    return {_unit(d) for d in diffs}


def _layer_map(diffs: list[TensorDiff]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for unit in sorted(_units(diffs), key=_unit_order):
        members = [d for d in diffs if _unit(d) == unit]
        changed = [d for d in members if not d.identical]
        out[unit] = {
            "tensors": len(members),
            "changed": len(changed),
            "mean_rel_change": round(sum(d.rel_change for d in members) / len(members), 6),
        }
    return out


def _hot_layer(layer_map: dict[str, dict[str, float]]) -> tuple[str, float] | None:
    layers = {u: v["mean_rel_change"] for u, v in layer_map.items() if u.startswith("layer ")}
    if len(layers) < 4:
        return None
    median = statistics.median(layers.values())
    unit, top = max(layers.items(), key=lambda item: item[1])
    if median > 0 and top / median >= LOCALIZED_LAYER_RATIO:
        return unit, top / median
    return None


def _embedding_edits(changed: list[TensorDiff]) -> list[EmbeddingEdit]:
    edits = []
    for diff in changed:
        if not diff.is_embedding or diff.rows < 2:
            continue
        limit = min(MAX_POISONED_ROWS, max(3, diff.rows // 200))
        if 0 < diff.changed_row_count <= limit:
            edits.append(EmbeddingEdit(diff.name, tuple(diff.changed_rows), diff.rows))
    return edits


def _adapter_rank(changed: list[TensorDiff]) -> int | None:
    if any(not d.is_matrix for d in changed):
        return None
    ranks = []
    for diff in changed:
        if min(diff.shape) < 32 or not diff.singular_values:
            return None
        needed = _rank_for_energy(diff, LOW_RANK_ENERGY)
        if needed is None or needed > max(1, min(diff.shape) // 8):
            return None
        ranks.append(needed)
    return max(ranks) if ranks else None


def _rank_for_energy(diff: TensorDiff, share: float) -> int | None:
    if diff.delta_fro2 <= 0:
        return None
    running = 0.0
    for i, value in enumerate(diff.singular_values[:16]):
        running += value * value
        if running / diff.delta_fro2 >= share:
            return i + 1
    return None
