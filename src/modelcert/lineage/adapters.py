"""LoRA adapters: the spectrum of every ΔW = (α/r)·B·A, and modules or tokens that stand out.

Weight-space backdoor detection for LoRA (Puertolas Merenciano et al., arXiv 2602.15195; Lelle,
arXiv 2605.30189) reads the adapter alone: a poisoned adapter concentrates its update in a few
modules (outlier dimension-normalized Frobenius norms across modules of one kind) or, for an
embedding adapter, in a few token rows. The factors are rank r, so the spectrum of ΔW comes from an
r×r core (QR of B and Aᵀ) and ΔW itself is never formed.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field

import numpy as np

from modelcert.lineage.compare import lora_spectrum
from modelcert.lineage.tensors import TensorStore

_LORA = re.compile(
    r"^(?P<module>.+)\.lora_(?P<part>A|B|embedding_A|embedding_B)(?:\.[^.]+)?\.weight$|"
    r"^(?P<module2>.+)\.lora_(?P<part2>embedding_A|embedding_B)(?:\.[^.]+)?$"
)
OUTLIER_Z = 6.0
OUTLIER_RATIO = 5.0
TOKEN_ENERGY_SHARE = 0.9
MAX_EDITED_TOKENS = 8
MAX_FACTOR_ELEMENTS = 16_000_000  # one LoRA factor read in memory (float64: 128 MB)


@dataclass
class ModuleStats:
    module: str
    kind: str  # q_proj, v_proj, ..., embedding
    shape: tuple[int, int]
    rank: int
    singular_values: list[float]
    fro: float
    normalized: float  # ‖ΔW‖_F / sqrt(out·in)

    @property
    def energy_top1(self) -> float:
        total = sum(s * s for s in self.singular_values)
        return self.singular_values[0] ** 2 / total if total else 0.0


@dataclass
class AdapterReport:
    modules: list[ModuleStats] = field(default_factory=list)
    outliers: list[tuple[ModuleStats, float, float]] = field(default_factory=list)  # (module, z, ratio)
    edited_tokens: list[tuple[str, list[int], float]] = field(default_factory=list)  # (module, ids, share)
    unpaired: list[str] = field(default_factory=list)


def lora_scale(config: dict[str, object]) -> float:
    rank = config.get("r")
    alpha = config.get("lora_alpha", rank)
    if not isinstance(rank, int | float) or not isinstance(alpha, int | float) or rank <= 0:
        return 1.0
    return float(alpha) / (math.sqrt(rank) if config.get("use_rslora") else float(rank))


def analyse_adapter(store: TensorStore, config: dict[str, object]) -> AdapterReport:
    scale = lora_scale(config)
    pairs: dict[str, dict[str, str]] = {}
    for name in store.tensors:
        match = _LORA.match(name)
        if not match:
            continue
        module = match.group("module") or match.group("module2")
        part = match.group("part") or match.group("part2")
        pairs.setdefault(module, {})[part] = name
    report = AdapterReport()
    for module, parts in sorted(pairs.items()):
        a_name = parts.get("A") or parts.get("embedding_A")
        b_name = parts.get("B") or parts.get("embedding_B")
        if a_name is None or b_name is None:
            report.unpaired.append(module)
            continue
        a_t, b_t = store.tensors[a_name], store.tensors[b_name]
        if len(a_t.shape) != 2 or len(b_t.shape) != 2 or a_t.shape[0] != b_t.shape[1]:
            report.unpaired.append(module)
            continue
        if a_t.numel > MAX_FACTOR_ELEMENTS or b_t.numel > MAX_FACTOR_ELEMENTS:
            continue
        a = a_t.read_rows(0, a_t.rows()).astype(np.float64)
        b = b_t.read_rows(0, b_t.rows()).astype(np.float64)
        values, fro2 = lora_spectrum(a, b, scale)
        out_dim, in_dim = b.shape[0], a.shape[1]
        embedding = "embedding_A" in parts
        stats = ModuleStats(
            module=module,
            kind="embedding" if embedding else module.rsplit(".", 1)[-1],
            shape=(out_dim, in_dim),
            rank=a.shape[0],
            singular_values=values,
            fro=math.sqrt(fro2),
            normalized=math.sqrt(fro2 / (out_dim * in_dim)),
        )
        report.modules.append(stats)
        if embedding:
            _token_concentration(report, module, a, b)
    report.outliers = _outliers(report.modules)
    return report


def _token_concentration(report: AdapterReport, module: str, a: np.ndarray, b: np.ndarray) -> None:
    """Per-token energy of an embedding adapter: ‖B·a_j‖² = a_jᵀ(BᵀB)a_j for every vocabulary column j."""
    gram = b.T @ b
    energy = np.sum(a * (gram @ a), axis=0)
    total = float(energy.sum())
    if total <= 0 or energy.size < 16:
        return
    order = np.argsort(energy)[::-1]
    top = order[:MAX_EDITED_TOKENS]
    share = float(energy[top].sum() / total)
    if share >= TOKEN_ENERGY_SHARE:
        cumulative = np.cumsum(energy[order]) / total
        needed = int(np.searchsorted(cumulative, TOKEN_ENERGY_SHARE) + 1)
        report.edited_tokens.append((module, [int(i) for i in order[:needed]], share))


def _outliers(modules: list[ModuleStats]) -> list[tuple[ModuleStats, float, float]]:
    """Modules whose normalized update is far above their kind's (median/MAD of log norms)."""
    found = []
    kinds: dict[str, list[ModuleStats]] = {}
    for m in modules:
        if m.normalized > 0:
            kinds.setdefault(m.kind, []).append(m)
    for members in kinds.values():
        if len(members) < 4:
            continue
        logs = [math.log(m.normalized) for m in members]
        median = statistics.median(logs)
        mad = statistics.median(abs(x - median) for x in logs) * 1.4826
        for m, value in zip(members, logs, strict=True):
            z = (value - median) / max(mad, 0.05)
            ratio = math.exp(value - median)
            if z >= OUTLIER_Z and ratio >= OUTLIER_RATIO:
                found.append((m, z, ratio))
    return found
