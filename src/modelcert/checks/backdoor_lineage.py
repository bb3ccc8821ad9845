"""Backdoor evidence in weights (MC570–MC579): lineage against a declared base, LoRA adapter spectra.

Without a base, only adapters can be read on their own (their factors are the whole update). With
`--base`, the model's safetensors are compared with the base's tensor by tensor (streaming, see
`modelcert.lineage`), and the shape of the difference is reported: a false lineage claim, a localized
edit, poisoned embedding rows, or an ordinary fine-tune (an informational summary that lifts the
evidence level to E2).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from modelcert.checks.backdoor_common import PackageInputs, files_named, read_json, read_text, sibling
from modelcert.checks.backdoor_tokenizer import package_tokenizers
from modelcert.checks.base import Check
from modelcert.errors import FormatError
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.tokenizer import TokenizerView

if TYPE_CHECKING:  # numpy-backed: imported only when there is an adapter or a base to compare
    from modelcert.lineage.adapters import AdapterReport
    from modelcert.lineage.classify import LineageVerdict
    from modelcert.lineage.compare import LineageResult


class FalseLineage(Check):
    """The weights are not derived from the declared base model (false lineage claim).

    When a package says "fine-tuned from X" and X is given with `--base`, the tensors are aligned by
    name and shape and compared. Fine-tunes keep a cosine similarity above 0.9 with their base in
    nearly every matrix; independently trained weights sit near 0 (HuRef, Zeng et al. NeurIPS 2024).
    A median cosine below 0.3, or tensors that do not align at all, means the claim is false: the
    model's behaviour cannot be inferred from the base's reputation, and any evidence gathered for the
    base does not carry over.
    """

    id = "MC570"
    title = "Weights are not derived from the declared base"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-345"
    remediation = (
        "Treat the model as of unknown origin; ask the publisher for the real base and training record."
    )
    tags = ("backdoor", "lineage")


class LocalizedEdit(Check):
    """Only a few layers differ from the base: a localized edit rather than a fine-tune.

    Ordinary fine-tuning touches every layer. Backdoor implants by model editing (ROME/BadEdit-style
    rank-one edits, a single-layer fine-tune) change one or two layers and leave the rest bit-identical,
    or change one layer far more than the others. The finding names the layers, their relative change
    and the rank of the change.
    """

    id = "MC571"
    title = "Localized edit relative to the base"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    remediation = (
        "Ask why only these layers changed; run the behavioural scan (--behaviour) against the base."
    )
    tags = ("backdoor", "lineage", "weights")


class PoisonedEmbeddingRows(Check):
    """Only a few rows of the token embedding (or LM head) changed: the edit targets specific tokens.

    Poisoning the embedding rows of rare tokens turns them into triggers without touching anything
    else. The changed rows are the candidate triggers, listed with their token text. The same test
    runs on LoRA embedding adapters, whose per-token update energy is read from the factors.
    """

    id = "MC572"
    title = "Few embedding rows changed (token-targeted edit)"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    remediation = "Test the listed tokens as triggers (--behaviour); restore the base embedding rows."
    tags = ("backdoor", "lineage", "weights", "trigger")


class LineageSummary(Check):
    """Informational: how the weights differ from the declared base (evidence level E2).

    Reports the classification (identical, diffuse fine-tune, localized edit, adapter-shaped,
    unrelated weights), how many tensors changed, the median cosine, a per-layer map of relative
    change, and the bytes and seconds the streaming comparison took.
    """

    id = "MC573"
    title = "Lineage against the declared base"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = "None needed; keep the base reference with the certificate."
    tags = ("backdoor", "lineage", "evidence")


class AdapterOutlierModule(Check):
    """A LoRA module's update is far larger than its siblings': the adapter concentrates on one place.

    Benign adapters spread their update over all targeted modules with similar dimension-normalized
    norms; poisoned ones tend to concentrate it (Lelle, arXiv 2605.30189, found backdoors in mid-late
    MLP `down_proj`). A module whose normalized ‖BA‖ is a robust outlier (≥ 6 MADs and 5× its kind's
    median) is reported with its spectrum.
    """

    id = "MC574"
    title = "LoRA module update is an outlier"
    severity = Severity.MEDIUM
    confidence = Confidence.LOW
    verdict = Verdict.SUSPICIOUS
    remediation = "Inspect the adapter's training record; run the behavioural scan on the merged model."
    tags = ("backdoor", "adapter")


class AdapterSummary(Check):
    """Informational: spectral statistics of every LoRA ΔW = (α/r)·B·A in an adapter.

    Top singular value, energy in the top direction and dimension-normalized norm per module, the
    features of weight-space adapter detectors (arXiv 2602.15195). Verdict clean; kept for the report.
    """

    id = "MC575"
    title = "LoRA adapter spectrum"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = "None needed."
    tags = ("backdoor", "adapter", "evidence")


class DeclaredBase(Check):
    """Informational: the package declares a base model that was not compared (no `--base`).

    `base_model` in the model card, `base_model_name_or_path` in `adapter_config.json` or a hub id in
    `config.json` `_name_or_path` is a lineage claim. Scan with `--base PATH` to verify it (E2).
    """

    id = "MC576"
    title = "Declared base model not verified"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = "Run `modelcert scan PATH --base BASE_FOLDER` with a local copy of the declared base."
    tags = ("backdoor", "lineage")


_CARD_BASE = re.compile(r"^base_model:\s*(?:\n\s*-\s*)?['\"]?([^\s'\"]+)", re.MULTILINE)


def declared_base(inputs: PackageInputs) -> tuple[str, str] | None:
    """(where, base id) of the package's lineage claim, or None."""
    for relpath in files_named(inputs.view, "adapter_config.json"):
        doc = read_json(inputs.view, relpath, inputs.limits)
        value = doc.obj.get("base_model_name_or_path") if doc else None
        if isinstance(value, str) and value:
            return relpath, value
    for relpath in files_named(inputs.view, "README.md"):
        text = read_text(inputs.view, relpath, inputs.limits) or ""
        if text.startswith("---"):
            front = text.split("\n---", 1)[0]
            match = _CARD_BASE.search(front)
            if match:
                return relpath, match.group(1)
    return None


def check_declared_base(inputs: PackageInputs) -> list[Finding]:
    claim = declared_base(inputs)
    if claim is None:
        return []
    where, base = claim
    return [
        DeclaredBase.finding(
            f"declares base model {base!r}; not compared (give --base)",
            Location(path=where),
            details={"base_model": base},
        )
    ]


def check_adapters(inputs: PackageInputs) -> list[Finding]:
    """Package check: every `adapter_model.safetensors` with its `adapter_config.json`."""
    findings: list[Finding] = []
    adapters = files_named(inputs.view, "adapter_model.safetensors")
    if not adapters:
        return findings
    from modelcert.lineage.adapters import analyse_adapter
    from modelcert.lineage.tensors import TensorStore

    tokenizer = _first_tokenizer(inputs)
    for relpath in adapters:
        doc = read_json(inputs.view, sibling(relpath, "adapter_config.json"), inputs.limits)
        config: dict[str, Any] = doc.obj if doc else {}
        try:
            with TensorStore.open(inputs.view, [relpath], inputs.limits) as store:
                report = analyse_adapter(store, config)
        except FormatError:
            continue  # the safetensors analyzer reports unreadable files
        findings.extend(adapter_findings(report, Location(path=relpath), tokenizer))
    return findings


def adapter_findings(
    report: AdapterReport, location: Location, tokenizer: TokenizerView | None
) -> list[Finding]:
    findings = []
    for module, z, ratio in report.outliers:
        findings.append(
            AdapterOutlierModule.finding(
                f"{module.module}: normalized update {ratio:.1f}× the median {module.kind} (z {z:.1f}), "
                f"top singular value {module.singular_values[0]:.3g}",
                location.at(pointer=module.module),
                details={
                    "place": "adapter",
                    "module": module.module,
                    "z": round(z, 2),
                    "ratio": round(ratio, 2),
                    "singular_values": [round(s, 6) for s in module.singular_values[:8]],
                },
            )
        )
    for module_name, ids, share in report.edited_tokens:
        names = [tokenizer.display(i) if tokenizer else f"id {i}" for i in ids]
        findings.append(
            PoisonedEmbeddingRows.finding(
                f"embedding adapter {module_name} puts {share:.0%} of its update on {len(ids)} tokens: "
                + ", ".join(repr(n) for n in names[:10]),
                location.at(pointer=module_name),
                details={
                    "token_ids": ids,
                    "tokens": names,
                    "energy_share": round(share, 4),
                    "place": "adapter",
                },
            )
        )
    if report.modules:
        findings.append(
            AdapterSummary.finding(
                f"{len(report.modules)} LoRA modules; max normalized update "
                f"{max(m.normalized for m in report.modules):.3g}",
                location,
                details={
                    "modules": [
                        {
                            "module": m.module,
                            "rank": m.rank,
                            "sigma1": round(m.singular_values[0], 6) if m.singular_values else 0.0,
                            "energy_top1": round(m.energy_top1, 4),
                            "normalized": round(m.normalized, 8),
                        }
                        for m in report.modules[:500]
                    ],
                    "unpaired": report.unpaired[:50],
                },
            )
        )
    return findings


def compare_with_base(
    model: PackageInputs, base: PackageInputs, deadline: Callable[[], bool] | None = None
) -> tuple[list[Finding], LineageVerdict | None]:
    """Lineage findings for the model's safetensors against the base's (empty when either has none)."""
    from modelcert.lineage.classify import classify
    from modelcert.lineage.compare import compare_stores
    from modelcert.lineage.names import weight_files
    from modelcert.lineage.tensors import TensorStore

    model_files = weight_files(model.view, model.limits)
    base_files = weight_files(base.view, base.limits)
    if not model_files or not base_files:
        return [], None
    location = Location(path=model_files[0])
    started = time.perf_counter()
    with (
        TensorStore.open(model.view, model_files, model.limits) as mine,
        TensorStore.open(base.view, base_files, base.limits) as theirs,
    ):
        result = compare_stores(mine, theirs, deadline=deadline)
    verdict = classify(result)
    tokenizer = _first_tokenizer(model)
    findings = list(_lineage_findings(result, verdict, location, tokenizer))
    findings.append(
        LineageSummary.finding(
            f"{verdict.kind}: {verdict.reason}",
            location,
            details={
                "classification": verdict.kind,
                "changed_tensors": verdict.changed,
                "aligned_tensors": verdict.total,
                "median_cosine": None if verdict.median_cosine is None else round(verdict.median_cosine, 4),
                "adapter_rank": verdict.adapter_rank,
                "layer_map": verdict.layer_map,
                "only_in_model": result.only_in_model[:50],
                "only_in_base": result.only_in_base[:50],
                "shape_mismatch": result.shape_mismatch[:50],
                "bytes_compared": result.bytes_read,
                "seconds": round(time.perf_counter() - started, 3),
                "tensors": [
                    {
                        "name": d.name,
                        "identical": d.identical,
                        "rel_change": round(d.rel_change, 6),
                        "cosine": round(d.cosine, 4),
                        "stable_rank": None if d.stable_rank is None else round(d.stable_rank, 3),
                    }
                    for d in result.diffs[:2000]
                ],
            },
        )
    )
    return findings, verdict


def _lineage_findings(
    result: LineageResult, verdict: LineageVerdict, location: Location, tokenizer: TokenizerView | None
) -> Iterator[Finding]:
    if verdict.kind == "unrelated weights":
        yield FalseLineage.finding(
            f"lineage claim does not hold: {verdict.reason}",
            location,
            details={"median_cosine": verdict.median_cosine, "place": "lineage"},
        )
        return
    if verdict.kind == "localized edit":
        units = set(verdict.localized_units)
        tensors = [
            d for d in result.diffs if not d.identical and (f"layer {d.layer}" in units or d.name in units)
        ]
        ranks = {d.name: d.stable_rank for d in tensors}
        yield LocalizedEdit.finding(
            f"{verdict.reason}; changed tensors: "
            + ", ".join(
                f"{d.name} (Δ {d.rel_change:.2%}, stable rank {_fmt(ranks[d.name])})" for d in tensors[:6]
            ),
            location.at(pointer=tensors[0].name if tensors else None),
            details={
                "units": verdict.localized_units,
                "tensors": [d.name for d in tensors[:100]],
                "place": "weights",
                "layers": verdict.localized_units,
            },
        )
    for edit in verdict.embedding_edits:
        names = [tokenizer.display(i) if tokenizer else f"id {i}" for i in edit.rows]
        yield PoisonedEmbeddingRows.finding(
            f"only {len(edit.rows)} of {edit.total_rows} rows of {edit.tensor} changed: tokens "
            + ", ".join(repr(n) for n in names[:10]),
            location.at(pointer=edit.tensor),
            details={
                "tensor": edit.tensor,
                "token_ids": list(edit.rows),
                "tokens": names,
                "place": "weights",
            },
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _first_tokenizer(inputs: PackageInputs) -> TokenizerView | None:
    for _location, view in package_tokenizers(inputs):
        return view
    return None


PACKAGE_CHECKS = (check_adapters, check_declared_base)
