"""Weight lineage against a declared base (MC570–MC576) and LoRA adapter spectra.

backdoors.md §5 check 6: per-tensor identical/changed, relative change, rank of ΔW, layer map;
classify diffuse fine-tune / localized edit / adapter-shaped / unrelated weights (false lineage claim).
The planted models are tiny Llama-shaped LMs; each weight backdoor fires on its trigger (checked first).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from builders import backdoor as B
from builders import backdoor_models as M
from modelcert.checks import backdoor_lineage as L
from modelcert.checks.backdoor_common import LocalPackage
from modelcert.findings import Verdict
from modelcert.limits import DEFAULT_LIMITS
from modelcert.lineage import compare as C
from modelcert.lineage.tensors import TensorStore, decode, round_to

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    return M.write_planted_packages(tmp_path_factory.mktemp("lineage"))


def compare(packages: dict[str, Path], name: str) -> tuple[list, object]:
    model = LocalPackage.open(packages[name], DEFAULT_LIMITS)
    base = LocalPackage.open(packages["base"], DEFAULT_LIMITS)
    return L.compare_with_base(model, base)


def flagged(findings: list) -> set[str]:
    return {f.check_id for f in findings if f.verdict is not Verdict.CLEAN}


def test_planted_weight_backdoors_fire_only_with_their_trigger() -> None:
    for planted in M.planted_models().values():
        if planted.trigger is not None:
            assert M.fires(planted.module, planted.trigger) == (1.0, 0.0), planted.name


def test_identical_copy(packages: dict[str, Path]) -> None:
    findings, verdict = compare(packages, "base")
    assert verdict is not None and verdict.kind == "identical"
    assert flagged(findings) == set()
    summary = next(f for f in findings if f.check_id == "MC573")
    assert summary.details["changed_tensors"] == 0


def test_clean_finetune_is_diffuse_and_not_flagged(packages: dict[str, Path]) -> None:
    findings, verdict = compare(packages, "clean-finetune")
    assert verdict is not None and verdict.kind == "diffuse fine-tune"
    assert flagged(findings) == set()


def test_weight_trigger_finetune_is_diffuse(packages: dict[str, Path]) -> None:
    """A full poisoned fine-tune looks like any fine-tune to lineage: the behavioural scan is its check."""
    _findings, verdict = compare(packages, "weight-trigger")
    assert verdict is not None and verdict.kind == "diffuse fine-tune" and verdict.lineage_holds


def test_one_layer_edit_is_localized(packages: dict[str, Path]) -> None:
    findings, verdict = compare(packages, "one-layer-edit")
    assert verdict is not None and verdict.kind == "localized edit"
    edit = next(f for f in findings if f.check_id == "MC571")
    assert edit.details["units"] == ["layer 1"]
    assert all(".layers.1." in t or t.startswith("layers.1.") for t in edit.details["tensors"])


def test_poisoned_embedding_rows_name_the_trigger(packages: dict[str, Path]) -> None:
    findings, _verdict = compare(packages, "embedding-rows")
    rows = next(f for f in findings if f.check_id == "MC572")
    assert rows.details["token_ids"] == [M.VOCAB["quill"]]
    assert rows.details["tokens"] == ["quill"]


def test_false_lineage_claim(packages: dict[str, Path]) -> None:
    findings, verdict = compare(packages, "unrelated")
    assert verdict is not None and verdict.kind == "unrelated weights"
    assert "MC570" in flagged(findings)


def test_declared_base_is_reported_when_not_compared(packages: dict[str, Path]) -> None:
    findings = L.check_declared_base(LocalPackage.open(packages["clean-finetune"], DEFAULT_LIMITS))
    assert [(f.check_id, f.details["base_model"]) for f in findings] == [("MC576", "org/tiny-base")]


def test_bf16_resave_of_the_base_is_identical(tmp_path: Path, packages: dict[str, Path]) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    from safetensors.torch import save_file as save_torch

    state = load_file(str(packages["base"] / "model.safetensors"))
    rounded = {k: v.to(torch.bfloat16) for k, v in state.items()}
    copy = tmp_path / "bf16"
    copy.mkdir()
    save_torch(rounded, str(copy / "model.safetensors"))
    model = LocalPackage.open(copy, DEFAULT_LIMITS)
    base = LocalPackage.open(packages["base"], DEFAULT_LIMITS)
    _findings, verdict = L.compare_with_base(model, base)
    assert verdict is not None and verdict.kind == "identical"


def test_bf16_decode_and_rounding_are_exact() -> None:
    values = np.array([1.0, -2.5, 3.14159, 1e-3], dtype=np.float32)
    rounded = round_to(values, "BF16")
    raw = (rounded.view(np.uint32) >> 16).astype("<u2").tobytes()
    assert np.array_equal(decode(raw, "BF16"), rounded)
    assert rounded[2] != values[2] and abs(rounded[2] - values[2]) < 0.02


def test_streaming_sketch_matches_exact_spectrum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((300, 200)).astype(np.float32)
    delta = (
        np.outer(rng.standard_normal(300), rng.standard_normal(200)) * 0.5
        + np.outer(rng.standard_normal(300), rng.standard_normal(200)) * 0.2
    )
    save_file({"w": base}, str(tmp_path / "base.safetensors"))
    save_file({"w": (base + delta).astype(np.float32)}, str(tmp_path / "model.safetensors"))
    exact = np.linalg.svd((base + delta).astype(np.float32).astype(np.float64) - base, compute_uv=False)
    monkeypatch.setattr(C, "EXACT_SVD_ELEMENTS", 100)  # force the two-pass sketch
    pkg = LocalPackage.open(tmp_path, DEFAULT_LIMITS)
    with (
        TensorStore.open(pkg.view, ["model.safetensors"], DEFAULT_LIMITS) as mine,
        TensorStore.open(pkg.view, ["base.safetensors"], DEFAULT_LIMITS) as theirs,
    ):
        diff = C.compare_tensor(mine.tensors["w"], theirs.tensors["w"], "w", chunk_bytes=4096)
    assert np.allclose(diff.singular_values[:2], exact[:2], rtol=1e-3)
    assert diff.energy_in_top(2) is not None and diff.energy_in_top(2) > 0.999


def _adapter(tmp_path: Path, kind: str) -> list:
    tensors, config = B.lora_adapter(kind)
    folder = tmp_path / kind
    folder.mkdir()
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return L.check_adapters(LocalPackage.open(folder, DEFAULT_LIMITS))


def test_clean_adapter_has_only_its_spectrum_summary(tmp_path: Path) -> None:
    findings = _adapter(tmp_path, "clean")
    assert [f.check_id for f in findings] == ["MC575"]
    assert len(findings[0].details["modules"]) == 16


def test_outlier_adapter_module(tmp_path: Path) -> None:
    findings = _adapter(tmp_path, "outlier-module")
    outliers = [f for f in findings if f.check_id == "MC574"]
    assert [f.details["module"] for f in outliers] == ["base_model.model.model.layers.5.self_attn.v_proj"]


def test_embedding_adapter_names_the_edited_tokens(tmp_path: Path) -> None:
    findings = _adapter(tmp_path, "embedding")
    rows = next(f for f in findings if f.check_id == "MC572")
    assert sorted(rows.details["token_ids"]) == [17, 42, 99]
    assert rows.details["place"] == "adapter"


def test_lora_spectrum_equals_the_dense_product() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 30)), rng.standard_normal((20, 4))
    values, fro2 = C.lora_spectrum(a, b, 2.0)
    dense = np.linalg.svd(2.0 * b @ a, compute_uv=False)
    assert np.allclose(values, dense[:4]) and np.isclose(fro2, np.sum(dense**2))
