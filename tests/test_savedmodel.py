"""TensorFlow SavedModel / GraphDef protobufs, decoded without TensorFlow: file-system ops
(ReadFile/WriteFile, modelscan's unsafe_tf_operators), Python callbacks (PyFunc), network ops,
constant checkpoint paths, asset traversal, Keras metadata Lambdas. Inputs are encoded by hand."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.graphs import (
    keras2_lambda_layer,
    keras_layer,
    pb_int,
    pb_len,
    tf_attr_list_s,
    tf_attr_s,
    tf_benign_graph,
    tf_const_string,
    tf_graph,
    tf_keras_metadata,
    tf_node,
    tf_saved_model,
)
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.savedmodel import read_tf_protobuf
from modelcert.limits import Limits
from modelcert.scan import scan_blob, scan_paths


def scan(data: bytes, name: str = "saved_model.pb"):
    return scan_blob(BytesBlob(data, name), name)


def ids(report) -> list[str]:
    return sorted(f.check_id for f in report.all_findings())


def with_serving_nodes(*nodes: bytes) -> bytes:
    """A benign SavedModel whose serving function also holds `nodes`."""
    return tf_saved_model(tf_benign_graph(list(nodes)))


# -- benign ---------------------------------------------------------------------------------------


def test_benign_savedmodel_folder_is_clean(tmp_path):
    folder = tmp_path / "export"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(tf_saved_model(tf_benign_graph()))
    dense = keras_layer("Dense", {"units": 2}, module=None)
    (folder / "keras_metadata.pb").write_bytes(tf_keras_metadata([dense]))
    (folder / "fingerprint.pb").write_bytes(pb_int(1, 123) + pb_int(2, 456) + pb_len(6, pb_int(1, 1)))
    (folder / "variables" / "variables.index").write_bytes(b"\x00" * 16)
    report = scan_paths([folder])
    by_path = {f.path: f for f in report.files}
    for name in ("saved_model.pb", "keras_metadata.pb", "fingerprint.pb"):
        assert by_path[name].format == "tf-savedmodel"
        assert by_path[name].verdict is Verdict.CLEAN, [f.message for f in by_path[name].findings]


def test_benign_frozen_graphdef_is_clean():
    report = scan(tf_benign_graph(), "frozen_graph.pb")
    assert report.format == "tf-graphdef"
    assert report.verdict is Verdict.CLEAN


def test_savedmodel_under_another_name_is_recognised():
    report = scan(with_serving_nodes(tf_node("rf", "ReadFile", ["path"])), "model.pb")
    assert report.format == "tf-savedmodel"
    assert "MC351" in ids(report)


def test_checkpoint_ops_with_loader_paths_stay_clean():
    view = read_tf_protobuf(
        BytesBlob(tf_saved_model(tf_benign_graph()), "saved_model.pb"), Limits(), "saved_model"
    )
    assert {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "StatefulPartitionedCall"} <= set(view.ops())


# -- dangerous ops ---------------------------------------------------------------------------------


def test_readfile_in_serving_function_is_unsafe():
    """modelscan unsafe_tf_operators: ReadFile reads host files at inference."""
    data = with_serving_nodes(
        tf_const_string("path", "/etc/passwd"), tf_node("rf", "ReadFile", ["path:output:0"])
    )
    report = scan(data)
    assert report.verdict is Verdict.UNSAFE
    (finding,) = report.findings
    assert finding.check_id == "MC351"
    assert "/etc/passwd" in finding.message
    assert "__inference_signature_wrapper" in (finding.location.pointer or "")


def test_writefile_in_main_graph_is_unsafe():
    """modelscan unsafe_tf_operators: WriteFile plants host files."""
    graph = tf_benign_graph(extra_graph_nodes=[tf_node("wf", "WriteFile", ["name", "contents"])])
    report = scan(tf_saved_model(graph))
    assert ids(report) == ["MC351"]
    assert report.findings[0].location.pointer.startswith("meta_graphs[0]/graph_def/node[")


@pytest.mark.parametrize("op", ["PyFunc", "PyFuncStateless", "EagerPyFunc"])
def test_python_callbacks_are_unsafe(op):
    report = scan(with_serving_nodes(tf_node("cb", op, ["x"], {"token": tf_attr_s("pyfunc_7")})))
    assert ids(report) == ["MC350"]
    assert "pyfunc_7" in report.findings[0].message


@pytest.mark.parametrize(
    ("node", "check"),
    [
        (tf_node("mf", "MatchingFiles", ["pattern"]), "MC351"),
        (tf_node("ic", "ImmutableConst", [], {"memory_region_name": tf_attr_s("/etc/shadow")}), "MC351"),
        (tf_node("p", "PrintV2", ["x"], {"output_stream": tf_attr_s("file:///tmp/modelcert-test")}), "MC351"),
        (tf_node("d", "DebugIdentity", ["x"], {"debug_urls": tf_attr_list_s(["file:///tmp/dump"])}), "MC351"),
        (
            tf_node("d", "DebugIdentity", ["x"], {"debug_urls": tf_attr_list_s(["grpc://attacker:6064"])}),
            "MC352",
        ),
        (tf_node("r", "Rpc", ["address", "method", "request"]), "MC352"),
        (tf_node("dp", "DecodeProtoV2", ["b"], {"descriptor_source": tf_attr_s("/etc/passwd")}), "MC351"),
    ],
    ids=[
        "matching-files",
        "immutable-const",
        "print-to-file",
        "debug-file",
        "debug-grpc",
        "rpc",
        "decode-proto",
    ],
)
def test_file_and_network_primitives_are_unsafe(node, check):
    report = scan(with_serving_nodes(node))
    assert ids(report) == [check]
    assert report.verdict is Verdict.UNSAFE


def test_print_to_stderr_and_local_descriptor_are_clean():
    nodes = [
        tf_node("p", "PrintV2", ["x"], {"output_stream": tf_attr_s("stderr")}),
        tf_node("dp", "DecodeProtoV2", ["b"], {"descriptor_source": tf_attr_s("local://")}),
    ]
    assert scan(with_serving_nodes(*nodes)).verdict is Verdict.CLEAN


def test_many_dangerous_nodes_are_grouped_into_one_finding():
    nodes = [tf_node(f"rf{i}", "ReadFile", [f"p{i}"]) for i in range(50)]
    (finding,) = scan(with_serving_nodes(*nodes)).findings
    assert finding.details["count"] == 50


# -- constant paths, assets -----------------------------------------------------------------------


def test_checkpoint_op_with_constant_absolute_path_is_unsafe():
    nodes = [
        tf_const_string("prefix", "/etc/cron.d/modelcert-test"),
        tf_node("s", "SaveV2", ["prefix:output:0"]),
    ]
    report = scan(with_serving_nodes(*nodes))
    assert ids(report) == ["MC353"]
    assert report.verdict is Verdict.UNSAFE


def test_table_from_relative_constant_file_is_suspicious():
    nodes = [
        tf_const_string("vocab", "vocab.txt"),
        tf_node("init", "InitializeTableFromTextFileV2", ["t", "vocab"]),
    ]
    report = scan(with_serving_nodes(*nodes))
    assert ids(report) == ["MC353"]
    assert report.verdict is Verdict.SUSPICIOUS


def test_table_from_asset_bound_constant_is_clean():
    graph = tf_graph(
        [
            tf_const_string("asset_path", "/export/dir/assets/vocab.txt"),
            tf_node("init", "InitializeTableFromTextFileV2", ["table", "asset_path:0"]),
        ]
    )
    report = scan(tf_saved_model(graph, assets=[("vocab.txt", "asset_path:0")]))
    assert report.verdict is Verdict.CLEAN


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "gs://bucket/vocab.txt"])
def test_asset_paths_leaving_the_savedmodel_are_unsafe(filename):
    graph = tf_graph([tf_const_string("asset_path", "x")])
    report = scan(tf_saved_model(graph, assets=[(filename, "asset_path:0")]))
    assert ids(report) == ["MC356"]


# -- custom and unknown ops -----------------------------------------------------------------------


def test_custom_op_library_is_suspicious():
    report = scan(with_serving_nodes(tf_node("g", "Addons>GeluGrad", ["x"])))
    assert ids(report) == ["MC354"]
    assert report.verdict is Verdict.SUSPICIOUS


def test_unknown_ops_are_information_only():
    report = scan(with_serving_nodes(tf_node("u", "SomeRareOpV9", ["x"])))
    assert ids(report) == ["MC355"]
    assert report.verdict is Verdict.CLEAN
    assert report.findings[0].details["ops"] == ["SomeRareOpV9"]


# -- Keras metadata ---------------------------------------------------------------------------------


def test_keras_metadata_lambda_is_unsafe():
    report = scan(
        tf_keras_metadata([keras_layer("Dense", {"units": 2}, module=None), keras2_lambda_layer()]),
        "keras_metadata.pb",
    )
    assert ids(report) == ["MC160"]
    assert report.findings[0].location.pointer.startswith("nodes[1]")


def test_tf2_user_object_metadata_lambda_is_unsafe():
    data = tf_saved_model(tf_benign_graph(), keras_user_objects=[json.dumps(keras2_lambda_layer())])
    assert ids(scan(data)) == ["MC160"]


def test_broken_keras_metadata_json_is_unscannable():
    report = scan(pb_len(1, pb_len(3, "root") + pb_len(5, "{broken")), "keras_metadata.pb")
    assert report.verdict is Verdict.UNSCANNABLE


# -- malformed input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\xff\xff\xff", "saved_model.pb"),
        (b"hello, this is not protobuf", "graph.pb"),
        (pb_len(7, b"x") + pb_len(9, b"y"), "graph.pb"),  # valid protobuf, not TensorFlow
        (pb_int(1, 1), "saved_model.pb"),  # a SavedModel without meta graphs
        (pb_len(9, b"x"), "fingerprint.pb"),
    ],
    ids=["garbage", "text", "other-schema", "no-meta-graphs", "bad-fingerprint"],
)
def test_malformed_protobufs_are_unscannable(data, name):
    report = scan(data, name)
    assert report.verdict is Verdict.UNSCANNABLE
    assert set(ids(report)) <= {"MC901", "MC902"}


def test_node_count_is_bounded():
    with pytest.raises(LimitExceeded):
        read_tf_protobuf(BytesBlob(tf_benign_graph(), "g.pb"), Limits(max_count=5), "auto")


# -- properties -----------------------------------------------------------------------------------

SEEDS = [
    tf_saved_model(tf_benign_graph([tf_node("rf", "ReadFile", ["p"])]), assets=[("v.txt", "a:0")]),
    tf_benign_graph(),
    tf_keras_metadata([keras2_lambda_layer()]),
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 5))):
        pos = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[pos:]
            if not data:
                data = bytearray(b"\x00")
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=6))
    return bytes(data), draw(st.sampled_from(["saved_model", "auto", "keras_metadata", "fingerprint"]))


@pytest.mark.property
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_tf_reader_gives_a_view_or_a_format_error(case):
    data, kind = case
    try:
        view = read_tf_protobuf(BytesBlob(data, "x.pb"), Limits(max_count=50_000), kind)
    except (FormatError, LimitExceeded):
        return
    assert all(isinstance(node.op, str) for node in view.nodes)


@pytest.mark.property
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_tf_analyzer_never_reports_an_internal_error(case):
    data, _kind = case
    report = scan(data, "saved_model.pb")
    assert "MC903" not in ids(report)


def test_tf1_saver_with_constant_default_filename_is_clean():
    """TF1 savers read `save/Const` ("model"); saver_def names that tensor and the loader feeds it."""
    graph = tf_graph(
        [
            tf_const_string("save/Const", "model"),
            tf_node("save/SaveV2", "SaveV2", ["save/Const", "save/SaveV2/tensor_names", "save/shapes", "w"]),
            tf_node(
                "save/RestoreV2", "RestoreV2", ["save/Const", "save/RestoreV2/tensor_names", "save/shapes"]
            ),
        ]
    )
    assert scan(tf_saved_model(graph, saver_filename="save/Const:0")).verdict is Verdict.CLEAN
    assert ids(scan(tf_saved_model(graph))) == ["MC353", "MC353"]
