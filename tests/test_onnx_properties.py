"""Property tests: the protobuf wire decoder and the ONNX readers turn any bytes into a view or a
FormatError/LimitExceeded, and the streaming reader agrees with protobuf whenever protobuf parses."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("onnx")

from builders.graphs import (
    onnx_bytes,
    onnx_custom_op_node,
    onnx_if_model,
    onnx_local_function_model,
    onnx_matmul_add,
    onnx_with_external_location,
)
from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import BytesBlob
from modelcert.formats.onnx_model import read_onnx, read_with_protobuf, read_with_wire_decoder
from modelcert.formats.protowire import LEN, ProtoReader
from modelcert.limits import Limits

pytestmark = pytest.mark.property

SEEDS = [
    onnx_bytes(onnx_matmul_add([onnx_custom_op_node()])),
    onnx_bytes(onnx_if_model([onnx_custom_op_node()])),
    onnx_bytes(onnx_local_function_model("x.y")),
    onnx_bytes(onnx_with_external_location("../w.bin", offset="0", length="4")),
]
SMALL = Limits(max_count=20_000, max_graph_depth=8)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)


def _walk(reader: ProtoReader, start: int, end: int, depth: int) -> int:
    """Decode every field, reading each LEN payload as a nested message where it parses."""
    seen = 0
    for field in reader.fields(start, end):
        seen += 1
        if field.wire_type == LEN and depth < 4:
            try:
                seen += _walk(reader, field.offset, field.end, depth + 1)
            except FormatError:
                pass  # a string or bytes payload, not a message
    return seen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_wire_decoder_accepts_or_rejects_any_bytes(data):
    reader = ProtoReader(BytesBlob(data, "x"), max_fields=5_000, max_depth=8, max_string_bytes=1024)
    try:
        count = _walk(reader, 0, len(data), 0)
    except (FormatError, LimitExceeded):
        return
    assert count >= 0
    assert reader.fields_read <= 5_000


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_onnx_readers_never_fail_unexpectedly(data):
    for limits in (SMALL, SMALL.replace(in_memory_member_bytes=0)):
        try:
            view = read_onnx(BytesBlob(data, "m.onnx"), limits)
        except (FormatError, LimitExceeded):
            continue
        assert view.node_count >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_streaming_reader_agrees_with_protobuf_whenever_protobuf_parses(data):
    try:
        expected = read_with_protobuf(data, Limits())
    except (FormatError, LimitExceeded):
        return
    got = read_with_wire_decoder(BytesBlob(data, "m.onnx"), Limits())
    assert got.replace(parsed_with="") == expected.replace(parsed_with="")
