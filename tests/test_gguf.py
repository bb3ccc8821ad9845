"""GGUF: bounded header parsing, the llama.cpp parser-overflow class, layout checks, chat templates."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from builders import templates as T
from builders import weights as W
from builders.templates import RecordingContext
from modelcert.checks.weights import analyze_gguf
from modelcert.errors import FormatError
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.gguf import GGML_TYPES, analyse_layout, read_gguf
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.scan import scan_blob


def scan(data: bytes, name: str = "model.gguf"):
    return scan_blob(BytesBlob(data, name), name)


def ids(report) -> set[str]:
    return {f.check_id for f in report.all_findings()}


def analyse(data: bytes) -> RecordingContext:
    ctx = RecordingContext("model.gguf")
    analyze_gguf(BytesBlob(data, "model.gguf"), ctx)
    return ctx


def one_tensor(**kw) -> W.GGUFBuilder:
    builder = W.GGUFBuilder(**kw)
    builder.add_string("general.architecture", "llama")
    return builder


# -- benign -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big_endian", [False, True])
def test_gguf_writer_files_are_clean(tmp_path: Path, big_endian: bool) -> None:
    pytest.importorskip("gguf")
    data = W.gguf_writer_bytes(tmp_path, chat_template=T.LLAMA3_TOOLS, big_endian=big_endian)
    report = scan(data)
    assert report.format == "gguf"
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.all_findings()]


def test_gguf_writer_notes_metadata(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    ctx = analyse(
        W.gguf_writer_bytes(tmp_path, chat_template=T.CHATML, named_templates={"tool_use": T.QWEN25_TOOLS})
    )
    (note,) = ctx.notes["gguf"]
    assert note["architecture"] == "llama" and note["context_length"] == 2048
    assert note["vocab_size"] == 4 and note["tokenizer_model"] == "gpt2" and note["tensors"] == 3
    assert "tokenizer.chat_template.tool_use" in note["chat_templates"]
    assert note["general"]["general.name"] == "tiny-test"
    origins = {n["origin"] for n in ctx.notes["chat_template"]}
    assert origins == {"gguf:tokenizer.chat_template", "gguf:tokenizer.chat_template.tool_use"}
    assert ctx.findings == []


def test_vocab_only_writer_file_is_clean(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    assert scan(W.gguf_writer_bytes(tmp_path, tensors=False)).verdict is Verdict.CLEAN


@pytest.mark.parametrize("version", [1, 2, 3])
def test_hand_built_versions_parse(version: int) -> None:
    builder = one_tensor(version=version)
    builder.add_array("tokenizer.ggml.tokens", W.GGUF_STRING, ["a", "b", "c"])
    builder.add_tensor("w", [32, 2], ggml_type=0)
    builder.add_tensor("q", [64], ggml_type=8, nbytes=68)  # two Q8_0 blocks
    report = scan(builder.build())
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.all_findings()]
    header = read_gguf(BytesBlob(builder.build(), "x"), DEFAULT_LIMITS)
    assert header.version == version and [t.name for t in header.tensors] == ["w", "q"]


def test_type_table_matches_gguf_package() -> None:
    gguf = pytest.importorskip("gguf")
    for qtype, (block, size) in gguf.GGML_QUANT_SIZES.items():
        assert GGML_TYPES[int(qtype)][1:] == (block, size), qtype.name


# -- the llama.cpp parser overflow class --------------------------------------------------------------


def test_huge_n_kv_is_unsafe() -> None:
    """CVE-2024-25664 class: n_kv far beyond what the file holds."""
    report = scan(W.GGUFBuilder(n_kv=2**62).build())
    assert ids(report) == {"MC321"} and report.verdict is Verdict.UNSAFE
    assert next(report.all_findings()).location.offset == 24


def test_huge_n_tensors_is_unsafe() -> None:
    """CVE-2024-21836 class: tensor count overflow."""
    report = scan(one_tensor(n_tensors=2**40).build())
    assert ids(report) == {"MC321"} and report.verdict is Verdict.UNSAFE


def test_string_length_overflow_is_unsafe() -> None:
    """CVE-2024-25665 / CVE-2024-23496 class: string length near 2**64."""
    builder = W.GGUFBuilder()
    builder.add_raw_kv("general.name", W.GGUF_STRING, builder._len(2**64 - 1) + b"abc")
    report = scan(builder.build())
    assert ids(report) == {"MC321"} and report.verdict is Verdict.UNSAFE
    assert next(report.all_findings()).details["value"] == 2**64 - 1


def test_array_length_overflow_is_unsafe() -> None:
    """CVE-2024-25666 / CVE-2025-53630 class: array element count that overflows the allocation."""
    report = scan(W.GGUFBuilder().add_array("x", W.GGUF_U32, [1, 2], declared=2**61).build())
    assert ids(report) == {"MC321"} and report.verdict is Verdict.UNSAFE


def test_small_excess_is_a_corrupt_file_not_an_exploit() -> None:
    report = scan(W.GGUFBuilder().add_array("x", W.GGUF_U32, [1, 2], declared=5).build())
    assert ids(report) == {"MC321"} and report.verdict is Verdict.UNSCANNABLE


def test_more_than_four_dims_is_unsafe() -> None:
    """CVE-2024-21802 class: n_dims beyond GGML_MAX_DIMS."""
    report = scan(one_tensor().add_tensor("t", [1, 1, 1, 1, 1]).build())
    assert ids(report) == {"MC322"} and report.verdict is Verdict.UNSAFE


def test_element_count_overflow_is_unsafe() -> None:
    report = scan(one_tensor().add_tensor("t", [2**32, 2**32], offset=0).build())
    assert ids(report) == {"MC323"} and report.verdict is Verdict.UNSAFE


def test_row_not_whole_blocks_is_unscannable() -> None:
    report = scan(one_tensor().add_tensor("t", [33], ggml_type=8, nbytes=34).build())
    assert ids(report) == {"MC323"} and report.verdict is Verdict.UNSCANNABLE


def test_misaligned_offset() -> None:
    builder = one_tensor().add_tensor("a", [8]).add_tensor("b", [1], offset=36)
    builder.data += bytes(32)
    report = scan(builder.build())
    assert "MC326" in ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_out_of_bounds_offset() -> None:
    report = scan(one_tensor().add_tensor("a", [8]).add_tensor("b", [8], offset=4096).build())
    assert ids(report) == {"MC327"} and report.verdict is Verdict.UNSCANNABLE


def test_offset_overflow_is_unsafe() -> None:
    report = scan(one_tensor().add_tensor("a", [8], offset=2**64 - 32).build())
    finding = next(f for f in report.all_findings() if f.check_id == "MC327")
    assert finding.verdict is Verdict.UNSAFE


def test_unknown_tensor_type() -> None:
    report = scan(one_tensor().add_tensor("a", [8], ggml_type=4242).build())
    assert ids(report) == {"MC324"} and report.verdict is Verdict.UNSCANNABLE


@pytest.mark.parametrize("cut", [4, 10, 20, 30, 45])
def test_truncated_header_is_unscannable(cut: int) -> None:
    data = one_tensor().add_tensor("a", [8]).build()[:cut]
    report = scan(data)
    assert report.verdict is Verdict.UNSCANNABLE, cut


def test_bad_version_and_unknown_value_type() -> None:
    assert ids(scan(W.GGUFBuilder(version=7).build())) == {"MC320"}
    report = scan(W.GGUFBuilder().add_raw_kv("k", 77, b"\x00" * 8).build())
    assert ids(report) == {"MC320"} and report.verdict is Verdict.UNSCANNABLE


def test_alignment_not_power_of_two_or_wrong_type() -> None:
    assert "MC325" in ids(scan(one_tensor().add_u32("general.alignment", 24).build()))
    wrong_type = one_tensor().add_raw_kv("general.alignment", W.GGUF_U8, b"\x20")
    assert "MC325" in ids(scan(wrong_type.build()))


def test_custom_alignment_is_honoured() -> None:
    builder = one_tensor(alignment=64).add_u32("general.alignment", 64)
    builder.add_tensor("a", [8]).add_tensor("b", [20])
    assert scan(builder.build()).verdict is Verdict.CLEAN


def test_overlapping_tensors() -> None:
    builder = one_tensor().add_tensor("a", [16]).add_tensor("b", [8], offset=32)  # inside a's 64 bytes
    report = scan(builder.build())
    assert ids(report) == {"MC328"} and report.verdict is Verdict.SUSPICIOUS


def test_gap_between_tensors_is_hidden_data_and_scanned() -> None:
    builder = one_tensor().add_tensor("a", [8])
    builder.data += b"\x80\x04K\x01." + bytes(27)  # 32 unreferenced bytes
    builder.add_tensor("b", [8])
    report = scan(builder.build())
    assert "MC329" in ids(report) and report.verdict is not Verdict.CLEAN
    assert report.members and report.members[0].format == "pickle"


def test_trailing_bytes_are_hidden_data() -> None:
    builder = one_tensor().add_tensor("a", [8])
    builder.trailing = b"PK\x03\x04 appended archive"
    report = scan(builder.build())
    assert "MC329" in ids(report)
    assert any(m.path.startswith("hidden-bytes@") for m in report.members)


def test_non_zero_padding_is_low_severity_hidden_data() -> None:
    builder = one_tensor().add_tensor("a", [3])
    builder.data = bytes(12) + b"secret" + bytes(14)
    report = scan(builder.build())
    finding = next(report.all_findings())
    assert finding.check_id == "MC329" and finding.severity.label == "low"


def test_duplicate_keys_and_tensor_names() -> None:
    builder = one_tensor().add_string("general.architecture", "qwen2")
    builder.add_tensor("a", [8]).add_tensor("a", [8])
    report = scan(builder.build())
    assert ids(report) == {"MC330"} and len(list(report.all_findings())) == 2


def test_nested_arrays_beyond_depth_limit() -> None:
    builder = W.GGUFBuilder()
    payload = b""
    for _ in range(30):
        payload = struct.pack("<I", W.GGUF_ARRAY) + struct.pack("<Q", 1) + payload
    builder.add_raw_kv("deep", W.GGUF_ARRAY, payload + struct.pack("<IQ", W.GGUF_U8, 0))
    blob = BytesBlob(builder.build(), "x")
    header = read_gguf(blob, Limits(max_json_depth=10))
    assert header.failure is not None and header.failure.kind == "nesting"


def test_header_limit_is_enforced() -> None:
    builder = W.GGUFBuilder().add_string("general.description", "x" * 4096)
    with pytest.raises(FormatError):
        read_gguf(BytesBlob(builder.build(), "x"), Limits(max_header_bytes=1024))


# -- chat templates inside GGUF ------------------------------------------------------------------------


def test_cve_2024_34359_payload_in_gguf_writer_file(tmp_path: Path) -> None:
    """CVE-2024-34359: tokenizer.chat_template SSTI in a GGUF written by gguf.GGUFWriter."""
    pytest.importorskip("gguf")
    report = scan(W.gguf_writer_bytes(tmp_path, chat_template=T.CVE_2024_34359))
    assert report.verdict is Verdict.UNSAFE
    finding = next(f for f in report.all_findings() if f.check_id == "MC185")
    assert finding.location.pointer == "tokenizer.chat_template"
    assert finding.location.offset is not None


def test_named_chat_template_is_analysed(tmp_path: Path) -> None:
    """SGLang CVE-2026-5760 shape hidden in a named template (tokenizer.chat_template.rerank)."""
    pytest.importorskip("gguf")
    data = W.gguf_writer_bytes(tmp_path, chat_template=T.CHATML, named_templates={"rerank": T.SGLANG_SHAPE})
    report = scan(data)
    assert report.verdict is Verdict.UNSAFE
    pointers = {f.location.pointer for f in report.all_findings()}
    assert pointers == {"tokenizer.chat_template.rerank"}


def test_template_is_analysed_even_when_tensor_infos_are_malicious() -> None:
    builder = one_tensor().add_string("tokenizer.chat_template", T.DISGUISES["dict_join"])
    builder.add_tensor("t", [1, 1, 1, 1, 1, 1])
    ctx = analyse(builder.build())
    assert {"MC182", "MC322"} <= ctx.ids()


def test_duplicated_chat_template_analyses_every_copy() -> None:
    builder = W.GGUFBuilder().add_string("tokenizer.chat_template", T.CHATML)
    builder.add_string("tokenizer.chat_template", T.LIPSUM_GLOBALS)
    ctx = analyse(builder.build())
    assert {"MC330", "MC185"} <= ctx.ids()


# -- property tests --------------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def _read_all_or_format_error(data: bytes) -> None:
    blob = BytesBlob(data, "x")
    try:
        header = read_gguf(blob, DEFAULT_LIMITS)
    except FormatError:
        return
    if header.failure is None:
        analyse_layout(header, blob)


def _valid_gguf() -> bytes:
    builder = one_tensor()
    builder.add_array("tokenizer.ggml.tokens", W.GGUF_STRING, ["a", "bb"])
    builder.add_string("tokenizer.chat_template", T.CHATML)
    return builder.add_tensor("a", [8]).add_tensor("q", [32], ggml_type=8, nbytes=34).build()


@pytest.mark.property
@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.binary(max_size=200))
def test_random_bytes_after_magic(data: bytes) -> None:
    _read_all_or_format_error(b"GGUF" + data)


@pytest.mark.property
@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.integers(0, 100_000), st.binary(min_size=1, max_size=8))
def test_mutated_valid_file(position: int, patch: bytes) -> None:
    valid = _valid_gguf()
    position %= len(valid)
    mutated = valid[:position] + patch + valid[position + len(patch) :]
    _read_all_or_format_error(mutated)
    assert "MC903" not in ids(scan(mutated))
