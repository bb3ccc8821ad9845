"""ONNX analyzer: external data (CVE-2022-25882, CVE-2024-27318, CVE-2026-27489, CVE-2026-34447,
CVE-2026-34446), custom operator domains, subgraphs and local functions, both readers."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("onnx")

from builders.graphs import (
    RecordingContext,
    onnx_bytes,
    onnx_custom_op_node,
    onnx_if_model,
    onnx_local_function_model,
    onnx_loop_model,
    onnx_matmul_add,
    onnx_with_external_location,
    save_onnx_with_external_data,
)
from modelcert.checks.graph import analyze_onnx, external_location_problem
from modelcert.errors import FormatError
from modelcert.findings import Severity, Verdict
from modelcert.formats.blob import BytesBlob, FileBlob
from modelcert.formats.onnx_model import read_onnx, read_with_protobuf, read_with_wire_decoder
from modelcert.limits import Limits
from modelcert.scan import scan_blob, scan_paths

WIRE_ONLY = Limits(in_memory_member_bytes=16)  # forces the streaming decoder on any real model


def _scan(model: object, name: str = "model.onnx", limits: Limits = Limits()):
    return scan_blob(BytesBlob(onnx_bytes(model), name), name, limits)


def _ids(report) -> set[str]:
    return {f.check_id for f in report.all_findings()}


def _file(report, relpath: str):
    return next(f for f in report.files if f.path == relpath)


def _write_model(folder: Path, model: object, name: str = "model.onnx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(onnx_bytes(model))
    return path


# -- benign models stay clean -------------------------------------------------------------------


@pytest.mark.parametrize("limits", [Limits(), WIRE_ONLY], ids=["protobuf", "wire"])
@pytest.mark.parametrize(
    "builder",
    [onnx_matmul_add, onnx_if_model, onnx_loop_model, lambda: onnx_local_function_model("")],
    ids=["matmul-add", "if-subgraphs", "loop-body", "local-function"],
)
def test_benign_models_are_clean(builder, limits):
    report = _scan(builder(), limits=limits)
    assert report.format == "onnx"
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.all_findings()]


def test_contrib_domain_com_microsoft_is_allowed():
    node = onnx_custom_op_node(domain="com.microsoft", op_type="FusedMatMul")
    report = _scan(onnx_matmul_add([node], opsets=[("", 17), ("com.microsoft", 1)]))
    assert report.verdict is Verdict.CLEAN


def test_external_data_saved_by_onnx_is_clean_as_a_folder(tmp_path):
    save_onnx_with_external_data(tmp_path / "pkg")
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "model.onnx")
    assert model.verdict is Verdict.CLEAN, [f.message for f in model.findings]
    assert (tmp_path / "pkg" / "weights.bin").stat().st_size > 0


def test_external_data_file_is_noted_for_package_checks(tmp_path):
    path = save_onnx_with_external_data(tmp_path / "pkg", location="weights/data.bin")
    ctx = RecordingContext("model.onnx", package=_FolderView(tmp_path / "pkg"))
    analyze_onnx(BytesBlob(path.read_bytes(), "model.onnx"), ctx)
    assert ctx.findings == []
    assert ctx.notes["onnx_external_data"] == ["weights/data.bin"]


def test_external_data_in_a_subfolder_resolves_next_to_the_model(tmp_path):
    save_onnx_with_external_data(tmp_path / "pkg" / "onnx")
    report = scan_paths([tmp_path / "pkg"])
    assert _file(report, "onnx/model.onnx").verdict is Verdict.CLEAN


# -- external data leaving the package ------------------------------------------------------------


def test_cve_2022_25882_parent_traversal_is_unsafe(tmp_path):
    _write_model(tmp_path / "pkg", onnx_with_external_location("../../../../etc/passwd"))
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "model.onnx")
    assert model.verdict is Verdict.UNSAFE
    assert [f.check_id for f in model.findings] == ["MC150"]
    assert model.findings[0].location.pointer == "graph/initializer[0]"


def test_cve_2024_27318_nested_traversal_is_unsafe(tmp_path):
    (tmp_path / "pkg" / "weights").mkdir(parents=True)
    _write_model(tmp_path / "pkg", onnx_with_external_location("weights/../../../etc/passwd"))
    report = scan_paths([tmp_path / "pkg"])
    assert _file(report, "model.onnx").verdict is Verdict.UNSAFE
    assert "MC150" in _ids(report)


@pytest.mark.parametrize(
    "location",
    [
        "/etc/passwd",
        "C:\\Windows\\win.ini",
        "c:/windows/win.ini",
        "\\\\attacker\\share\\weights.bin",
        "..\\..\\secret.bin",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%252e%252e%252fetc%252fpasswd",
        "weights.bin\x00.txt",
        "file:///etc/passwd",
        "https://attacker.example/weights.bin",
    ],
)
def test_locations_that_leave_the_package_are_unsafe(location):
    report = _scan(onnx_with_external_location(location))
    assert report.verdict is Verdict.UNSAFE
    assert _ids(report) == {"MC150"}


@pytest.mark.parametrize("limits", [Limits(), WIRE_ONLY], ids=["protobuf", "wire"])
def test_external_data_in_a_subgraph_attribute_is_checked(limits):
    report = _scan(onnx_with_external_location("/etc/shadow", where="if-subgraph"), limits=limits)
    assert report.verdict is Verdict.UNSAFE
    finding = next(iter(report.all_findings()))
    assert "/g/" in (finding.location.pointer or "")


def test_parent_step_that_stays_inside_the_package_is_suspicious(tmp_path):
    save_onnx_with_external_data(tmp_path / "pkg")
    _write_model(tmp_path / "pkg" / "sub", onnx_with_external_location("../weights.bin"))
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "sub/model.onnx")
    assert model.verdict is Verdict.SUSPICIOUS
    assert [f.check_id for f in model.findings] == ["MC150"]


def test_plain_relative_locations_have_no_problem():
    for location in ("weights.bin", "data/weights.bin", "model.onnx_data", "a..b.bin"):
        assert external_location_problem(location) is None


def test_cve_2026_27489_and_cve_2026_34447_symlinked_data_file_is_unsafe(tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("host secret")
    _write_model(tmp_path / "pkg", onnx_with_external_location("weights.bin"))
    os.symlink(secret, tmp_path / "pkg" / "weights.bin")
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "model.onnx")
    assert model.verdict is Verdict.UNSAFE
    assert [f.check_id for f in model.findings] == ["MC151"]
    assert "symbolic link" in model.findings[0].message


def test_cve_2026_34446_hardlinked_data_file_is_unsafe(tmp_path):
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(b"\x00" * 48)
    _write_model(tmp_path / "pkg", onnx_with_external_location("weights.bin", offset="0", length="48"))
    os.link(secret, tmp_path / "pkg" / "weights.bin")
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "model.onnx")
    assert model.verdict is Verdict.UNSAFE
    assert [f.check_id for f in model.findings] == ["MC151"]
    assert "hard link" in model.findings[0].message


def test_hardlinks_that_stay_inside_the_package_are_clean(tmp_path):
    save_onnx_with_external_data(tmp_path / "pkg")
    os.link(tmp_path / "pkg" / "weights.bin", tmp_path / "pkg" / "weights-copy.bin")
    report = scan_paths([tmp_path / "pkg"])
    assert _file(report, "model.onnx").verdict is Verdict.CLEAN


def test_missing_external_file_is_suspicious(tmp_path):
    _write_model(tmp_path / "pkg", onnx_with_external_location("weights.bin"))
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "model.onnx")
    assert model.verdict is Verdict.SUSPICIOUS
    assert [f.check_id for f in model.findings] == ["MC152"]


def test_external_tensor_without_location_is_suspicious():
    model = onnx_with_external_location("weights.bin")
    del model.graph.initializer[0].external_data[:]
    report = _scan(model)
    assert _ids(report) == {"MC152"}


@pytest.mark.parametrize(
    ("offset", "length", "needle"),
    [
        ("1000", None, "past the end"),
        ("0", "4096", "runs past"),
        ("-4", None, "negative"),
        ("x1", None, "integer"),
    ],
)
def test_offsets_outside_the_data_file_are_suspicious(tmp_path, offset, length, needle):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "weights.bin").write_bytes(b"\x00" * 48)
    _write_model(tmp_path / "pkg", onnx_with_external_location("weights.bin", offset=offset, length=length))
    report = scan_paths([tmp_path / "pkg"])
    model = _file(report, "model.onnx")
    assert [f.check_id for f in model.findings] == ["MC153"]
    assert needle in model.findings[0].message


# -- custom operator domains ----------------------------------------------------------------------


@pytest.mark.parametrize("limits", [Limits(), WIRE_ONLY], ids=["protobuf", "wire"])
@pytest.mark.parametrize(
    ("model_builder", "pointer_part"),
    [
        (
            lambda: onnx_matmul_add([onnx_custom_op_node()], opsets=[("", 17), ("org.evil.customops", 1)]),
            "graph/node[2]",
        ),
        (lambda: onnx_if_model([onnx_custom_op_node()]), "then_branch/g/node[2]"),
        (lambda: onnx_loop_model([onnx_custom_op_node()]), "body/g/node[2]"),
        (lambda: onnx_local_function_model("org.evil.customops"), "functions[0]/node[0]"),
    ],
    ids=["top-level", "if-subgraph", "loop-body", "inside-local-function"],
)
def test_custom_domains_are_suspicious_wherever_they_hide(model_builder, pointer_part, limits):
    report = _scan(model_builder(), limits=limits)
    assert report.verdict is Verdict.SUSPICIOUS
    finding = next(f for f in report.all_findings() if f.check_id == "MC154")
    assert finding.details["domain"] == "org.evil.customops"
    assert pointer_part in (finding.location.pointer or "")


def test_known_optional_library_domain_is_reported_low():
    node = onnx_custom_op_node(domain="com.microsoft.extensions", op_type="BpeTokenizer")
    report = _scan(onnx_matmul_add([node]))
    finding = next(iter(report.all_findings()))
    assert (finding.check_id, finding.severity) == ("MC154", Severity.LOW)
    assert "onnxruntime-extensions" in finding.message


# -- readers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        onnx_matmul_add([onnx_custom_op_node()]),
        onnx_if_model([onnx_custom_op_node()]),
        onnx_loop_model(),
        onnx_local_function_model("x.y"),
        onnx_with_external_location("../../etc/passwd", offset="4", length="8"),
        onnx_with_external_location("/etc/x", where="if-subgraph"),
    ],
)
def test_wire_decoder_and_protobuf_build_the_same_view(model):
    data = onnx_bytes(model)
    by_protobuf = read_with_protobuf(data, Limits())
    by_wire = read_with_wire_decoder(BytesBlob(data, "m.onnx"), Limits())
    assert by_protobuf.replace(parsed_with="") == by_wire.replace(parsed_with="")


def test_big_files_are_streamed_from_disk(tmp_path):
    path = _write_model(tmp_path, onnx_matmul_add([onnx_custom_op_node()]))
    blob = FileBlob(path, "model.onnx")
    try:
        view = read_onnx(blob, WIRE_ONLY)
    finally:
        blob.close()
    assert view.parsed_with == "wire"
    assert ("org.evil.customops", "RunShell") in {(u.domain, u.op_type) for u in view.ops}


def test_repeated_singular_messages_merge_like_protobuf():
    # Two serialized `graph` fields: protobuf merges them, so the second graph's nodes count too.
    extra = onnx_matmul_add([onnx_custom_op_node()])
    data = onnx_bytes(onnx_matmul_add()) + onnx_bytes(extra)
    by_protobuf = read_with_protobuf(data, Limits())
    by_wire = read_with_wire_decoder(BytesBlob(data, "m.onnx"), Limits())
    assert by_protobuf.ops == by_wire.ops
    assert any(u.domain == "org.evil.customops" for u in by_wire.ops)


def test_subgraph_nesting_beyond_the_limit_is_unscannable():
    model = onnx_if_model()
    for _ in range(4):
        model = onnx_if_model_wrapping(model)
    report = _scan(model, limits=Limits(max_graph_depth=2))
    assert report.verdict is Verdict.UNSCANNABLE
    assert _ids(report) == {"MC902"}


def onnx_if_model_wrapping(inner):
    outer = onnx_if_model()
    outer.graph.node[0].attribute[1].g.CopyFrom(inner.graph)
    return outer


@pytest.mark.parametrize("data", [b"not an onnx model at all", b"\x08", b"\xff" * 64, b"\x00\x00"])
def test_garbage_is_unscannable(data):
    report = scan_blob(BytesBlob(data, "model.onnx"), "model.onnx")
    assert report.verdict is Verdict.UNSCANNABLE
    assert _ids(report) <= {"MC901", "MC902"}


def test_valid_protobuf_that_is_not_a_model_is_rejected():
    with pytest.raises(FormatError):
        read_onnx(BytesBlob(b"\x12\x03abc", "x.onnx"), Limits())


class _FolderView:
    """A PackageView over a real folder (regular files only)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def relpaths(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def open_file(self, relpath: str):
        path = self.root / relpath
        return FileBlob(path, relpath) if path.is_file() and not path.is_symlink() else None

    def is_symlink(self, relpath: str) -> bool:
        return (self.root / relpath).is_symlink()


def test_onnx_inside_an_archive_is_checked_without_sibling_lookups():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bad/model.onnx", onnx_bytes(onnx_with_external_location("../../../etc/passwd")))
        archive.writestr("good/model.onnx", onnx_bytes(onnx_with_external_location("weights.bin")))
    report = scan_blob(BytesBlob(buffer.getvalue(), "models.zip"), "models.zip")
    members = {m.path: m for m in report.members}
    if "bad/model.onnx" not in members:
        pytest.skip("the zip reader does not open members yet")
    assert [f.check_id for f in members["bad/model.onnx"].findings] == ["MC150"]
    assert members["good/model.onnx"].findings == ()


def test_whole_folder_with_external_data_named_bin_is_clean(tmp_path):
    """weights.bin would be read as a pickle by name; as ONNX external data it is raw tensor bytes."""
    save_onnx_with_external_data(tmp_path / "pkg")
    report = scan_paths([tmp_path / "pkg"])
    data = _file(report, "weights.bin")
    assert data.verdict is Verdict.SKIPPED and data.format == "onnx-external-data"
    assert "model.onnx" in (data.skipped_reason or "")
    assert report.verdict is Verdict.CLEAN


def test_a_real_pickle_referenced_as_external_data_keeps_its_verdict(tmp_path):
    save_onnx_with_external_data(tmp_path / "pkg")
    (tmp_path / "pkg" / "weights.bin").write_bytes(b"cos\nsystem\n(S'echo modelcert-test'\ntR.")
    report = scan_paths([tmp_path / "pkg"])
    assert _file(report, "weights.bin").verdict is Verdict.UNSAFE
