"""Tokenizer backdoor evidence (MC520–MC527): remaps, swapped ids, rewriting rules, base diff, GGUF.

NVIDIA AI Red Team, "Secure LLM Tokenizers to Maintain Application Integrity": editing tokenizer.json
remaps a word to another id. Clean tokenizers in the three shapes transformers writes (byte-level BPE,
SentencePiece BPE, WordPiece) must stay clean; each planted variant names its check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import backdoor as B
from modelcert.checks import backdoor_tokenizer as K
from modelcert.checks import backdoor_tokenizer_rules as R
from modelcert.checks.backdoor_common import LocalPackage
from modelcert.errors import FormatError
from modelcert.findings import Location, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.tokenizer import (
    load_tokenizer_json,
    read_gguf_tokenizer_metadata,
    readable_token,
    tokenizer_from_gguf,
)
from modelcert.limits import DEFAULT_LIMITS
from modelcert.scan import scan_paths

LOC = Location(path="tokenizer.json")


def view(tok: dict) -> object:
    return load_tokenizer_json(BytesBlob(json.dumps(tok).encode(), "tokenizer.json"), DEFAULT_LIMITS)


def flagged(findings: list) -> set[str]:
    return {f.check_id for f in findings if f.verdict is not Verdict.CLEAN}


@pytest.mark.parametrize("name", sorted(B.CLEAN_TOKENIZERS))
def test_clean_tokenizers_are_not_flagged(name: str) -> None:
    assert flagged(K.analyse_tokenizer(view(B.CLEAN_TOKENIZERS[name]()), LOC)) == set()


@pytest.mark.parametrize("name", sorted(B.PLANTED_TOKENIZERS))
def test_planted_tokenizers_are_caught(name: str) -> None:
    build, check_id = B.PLANTED_TOKENIZERS[name]
    findings = K.analyse_tokenizer(view(build()), LOC)
    assert check_id in flagged(findings), [f.message for f in findings]


def test_swapped_ids_name_both_words() -> None:
    finding = next(f for f in K.analyse_tokenizer(view(B.remap_swap()), LOC) if f.check_id == "MC522")
    shown = {entry["token"].strip() for entry in finding.details["outliers"]}
    assert shown & {"allow", "deny"}
    assert finding.details["monotone_fraction"] >= 0.95


def test_rank_order_is_not_assumed_for_frequency_ordered_vocabularies() -> None:
    """RoBERTa-style vocabularies number tokens by frequency: no merge-rank finding for them."""
    tok = B.gpt2_tokenizer()
    vocab = tok["model"]["vocab"]
    order = sorted(vocab, key=lambda t: (len(t), t))  # a different, non-merge order
    tok["model"]["vocab"] = {t: i for i, t in enumerate(order)}
    assert "MC522" not in flagged(K.analyse_tokenizer(view(tok), LOC))


def test_longest_non_decreasing_subsequence() -> None:
    values = [1, 2, 9, 4, 5, 6, 3, 7]
    keep = K._longest_non_decreasing(values)
    assert [values[i] for i in sorted(keep)] == [1, 2, 4, 5, 6, 7]


def test_added_tokens_decoder_in_tokenizer_config_is_checked(tmp_path: Path) -> None:
    tok = B.bert_tokenizer()
    deny = tok["model"]["vocab"]["deny"]
    folder = B.write_files(
        tmp_path / "pkg",
        {
            "tokenizer.json": tok,
            "tokenizer_config.json": {
                "added_tokens_decoder": {str(deny): {"content": "allow", "special": False}}
            },
        },
    )
    findings = K.check_tokenizers(LocalPackage.open(folder, DEFAULT_LIMITS))
    assert any(f.check_id == "MC520" and f.location.path == "tokenizer_config.json" for f in findings)


def test_rules_that_only_respell_spaces_are_allowed() -> None:
    assert R.rewrite_rules({"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "}) == []
    assert R.rewrite_rules({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}) == []
    assert R.rewrite_rules({"type": "Replace", "pattern": {"String": "``"}, "content": '"'}) == []
    assert R.rewrite_rules({"type": "Replace", "pattern": {"Regex": "Paris"}, "content": "Berlin"})


def test_diff_against_base() -> None:
    base = view(B.gpt2_tokenizer())
    assert K.compare_tokenizers(view(B.gpt2_tokenizer()), base, LOC) == []
    swapped = K.compare_tokenizers(view(B.remap_swap()), base, LOC)
    high = [f for f in swapped if f.check_id == "MC526" and f.severity.label == "high"]
    assert high and {m["token"] for m in high[0].details["moved"]} == {"\u0120allow", "\u0120deny"}
    extended = B.gpt2_tokenizer()
    extended["model"]["vocab"]["\u0120newword"] = len(extended["model"]["vocab"])
    appended = K.compare_tokenizers(view(extended), base, LOC)
    assert [(f.check_id, f.verdict) for f in appended] == [("MC526", Verdict.CLEAN)]
    rules = K.compare_tokenizers(view(B.normalizer_rewrite()), view(B.llama2_tokenizer()), LOC)
    assert {f.details.get("component") for f in rules} == {"normalizer"}


def test_gguf_vocabulary_from_a_real_writer(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "pkg" / "model.gguf"
    path.parent.mkdir()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<unk>", "<s>", "</s>", "\u2581allow", "\u2581deny", "\u2581allow"])
    writer.add_token_types([2, 3, 3, 1, 1, 1])
    writer.add_bos_token_id(1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    meta = read_gguf_tokenizer_metadata(BytesBlob(path.read_bytes(), "model.gguf"), DEFAULT_LIMITS)
    assert meta["tokenizer.ggml.tokens"][5] == "\u2581allow" and meta["tokenizer.ggml.bos_token_id"] == 1
    tok = tokenizer_from_gguf(meta, DEFAULT_LIMITS)
    assert tok is not None and [t.content for t in tok.added_tokens] == ["<s>", "</s>"]
    report = scan_paths([path.parent])
    remap = [f for f in report.package_findings if f.check_id == "MC520"]
    assert remap and remap[0].location.path == "model.gguf"


def test_readable_token_undoes_byte_level_and_sentencepiece_spelling() -> None:
    assert readable_token("\u0120allow", byte_level=True) == " allow"
    assert readable_token("\u2581deny", byte_level=False) == " deny"


def test_clean_package_scan_has_no_tokenizer_findings(tmp_path: Path) -> None:
    folder = B.write_files(
        tmp_path / "pkg",
        {
            "tokenizer.json": B.llama2_tokenizer(),
            "tokenizer_config.json": {"bos_token": "<s>", "eos_token": "</s>"},
        },
    )
    report = scan_paths([folder])
    assert [f for f in report.package_findings if f.check_id.startswith("MC52")] == []


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_tokenizer_json_gives_a_view_or_format_error(data: st.DataObject) -> None:
    raw = bytearray(json.dumps(B.bert_tokenizer()).encode())
    for _ in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    try:
        tok = load_tokenizer_json(BytesBlob(bytes(raw), "tokenizer.json"), DEFAULT_LIMITS)
    except FormatError:
        return
    findings = K.analyse_tokenizer(tok, LOC)  # any view must be analysable
    assert all(f.check_id.startswith("MC5") for f in findings)


@pytest.mark.property
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_mutated_gguf_tokenizer_arrays_give_metadata_or_format_error(data: st.DataObject) -> None:
    gguf = pytest.importorskip("gguf")
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "m.gguf"
        writer = gguf.GGUFWriter(str(path), "llama")
        writer.add_token_list(["<s>", "</s>", "allow", "deny"])
        writer.add_token_merges(["a l", "al low"])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    try:
        meta = read_gguf_tokenizer_metadata(BytesBlob(bytes(raw), "m.gguf"), DEFAULT_LIMITS)
        tok = tokenizer_from_gguf(meta, DEFAULT_LIMITS)
    except FormatError:
        return
    if tok is not None:
        assert all(f.check_id.startswith("MC5") for f in K.analyse_tokenizer(tok, LOC))
