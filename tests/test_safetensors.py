"""safetensors: header/layout integrity findings, agreement with the reference loader, benign files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import weights as W
from builders.templates import RecordingContext
from modelcert.checks.weights import analyze_safetensors, check_safetensors_index
from modelcert.errors import FormatError
from modelcert.findings import Location, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.safetensors import DTYPE_BITS, read_safetensors
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.scan import scan_blob


def scan(data: bytes, name: str = "model.safetensors"):
    return scan_blob(BytesBlob(data, name), name)


def ids(report) -> set[str]:
    return {f.check_id for f in report.all_findings()}


# -- benign files written by the library --------------------------------------------------------------


def test_numpy_written_file_with_empty_scalar_bool_and_metadata_is_clean() -> None:
    np = pytest.importorskip("numpy")
    st_numpy = pytest.importorskip("safetensors.numpy")
    data = st_numpy.save(
        {
            "weight": np.arange(12, dtype=np.float32).reshape(3, 4),
            "scalar": np.array(1.5, dtype=np.float64),
            "empty": np.zeros((0, 7), dtype=np.int8),
            "mask": np.array([True, False, True]),
            "ids": np.arange(5, dtype=np.uint16),
        },
        metadata={"format": "np", "note": "unit test"},
    )
    report = scan(data)
    assert report.format == "safetensors"
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.all_findings()]


def test_torch_written_file_with_bf16_fp8_and_empty_is_clean() -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    data = st_torch.save(
        {
            "w": torch.ones(4, 8, dtype=torch.bfloat16),
            "f8": torch.zeros(16, dtype=torch.float8_e4m3fn),
            "none": torch.zeros(0),
            "i64": torch.arange(3),
        },
        metadata={"format": "pt"},
    )
    assert scan(data).verdict is Verdict.CLEAN


def test_every_known_dtype_including_sub_byte_is_accepted() -> None:
    for dtype, bits in DTYPE_BITS.items():
        count = 8  # 8 elements end on a byte boundary for every width
        header = {"t": W.st_entry(dtype, [2, 4], 0, count * bits // 8)}
        report = scan(W.safetensors_file(header, bytes(count * bits // 8)))
        assert report.verdict is Verdict.CLEAN, dtype


def test_notes_summarise_tensors() -> None:
    header, data = W.f32_pair()
    header["__metadata__"] = {"format": "pt"}
    ctx = RecordingContext("model.safetensors")
    analyze_safetensors(BytesBlob(W.safetensors_file(header, data), "m"), ctx)
    (note,) = ctx.notes["safetensors"]
    assert note["tensors"] == 2 and note["parameters"] == 3 and note["metadata"] == {"format": "pt"}


# -- each malformation has its finding ------------------------------------------------------------------


def test_overlap() -> None:
    header, data = W.f32_pair()
    header["b"]["data_offsets"] = [4, 8]
    report = scan(W.safetensors_file(header, data[:8]))
    assert ids(report) == {"MC306"}
    assert report.verdict is Verdict.SUSPICIOUS


def test_hole_is_reported_and_scanned_as_member() -> None:
    header = {"a": W.st_entry("F32", [1], 0, 4), "b": W.st_entry("F32", [1], 12, 16)}
    report = scan(W.safetensors_file(header, bytes(16)))
    assert ids(report) == {"MC307"}
    finding = next(report.all_findings())
    assert finding.location.offset is not None
    assert [m.path for m in report.members] == [f"hidden-bytes@{finding.location.offset}"]


def test_trailing_pickle_is_reported_and_analysed() -> None:
    header, data = W.f32_pair()
    pickle_bytes = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01."
    report = scan(W.safetensors_file(header, data + pickle_bytes))
    assert "MC308" in ids(report)
    assert report.verdict is not Verdict.CLEAN
    assert report.members and report.members[0].format == "pickle"


def test_unknown_dtype() -> None:
    report = scan(W.safetensors_file({"a": W.st_entry("F128", [1], 0, 16)}, bytes(16)))
    assert ids(report) == {"MC303"}
    assert report.verdict is Verdict.UNSCANNABLE


@pytest.mark.parametrize(
    ("entry", "size"),
    [
        (W.st_entry("F32", [3], 0, 8), 8),  # 12 bytes declared as 8
        (W.st_entry("F4", [3], 0, 2), 2),  # 12 bits: not a byte boundary
        (W.st_entry("F32", [2**32, 2**32], 0, 8), 8),  # element count overflows usize
    ],
)
def test_shape_dtype_mismatch(entry: dict, size: int) -> None:
    report = scan(W.safetensors_file({"a": entry}, bytes(size)))
    assert "MC304" in ids(report)
    assert report.verdict is Verdict.UNSCANNABLE


def test_header_too_long_for_the_loader() -> None:
    data = (100_000_001).to_bytes(8, "little") + b"{" + bytes(64)
    ctx = RecordingContext("model.safetensors")
    analyze_safetensors(BytesBlob(data, "m.safetensors"), ctx)
    assert ctx.ids() == {"MC301"} and ctx.verdicts() == {"unscannable"}
    # Through the scanner the length cannot even be sniffed: the name/content mismatch is reported.
    assert scan(data).verdict is not Verdict.CLEAN


def test_header_longer_than_file() -> None:
    data = (500).to_bytes(8, "little") + b'{"a":1}'
    with pytest.raises(FormatError):
        read_safetensors(BytesBlob(data, "m"), DEFAULT_LIMITS)


def test_header_over_configured_limit_is_limit_hit() -> None:
    header, data = W.f32_pair()
    blob = BytesBlob(W.safetensors_file(header, data), "m")
    with pytest.raises(FormatError, match="exceeds"):
        read_safetensors(blob, Limits(max_header_bytes=16))


def test_duplicate_tensor_names_are_a_parser_differential() -> None:
    text = "{" + A4 + "," + A8 + "}"
    report = scan(W.safetensors_raw(text, bytes(8)))
    assert ids(report) == {"MC302"}
    assert report.verdict is Verdict.SUSPICIOUS


def test_duplicate_field_inside_entry_is_unscannable() -> None:
    text = '{"a":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}}'
    report = scan(W.safetensors_raw(text, bytes(8)))
    assert report.verdict is Verdict.UNSCANNABLE


def test_duplicate_metadata_key_is_unscannable() -> None:
    text = '{"__metadata__":{"k":"1"},"__metadata__":{"k":"2"},' + A8 + "}"
    report = scan(W.safetensors_raw(text, bytes(8)))
    finding = next(f for f in report.all_findings() if f.check_id == "MC302")
    assert finding.verdict is Verdict.UNSCANNABLE


def test_non_string_metadata() -> None:
    header, data = W.f32_pair()
    header["__metadata__"] = {"epochs": 3}
    report = scan(W.safetensors_file(header, data))
    assert ids(report) == {"MC309"}


def test_offsets_beyond_eof() -> None:
    header = {"a": W.st_entry("F32", [4], 0, 16)}
    report = scan(W.safetensors_file(header, bytes(8)))
    assert ids(report) == {"MC305"}
    assert report.verdict is Verdict.UNSCANNABLE


def test_extra_fields_and_non_space_padding_are_non_canonical() -> None:
    header, data = W.f32_pair()
    header["a"]["comment"] = "hidden"
    report = scan(W.safetensors_raw(json.dumps(header) + "\t\n", data, pad=False))
    assert ids(report) == {"MC310"}
    assert len(list(report.all_findings())) == 2


def test_leading_whitespace_header_is_still_detected() -> None:
    header, data = W.f32_pair()
    report = scan(W.safetensors_raw("  " + json.dumps(header), data))
    assert report.format == "safetensors"
    assert ids(report) == {"MC310"}


def test_repeated_findings_are_capped() -> None:
    header = {f"t{i}": W.st_entry("X9", [1], 0, 1) for i in range(50)}
    report = scan(W.safetensors_file(header, b""))
    mc303 = [f for f in report.all_findings() if f.check_id == "MC303"]
    assert len(mc303) == 21 and "more like this" in mc303[-1].message


# -- agreement with the reference loader ----------------------------------------------------------------

A4 = '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
A8 = '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
LOADER_CASES = {
    "ok": ('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8),
    "dup_last_valid": ("{" + A4 + "," + A8 + "}", 8),
    "extra_field": ('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}', 8),
    "meta_null": ('{"__metadata__":null,"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8),
    "trailing": ('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 12),
    "hole": ("{" + A4 + ',"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12),
    "overlap": ("{" + A8 + ',"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8),
    "meta_int": ('{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8),
    "f4_odd": ('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', 2),
    "empty_misplaced": ("{" + A8 + ',"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}', 8),
    "empty_ok": (
        '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}',
        0,
    ),
}


@pytest.mark.parametrize("case", sorted(LOADER_CASES))
def test_loader_acceptance_matches_the_safetensors_library(case: str, tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors")
    text, size = LOADER_CASES[case]
    data = W.safetensors_raw(text, bytes(size))
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    try:
        with safetensors.safe_open(str(path), "np"):
            loads = True
    except Exception:  # any refusal
        loads = False
    view = read_safetensors(BytesBlob(data, "x"), DEFAULT_LIMITS)
    assert all(a.loader_accepts for a in view.anomalies) == loads, view.anomalies


# -- sharded index helper ----------------------------------------------------------------------------------


class _Package:
    def __init__(self, files: list[str]) -> None:
        self._files = files

    def relpaths(self) -> list[str]:
        return list(self._files)

    def open_file(self, relpath: str):
        return None

    def is_symlink(self, relpath: str) -> bool:
        return False


def _index_ctx(files: list[str]) -> RecordingContext:
    return RecordingContext("model.safetensors.index.json", package=_Package(files))


def test_index_with_present_shards_is_clean() -> None:
    ctx = _index_ctx(
        [
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ]
    )
    index = {
        "metadata": {"total_size": 16},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    check_safetensors_index(index, ctx, Location(path="model.safetensors.index.json"))
    assert ctx.findings == []
    assert ctx.notes["safetensors_index"][0]["tensors"] == 2


@pytest.mark.parametrize(
    "shard",
    [
        "../../etc/passwd",
        "/abs/model.safetensors",
        "C:\\x.safetensors",
        "sub/../../x.safetensors",
        "https://evil.example/x.safetensors",
    ],
)
def test_index_shard_path_escape_is_unsafe(shard: str) -> None:
    ctx = _index_ctx(["model.safetensors.index.json"])
    check_safetensors_index({"weight_map": {"a": shard}}, ctx, Location(path="i.json"))
    assert ctx.ids() == {"MC311"} and ctx.verdicts() == {"unsafe"}


def test_index_dotdot_that_stays_inside_is_not_an_escape() -> None:
    ctx = _index_ctx(["weights/model.safetensors.index.json", "weights/model.safetensors"])
    ctx.relpath = "weights/model.safetensors.index.json"
    check_safetensors_index({"weight_map": {"a": "sub/../model.safetensors"}}, ctx, Location(path="i.json"))
    assert ctx.findings == []


def test_index_missing_shard_and_malformed_map() -> None:
    ctx = _index_ctx(["model.safetensors.index.json"])
    check_safetensors_index({"weight_map": {"a": "model-00001.safetensors"}}, ctx, Location(path="i.json"))
    assert ctx.ids() == {"MC312"} and ctx.verdicts() == {"suspicious"}
    bad = _index_ctx([])
    check_safetensors_index({"weight_map": ["x"]}, bad, Location(path="i.json"))
    assert bad.verdicts() == {"unscannable"}


# -- property tests ----------------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def _read_or_format_error(data: bytes) -> None:
    try:
        read_safetensors(BytesBlob(data, "x"), DEFAULT_LIMITS)
    except FormatError:
        pass


@pytest.mark.property
@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.binary(max_size=300))
def test_random_bytes_give_view_or_format_error(data: bytes) -> None:
    _read_or_format_error(data)


@pytest.mark.property
@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.integers(0, 10_000), st.binary(min_size=1, max_size=6))
def test_mutated_valid_file_gives_view_or_format_error(position: int, patch: bytes) -> None:
    header, data = W.f32_pair()
    header["__metadata__"] = {"format": "pt"}
    valid = W.safetensors_file(header, data)
    position %= len(valid)
    mutated = valid[:position] + patch + valid[position + len(patch) :]
    _read_or_format_error(mutated)
    report = scan(mutated)
    assert "MC903" not in ids(report)
