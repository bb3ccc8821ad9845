"""Format detection is by content; the name is a hint and a mismatch signal."""

from __future__ import annotations

import pickletools
import struct

import pytest

from modelcert.formats.detect import OPCODE_BYTES, detect, sniff

PICKLE_V0 = b"cos\nsystem\n(S'echo modelcert-test'\ntR."


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "pickle"),
        (b"\x80\x02}q\x00.", "pickle"),
        (PICKLE_V0, "pickle"),
        (b"(lp0\nI1\naI2\na.", "pickle"),
        (b"\x93NUMPY\x01\x00v\x00{'descr'", "numpy"),
        (b"PK\x03\x04" + b"\x00" * 30, "zip"),
        (b"GGUF\x03\x00\x00\x00", "gguf"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"BZh91AY", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"\x28\xb5\x2f\xfd\x00", "zstd"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (b"\x89HDF\r\n\x1a\n\x00", "hdf5"),
        (b'{"a": 1}', "json"),
    ],
)
def test_sniff_by_content(head: bytes, expected: str) -> None:
    assert sniff(head, head, len(head)) == expected


def test_safetensors_sniff_needs_a_consistent_header_length() -> None:
    header = b'{"__metadata__":{}}'
    data = struct.pack("<Q", len(header)) + header
    assert sniff(data, data, len(data)) == "safetensors"
    lying = struct.pack("<Q", 10_000) + header
    assert sniff(lying, lying, len(lying)) != "safetensors"


def test_plain_text_is_not_mistaken_for_a_protocol_0_pickle() -> None:
    for text in [b"cat\ndog\n", b"# Model card\n\nThis is a model.\n", b"(1, 2)\n", b"Apache License\n"]:
        assert sniff(text, text, len(text)) != "pickle", text


def test_pickle_renamed_safetensors_is_a_pickle_and_a_mismatch() -> None:
    data = b"\x80\x04K\x01."
    found = detect(data, data, len(data), "model.safetensors")
    assert found.format == "pickle" and found.mismatch


def test_plain_pickle_named_bin_is_a_pickle_without_mismatch_cve_2025_10155() -> None:
    found = detect(PICKLE_V0, PICKLE_V0, len(PICKLE_V0), "pytorch_model.bin")
    assert found.format == "pickle" and not found.mismatch


def test_unrecognised_binary_under_a_loader_extension_is_read_as_pickle() -> None:
    """Content a loader would unpickle is analysed as pickle unless its first byte is no opcode."""
    opcode_first = b"(\xff\xfe\x00garbage"  # MARK then junk: an unpickler would start on it
    found = detect(opcode_first, opcode_first, len(opcode_first), "model.pt")
    assert found.format == "pickle" and found.guessed
    no_opcode = b"\xff\xfe\x00garbage"  # 0xff is no pickle opcode: every unpickler stops at byte 0
    assert detect(no_opcode, no_opcode, len(no_opcode), "model.pt").format == "binary"
    assert detect(opcode_first, opcode_first, len(opcode_first), "blob.raw").format == "binary"


def test_raw_weights_named_bin_are_skipped_not_unscannable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Raw float data in a .bin (OpenVINO, old GGML, ONNX data) breaks before any import: skipped."""
    import random

    from modelcert.findings import Verdict
    from modelcert.scan import scan_paths

    rng = random.Random(5)
    for i in range(40):
        (tmp_path / f"w{i}.bin").write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)))
    report = scan_paths([tmp_path])
    bad = [(a.path, a.verdict.value, [f.check_id for f in a.all_findings()]) for a in report.files
           if a.verdict not in {Verdict.SKIPPED, Verdict.CLEAN}]
    assert bad == []


def test_payload_after_harmless_opcodes_in_a_bin_is_still_unsafe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from modelcert.findings import Verdict
    from modelcert.scan import scan_paths

    # no PROTO, a long harmless string first (pushes the import past the sniffed head), then a payload
    data = b"T" + (70_000).to_bytes(4, "little") + b"A" * 70_000 + b"0" + PICKLE_V0
    (tmp_path / "pytorch_model.bin").write_bytes(data)
    assert scan_paths([tmp_path]).files[0].verdict is Verdict.UNSAFE


def test_zip_found_by_end_record_even_with_prefix_data() -> None:
    tail = b"junk" + b"PK\x05\x06" + b"\x00" * 18
    assert sniff(b"MZ\x90\x00polyglot", tail, 1000) == "zip"


def test_pickle_with_a_zip_directory_at_its_end_is_read_both_ways(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A polyglot: torch.load reads the leading pickle, zipfile-based loaders read the trailing zip."""
    import io
    import zipfile

    from modelcert.findings import Verdict
    from modelcert.scan import scan_paths

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("archive/data.pkl", PICKLE_V0)
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04K\x01." + inner.getvalue())
    report = scan_paths([tmp_path])
    artifact = report.files[0]
    assert artifact.format == "pickle"
    assert any(m.path == "<zip directory at end of file>" for m in artifact.members)
    assert artifact.verdict is Verdict.UNSAFE


def test_compiled_python_is_routed_to_its_analyzer() -> None:
    import importlib.util

    data = importlib.util.MAGIC_NUMBER + b"\x00" * 12 + b"\xe3"
    assert detect(data, data, len(data), "modeling_x.cpython-311.pyc").format == "pyc"


def test_spelled_out_opcode_bytes_are_exactly_pickletools_opcodes() -> None:
    assert {ord(op.code) for op in pickletools.opcodes} == OPCODE_BYTES
