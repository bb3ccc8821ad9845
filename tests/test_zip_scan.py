"""Zip containers end to end: published scanner bypasses (one regression test each), hostile member
names, bombs, polyglots and classification."""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.containers import (
    SYMLINK_ATTR,
    ZipExtras,
    ZipMember,
    benign_pickle,
    build_zip,
    check_ids,
    deflated,
    malicious_pickle,
    member,
    nested_zips,
    pickle_analyzer_ready,
    scan_bytes,
    stored,
    torch_zip,
    walk,
    zip_bomb,
)
from modelcert.findings import Verdict
from modelcert.limits import Limits


def assert_payload_reached(report, path: str) -> None:  # type: ignore[no-untyped-def]
    """The malicious pickle was handed to the pickle analyzer (and flagged, once that analyzer exists)."""
    node = member(report, path)
    assert node.format == "pickle"
    if pickle_analyzer_ready():
        assert node.verdict is Verdict.UNSAFE
        assert report.verdict is Verdict.UNSAFE


# --- published bypasses ------------------------------------------------------------------------------


def test_cve_2025_1944_local_and_central_names_differ() -> None:
    """GHSA-7q5r-7gvp-wc82: zipfile raises on the name mismatch, PyTorch loads the data."""
    data = torch_zip(malicious_pickle(), local_name="archive/innocent.txt")
    report = scan_bytes(data, "model.pt")
    assert report.format == "pytorch-zip"
    assert "MC210" in check_ids(report)
    assert report.verdict is not Verdict.CLEAN
    assert_payload_reached(report, "archive/data.pkl")


@pytest.mark.parametrize("bits", [0x1, 0x20, 0x40])
def test_cve_2025_1945_flag_bits(bits: int) -> None:
    """GHSA-w8jq-xcqf-f792: 'encrypted'/'patched' flag bits make zipfile refuse, PyTorch ignores them."""
    report = scan_bytes(torch_zip(malicious_pickle(), flags=bits), "model.pt")
    finding = next(f for f in report.all_findings() if f.check_id == "MC211")
    assert "CVE-2025-1945" in finding.tags
    assert_payload_reached(report, "archive/data.pkl")


def test_cve_2025_10156_bad_crc_is_reported_and_content_still_analysed() -> None:
    """JFrog CVE-2025-10156: zipfile raises on a CRC mismatch; PyTorch does not check it."""
    data = torch_zip(malicious_pickle(), crc=0xDEADBEEF)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")
    report = scan_bytes(data, "model.pt")
    assert "MC212" in check_ids(report)
    assert report.verdict is not Verdict.CLEAN
    assert_payload_reached(report, "archive/data.pkl")


def test_cve_2025_10156_deflated_member_crc_checked_while_inflating() -> None:
    data = build_zip([deflated("model/data.pkl", malicious_pickle(), crc=1)])
    assert "MC212" in check_ids(scan_bytes(data, "model.pt"))


def test_cve_2025_1889_pickle_member_with_an_odd_extension_is_sniffed() -> None:
    """GHSA-769v-p64c-89pr: only pickle extensions were scanned; torch.load(pickle_file=...) reads any."""
    members = [*_torch_members_plain(), stored("archive/config.p", malicious_pickle())]
    report = scan_bytes(build_zip(members), "model.pt")
    assert_payload_reached(report, "archive/config.p")


def test_pickle_hidden_in_a_tensor_record_is_sniffed() -> None:
    members = [*_torch_members_plain(), stored("archive/data/7", malicious_pickle())]
    report = scan_bytes(build_zip(members), "model.pt")
    assert_payload_reached(report, "archive/data/7")


def _torch_members_plain() -> list[ZipMember]:
    return [stored("archive/data.pkl", benign_pickle()), stored("archive/version", b"3\n")]


# --- member names and links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "check"),
    [("../../.bashrc", "MC200"), ("model/..\\..\\evil.pkl", "MC200"), ("/etc/cron.d/x", "MC201"),
     ("C:\\Users\\x\\evil.pkl", "MC201"), ("\\\\server\\share\\x", "MC201")],
)
def test_zip_slip_and_absolute_names_are_unsafe(name: str, check: str) -> None:
    report = scan_bytes(build_zip([stored("ok.txt", b"fine"), stored(name, b"data")]), "m.zip")
    assert check in check_ids(report)
    assert report.verdict is Verdict.UNSAFE


def test_symlink_member_leaving_the_archive_is_unsafe() -> None:
    data = build_zip([stored("weights.bin", b"../../../home/user/.ssh/id_rsa", external_attr=SYMLINK_ATTR)])
    report = scan_bytes(data, "m.zip")
    finding = next(f for f in report.all_findings() if f.check_id == "MC202")
    assert finding.verdict is Verdict.UNSAFE and finding.details["target"].endswith("id_rsa")


def test_symlink_member_inside_the_archive_is_suspicious() -> None:
    link = stored("a/link", b"weights.bin", external_attr=SYMLINK_ATTR)
    data = build_zip([stored("a/weights.bin", b"x"), link])
    report = scan_bytes(data, "m.zip")
    assert report.verdict is Verdict.SUSPICIOUS and "MC202" in check_ids(report)


def test_duplicate_names_are_reported_and_both_copies_analysed() -> None:
    twins = [stored("archive/data.pkl", benign_pickle()), stored("archive/data.pkl", malicious_pickle())]
    data = build_zip(twins)
    report = scan_bytes(data, "model.pt")
    assert "MC208" in check_ids(report)
    assert [m.path for m in report.members].count("archive/data.pkl") == 2


def test_overlapping_members_are_reported() -> None:
    data = build_zip([stored("a.pkl", malicious_pickle())], ZipExtras(aliases=[("b.txt", 0)]))
    report = scan_bytes(data, "m.zip")
    assert "MC213" in check_ids(report) and report.verdict is not Verdict.CLEAN


def test_pickle_hidden_between_members_is_found() -> None:
    data = build_zip([stored("README", b"hello")], ZipExtras(gap=malicious_pickle()))
    report = scan_bytes(data, "m.zip")
    assert "MC203" in check_ids(report)
    hidden = [m for m in report.members if m.path.startswith("<unlisted bytes")]
    assert hidden and hidden[0].format == "pickle"


def test_unsupported_method_is_unscannable() -> None:
    data = build_zip([ZipMember("a.bin", b"x", method=14, raw=b"\x00" * 8)])
    report = scan_bytes(data, "m.zip")
    assert "MC215" in check_ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_corrupt_deflate_stream_is_unscannable() -> None:
    data = build_zip([ZipMember("a.pkl", b"x" * 10, method=8, raw=b"\xff\xff\xff\xff")])
    report = scan_bytes(data, "m.zip")
    assert report.verdict is Verdict.UNSCANNABLE and "MC215" in check_ids(report)


def test_truncated_zip_reports_what_it_read_then_fails_closed() -> None:
    data = build_zip([stored("a.pkl", malicious_pickle()), stored("b", b"y")], ZipExtras(omit_central=True))
    report = scan_bytes(data, "m.zip")
    assert "MC901" in check_ids(report) and report.verdict in (Verdict.UNSCANNABLE, Verdict.UNSAFE)
    assert member(report, "a.pkl").format == "pickle"


# --- bombs --------------------------------------------------------------------------------------------


def test_zip_bomb_one_gib_of_zeros_is_refused_quickly() -> None:
    data = zip_bomb(1 << 30)
    assert len(data) < 2 << 20
    started = time.perf_counter()
    report = scan_bytes(data, "bomb.zip")
    assert time.perf_counter() - started < 5
    assert "MC209" in check_ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_zip_bomb_with_lying_sizes_is_stopped_while_inflating() -> None:
    limits = Limits(compression_ratio_min_bytes=1 << 20, max_compression_ratio=50)
    report = scan_bytes(zip_bomb(64 << 20, declared_size=1000), "bomb.zip", limits)
    assert "MC209" in check_ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_nesting_bomb_stops_at_max_nesting() -> None:
    data = nested_zips(8, malicious_pickle())
    report = scan_bytes(data, "nest.zip")
    assert "MC207" in check_ids(report)
    assert report.verdict is Verdict.UNSCANNABLE
    depth = max(len(f.location.member) for f in report.all_findings() if f.check_id == "MC207")
    assert depth == Limits().max_nesting + 1


def test_nested_zip_within_limit_reaches_payload() -> None:
    report = scan_bytes(nested_zips(2, malicious_pickle()), "nest.zip")
    assert [n.format for n in walk(report)][-1] == "pickle"


# --- classification and benign archives --------------------------------------------------------------


def test_keras_archive_hands_config_to_the_keras_analyzer() -> None:
    config = json.dumps({"class_name": "Sequential", "config": {"layers": []}}).encode()
    data = build_zip([stored("metadata.json", b'{"keras_version": "3.6.0"}'), stored("config.json", config),
                      stored("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100)])
    report = scan_bytes(data, "model.keras")
    assert report.format == "keras"
    assert member(report, "config.json").format == "keras-config"


def test_plain_zip_of_text_files_is_clean() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.md", "# model\n")
        zf.writestr("folder/", "")
        zf.writestr("vocab.txt", "a\nb\n")
    report = scan_bytes(out.getvalue(), "bundle.zip")
    assert report.format == "zip" and report.verdict is Verdict.CLEAN
    assert not list(report.all_findings())


def test_integer_tensor_that_sniffs_like_safetensors_stays_raw() -> None:
    ids = struct.pack("<4q", 5, 123, 7, 9)  # 8-byte length 5, then '{': the safetensors sniff matches
    members = [stored("archive/data.pkl", benign_pickle()), stored("archive/data/0", ids)]
    report = scan_bytes(build_zip(members), "model.pt")
    assert [m.path for m in report.members] == ["archive/data.pkl"]
    assert report.verdict is Verdict.CLEAN


def test_keras_file_saved_by_keras_is_clean() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = Path(tempfile.mkdtemp()) / "m.keras"
    model.save(path)
    report = scan_bytes(path.read_bytes(), "m.keras")
    assert report.format == "keras"
    assert member(report, "config.json").format == "keras-config"
    changing = [f for f in report.all_findings() if f.verdict is not Verdict.CLEAN]
    assert not changing, [(f.check_id, f.message) for f in changing]


def test_raw_records_in_a_torch_zip_are_counted_not_listed() -> None:
    report = scan_bytes(torch_zip(benign_pickle()), "model.pt")
    assert report.format == "pytorch-zip"
    assert [m.path for m in report.members] == ["archive/data.pkl"]
    assert not list(report.all_findings())


_SEED = torch_zip(malicious_pickle(), extras=ZipExtras(comment=b"seed"))


@pytest.mark.property
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_torch_zips_never_crash_the_analyzer(data: st.DataObject) -> None:
    raw = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    report = scan_bytes(bytes(raw), "model.pt")
    crashes = [f.message for f in report.all_findings() if f.check_id == "MC903"]
    assert not crashes, crashes
