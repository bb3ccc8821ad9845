"""The lenient zip reader: what it reads (like PyTorch's miniz, not like zipfile) and what it reports."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.containers import (
    SYMLINK_ATTR,
    ZipExtras,
    ZipMember,
    build_zip,
    deflated,
    stored,
)
from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import BytesBlob
from modelcert.formats.decompress import DecompressionBomb
from modelcert.formats.zip import read_zip
from modelcert.formats.zip_data import open_member, stored_crc
from modelcert.limits import DEFAULT_LIMITS, Limits


def read(data: bytes, limits: Limits = DEFAULT_LIMITS):  # type: ignore[no-untyped-def]
    return read_zip(BytesBlob(data, "t.zip"), limits)


def content(data: bytes, index: int) -> bytes:
    blob = BytesBlob(data, "t.zip")
    view = read_zip(blob, DEFAULT_LIMITS)
    return open_member(blob, view.entries[index], DEFAULT_LIMITS, 1 << 30).blob.read_at(0, 1 << 30)


def test_reads_what_zipfile_writes_stored_and_deflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.txt", "hello" * 100, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("dir/b.bin", b"\x00\x01" * 50, compress_type=zipfile.ZIP_STORED)
        zf.writestr("c.bz2", b"xyz" * 1000, compress_type=zipfile.ZIP_BZIP2)
    data = out.getvalue()
    view = read(data)
    assert [e.name for e in view.entries] == ["a.txt", "dir/b.bin", "c.bz2"]
    assert view.anomalies == () and view.gaps == () and view.error is None
    assert content(data, 0) == b"hello" * 100
    assert content(data, 1) == b"\x00\x01" * 50
    assert content(data, 2) == b"xyz" * 1000


def test_stored_members_are_windows_not_copies() -> None:
    data = build_zip([stored("w", b"abc" * 1000)])
    blob = BytesBlob(data, "t.zip")
    member = open_member(blob, read_zip(blob, DEFAULT_LIMITS).entries[0], DEFAULT_LIMITS, 10)
    assert type(member.blob).__name__ == "SliceBlob"
    assert member.crc is None and stored_crc(member, DEFAULT_LIMITS) == zipfile.crc32(b"abc" * 1000)


def test_local_name_differs_is_read_with_central_name_and_local_data() -> None:
    data = build_zip([stored("archive/data.pkl", b"payload", local_name="archive/other.pkl")])
    entry = read(data).entries[0]
    assert entry.name == "archive/data.pkl" and entry.local_name == "archive/other.pkl"
    assert content(data, 0) == b"payload"
    with pytest.raises(zipfile.BadZipFile):  # what made zipfile-based scanners give up
        zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")


def test_data_descriptor_members_are_read_and_leave_no_gap() -> None:
    data = build_zip([deflated("a", b"x" * 5000, descriptor=True), stored("b", b"y" * 10, descriptor=True)])
    view = read(data)
    assert view.gaps == () and not view.anomalies
    assert content(data, 0) == b"x" * 5000 and content(data, 1) == b"y" * 10


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        self.buf += b
        return len(b)


def test_zipfile_streaming_descriptors_of_both_widths_leave_no_gap() -> None:
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("wide.txt", "w", force_zip64=True) as f:
            f.write(b"hello" * 100)
        with zf.open("narrow.txt", "w") as f:
            f.write(b"x" * 10)
    view = read(bytes(sink.buf))
    assert [e.name for e in view.entries] == ["wide.txt", "narrow.txt"]
    assert view.gaps == () and view.anomalies == ()


def test_prefix_and_gap_and_trailing_bytes_are_reported() -> None:
    data = build_zip([stored("a", b"1")], ZipExtras(prefix=b"#!junk\n", gap=b"hidden", trailing=b"tail"))
    view = read(data)
    kinds = [a.kind for a in view.anomalies]
    assert kinds.count("gap") == 3
    assert view.gaps[0][0] == 0 and len(view.gaps) == 3


def test_zero_padding_is_not_hidden_data() -> None:
    view = read(build_zip([stored("a", b"1")], ZipExtras(gap=b"\x00" * 100)))
    assert view.gaps == () and not view.anomalies


def test_self_extracting_offsets_are_read_and_flagged() -> None:
    data = build_zip([stored("a", b"hello")], ZipExtras(prefix=b"MZ stub" * 10, relative_offsets=True))
    view = read(data)
    assert [e.name for e in view.entries] == ["a"]
    assert "prefix" in {a.kind for a in view.anomalies}
    assert content(data, 0) == b"hello"


def test_aliased_entries_are_overlaps() -> None:
    data = build_zip([stored("a", b"same bytes")], ZipExtras(aliases=[("b", 0)]))
    view = read(data)
    assert [e.name for e in view.entries] == ["a", "b"]
    assert [a.kind for a in view.anomalies] == ["overlap"]


def test_entry_pointing_outside_the_file_is_unreadable_not_fatal() -> None:
    data = build_zip([stored("a", b"ok"), stored("b", b"bad", declared_size=3)])
    broken = bytearray(data)
    cd = broken.rfind(b"PK\x01\x02")  # second central record: point its offset past the end
    broken[cd + 42 : cd + 46] = (10**6).to_bytes(4, "little")
    view = read(bytes(broken))
    assert view.entries[0].problem is None and "local file header" in (view.entries[1].problem or "")


def test_local_header_disagreements_are_anomalies() -> None:
    data = bytearray(build_zip([stored("a", b"abc")]))
    data[8:10] = (8).to_bytes(2, "little")  # local method says deflate, central says stored
    view = read(bytes(data))
    assert [a.kind for a in view.anomalies] == ["local-fields"]
    assert view.entries[0].method == 0  # the central directory wins, as in miniz


def test_no_central_directory_walks_local_headers_and_fails_closed() -> None:
    data = build_zip([stored("a", b"1"), stored("b", b"22")], ZipExtras(omit_central=True))
    view = read(data)
    assert [e.name for e in view.entries] == ["a", "b"]
    assert not view.has_central_directory and isinstance(view.error, FormatError)


def test_not_a_zip_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        read(b"PK\x05\x06" + b"\xff" * 18)
    with pytest.raises(FormatError):
        read(b"hello world")


def test_member_count_limit() -> None:
    data = build_zip([stored(f"m{i}", b"") for i in range(20)])
    with pytest.raises(LimitExceeded):
        read(data, Limits(max_archive_members=10))


def test_zip64_records_from_torch_are_understood() -> None:
    torch = pytest.importorskip("torch")
    out = io.BytesIO()
    torch.save({"w": torch.ones(3)}, out)
    view = read(out.getvalue())
    assert view.zip64 and view.gaps == () and view.anomalies == ()
    assert any(e.name.endswith("/data.pkl") for e in view.entries)


def test_symlink_mode_is_exposed() -> None:
    view = read(build_zip([stored("link", b"/etc/passwd", external_attr=SYMLINK_ATTR)]))
    assert view.entries[0].unix_mode == 0o120777


def test_inflation_budget_stops_lying_members() -> None:
    data = build_zip([ZipMember("z", b"\0" * 100_000, method=8, declared_size=10)])
    blob = BytesBlob(data, "t.zip")
    with pytest.raises(DecompressionBomb):
        open_member(blob, read_zip(blob, DEFAULT_LIMITS).entries[0], DEFAULT_LIMITS, 1000)


_SEED = build_zip(
    [stored("archive/data.pkl", b"\x80\x02}q\x00."), deflated("archive/code/x.py", b"x = 1\n" * 20),
     stored("archive/data/0", b"\x01" * 64, descriptor=True)],
    ZipExtras(comment=b"c"),
)


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_zips_give_a_view_or_format_error(data: st.DataObject) -> None:
    raw = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    blob = BytesBlob(bytes(raw[:cut]), "m.zip")
    try:
        view = read_zip(blob, DEFAULT_LIMITS)
    except FormatError:
        return
    for entry in view.entries:
        if entry.problem is None and not entry.is_dir:
            try:
                open_member(blob, entry, DEFAULT_LIMITS, 1 << 20).blob.head(100)
            except FormatError:
                pass


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_with_zip_markers(noise: bytes) -> None:
    for data in (b"PK\x03\x04" + noise, noise + b"PK\x05\x06" + noise[:18], noise + _SEED[-22:]):
        try:
            read_zip(BytesBlob(data, "n.zip"), DEFAULT_LIMITS)
        except FormatError:
            pass
