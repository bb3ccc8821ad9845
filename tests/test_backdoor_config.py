"""Decoding-config and config↔tensor backdoor evidence (MC540–MC543).

generation_config.json logit edits (sequence_bias, bad_words_ids, suppress_tokens, forced_decoder_ids,
odd eos lists) change every sampled distribution without touching the weights (backdoors.md §2 row 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import backdoor as B
from builders import backdoor_models as M
from modelcert.checks import backdoor_config as C
from modelcert.checks.backdoor_common import LocalPackage
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.tokenizer import load_tokenizer_json
from modelcert.limits import DEFAULT_LIMITS

TOKENIZER = load_tokenizer_json(
    BytesBlob(json.dumps(M.tokenizer_json()).encode(), "tokenizer.json"), DEFAULT_LIMITS
)
LLAMA_CONFIG = {"model_type": "llama", "vocab_size": len(M.WORDS)}


def flagged(findings: list) -> list[str]:
    return [f.check_id for f in findings if f.verdict is not Verdict.CLEAN]


def test_clean_generation_configs_are_not_flagged() -> None:
    clean = {"bos_token_id": 0, "eos_token_id": [0, 1], "pad_token_id": 1, "temperature": 0.7, "top_p": 0.9}
    assert flagged(C.logit_findings("generation_config.json", clean, LLAMA_CONFIG, TOKENIZER)) == []
    assert (
        flagged(
            C.logit_findings("generation_config.json", B.LLAMA3_GENERATION, {"model_type": "llama"}, None)
        )
        == []
    )


def test_whisper_keys_are_allowlisted_for_whisper_only() -> None:
    whisper = {"model_type": "whisper", "is_encoder_decoder": True}
    assert flagged(C.logit_findings("generation_config.json", B.WHISPER_GENERATION, whisper, None)) == []
    assert "MC540" in flagged(
        C.logit_findings("generation_config.json", B.WHISPER_GENERATION, LLAMA_CONFIG, None)
    )


def test_control_token_bans_are_accepted() -> None:
    marian = {"model_type": "llama", "pad_token_id": 1}
    assert (
        flagged(C.logit_findings("generation_config.json", {"bad_words_ids": [[1]]}, marian, TOKENIZER)) == []
    )


@pytest.mark.parametrize("name", ["sequence-bias", "bad-words", "suppress", "forced-prefix", "eos-on-word"])
def test_planted_decoding_configs(name: str) -> None:
    config, check_id = B.planted_generation_configs(M.VOCAB)[name]
    findings = C.logit_findings("generation_config.json", config, LLAMA_CONFIG, TOKENIZER)
    assert check_id in flagged(findings)
    assert any("'" in f.message for f in findings), "decoded tokens are shown"


def test_positive_sequence_bias_is_high_severity() -> None:
    config, _ = B.planted_generation_configs(M.VOCAB)["sequence-bias"]
    finding = C.logit_findings("generation_config.json", config, LLAMA_CONFIG, TOKENIZER)[0]
    assert finding.severity.label == "high" and "hate" in finding.message


def test_generation_keys_left_in_config_json_are_read(tmp_path: Path) -> None:
    folder = B.write_files(
        tmp_path / "pkg",
        {
            "config.json": {**LLAMA_CONFIG, "suppress_tokens": [M.VOCAB["not"]]},
            "tokenizer.json": M.tokenizer_json(),
        },
    )
    findings = C.check_decoding(LocalPackage.open(folder, DEFAULT_LIMITS))
    assert [(f.check_id, f.location.path) for f in findings] == [("MC540", "config.json")]


def test_diff_against_base_decoding(tmp_path: Path) -> None:
    base = LocalPackage.open(
        B.write_files(tmp_path / "base", {"generation_config.json": {"eos_token_id": 0}}), DEFAULT_LIMITS
    )
    config, _ = B.planted_generation_configs(M.VOCAB)["bad-words"]
    model = LocalPackage.open(
        B.write_files(tmp_path / "model", {"generation_config.json": config}), DEFAULT_LIMITS
    )
    diff = C.compare_decoding(model, base)
    assert [f.details["key"] for f in diff] == ["bad_words_ids"]
    assert C.compare_decoding(base, base) == []


def test_config_shapes_match_the_tensors(tmp_path: Path) -> None:
    folder = M.write_package(tmp_path / "ok", M.base_model())
    assert C.check_shapes(LocalPackage.open(folder, DEFAULT_LIMITS)) == []
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 1
    config["vocab_size"] = 40
    (folder / "config.json").write_text(json.dumps(config))
    findings = C.check_shapes(LocalPackage.open(folder, DEFAULT_LIMITS))
    assert [f.check_id for f in findings] == ["MC542"]
    problems = " ".join(findings[0].details["problems"])
    assert "beyond num_hidden_layers=1" in problems and "vocab_size is 40" in problems
    assert "tokenizer emits id" in problems


def test_shape_problems_report_missing_layers() -> None:
    shapes = {"embed_tokens.weight": (10, 4), "layers.0.mlp.up_proj.weight": (8, 4)}
    problems = C.shape_problems({"hidden_size": 4, "num_hidden_layers": 3, "vocab_size": 10}, shapes, None)
    assert problems == ["layers [1, 2] have no weights (initialized randomly on load)"]


def test_position_and_token_type_embeddings_are_not_the_token_embedding() -> None:
    """BERT-family names: `embeddings.position_embeddings.weight` ends with "embeddings.weight" as a
    string, not as a dotted name; taking it for the token embedding flagged every BERT checkpoint."""
    shapes = {
        "embeddings.position_embeddings.weight": (512, 32),
        "embeddings.token_type_embeddings.weight": (2, 32),
        "embeddings.word_embeddings.weight": (305, 32),
        "encoder.layer.0.attention.self.query.weight": (32, 32),
    }
    config = {"model_type": "bert", "vocab_size": 305, "hidden_size": 32, "num_hidden_layers": 1}
    assert C.shape_problems(config, shapes, None) == []
    config["vocab_size"] = 300
    assert C.shape_problems(config, shapes, None) == ["embedding has 305 rows but vocab_size is 300"]
