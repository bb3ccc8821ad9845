"""`.npy` headers and arrays: object arrays (CVE-2019-6446) go to the pickle analyzer, plain arrays are
checked for size, npz archives are read member by member."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders.containers import (
    benign_pickle,
    check_ids,
    malicious_pickle,
    member,
    npy,
    object_npy,
    pickle_analyzer_ready,
    scan_bytes,
)
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.numpy_format import read_npy_header
from modelcert.limits import DEFAULT_LIMITS


def saved(array: np.ndarray, **kw: object) -> bytes:
    out = io.BytesIO()
    np.save(out, array, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def header(data: bytes):  # type: ignore[no-untyped-def]
    return read_npy_header(BytesBlob(data, "a.npy"), DEFAULT_LIMITS)


@pytest.mark.parametrize(
    "array",
    [np.arange(12, dtype=np.float32).reshape(3, 4), np.zeros((2, 3), dtype="<f8", order="F"),
     np.array([1, 2], dtype=">i2"), np.zeros(0, dtype=np.float16),
     np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8", (2,))]), np.array(["abc", "de"])],
)
def test_plain_arrays_are_clean(array: np.ndarray) -> None:
    data = saved(array)
    h = header(data)
    assert not h.has_object and h.shape == array.shape and h.expected_data_bytes == array.nbytes
    report = scan_bytes(data, "a.npy")
    assert report.format == "numpy" and report.verdict is Verdict.CLEAN and not list(report.all_findings())


def test_versions_2_and_3_headers() -> None:
    wide = np.zeros(2, dtype=[(f"f{i}", "<f4") for i in range(5000)])  # header > 65535 bytes → v2
    assert header(saved(wide)).version == (2, 0)
    data = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8, version=(3, 0))
    assert header(data).version == (3, 0)


def test_cve_2019_6446_object_array_hands_its_pickle_over() -> None:
    report = scan_bytes(object_npy(malicious_pickle()), "evil.npy")
    assert "MC220" in check_ids(report)
    data = member(report, "<array data>")
    assert data.format == "pickle" and data.size == len(malicious_pickle())
    if pickle_analyzer_ready():
        assert report.verdict is Verdict.UNSAFE


def test_object_field_in_a_structured_dtype_is_an_object_array() -> None:
    data = npy("{'descr': [('a', '<f4'), ('b', [('c', '|O')])], 'fortran_order': False, 'shape': (1,), }",
               malicious_pickle())
    assert header(data).has_object
    assert member(scan_bytes(data, "s.npy"), "<array data>").format == "pickle"


def test_object_array_of_strings_from_np_save() -> None:
    data = saved(np.array(["a", "bb", None], dtype=object), allow_pickle=True)
    report = scan_bytes(data, "strings.npy")
    assert member(report, "<array data>").format == "pickle"
    assert "MC220" in check_ids(report)
    if pickle_analyzer_ready():
        assert report.verdict is Verdict.CLEAN


def test_trailing_bytes_after_the_array_are_analysed() -> None:
    data = saved(np.ones(4, dtype=np.float32)) + malicious_pickle()
    report = scan_bytes(data, "a.npy")
    assert "MC221" in check_ids(report) and report.verdict is not Verdict.CLEAN
    assert member(report, "<trailing data>").format == "pickle"


def test_short_data_is_suspicious() -> None:
    data = saved(np.ones(100, dtype=np.float32))[:-40]
    report = scan_bytes(data, "a.npy")
    assert "MC221" in check_ids(report) and report.verdict is Verdict.SUSPICIOUS


@pytest.mark.parametrize(
    "text",
    ["{'descr': '<f4', 'shape': (2,)}", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
     "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "[1, 2]",
     "{'descr': __import__('os').system('echo modelcert-test'), 'fortran_order': False, 'shape': ()}",
     "{'descr': 'not-a-dtype', 'fortran_order': False, 'shape': ()}",
     "{'descr': 5, 'fortran_order': False, 'shape': ()}",
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}"],
)
def test_headers_numpy_refuses_are_format_errors(text: str) -> None:
    with pytest.raises(FormatError):
        header(npy(text, b"\0" * 8))


def test_bad_magic_version_and_truncation() -> None:
    good = saved(np.ones(2))
    with pytest.raises(FormatError):
        header(b"\x93NUMPY\x09\x00" + good[8:])
    with pytest.raises(FormatError):
        header(good[:20])
    with pytest.raises(LimitExceeded):
        header(b"\x93NUMPY\x02\x00" + (50 << 20).to_bytes(4, "little") + b"{")


def test_savez_and_savez_compressed_are_npz_and_clean() -> None:
    for save in (np.savez, np.savez_compressed):
        out = io.BytesIO()
        save(out, weights=np.random.default_rng(0).normal(size=(16, 16)), bias=np.zeros(16))
        report = scan_bytes(out.getvalue(), "arrays.npz")
        assert report.format == "npz"
        assert sorted(m.path for m in report.members) == ["bias.npy", "weights.npy"]
        assert all(m.format == "numpy" for m in report.members)
        assert report.verdict is Verdict.CLEAN and not list(report.all_findings())


def test_npz_with_an_object_member_reaches_the_pickle() -> None:
    out = io.BytesIO()
    np.savez(out, ok=np.ones(2), obj=np.array([benign_pickle()], dtype=object))
    report = scan_bytes(out.getvalue(), "mixed.npz")
    assert member(report, "obj.npy").format == "numpy"
    assert "MC220" in check_ids(report)


_SEED = saved(np.arange(6, dtype=np.int32).reshape(2, 3))


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_headers_give_a_header_or_format_error(data: st.DataObject) -> None:
    raw = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, 127))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        header(bytes(raw))
    except FormatError:
        pass


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_header_text(text: str) -> None:
    try:
        header(npy(text, b"", version=(3, 0)))
    except FormatError:
        pass
