"""PyTorch checkpoints and TorchScript archives: real torch output stays clean, hand-written code that
reaches beyond tensor maths is flagged (CVE-2025-32434 and friends)."""

from __future__ import annotations

import io

import pytest

from builders.containers import (
    BENIGN_TORCHSCRIPT,
    check_ids,
    member,
    scan_bytes,
    torchscript_zip,
)
from modelcert.checks.pytorch import classify_ref
from modelcert.errors import FormatError
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.torchscript import CodeRef, read_torchscript_code
from modelcert.limits import DEFAULT_LIMITS


def _no_verdict_changing_findings(report) -> None:  # type: ignore[no-untyped-def]
    changing = [f for f in report.all_findings() if f.verdict is not Verdict.CLEAN]
    assert not changing, [(f.check_id, f.message) for f in changing]


# --- real torch output --------------------------------------------------------------------------------


def test_torch_save_state_dict_is_pytorch_zip_with_only_the_pickle_listed() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    out = io.BytesIO()
    torch.save(model.state_dict(), out)
    report = scan_bytes(out.getvalue(), "pytorch_model.bin")
    assert report.format == "pytorch-zip"
    assert [m.path for m in report.members] == ["archive/data.pkl"]  # 4 storages + records not listed
    assert member(report, "archive/data.pkl").format == "pickle"
    _no_verdict_changing_findings(report)


def test_torch_jit_trace_module_is_clean_torchscript() -> None:
    """CVE-2025-32434: the archive is noted as code (MC140, informational) without changing the verdict."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)
            self.bn = torch.nn.BatchNorm2d(4)
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            y = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
            return torch.softmax(self.fc(y), dim=-1)

    traced = torch.jit.trace(Net().eval(), torch.randn(1, 3, 8, 8))
    out = io.BytesIO()
    torch.jit.save(traced, out)
    report = scan_bytes(out.getvalue(), "model.pt")
    assert report.format == "torchscript"
    assert "MC140" in check_ids(report)
    code = [m for m in report.members if m.format == "torchscript-code"]
    assert len(code) >= 2 and all(m.verdict is Verdict.CLEAN for m in code)
    _no_verdict_changing_findings(report)


def test_torch_jit_script_with_control_flow_is_clean() -> None:
    torch = pytest.importorskip("torch")
    scripted = torch.jit.script(torch.nn.LSTM(4, 8, batch_first=True))
    out = io.BytesIO()
    torch.jit.save(scripted, out)
    report = scan_bytes(out.getvalue(), "lstm.pt")
    assert report.format == "torchscript"
    assert any(m.format == "torchscript-code" for m in report.members)
    _no_verdict_changing_findings(report)


def test_real_torchscript_with_torch_save_in_forward_is_unsafe() -> None:
    torch = pytest.importorskip("torch")

    class Leak(torch.nn.Module):  # type: ignore[misc, name-defined]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch.save(x, "/tmp/modelcert-test-leak.pt")
            return x + 1

    out = io.BytesIO()
    torch.jit.save(torch.jit.script(Leak()), out)
    report = scan_bytes(out.getvalue(), "leak.pt")
    assert "MC141" in check_ids(report) and report.verdict is Verdict.UNSAFE


# --- hand-written code (CVE-2025-32434: torch.load(weights_only=True) ≤ 2.5.1 ran it) --------------------


def test_cve_2025_32434_torchscript_archive_is_code() -> None:
    report = scan_bytes(torchscript_zip(BENIGN_TORCHSCRIPT), "weights.pt")
    assert report.format == "torchscript"
    note = next(f for f in report.all_findings() if f.check_id == "MC140")
    assert "CVE-2025-32434" in note.tags and note.verdict is Verdict.CLEAN
    assert member(report, "archive/code/__torch__.py").format == "torchscript-code"
    assert report.verdict is Verdict.CLEAN


@pytest.mark.parametrize(
    ("line", "check"),
    [
        ('torch.save(x, "/home/user/.bashrc")', "MC141"),
        ('y = torch.from_file("/etc/shadow", size=100)', "MC141"),
        ('y = ops.aten.from_file("/etc/shadow")', "MC141"),
        ('os.system("echo modelcert-test")', "MC141"),
        ('f = open("/etc/passwd")', "MC141"),
        ('eval("1+1")', "MC142"),
        ('__import__("os").system("echo modelcert-test")', "MC142"),
        ("c = x.__class__.__subclasses__()", "MC142"),
        ('getattr(torch, "save")(x, "/tmp/x")', "MC141"),
        ("y = ops.evil_ns.run(x)", "MC143"),
        ("y = torch.ops.mylib.custom(x)", "MC143"),
        ('torch.ops.load_library("/tmp/libevil.so")', "MC144"),
        ("fut = ops.prim.rpc_async(x)", "MC145"),
        ("y = ops.c10d.broadcast_(x)", "MC145"),
    ],
)
def test_torchscript_code_beyond_tensor_maths_is_flagged(line: str, check: str) -> None:
    code = BENIGN_TORCHSCRIPT.replace("    return _0\n", f"    {line}\n    return _0\n")
    report = scan_bytes(torchscript_zip(code), "model.pt")
    code_member = member(report, "archive/code/__torch__.py")
    assert check in check_ids(code_member)
    finding = next(f for f in code_member.findings if f.check_id == check)
    assert finding.location.line == 10  # the inserted line
    assert report.verdict in (Verdict.UNSAFE, Verdict.SUSPICIOUS)


def test_import_statement_of_a_foreign_module_is_an_escape() -> None:
    report = scan_bytes(torchscript_zip("import subprocess\n" + BENIGN_TORCHSCRIPT), "model.pt")
    assert "MC142" in check_ids(report) and report.verdict is Verdict.UNSAFE


def test_custom_class_namespace_is_suspicious_but_quantized_is_not() -> None:
    evil = BENIGN_TORCHSCRIPT.replace("  training : bool\n", "  p : __torch__.torch.classes.acme.Loader\n")
    good = BENIGN_TORCHSCRIPT.replace(
        "  training : bool\n", "  p : __torch__.torch.classes.quantized.LinearPackedParamsBase\n"
    )
    assert scan_bytes(torchscript_zip(evil), "m.pt").verdict is Verdict.SUSPICIOUS
    assert scan_bytes(torchscript_zip(good), "m.pt").verdict is Verdict.CLEAN


def test_torchvision_ops_are_builtin() -> None:
    extra = "    k = ops.torchvision.nms(x, x, 0.5)\n    return k\n"
    code = BENIGN_TORCHSCRIPT.replace("    return _0\n", extra)
    assert scan_bytes(torchscript_zip(code), "m.pt").verdict is Verdict.CLEAN


def test_local_variable_named_like_a_module_is_not_flagged() -> None:
    code = BENIGN_TORCHSCRIPT.replace("    return _0\n", "    io = torch.add(x, 1)\n    return io\n")
    assert scan_bytes(torchscript_zip(code), "m.pt").verdict is Verdict.CLEAN


def test_code_that_is_not_python_syntax_is_unscannable() -> None:
    report = scan_bytes(torchscript_zip("def forward(self:\n  return ((("), "m.pt")
    assert "MC901" in check_ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_reader_reports_whole_chains_once() -> None:
    code = read_torchscript_code(BytesBlob(b"y = torch.ops.aten.add(x, 1)\n", "c.py"), DEFAULT_LIMITS)
    names = [r.dotted for r in code.refs if r.kind == "name"]
    assert names == ["torch.ops.aten.add", "x"]


def test_reader_rejects_non_utf8() -> None:
    with pytest.raises(FormatError):
        read_torchscript_code(BytesBlob(b"\xff\xfe x = 1", "c.py"), DEFAULT_LIMITS)


def test_classification_of_ordinary_references_is_none() -> None:
    for dotted in ("torch.relu", "ops.prim.RaiseException", "__torch__.torch.nn.functional.batch_norm",
                   "CONSTANTS.c0", "annotate", "unchecked_cast", "torch.__isnot__"):
        assert classify_ref(CodeRef("call", dotted, 1), frozenset()) is None, dotted
