"""Tar, single-stream compressors and 7z: members reach the scanner one at a time, hostile members are
reported, bombs and corrupt streams fail closed."""

from __future__ import annotations

import io
import tarfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.containers import (
    TarEntry,
    benign_pickle,
    build_7z,
    build_7z_renamed,
    build_tar,
    check_ids,
    compress,
    deflate_zeros,
    malicious_pickle,
    member,
    pickle_analyzer_ready,
    scan_bytes,
    torch_zip,
    walk,
)
from modelcert.checks.archive_streams import inner_name
from modelcert.errors import FormatError
from modelcert.findings import Verdict
from modelcert.formats.archive import TarReader
from modelcert.formats.blob import BytesBlob
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.scan import scan_blob


def assert_payload(report, path: str) -> None:  # type: ignore[no-untyped-def]
    node = member(report, path)
    assert node.format == "pickle"
    if pickle_analyzer_ready():
        assert report.verdict is Verdict.UNSAFE


# --- tar ---------------------------------------------------------------------------------------------


def test_plain_tar_members_are_scanned() -> None:
    data = build_tar(
        [
            TarEntry("model/", kind=tarfile.DIRTYPE),
            TarEntry("model/README.md", b"# hi\n"),
            TarEntry("model/weights.pkl", malicious_pickle()),
        ]
    )
    report = scan_bytes(data, "model.tar")
    assert report.format == "tar"
    assert [m.path for m in report.members] == ["model/README.md", "model/weights.pkl"]
    assert_payload(report, "model/weights.pkl")


@pytest.mark.parametrize("codec", ["gzip", "bzip2", "xz", "zstd", "lz4"])
def test_compressed_tar_with_a_pickle_member(codec: str) -> None:
    if codec == "lz4":
        pytest.importorskip("lz4")
    tar = build_tar([TarEntry("weights.bin", malicious_pickle()), TarEntry("config.json", b"{}")])
    report = scan_bytes(compress(tar, codec), f"model.tar.{codec}")
    assert report.format.startswith("tar.")
    assert_payload(report, "weights.bin")


def test_gzip_wrapped_pickle_is_a_member_named_without_gz() -> None:
    report = scan_bytes(compress(malicious_pickle(), "gzip"), "model.pkl.gz")
    assert report.format == "gzip"
    assert_payload(report, "model.pkl")


def test_gzip_wrapped_torch_zip_is_analysed_as_pytorch() -> None:
    report = scan_bytes(compress(torch_zip(malicious_pickle()), "gzip"), "model.pt.gz")
    assert member(report, "model.pt").format == "pytorch-zip"
    assert_payload(report, "archive/data.pkl")


def test_multi_member_gzip_is_read_whole() -> None:
    data = compress(b"\x80\x02cos\nsys", "gzip") + compress(malicious_pickle()[13:], "gzip")
    report = scan_bytes(data, "x.pkl.gz")
    assert member(report, "x.pkl").size == len(b"\x80\x02cos\nsys") + len(malicious_pickle()) - 13


@pytest.mark.parametrize(
    ("entry", "check", "verdict"),
    [
        (TarEntry("../../etc/cron.d/job", b"x"), "MC200", Verdict.UNSAFE),
        (TarEntry("/etc/passwd", b"x"), "MC201", Verdict.UNSAFE),
        (TarEntry("link", kind=tarfile.SYMTYPE, linkname="/etc/shadow"), "MC202", Verdict.UNSAFE),
        (TarEntry("a/link", kind=tarfile.SYMTYPE, linkname="../../../home"), "MC202", Verdict.UNSAFE),
        (TarEntry("a/link", kind=tarfile.SYMTYPE, linkname="../model/x.raw"), "MC202", Verdict.SUSPICIOUS),
        (TarEntry("hard", kind=tarfile.LNKTYPE, linkname="/etc/shadow"), "MC202", Verdict.UNSAFE),
        (TarEntry("hard", kind=tarfile.LNKTYPE, linkname="model/tensor.raw"), "MC202", Verdict.SUSPICIOUS),
        (TarEntry("dev", kind=tarfile.CHRTYPE), "MC206", Verdict.SUSPICIOUS),
        (TarEntry("pipe", kind=tarfile.FIFOTYPE), "MC206", Verdict.SUSPICIOUS),
    ],
)
def test_hostile_tar_members(entry: TarEntry, check: str, verdict: Verdict) -> None:
    data = build_tar([TarEntry("model/tensor.raw", b"\0" * 64), entry])
    for wrapped, name in ((data, "m.tar"), (compress(data, "gzip"), "m.tar.gz")):
        report = scan_bytes(wrapped, name)
        assert check in check_ids(report)
        assert report.verdict is verdict


def test_duplicate_tar_members() -> None:
    data = build_tar([TarEntry("a.pkl", benign_pickle()), TarEntry("./a.pkl", malicious_pickle())])
    report = scan_bytes(data, "m.tar")
    assert "MC208" in check_ids(report) and len(report.members) == 2


def test_member_after_the_end_of_archive_marker_is_found() -> None:
    hidden = build_tar([TarEntry("hidden.pkl", malicious_pickle())])
    data = build_tar([TarEntry("README", b"hi")], after_end=hidden)
    report = scan_bytes(data, "m.tar")
    assert "MC203" in check_ids(report)
    assert_payload(report, "hidden.pkl")


def test_pax_long_names_are_read() -> None:
    name = "d/" + "x" * 300 + ".pkl"
    data = build_tar([TarEntry(name, malicious_pickle())], fmt=tarfile.PAX_FORMAT)
    assert_payload(scan_bytes(data, "m.tar"), name)


def test_truncated_tar_reports_members_then_fails_closed() -> None:
    data = build_tar([TarEntry("a.pkl", malicious_pickle()), TarEntry("big.bin", b"\1" * 5000)])
    report = scan_bytes(data[:2048], "m.tar")
    assert member(report, "a.pkl").format == "pickle"
    assert "MC901" in check_ids(report)


def test_garbage_after_tar_members_is_unscannable() -> None:
    data = build_tar([TarEntry("a.txt", b"hi")])
    report = scan_bytes(data[:1024] + b"\x01" * 2048, "m.tar")
    assert "MC901" in check_ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_tar_member_over_the_size_limit_is_unscannable() -> None:
    data = build_tar([TarEntry("big.bin", b"\1" * 10_000), TarEntry("small.pkl", malicious_pickle())])
    report = scan_bytes(data, "m.tar", Limits(max_member_bytes=5000))
    assert "MC902" in check_ids(report)
    assert member(report, "small.pkl").format == "pickle"  # reading went on after the refused member


def test_clean_model_folder_tar_gz() -> None:
    torch = pytest.importorskip("torch")
    weights = io.BytesIO()
    torch.save({"w": torch.ones(4, 4)}, weights)
    data = compress(
        build_tar(
            [
                TarEntry("model/", kind=tarfile.DIRTYPE),
                TarEntry("model/config.json", b'{"hidden_size": 4}'),
                TarEntry("model/README.md", b"# model\n"),
                TarEntry("model/pytorch_model.bin", weights.getvalue()),
            ]
        ),
        "gzip",
    )
    report = scan_bytes(data, "model.tar.gz")
    assert report.format == "tar.gz"
    assert member(report, "model/pytorch_model.bin").format == "pytorch-zip"
    changing = [f for f in report.all_findings() if f.verdict is not Verdict.CLEAN]
    assert not changing, [(f.check_id, f.message) for f in changing]


# --- compressed streams ------------------------------------------------------------------------------


def test_gzip_bomb_is_stopped() -> None:
    raw = deflate_zeros(256 << 20)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    data = header + raw + zlib.crc32(b"").to_bytes(4, "little") + (0).to_bytes(4, "little")
    report = scan_bytes(data, "zeros.gz", Limits(compression_ratio_min_bytes=1 << 20))
    assert "MC209" in check_ids(report) and report.verdict is Verdict.UNSCANNABLE


def test_trailing_data_after_a_gzip_stream_is_analysed() -> None:
    data = compress(b"hello", "gzip") + malicious_pickle()
    report = scan_bytes(data, "x.gz")
    assert "MC203" in check_ids(report)
    assert any(n.path.startswith("<data after stream") and n.format == "pickle" for n in walk(report))


def test_zero_padding_after_gzip_is_fine() -> None:
    report = scan_bytes(compress(b"hello world", "gzip") + b"\0" * 512, "x.txt.gz")
    assert report.verdict is Verdict.CLEAN and not list(report.all_findings())


@pytest.mark.parametrize("codec", ["gzip", "bzip2", "xz", "zstd"])
def test_truncated_stream_is_unscannable(codec: str) -> None:
    data = compress(bytes(range(256)) * 400, codec)
    report = scan_bytes(data[: len(data) // 2], f"x.{codec}")
    assert report.verdict is Verdict.UNSCANNABLE and "MC901" in check_ids(report)


@pytest.mark.parametrize(
    ("outer", "codec", "inner"),
    [
        ("a/model.pkl.gz", "gzip", "model.pkl"),
        ("m.tgz", "gzip", "m.tar"),
        ("w.bin.zst", "zstd", "w.bin"),
        ("noext", "xz", "<decompressed>"),
        ("x.tar.bz2", "bzip2", "x.tar"),
    ],
)
def test_inner_names(outer: str, codec: str, inner: str) -> None:
    assert inner_name(outer, codec) == inner


# --- 7z ----------------------------------------------------------------------------------------------


def test_nullifai_7z_wrapped_torch_archive() -> None:
    """nullifAI (ReversingLabs, 2025): PyTorch models recompressed with 7z slipped past zip-only scanners."""
    data = build_7z({"model.pt": torch_zip(malicious_pickle())})
    report = scan_bytes(data, "model.7z")
    assert report.format == "7z"
    assert member(report, "model.pt").format == "pytorch-zip"
    assert_payload(report, "archive/data.pkl")


def test_7z_with_torch_records_as_members() -> None:
    data = build_7z({"archive/data.pkl": malicious_pickle(), "archive/version": b"3\n"})
    assert_payload(scan_bytes(data, "model.7z"), "archive/data.pkl")


def test_clean_7z() -> None:
    data = build_7z({"README.md": b"# model\n", "config.json": b'{"a": 1}'})
    report = scan_bytes(data, "bundle.7z")
    assert report.format == "7z" and len(report.members) == 2
    changing = [f for f in report.all_findings() if f.verdict is not Verdict.CLEAN]
    assert not changing


def test_corrupt_7z_is_unscannable() -> None:
    data = build_7z({"a.pkl": malicious_pickle() * 50})
    report = scan_bytes(data[:40] + b"\xff" * 30 + data[70:], "x.7z")
    assert report.verdict in (Verdict.UNSCANNABLE, Verdict.UNSAFE)
    assert {"MC901", "MC215"} & check_ids(report) or report.verdict is Verdict.UNSAFE


def test_7z_traversal_member_is_unsafe_and_the_rest_still_analysed() -> None:
    data = build_7z_renamed({"xx/evil.pkl": malicious_pickle(), "ok.pkl": malicious_pickle()},
                            {"xx/evil.pkl": "../evil.pkl"})
    report = scan_bytes(data, "x.7z")
    assert "MC200" in check_ids(report) and report.verdict is Verdict.UNSAFE
    assert member(report, "ok.pkl").format == "pickle"


# --- property tests ----------------------------------------------------------------------------------

_TAR_SEED = build_tar(
    [
        TarEntry("a/b.pkl", benign_pickle()),
        TarEntry("l", kind=tarfile.SYMTYPE, linkname="x"),
        TarEntry("c" * 120, b"data"),
    ],
    fmt=tarfile.PAX_FORMAT,
)


@pytest.mark.property
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_tars_iterate_or_raise_format_error(data: st.DataObject) -> None:
    raw = bytearray(_TAR_SEED)
    for _ in range(data.draw(st.integers(1, 10))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        for member, stream in TarReader(io.BytesIO(bytes(raw[:cut])), DEFAULT_LIMITS):
            assert isinstance(member.name, str)
            if stream is not None:
                chunk = stream.read(1 << 16)
                assert isinstance(chunk, bytes) and len(chunk) <= 1 << 16
    except FormatError:
        pass


@pytest.mark.property
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=600), st.sampled_from(["gzip", "bzip2", "xz", "zstd"]))
def test_mutated_compressed_streams_scan_without_crashing(noise: bytes, codec: str) -> None:
    data = bytearray(compress(_TAR_SEED, codec))
    for i, byte in enumerate(noise[:8]):
        data[(i * 97 + byte) % len(data)] = byte
    report = scan_bytes(bytes(data), f"x.{codec}")
    assert "MC903" not in check_ids(report), [f.message for f in report.all_findings()]


def test_corrupt_lz4_frame_is_unparseable_not_an_analyzer_crash() -> None:
    """lz4.frame raises RuntimeError on a damaged block (found by mutation fuzzing): it is a format
    error of the input (MC901), not a bug of ours (MC903)."""
    lz4_frame = pytest.importorskip("lz4.frame")
    data = bytearray(lz4_frame.compress(b"model weights " * 2000))
    data[30] ^= 0xFF
    data[40] ^= 0x55
    report = scan_blob(BytesBlob(bytes(data), "weights.lz4"), "weights.lz4")
    ids = {f.check_id for f in report.all_findings()}
    assert "MC903" not in ids and "MC901" in ids
