"""ONNX graph backdoor evidence (MC560–MC562): taint from input_ids to the logits (HiddenLayer ShadowLogic).

Clean graphs (a hand-built LM, one with a pad mask that ends in a softmax, and a real TorchScript ONNX
export of the tiny Llama model) must stay clean; planted branches are caught and name the trigger id.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import backdoor as B
from builders import backdoor_models as M
from modelcert.checks import backdoor_graph as G
from modelcert.errors import FormatError
from modelcert.findings import Location
from modelcert.formats.blob import BytesBlob
from modelcert.formats.onnx_dataflow import read_dataflow
from modelcert.limits import DEFAULT_LIMITS
from modelcert.scan import scan_paths


def findings_for(data: bytes) -> list:
    graph = read_dataflow(BytesBlob(data, "model.onnx"), DEFAULT_LIMITS)
    return list(G.graph_findings(G.taint_graph(graph), Location(path="model.onnx"), None))


@pytest.mark.parametrize("kind", ["clean", "clean-mask"])
def test_clean_graphs(kind: str) -> None:
    assert findings_for(B.onnx_lm(kind)) == []


@pytest.mark.parametrize("kind", sorted(B.PLANTED_GRAPHS))
def test_planted_graphs(kind: str) -> None:
    assert B.PLANTED_GRAPHS[kind] in {f.check_id for f in findings_for(B.onnx_lm(kind))}


def test_shadowlogic_finding_names_the_trigger_id_and_path() -> None:
    finding = next(f for f in findings_for(B.onnx_lm("equal-where")) if f.check_id == "MC560")
    assert finding.details["trigger_ids"] == [42]
    assert finding.details["path"][:2] == ["input_ids", "Equal"]
    assert finding.details["place"] == "graph"


def _export(module: object) -> bytes:
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                module,
                (torch.zeros(1, 8, dtype=torch.long),),
                buffer,
                input_names=["input_ids"],
                output_names=["logits"],
                dynamo=False,
                dynamic_axes={"input_ids": {0: "b", 1: "s"}},
            )
        except Exception as exc:
            pytest.skip(f"torch.onnx.export unavailable: {exc}")
    return buffer.getvalue()


def _inject_shadowlogic(data: bytes, trigger: int) -> bytes:
    """Graph surgery on a real export: if the trigger id occurs, add a large bias to the logits."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    out = graph.output[0].name
    for node in graph.node:
        node.output[:] = [f"{o}_pre" if o == out else o for o in node.output]
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(trigger, dtype=np.int64), "sl_trigger"),
            numpy_helper.from_array(np.full(len(M.WORDS), 30.0, dtype=np.float32), "sl_bias"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Equal", ["input_ids", "sl_trigger"], ["sl_hit"]),
            helper.make_node("Cast", ["sl_hit"], ["sl_hit_f"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMax", ["sl_hit_f"], ["sl_any"], keepdims=1),
            helper.make_node("Mul", ["sl_any", "sl_bias"], ["sl_steer"]),
            helper.make_node("Add", [f"{out}_pre", "sl_steer"], [out]),
        ]
    )
    return bytes(model.SerializeToString())


def test_real_export_is_clean_and_shadowlogic_surgery_on_it_is_caught(tmp_path: Path) -> None:
    exported = _export(M.base_model())
    assert findings_for(exported) == []
    planted = _inject_shadowlogic(exported, M.VOCAB["zq"])
    folder = B.write_files(tmp_path / "pkg", {"model.onnx": planted, "tokenizer.json": M.tokenizer_json()})
    report = scan_paths([folder])
    hits = [f for f in report.package_findings if f.check_id == "MC560"]
    assert hits and hits[0].details["trigger_ids"] == [M.VOCAB["zq"]]
    assert "'zq'" in hits[0].message  # the trigger id is decoded with the package's tokenizer


def test_id_inputs_prefers_named_integer_inputs() -> None:
    graph = read_dataflow(BytesBlob(B.onnx_lm("clean"), "m.onnx"), DEFAULT_LIMITS)
    assert G.id_inputs(graph) == ["input_ids"]  # attention_mask is an integer input too, but not ids


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_onnx_gives_a_graph_or_format_error(data: st.DataObject) -> None:
    raw = bytearray(B.onnx_lm("equal-where"))
    for _ in range(data.draw(st.integers(1, 8))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    try:
        graph = read_dataflow(BytesBlob(bytes(raw), "m.onnx"), DEFAULT_LIMITS)
    except FormatError:
        return
    findings = list(G.graph_findings(G.taint_graph(graph), Location(path="m.onnx"), None))
    assert all(f.check_id.startswith("MC5") for f in findings)
