"""Property tests: arbitrary and mutated bytes give a result or a reported limit, never a crash or a hang."""

from __future__ import annotations

import pickle
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import pickles as P
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.pickle import read_pickle
from modelcert.limits import Limits

SMALL = Limits(max_pickle_opcodes=20_000, max_pickle_stack_depth=2_000, max_string_bytes=1 << 20)

SEEDS = [
    P.os_system_pickle(0),
    P.os_system_pickle(2),
    P.memo_stack_global(),
    P.getattr_chain(),
    P.numpy_builtins_planting(),
    P.nested_loads(P.os_system_pickle(2)),
    P.nested_base64_loads(P.os_system_pickle(2)),
    P.legacy_torch_file(),
    P.joblib_array_stream(bytes(range(32))),
    P.ext_pickle(),
    P.make_function_pickle(),
    pickle.dumps({"a": [1, 2.5, "x", b"y", (1, 2), {3}], "b": None}, 2),
    pickle.dumps({"a": [1, 2.5, "x", b"y", (1, 2), {3}], "b": None}, 5),
]

NO_CRASH = {"MC903"}


def _assert_sane(data: bytes) -> None:
    started = time.perf_counter()
    parsed = read_pickle(BytesBlob(data, "fuzz"), SMALL)
    assert parsed.streams or not data or parsed.trailing is None
    report = P.scan_with_limits(data, SMALL, name="fuzz.pkl")
    assert not NO_CRASH & P.check_ids(report), [f.message for f in report.all_findings()]
    assert isinstance(report.verdict, Verdict)
    assert time.perf_counter() - started < 5


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_arbitrary_bytes(data: bytes) -> None:
    _assert_sane(data)


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 10_000),
)
def test_mutated_pickles(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    _assert_sane(bytes(data[: max(1, len(data) - cut % 8)]))


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"(",
                b")",
                b"0",
                b"1",
                b"2",
                b"\x85",
                b"\x86",
                b"\x87",
                b"R",
                b"b",
                b"s",
                b"a",
                b"e",
                b"u",
                b"t",
                b"l",
                b"d",
                b"\x81",
                b"o",
                b"\x93",
                b"\x94",
                b"h\x00",
                b"q\x00",
                b"N",
                b"K\x01",
                b"\x8c\x01a",
                b"}",
                b"]",
                b"\x8f",
                b"\x90",
                b"\x91",
                b"\x92",
            ]
        ),
        max_size=200,
    )
)
def test_opcode_soup(ops: list[bytes]) -> None:
    """Random sequences of real opcodes exercise the VM's stack discipline, not just the decoder."""
    _assert_sane(b"\x80\x04" + b"".join(ops) + b".")


def test_deep_call_chain_stays_fast() -> None:
    """`f()()()...` 60 deep: each level resolves its callee and its callee's maker; without memoised
    resolution that is 2**60 steps."""
    data = P.pickle_of(
        P.op_global("builtins", "getattr")
        + P.op_global("os", "path")
        + P.op_str("sep")
        + b"\x86R"
        + b")R" * 60,
        4,
    )
    started = time.perf_counter()
    report = P.scan(data)
    assert time.perf_counter() - started < 5
    assert report.verdict is Verdict.UNSAFE
    assert "MC104" in P.check_ids(report) or "MC100" in P.check_ids(report)
