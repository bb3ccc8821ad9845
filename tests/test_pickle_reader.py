"""The pickle reader: opcode decoding, CPython's stack discipline, streams, layouts and limits."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import pytest

from builders import pickles as P
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.pickle import read_pickle
from modelcert.formats.pickle_ops import INLINE_BYTES, BigBytes
from modelcert.formats.pickle_values import Global, Lit, Opaque, Seq
from modelcert.limits import DEFAULT_LIMITS, Limits


def read(data: bytes, limits: Limits = DEFAULT_LIMITS):  # type: ignore[no-untyped-def]
    return read_pickle(BytesBlob(data, "t"), limits)


def root_of(data: bytes):  # type: ignore[no-untyped-def]
    parsed = read(data)
    assert parsed.streams[0].complete, parsed.streams[0].end_message
    return parsed.streams[0].root


def test_text_protocol_literals() -> None:
    data = b"(I01\nI-7\nL12345678901234567890L\nF1.5\nS'a\\nb'\nVsnow\\u2603\nN\x88\x89t."
    root = root_of(data)
    assert isinstance(root, Seq)
    values = [item.value for item in root.items if isinstance(item, Lit)]
    assert values[:4] == [True, -7, 12345678901234567890, 1.5]
    assert values[4].raw == b"a\nb"  # type: ignore[union-attr]
    assert values[5:] == ["snow\u2603", None, True, False]


def test_binary_literals() -> None:
    data = (
        b"\x80\x05("
        + b"J\xff\xff\xff\xff"
        + b"M\x01\x02"
        + b"\x8a\x02\x00\x80"
        + b"\x8b\x01\x00\x00\x00\x05"
        + b"G"
        + struct.pack(">d", 2.5)
        + b"T\x02\x00\x00\x00hi"
        + b"U\x01x"
        + b"\x96\x02"
        + b"\x00" * 7
        + b"ab"
        + b"\x8e\x01"
        + b"\x00" * 7
        + b"z"
        + P.op_binunicode8("u8")
        + b"t."
    )
    root = root_of(data)
    assert isinstance(root, Seq)
    values = [item.value for item in root.items if isinstance(item, Lit)]
    assert values[:4] == [-1, 0x0201, -32768, 5]
    assert values[4] == 2.5
    assert values[7:] == [b"ab", b"z", "u8"]


def test_large_bytes_are_skipped_by_length() -> None:
    blob_len = INLINE_BYTES + 10
    data = b"\x80\x04\x8e" + struct.pack("<Q", blob_len) + b"\x80\x02" + b"\x00" * (blob_len - 2) + b"."
    parsed = read(data)
    view = parsed.streams[0]
    assert view.complete
    assert isinstance(view.root, Lit) and isinstance(view.root.value, BigBytes)
    assert view.root.value.length == blob_len and view.root.value.offset == 11
    assert view.embedded, "a pickle-looking prefix is kept for nested-pickle sniffing"


def test_memo_get_put_and_memoize() -> None:
    data = b"\x80\x04" + P.op_str("a") + b"\x94" + P.op_str("b") + b"p5\n" + b"0" + b"h\x00g5\n\x86."
    root = root_of(data)
    assert isinstance(root, Seq) and [i.value for i in root.items if isinstance(i, Lit)] == ["a", "b"]


def test_missing_memo_slot_breaks() -> None:
    view = read(b"\x80\x02h\x03.").streams[0]
    assert view.end_kind == "invalid" and "memo slot 3" in view.end_message


def test_mark_fences_the_stack() -> None:
    """CPython cannot pop below the last MARK: REDUCE right after MARK underflows."""
    data = b"\x80\x02" + P.op_global("os", "system", 2) + P.op_tuple([P.op_str("x", 2)], 2) + b"(R."
    view = read(data).streams[0]
    assert view.end_kind == "invalid" and "underflow" in view.end_message
    assert not view.calls


def test_pop_with_nothing_above_mark_discards_the_mark() -> None:
    view = read(b"\x80\x02K\x01(0.").streams[0]
    assert view.complete and not view.anomalies


def test_invalid_opcode_truncation_and_protocol() -> None:
    assert read(b"\x80\x02\xff").streams[0].end_kind == "invalid"
    assert read(b"\x80\x02X\x05\x00\x00\x00ab").streams[0].end_kind == "truncated"
    assert read(b"\x80\x06N.").streams[0].end_kind == "invalid"
    assert read(b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.").streams[0].end_kind == "truncated"


def test_stack_global_needs_str() -> None:
    view = read(b"\x80\x04K\x01K\x02\x93.").streams[0]
    assert view.end_kind == "invalid" and "requires str" in view.end_message


def test_out_of_band_buffers() -> None:
    data = pickle.dumps(pickle.PickleBuffer(b"abc"), protocol=5, buffer_callback=lambda b: None)
    view = read(data).streams[0]
    assert view.complete and isinstance(view.root, Opaque)


def test_inst_and_obj_record_calls() -> None:
    view = read(P.inst_pickle("a.b", "C", ("x", 1))).streams[0]
    (call,) = view.calls
    assert isinstance(call.func, Global) and call.func.dotted == "a.b.C" and call.kind == "inst"
    assert call.func.invoked
    view = read(P.obj_pickle("a", "D")).streams[0]
    assert view.calls[0].kind == "obj"


def test_multiple_streams_and_trailing_data() -> None:
    data = pickle.dumps(1) + pickle.dumps([2], 0) + b"\x00\x01garbage"
    parsed = read(data)
    assert [v.complete for v in parsed.streams] == [True, True]
    assert parsed.trailing is not None and parsed.trailing.kind == "unexplained"
    report = P.scan(data)
    assert report.verdict is Verdict.SUSPICIOUS and P.check_ids(report) == {"MC109"}


def test_trailing_zip_is_analysed_as_a_member() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.pkl", P.os_system_pickle(2))
    report = P.scan(pickle.dumps({"ok": 1}, 2) + buffer.getvalue())
    assert "MC109" in P.check_ids(report)
    assert report.verdict is Verdict.UNSAFE


def test_legacy_torch_storage_bytes_are_not_streams() -> None:
    parsed = read(P.legacy_torch_file())
    assert parsed.legacy_torch and len(parsed.streams) == 5
    assert parsed.trailing is not None and parsed.trailing.kind == "torch-storages"
    assert P.scan(P.legacy_torch_file(), "model.pt").verdict is Verdict.CLEAN


def test_anomalies_are_suspicious() -> None:
    duplicate_proto = b"\x80\x02K\x01\x80\x02."
    memo_overwrite = b"\x80\x02K\x01q\x00K\x02q\x00."
    leftover = b"\x80\x02K\x01K\x02."
    late_proto = b"N0\x80\x02N."
    for data, code in (
        (duplicate_proto, "duplicate-proto"),
        (memo_overwrite, "memo-overwrite"),
        (leftover, "leftover-stack"),
        (late_proto, "late-proto"),
    ):
        report = P.scan(data)
        assert report.verdict is Verdict.SUSPICIOUS, code
        assert any(f.details.get("anomaly") == code for f in report.findings)


def test_embedded_pickle_literal_is_scanned_but_lookalike_bytes_are_not() -> None:
    inner = P.os_system_pickle(2)
    report = P.scan(pickle.dumps({"blob": inner}, 4))
    assert report.verdict is Verdict.UNSAFE
    assert report.members[0].path.startswith("embedded-pickle@")
    # Protocol 2 spells bytes as _codecs.encode(text, 'latin1'): the same payload is found there.
    assert P.scan(pickle.dumps({"blob": inner}, 2)).verdict is Verdict.UNSAFE
    lookalike = pickle.dumps({"data": b"\x80\x02" + bytes(range(200))}, 4)
    report = P.scan(lookalike)
    assert report.verdict is Verdict.CLEAN and not report.members


def test_joblib_padding_layouts() -> None:
    data = P.joblib_array_stream(bytes(range(40)))
    assert P.scan(data, "a.joblib").verdict is Verdict.CLEAN
    assert (
        P.scan(P.joblib_array_stream(bytes(range(40)), alignment=None), "a.joblib").verdict is Verdict.CLEAN
    )
    odd = P.joblib_array_stream(bytes(range(40)), pad=b"\x03abc")
    report = P.scan(odd, "a.joblib")
    assert report.verdict is Verdict.SUSPICIOUS
    assert any(f.details.get("anomaly") == "joblib-padding" for f in report.findings)


def test_joblib_array_bytes_that_are_also_opcodes() -> None:
    """Dual interpretation: joblib.load reads array data, pickle.load runs the same bytes as opcodes."""
    hidden = P.reduce_call("os", "system", (P.HARMLESS_COMMAND,), 2) + b"0"
    report = P.scan(P.joblib_array_stream(hidden, alignment=None), "model.joblib")
    assert report.verdict is Verdict.UNSAFE
    finding = next(f for f in report.findings if f.check_id == "MC100")
    assert "joblib reads as array data" in finding.message


def test_joblib_array_length_past_the_end_breaks() -> None:
    data = P.joblib_array_stream(bytes(range(40)))
    report = P.scan(data[:-20], "a.joblib")
    assert report.verdict is Verdict.UNSCANNABLE and "MC107" in P.check_ids(report)


def test_limits_are_enforced_and_reported() -> None:
    data = pickle.dumps(list(range(200)), 2)
    report = P.scan_with_limits(data, Limits(max_pickle_opcodes=50))
    assert report.verdict is Verdict.UNSCANNABLE and "MC902" in P.check_ids(report)
    report = P.scan_with_limits(b"\x80\x02" + b"K\x01" * 100 + b".", Limits(max_pickle_stack_depth=10))
    assert "MC902" in P.check_ids(report)
    report = P.scan_with_limits(pickle.dumps(1) * 10, Limits(max_pickle_streams=3))
    assert "MC902" in P.check_ids(report)
    report = P.scan_with_limits(pickle.dumps("x" * 5000, 2), Limits(max_string_bytes=100))
    assert "MC902" in P.check_ids(report)


def test_payload_found_before_a_limit_is_still_reported() -> None:
    data = P.os_system_pickle(2)[:-1] + b"0" + b"K\x01" * 100 + b"."
    report = P.scan_with_limits(data, Limits(max_pickle_opcodes=60))
    assert report.verdict is Verdict.UNSAFE
    assert {"MC100", "MC902"} <= P.check_ids(report)


@pytest.mark.parametrize("proto", range(6))
def test_stdlib_pickles_parse_to_the_end(proto: int) -> None:
    data = pickle.dumps({"a": [1, 2.0, "x", b"y", None, (1,), {2}, frozenset({3}), bytearray(b"z")]}, proto)
    parsed = read(data)
    assert len(parsed.streams) == 1 and parsed.streams[0].complete and parsed.streams[0].end == len(data)


def test_big_strings_stay_in_the_file_and_big_nested_pickles_are_found() -> None:
    """Protocol 2 spells bytes as latin-1 str: multi-MiB strings are validated and windowed, not copied."""
    np = pytest.importorskip("numpy")
    big_array = pickle.dumps({"w": np.arange(400_000, dtype=np.float64)}, 2)
    assert P.scan(big_array).verdict is Verdict.CLEAN
    inner = P.pickle_of(P.op_bytes(b"x" * (2 << 20), 3) + b"0" + P.reduce_call("os", "system", ("x",), 3), 3)
    report = P.scan(pickle.dumps({"blob": inner}, 2))
    assert report.verdict is Verdict.UNSAFE
    assert any("os.system" in P.reached(m) for m in report.members)


def test_big_string_with_invalid_utf8_breaks() -> None:
    size = INLINE_BYTES + 5
    data = b"\x80\x04\x8d" + struct.pack("<Q", size) + b"a" * (size - 1) + b"\xff" + b"."
    view = read(data).streams[0]
    assert view.end_kind == "invalid" and "UTF-8" in view.end_message


def test_empty_data_is_unparseable_and_literal_calls_are_anomalies() -> None:
    assert P.scan(b"", "x.pkl").verdict is not Verdict.CLEAN
    report = P.scan(P.pickle_of(P.op_str("not callable") + b")R", 4))
    assert report.verdict is Verdict.SUSPICIOUS
    assert any(f.details.get("anomaly") == "call-literal" for f in report.findings)


def test_joblib_wrapper_built_with_copyreg_in_protocol_1() -> None:
    """Protocols 0/1 build the wrapper with copyreg._reconstructor: the inline array is still skipped."""
    stream = P.joblib_array_stream(bytes(range(24)))
    head = P.op_global("joblib.numpy_pickle", "NumpyArrayWrapper", 2) + b")\x81"
    assert head in stream
    reconstructed = (
        P.op_global("copy_reg", "_reconstructor", 2)
        + b"("
        + P.op_global("joblib.numpy_pickle", "NumpyArrayWrapper", 2)
        + P.op_global("__builtin__", "object", 2)
        + b"NtR"
    )
    data = stream.replace(head, reconstructed)
    report = P.scan(data, "legacy.joblib")
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]
    assert report.format == "joblib"


def test_joblib_dual_interpretation_behind_a_big_bytes_literal() -> None:
    """The shadow pickle.load run is bounded by opcodes, not bytes: a big literal cannot hide a payload."""
    hidden = (
        P.op_bytes(b"\x00" * (INLINE_BYTES + 100), 3) + b"0" + P.reduce_call("os", "system", ("x",), 2) + b"0"
    )
    report = P.scan(P.joblib_array_stream(hidden, alignment=None), "model.joblib")
    assert report.verdict is Verdict.UNSAFE
    assert "os.system" in P.reached(report, "MC100")


def test_array_bytes_that_merely_look_like_opcodes_stay_clean() -> None:
    """Old-layout joblib array data is read as opcodes by the shadow run: noise (an EXT1 byte, a
    GLOBAL of non-identifiers) is not a finding."""
    for noise in (b"\x82\x07" + bytes(30), b"c\x00\x01\n\x02\n" + bytes(26), b"K\x05" * 16):
        report = P.scan(P.joblib_array_stream(noise, alignment=None), "old.joblib")
        assert report.verdict is Verdict.CLEAN, (noise[:4], [f.to_dict() for f in report.all_findings()])
