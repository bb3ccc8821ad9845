"""Property tests for the Keras config walker: any JSON value walks to a view, any bytes parse to a
value or a FormatError/LimitExceeded, and the analyzer never fails another way."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.graphs import (
    RecordingContext,
    keras3_lambda_layer,
    keras_cve_2025_1550_layers,
    keras_cve_2025_49655_layer,
    keras_sequential_config,
)
from modelcert.checks.keras import analyze_keras_config
from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import BytesBlob
from modelcert.formats.keras_config import parse_json, walk_config
from modelcert.limits import Limits

pytestmark = pytest.mark.property

LIMITS = Limits(max_json_depth=40, max_count=50_000)
KEYS = st.sampled_from(
    [
        "class_name",
        "module",
        "config",
        "registered_name",
        "function",
        "function_type",
        "layers",
        "name",
        "spec_name",
        "value",
        "code",
        "filepath",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "Lambda",
            "__lambda__",
            "function",
            "builtins",
            "os",
            "keras.layers",
            "get_file",
            "TorchModuleWrapper",
            "TFSMLayer",
            "pkg>Layer",
            "Custom>Adam",
            "lambda",
            "ZmFrZQ==",
        ]
    ),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), children, max_size=5),
    ),
    max_leaves=40,
)
SEEDS = [
    json.dumps(
        keras_sequential_config(
            [keras3_lambda_layer(), keras_cve_2025_49655_layer(), *keras_cve_2025_1550_layers()]
        )
    ).encode()
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_walker_accepts_any_json_value(value):
    view = walk_config(value, LIMITS)
    assert view.values_walked >= 1
    assert all(isinstance(ref.class_name, str) for ref in view.refs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_analyzer_judges_any_config_without_internal_errors(value):
    ctx = RecordingContext("config.json", depth=1, limits=LIMITS)
    try:
        analyze_keras_config(BytesBlob(json.dumps(value).encode(), "config.json"), ctx)
    except (FormatError, LimitExceeded):
        return
    assert all(f.check_id.startswith("MC16") for f in ctx.findings)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.sampled_from(list(b'{}[]",:\\0a\xff ')))
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_config_bytes_parse_or_fail_cleanly(data):
    try:
        value = parse_json(data, LIMITS)
    except (FormatError, LimitExceeded):
        return
    walk_config(value, LIMITS)
    ctx = RecordingContext("config.json", depth=1, limits=LIMITS)
    try:
        analyze_keras_config(BytesBlob(data, "config.json"), ctx)
    except LimitExceeded:
        return
    assert ctx.format is None
