"""The bounded JSON reader: limits, duplicate keys, malformed input, and arbitrary bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import hf
from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import BytesBlob
from modelcert.formats.json_doc import json_pointer, load_json, nesting_depth, parse_json_bytes
from modelcert.limits import Limits

LIMITS = Limits()


def test_parses_a_realistic_tokenizer_json() -> None:
    data = json.dumps(hf.tokenizer_json()).encode()
    doc = load_json(BytesBlob(data, "tokenizer.json"), LIMITS)
    assert doc.obj["model"]["type"] == "BPE"
    assert len(doc.obj["model"]["vocab"]) == 3000
    assert doc.depth == 5  # root → pre_tokenizer → pretokenizers → [0] → pattern
    assert doc.duplicate_keys == ()


def test_duplicate_keys_are_recorded_with_their_object_pointer() -> None:
    text = (
        b'{"auto_map": {"AutoModel": "modeling_a.A", "AutoModel": "modeling_b.B"},'
        b' "x": [{"k": 1, "k": 2, "k": 3}]}'
    )
    doc = parse_json_bytes(text, "config.json", LIMITS)
    found = {(d.pointer, d.key, d.count) for d in doc.duplicate_keys}
    assert found == {("/auto_map", "AutoModel", 2), ("/x/0", "k", 3)}
    assert doc.obj["auto_map"]["AutoModel"] == "modeling_b.B"  # Python's json keeps the last one


def test_top_level_duplicate_has_root_pointer() -> None:
    doc = parse_json_bytes(b'{"a": 1, "a": 2}', "x.json", LIMITS)
    assert [(d.pointer, d.key) for d in doc.duplicate_keys] == [("", "a")]


def test_bom_and_nonstandard_constants_are_noted() -> None:
    doc = parse_json_bytes(b'\xef\xbb\xbf{"a": NaN, "b": -Infinity}', "x.json", LIMITS)
    assert doc.has_bom
    assert doc.nonstandard_constants == ("-Infinity", "NaN")


def test_malformed_json_is_a_format_error_with_position() -> None:
    with pytest.raises(FormatError) as info:
        parse_json_bytes(b'{"a": 1,\n "b": }', "config.json", LIMITS)
    assert "line 2" in str(info.value)
    assert info.value.offset == 15


def test_invalid_utf8_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="UTF-8"):
        parse_json_bytes(b'{"a": "\xff\xfe"}', "config.json", LIMITS)


def test_nesting_bomb_hits_the_depth_limit_before_parsing() -> None:
    bomb = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(LimitExceeded, match="nests 100000 levels"):
        parse_json_bytes(bomb, "config.json", LIMITS)


def test_depth_limit_is_configurable() -> None:
    data = b'{"a": {"b": {"c": [1]}}}'
    assert parse_json_bytes(data, "x.json", Limits(max_json_depth=4)).depth == 4
    with pytest.raises(LimitExceeded):
        parse_json_bytes(data, "x.json", Limits(max_json_depth=3))


def test_huge_json_beyond_the_size_limit_is_refused_unread() -> None:
    small = Limits(max_json_bytes=1024)
    with pytest.raises(LimitExceeded, match="exceeds the limit"):
        load_json(BytesBlob(b"{" + b" " * 2000 + b"}", "tokenizer.json"), small)


def test_nesting_depth_ignores_brackets_in_strings_and_escapes() -> None:
    assert nesting_depth(b'{"a": "[[[{{{", "b": "\\"[[["}') == 1
    assert nesting_depth(b"") == 0
    assert nesting_depth(b'[[], [[]], "]]]"]') == 3


def test_json_pointer_escapes() -> None:
    assert json_pointer(("a/b", "c~d", 0)) == "/a~1b/c~0d/0"


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_document_or_format_error(data: bytes) -> None:
    try:
        doc = parse_json_bytes(data, "x.json", LIMITS)
    except FormatError:  # LimitExceeded is a FormatError too
        return
    assert doc.size == len(data)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(_json_values, st.integers(min_value=0, max_value=40), st.binary(max_size=3))
def test_mutated_json_never_raises_anything_else(value: object, cut: int, junk: bytes) -> None:
    data = json.dumps(value).encode()
    mutated = data[:cut] + junk + data[cut:]
    try:
        doc = parse_json_bytes(mutated, "x.json", LIMITS)
    except FormatError:
        return
    if mutated == data:
        assert doc.root == value
