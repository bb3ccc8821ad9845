"""Tensor-by-tensor comparison of a model with its declared base, and what the difference looks like.

For every tensor present in both (aligned by name, wrapper prefixes ignored) the comparison streams
both copies window by window and accumulates: identical or not (at the coarser of the two
precisions, so a bf16 re-save of an fp32 base is "identical"), ‖ΔW‖/‖W‖, the cosine of the two
tensors, which rows changed, and — for changed matrices — the top singular values of ΔW from a
two-pass randomized range finder (Halko et al. 2011), so even a 100M-element matrix needs only
O((m+n)·k) memory. The classification then reads the per-tensor results as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from modelcert.lineage.names import HEAD_NAMES, canonical_name, is_token_embedding, layer_of, named_like
from modelcert.lineage.tensors import DEFAULT_CHUNK_BYTES, StoredTensor, TensorStore, coarser, round_to

SKETCH_RANK = 16
SKETCH_OVERSAMPLE = 8
EXACT_SVD_ELEMENTS = 4_000_000  # smaller ΔW are decomposed exactly
UNRELATED_COSINE = 0.3  # fine-tunes keep cosine > 0.9; independently trained weights sit near 0
MIN_ALIGNED_FRACTION = 0.5


@dataclass
class TensorDiff:
    """How one tensor differs from its base counterpart."""

    name: str
    shape: tuple[int, ...]
    numel: int
    layer: int | None
    identical: bool
    rel_change: float  # ‖ΔW‖ / ‖W_base‖
    cosine: float
    changed_rows: list[int] = field(default_factory=list)  # filled for 2-D tensors when few rows changed
    changed_row_count: int = 0
    rows: int = 0
    singular_values: list[float] = field(default_factory=list)
    delta_fro2: float = 0.0

    @property
    def stable_rank(self) -> float | None:
        if not self.singular_values or self.singular_values[0] == 0:
            return None
        return self.delta_fro2 / (self.singular_values[0] ** 2)

    def energy_in_top(self, k: int) -> float | None:
        if not self.singular_values or self.delta_fro2 == 0:
            return None
        return float(sum(s * s for s in self.singular_values[:k]) / self.delta_fro2)

    @property
    def is_matrix(self) -> bool:
        return len(self.shape) == 2 and min(self.shape) > 1

    @property
    def is_embedding(self) -> bool:
        return is_token_embedding(self.name) or named_like(self.name, HEAD_NAMES)


@dataclass
class LineageResult:
    """Every aligned tensor's diff plus what could not be aligned, and the bytes and time spent."""

    diffs: list[TensorDiff]
    only_in_model: list[str]
    only_in_base: list[str]
    shape_mismatch: list[str]
    seconds: float
    bytes_read: int

    @property
    def aligned_fraction(self) -> float:
        total = len(self.diffs) + len(self.only_in_model) + len(self.shape_mismatch)
        return len(self.diffs) / total if total else 0.0


def compare_stores(
    model: TensorStore,
    base: TensorStore,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    deadline: Callable[[], bool] | None = None,
) -> LineageResult:
    """Compare every tensor of `model` with the same-named tensor of `base`, streaming both."""
    started = time.perf_counter()
    base_by = {canonical_name(n): t for n, t in base.tensors.items()}
    model_by = {canonical_name(n): t for n, t in model.tensors.items()}
    diffs: list[TensorDiff] = []
    mismatch: list[str] = []
    bytes_read = 0
    for name in sorted(model_by):
        if deadline is not None and deadline():
            break
        mine, theirs = model_by[name], base_by.get(name)
        if theirs is None:
            continue
        if mine.shape != theirs.shape:
            if _is_row_extension(mine, theirs):
                diffs.append(compare_tensor(mine, theirs, name, chunk_bytes, rows=theirs.rows()))
            else:
                mismatch.append(name)
            continue
        if not (mine.is_float and theirs.is_float):
            continue
        diffs.append(compare_tensor(mine, theirs, name, chunk_bytes))
        bytes_read += 2 * (mine.entry.end - mine.entry.begin)
    return LineageResult(
        diffs=diffs,
        only_in_model=sorted(set(model_by) - set(base_by)),
        only_in_base=sorted(set(base_by) - set(model_by)),
        shape_mismatch=mismatch,
        seconds=time.perf_counter() - started,
        bytes_read=bytes_read,
    )


def _is_row_extension(mine: StoredTensor, theirs: StoredTensor) -> bool:
    """A vocabulary resize: same width, more rows (the shared rows are compared)."""
    return (
        len(mine.shape) == 2
        and len(theirs.shape) == 2
        and mine.shape[1] == theirs.shape[1]
        and mine.shape[0] > theirs.shape[0]
        and mine.is_float
        and theirs.is_float
    )


def compare_tensor(
    mine: StoredTensor, theirs: StoredTensor, name: str, chunk_bytes: int, rows: int | None = None
) -> TensorDiff:
    """One streaming pass of statistics, then (if changed and a matrix) the spectrum of ΔW."""
    precision = coarser(mine.dtype, theirs.dtype)
    n_rows = rows if rows is not None else mine.rows()
    width = mine.row_width()
    w2 = b2 = d2 = dot = 0.0
    row_d2 = np.zeros(n_rows, dtype=np.float64)
    step = max(1, chunk_bytes // max(1, width * 4))
    for start in range(0, n_rows, step):
        count = min(step, n_rows - start)
        a = round_to(mine.read_rows(start, count), precision).astype(np.float64)
        b = round_to(theirs.read_rows(start, count), precision).astype(np.float64)
        delta = a - b
        w2 += float(np.sum(a * a))
        b2 += float(np.sum(b * b))
        dot += float(np.sum(a * b))
        per_row = np.sum(delta * delta, axis=1)
        row_d2[start : start + count] = per_row
        d2 += float(per_row.sum())
    changed = np.flatnonzero(row_d2 > 0)
    diff = TensorDiff(
        name=name,
        shape=(n_rows, width) if len(mine.shape) >= 2 else mine.shape,
        numel=n_rows * width,
        layer=layer_of(name),
        identical=d2 == 0.0,
        rel_change=float(np.sqrt(d2 / b2)) if b2 > 0 else (0.0 if d2 == 0 else float("inf")),
        cosine=float(dot / np.sqrt(w2 * b2)) if w2 > 0 and b2 > 0 else (1.0 if d2 == 0 else 0.0),
        changed_row_count=int(changed.size),
        changed_rows=[int(i) for i in changed[:256]],
        rows=n_rows,
        delta_fro2=d2,
    )
    if not diff.identical and len(mine.shape) == 2 and min(n_rows, width) > 1:
        diff.singular_values = delta_spectrum(mine, theirs, precision, n_rows, chunk_bytes)
    return diff


def delta_spectrum(
    mine: StoredTensor, theirs: StoredTensor, precision: str, n_rows: int, chunk_bytes: int
) -> list[float]:
    """Top singular values of ΔW (exact for small matrices, randomized two-pass sketch otherwise)."""
    width = mine.row_width()
    step = max(1, chunk_bytes // max(1, width * 4))

    def delta_rows(start: int, count: int) -> np.ndarray:
        a = round_to(mine.read_rows(start, count), precision).astype(np.float64)
        b = round_to(theirs.read_rows(start, count), precision).astype(np.float64)
        return a - b

    if n_rows * width <= EXACT_SVD_ELEMENTS:
        full = np.concatenate([delta_rows(s, min(step, n_rows - s)) for s in range(0, n_rows, step)])
        values = np.linalg.svd(full, compute_uv=False)
        return [float(v) for v in values[: SKETCH_RANK * 2]]
    k = min(SKETCH_RANK + SKETCH_OVERSAMPLE, n_rows, width)
    rng = np.random.default_rng(0)
    omega = rng.standard_normal((width, k))
    sketch = np.zeros((n_rows, k))
    for start in range(0, n_rows, step):
        count = min(step, n_rows - start)
        sketch[start : start + count] = delta_rows(start, count) @ omega
    q, _ = np.linalg.qr(sketch)
    projected = np.zeros((q.shape[1], width))
    for start in range(0, n_rows, step):
        count = min(step, n_rows - start)
        projected += q[start : start + count].T @ delta_rows(start, count)
    values = np.linalg.svd(projected, compute_uv=False)
    return [float(v) for v in values[:SKETCH_RANK]]


def lora_spectrum(a: np.ndarray, b: np.ndarray, scale: float) -> tuple[list[float], float]:
    """Singular values and Frobenius² of ΔW = scale·B·A from the factors (never forms ΔW)."""
    qb, rb = np.linalg.qr(b.astype(np.float64))
    qa, ra = np.linalg.qr(a.astype(np.float64).T)
    core = scale * rb @ ra.T
    values = np.linalg.svd(core, compute_uv=False)
    del qb, qa
    return [float(v) for v in values], float(np.sum(values**2))
