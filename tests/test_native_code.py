"""Native machine code in a model package (MC427): detected by content, in folders and in archives."""

from __future__ import annotations

import io
import os
import struct
import sys
import zipfile
from pathlib import Path

import pytest

from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.detect import native_executable_kind, sniff
from modelcert.scan import scan_blob, scan_paths


def elf(e_type: int = 3, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1]) + bytes(9)
    return ident + struct.pack(order + "HHI", e_type, 62, 1) + bytes(200)


def pe(dll: bool) -> bytes:
    stub = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80))
    stub += bytes(0x80 - len(stub))
    characteristics = 0x2022 if dll else 0x0022
    header = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, characteristics)
    return bytes(stub) + header + bytes(256)


MACHO = b"\xcf\xfa\xed\xfe" + struct.pack("<iiIIII", 0x01000007, 3, 6, 0, 0, 0) + bytes(64)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (elf(3), "ELF shared library or PIE executable"),
        (elf(2, big_endian=True), "ELF executable"),
        (elf(1), "ELF relocatable object"),
        (pe(dll=True), "PE DLL"),
        (pe(dll=False), "PE executable"),
        (MACHO, "Mach-O 64-bit"),
    ],
)
def test_native_binaries_are_recognised_by_structure(head: bytes, kind: str) -> None:
    assert native_executable_kind(head) == kind
    assert sniff(head, head, len(head)) == "executable"


@pytest.mark.parametrize(
    "head",
    [
        b"MZ is a text that starts like a DOS stub",
        b"\x7fELF" + bytes([9, 9]) + bytes(40),
        b"\xca\xfe\xba\xbe" + bytes(40),  # fat Mach-O and Java classes share it: not claimed
    ],
)
def test_look_alikes_are_not_executables(head: bytes) -> None:
    assert native_executable_kind(head) is None


def test_a_shared_library_in_a_folder_makes_the_package_suspicious(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    (tmp_path / "libcustom_ops.so").write_bytes(elf(3))
    (tmp_path / "weights.bin").write_bytes(pe(dll=True))  # renamed DLL: content decides
    report = scan_paths([tmp_path])
    by_path = {a.path: a for a in report.files}
    assert by_path["libcustom_ops.so"].verdict is Verdict.SUSPICIOUS
    assert "MC427" in {f.check_id for f in by_path["weights.bin"].findings}
    assert by_path["config.json"].verdict is Verdict.CLEAN


def test_a_binary_inside_an_archive_member_is_found() -> None:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("model/handler.so", elf(3))
        archive.writestr("model/config.json", "{}")
    report = scan_blob(BytesBlob(raw.getvalue(), "model.zip"), "model.zip")
    assert report.verdict is Verdict.SUSPICIOUS
    assert "MC427" in {f.check_id for f in report.all_findings()}


@pytest.mark.skipif(not sys.executable or not os.path.exists(sys.executable), reason="no interpreter file")
def test_this_interpreter_is_recognised(tmp_path: Path) -> None:
    with open(os.path.realpath(sys.executable), "rb") as fh:
        assert native_executable_kind(fh.read(4096)) is not None
