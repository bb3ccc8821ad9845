"""RFC 8785 (JCS): the RFC's own examples, its number table, and agreement with the `rfc8785` package."""

from __future__ import annotations

import json
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.certificate.jcs import CanonicalizationError, canonicalize, format_number

# RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text
RFC_NUMBERS = {
    "0000000000000000": "0",
    "8000000000000000": "0",
    "0000000000000001": "5e-324",
    "8000000000000001": "-5e-324",
    "7fefffffffffffff": "1.7976931348623157e+308",
    "ffefffffffffffff": "-1.7976931348623157e+308",
    "4340000000000000": "9007199254740992",
    "c340000000000000": "-9007199254740992",
    "4430000000000000": "295147905179352830000",
    "44b52d02c7e14af5": "9.999999999999997e+22",
    "44b52d02c7e14af6": "1e+23",
    "44b52d02c7e14af7": "1.0000000000000001e+23",
    "444b1ae4d6e2ef4e": "999999999999999700000",
    "444b1ae4d6e2ef4f": "999999999999999900000",
    "444b1ae4d6e2ef50": "1e+21",
    "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
    "3eb0c6f7a0b5ed8d": "0.000001",
    "41b3de4355555553": "333333333.3333332",
    "41b3de4355555554": "333333333.33333325",
    "41b3de4355555555": "333333333.3333333",
    "41b3de4355555556": "333333333.3333334",
    "41b3de4355555557": "333333333.33333343",
    "becbf647612f3696": "-0.0000033333333333333333",
    "43143ff3c1cb0959": "1424953923781206.2",
}


@pytest.mark.parametrize(("bits", "text"), sorted(RFC_NUMBERS.items()))
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    assert format_number(struct.unpack(">d", bytes.fromhex(bits))[0]) == text


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_have_no_canonical_form(bits: str) -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize([struct.unpack(">d", bytes.fromhex(bits))[0]])


def test_rfc8785_section_3_2_2_example() -> None:
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_utf16_sorting() -> None:
    source = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonicalize(source)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # the supplementary-plane emoji (surrogates D83D DE00) sorts before U+FB33, unlike code-point order
    assert sorted(source) != keys


def test_refuses_values_outside_i_json() -> None:
    for bad in ({1: "x"}, [2**53], ["\ud800"], {"\udc00": 1}, [b"bytes"], [object()]):
        with pytest.raises(CanonicalizationError):
            canonicalize(bad)
    assert canonicalize([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"


def test_deep_nesting_is_bounded() -> None:
    value: list[object] = []
    for _ in range(100):
        value = [value]
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        canonicalize(value)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(_values)
def test_agrees_with_the_rfc8785_reference_package(value: object) -> None:
    rfc8785 = pytest.importorskip("rfc8785")
    assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.property
@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_every_finite_double_formats_like_the_reference(bits: int) -> None:
    rfc8785 = pytest.importorskip("rfc8785")
    number = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    if math.isfinite(number):
        assert format_number(number) == rfc8785.dumps(number).decode()
