"""Builders for ONNX, Keras and TF SavedModel test inputs: benign files made by the real libraries
where installed, malicious variants built in code with harmless payloads (nothing is ever run).

TF SavedModel protobufs are encoded by hand (no TensorFlow needed): `encode` below is a minimal
protobuf writer for the few messages involved.
"""


# test module can skip cleanly when one is missing.
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

HARMLESS_COMMAND = "echo modelcert-test"


class RecordingContext:
    """An AnalysisContext that records what an analyzer reports, for calling analyzers directly
    (e.g. with the format a container would hint, such as `keras-config`)."""

    def __init__(
        self, relpath: str = "model", *, depth: int = 0, package: Any = None, limits: Any = None
    ) -> None:
        from modelcert.findings import Location
        from modelcert.limits import Limits

        self.relpath = relpath
        self.depth = depth
        self.package = package
        self.limits = limits or Limits()
        self.location = Location(path=relpath)
        self.findings: list[Any] = []
        self.members: list[tuple[str, Any, str | None]] = []
        self.notes: dict[str, list[Any]] = {}
        self.format: str | None = None

    def add(self, finding: Any) -> None:
        self.findings.append(finding)

    def set_format(self, fmt: str) -> None:
        self.format = fmt

    def scan_member(self, name: str, blob: Any, *, format_hint: str | None = None) -> None:
        self.members.append((name, blob, format_hint))

    def note(self, key: str, value: Any) -> None:
        self.notes.setdefault(key, []).append(value)

    def ids(self) -> set[str]:
        return {f.check_id for f in self.findings}


# --------------------------------------------------------------------------------------------
# ONNX (onnx.helper; never onnxruntime)
# --------------------------------------------------------------------------------------------


def _onnx() -> Any:
    import onnx

    return onnx


def onnx_matmul_add(
    extra_nodes: list[Any] | None = None,
    opsets: list[tuple[str, int]] | None = None,
    functions: list[Any] | None = None,
) -> Any:
    """Y = X @ W + B with W, B as initializers: the plainest real model."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), name="W")
    b = numpy_helper.from_array(np.ones(4, dtype=np.float32), name="B")
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["XW"], name="matmul"),
        helper.make_node("Add", ["XW", "B"], ["Y"], name="add"),
        *(extra_nodes or []),
    ]
    graph = helper.make_graph(
        nodes,
        "matmul_add",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 4])],
        initializer=[w, b],
    )
    imports = [helper.make_opsetid(d, v) for d, v in (opsets or [("", 17)])]
    model = helper.make_model(
        graph, opset_imports=imports, producer_name="modelcert-tests", functions=functions or []
    )
    model.ir_version = 8
    return model


def onnx_bytes(model: Any) -> bytes:
    return bytes(model.SerializeToString())


def onnx_if_model(then_extra: list[Any] | None = None) -> Any:
    """Y = If(cond) then X+1 else X-1, with subgraphs in the attributes (walked recursively)."""
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    then_graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["c1"], value=one),
            helper.make_node("Add", ["X", "c1"], ["then_out"]),
            *(then_extra or []),
        ],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [1])],
    )
    else_graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["c2"], value=one),
            helper.make_node("Sub", ["X", "c2"], ["else_out"]),
        ],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [1])],
    )
    node = helper.make_node("If", ["cond"], ["Y"], then_branch=then_graph, else_branch=else_graph)
    graph = helper.make_graph(
        [node],
        "if_model",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def onnx_loop_model(body_extra: list[Any] | None = None) -> Any:
    """A Loop whose body graph may hide extra nodes."""
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["x_in"], ["x_out"]),
            *(body_extra or []),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [1]),
        ],
    )
    node = helper.make_node("Loop", ["M", "cond", "X"], ["Y"], body=body)
    graph = helper.make_graph(
        [node],
        "loop_model",
        [
            helper.make_tensor_value_info("M", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def onnx_custom_op_node(domain: str = "org.evil.customops", op_type: str = "RunShell") -> Any:
    from onnx import helper

    return helper.make_node(op_type, ["Y"], ["Z"], domain=domain, command=HARMLESS_COMMAND)


def onnx_local_function_model(inner_domain: str = "") -> Any:
    """A model-local FunctionProto `local.fns/Double` called from the graph."""
    from onnx import helper

    inner_op = "Add" if inner_domain == "" else "RunShell"
    func = helper.make_function(
        "local.fns",
        "Double",
        ["a"],
        ["b"],
        [helper.make_node(inner_op, ["a", "a"], ["b"], domain=inner_domain)],
        opset_imports=[helper.make_opsetid("", 17)]
        + ([helper.make_opsetid(inner_domain, 1)] if inner_domain else []),
    )
    call = helper.make_node("Double", ["Y"], ["Z"], domain="local.fns")
    opsets = [("", 17), ("local.fns", 1)] + ([(inner_domain, 1)] if inner_domain else [])
    return onnx_matmul_add([call], opsets=opsets, functions=[func])


def onnx_with_external_location(
    location: str, *, offset: str | None = None, length: str | None = None, where: str = "initializer"
) -> Any:
    """A model whose weight W says its bytes live in `location` (data_location=EXTERNAL)."""
    from onnx import TensorProto

    model = onnx_matmul_add()
    if where == "initializer":
        tensor = model.graph.initializer[0]
    elif where == "if-subgraph":
        model = onnx_if_model()
        tensor = model.graph.node[0].attribute[0].g.node[0].attribute[0].t
    else:
        raise ValueError(where)
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    return model


def save_onnx_with_external_data(
    folder: Path, name: str = "model.onnx", location: str = "weights.bin"
) -> Path:
    """The real thing: onnx.save_model(..., save_as_external_data=True) into a folder."""
    onnx = _onnx()
    (folder / location).parent.mkdir(parents=True, exist_ok=True)
    path = folder / name
    onnx.save_model(
        onnx_matmul_add(),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=0,
    )
    return path


# --------------------------------------------------------------------------------------------
# Keras configs (JSON built in code) and real Keras files (keras 3, KERAS_BACKEND=torch)
# --------------------------------------------------------------------------------------------

# A protocol-2 pickle that would call posix.system("echo modelcert-test"): bytes only, never loaded.
HARMLESS_PICKLE = (
    b"\x80\x02cposix\nsystem\nq\x00X"
    + len(HARMLESS_COMMAND).to_bytes(4, "little")
    + HARMLESS_COMMAND.encode()
    + b"\x85q\x01Rq\x02."
)


def marshalled_lambda_b64() -> str:
    """Base64 marshalled bytecode of a lambda calling os.system (compiled, never executed)."""
    import marshal

    source = f"lambda x: __import__('os').system({HARMLESS_COMMAND!r}) or x"
    code = compile(source, "<modelcert-test>", "eval").co_consts[0]
    return base64.b64encode(marshal.dumps(code)).decode("ascii")


def keras_layer(
    class_name: str,
    config: dict[str, Any] | None = None,
    module: str | None = "keras.layers",
    registered_name: str | None = None,
) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "class_name": class_name,
        "config": {"name": class_name.lower(), **(config or {})},
    }
    if module is not None:
        layer["module"] = module
        layer["registered_name"] = registered_name
    elif registered_name is not None:
        layer["registered_name"] = registered_name
    return layer


def keras_function(module: str, name: str) -> dict[str, Any]:
    return {"module": module, "class_name": "function", "config": name, "registered_name": "function"}


def keras_sequential_config(layers: list[dict[str, Any]], *, legacy: bool = False) -> dict[str, Any]:
    """A Keras 3 (.keras config.json) or legacy (.h5 model_config) Sequential config around `layers`."""
    dense = keras_layer(
        "Dense", {"units": 2, "activation": "relu"}, module=None if legacy else "keras.layers"
    )
    config: dict[str, Any] = {
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": [dense, *layers]},
    }
    if not legacy:
        config.update(module="keras", registered_name=None)
    return config


def keras3_lambda_layer() -> dict[str, Any]:
    """Keras 3 Lambda layer with a __lambda__ function (CVE-2024-3660 family)."""
    return keras_layer(
        "Lambda",
        {
            "function": {
                "class_name": "__lambda__",
                "config": {"code": marshalled_lambda_b64(), "defaults": None, "closure": None},
            },
            "arguments": {},
        },
    )


def keras2_lambda_layer() -> dict[str, Any]:
    """tf.keras 2 Lambda layer: function = [b64 bytecode, defaults, closure], function_type lambda."""
    return keras_layer(
        "Lambda",
        {
            "function": [marshalled_lambda_b64(), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "arguments": {},
        },
        module=None,
    )


def keras_cve_2025_1550_layers() -> list[dict[str, Any]]:
    """Config entries naming modules outside Keras (the CVE-2025-1550 safe_mode bypass)."""
    return [
        keras_layer("Popen", {"args": ["echo", "modelcert-test"]}, module="subprocess"),
        keras_layer("Dense", {"units": 1, "activation": keras_function("builtins", "exec")}),
        keras_layer("Dense", {"units": 1, "activation": keras_function("os", "system")}),
    ]


def keras_cve_2025_8747_layer() -> dict[str, Any]:
    """keras.utils.get_file as a function inside a layer config (download gadget, CVE-2025-8747)."""
    return keras_layer(
        "Dense",
        {
            "units": 1,
            "kernel_initializer": keras_function("keras.utils", "get_file"),
            "origin": "https://example.invalid/modelcert-test",
        },
    )


def keras_cve_2025_9906_layers() -> list[dict[str, Any]]:
    """enable_unsafe_deserialization called mid-load, then a Lambda (CVE-2025-9906)."""
    toggle = keras_layer(
        "Dense", {"units": 1, "activation": keras_function("keras.config", "enable_unsafe_deserialization")}
    )
    return [toggle, keras3_lambda_layer()]


def keras_cve_2025_49655_layer() -> dict[str, Any]:
    """TorchModuleWrapper whose `module` is a base64 torch.save pickle (CVE-2025-49655)."""
    return keras_layer(
        "TorchModuleWrapper",
        {"module": base64.b64encode(HARMLESS_PICKLE).decode("ascii"), "output_shape": None},
    )


def keras_cve_2026_1462_layer() -> dict[str, Any]:
    """TFSMLayer pointing at an attacker SavedModel outside the package (CVE-2026-1462)."""
    return keras_layer(
        "TFSMLayer", {"filepath": "/tmp/modelcert-test/attacker_savedmodel", "call_endpoint": "serve"}
    )


def keras_custom_object_layer() -> dict[str, Any]:
    return keras_layer(
        "MyLayer", {"units": 3}, module="my_package.layers", registered_name="MyPackage>MyLayer"
    )


def config_bytes(config: dict[str, Any]) -> bytes:
    return json.dumps(config).encode("utf-8")


def h5_with_model_config(
    model_config: dict[str, Any] | str, training_config: dict[str, Any] | None = None
) -> bytes:
    """A legacy Keras .h5 file: root attributes model_config/training_config plus a weights group."""
    import io

    import h5py
    import numpy as np

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.attrs["keras_version"] = "2.15.0"
        handle.attrs["backend"] = "tensorflow"
        handle.attrs["model_config"] = (
            model_config if isinstance(model_config, str) else json.dumps(model_config)
        )
        if training_config is not None:
            handle.attrs["training_config"] = json.dumps(training_config)
        group = handle.create_group("model_weights/dense")
        group.create_dataset("kernel", data=np.ones((2, 2), dtype=np.float32))
    return buffer.getvalue()


def h5_with_external_references(kind: str, target: str) -> bytes:
    """An HDF5 file that makes h5py read another file: external link, external storage or VDS."""
    import io

    import h5py
    import numpy as np

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle["weights"] = np.zeros(4, dtype=np.float32)
        if kind == "external-link":
            handle["stolen"] = h5py.ExternalLink(target, "/data")
        elif kind == "external-storage":
            handle.create_dataset("stolen", shape=(16,), dtype="u1", external=[(target, 0, 16)])
        elif kind == "virtual-source":
            layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
            layout[:] = h5py.VirtualSource(target, "data", shape=(4,))
            handle.create_virtual_dataset("stolen", layout)
        else:
            raise ValueError(kind)
    return buffer.getvalue()


def real_keras_models(folder: Path) -> dict[str, Path]:
    """Save real Sequential and functional models with keras 3 (torch backend) as .keras and .h5."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers

    folder.mkdir(parents=True, exist_ok=True)
    seq = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.Conv2D(4, 3, activation="relu", kernel_regularizer="l2"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(8, activation=keras.activations.gelu),
            layers.Activation("softmax"),
        ]
    )
    seq.compile(optimizer="adam", loss=keras.losses.categorical_crossentropy, metrics=["accuracy"])
    tokens = keras.Input((12,), dtype="int32")
    x = layers.Embedding(50, 8)(tokens)
    x = layers.LSTM(6)(x)
    x = layers.Dense(4, activation="tanh")(x)
    out = layers.Dense(2, activation="sigmoid")(layers.Dropout(0.1)(x))
    fn = keras.Model(tokens, out)
    fn.compile(
        optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy", metrics=[keras.metrics.AUC()]
    )
    paths = {}
    for stem, model in (("sequential", seq), ("functional", fn)):
        for ext in (".keras", ".h5"):
            path = folder / f"{stem}{ext}"
            model.save(path)
            paths[f"{stem}{ext}"] = path
    return paths


# --------------------------------------------------------------------------------------------
# TensorFlow protobufs encoded by hand (no TensorFlow): SavedModel, GraphDef, Keras metadata
# --------------------------------------------------------------------------------------------


def pb_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_len(number: int, payload: bytes | str) -> bytes:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return pb_varint(number << 3 | 2) + pb_varint(len(data)) + data


def pb_int(number: int, value: int) -> bytes:
    return pb_varint(number << 3) + pb_varint(value)


def tf_attr_s(value: str) -> bytes:
    return pb_len(2, value)


def tf_attr_func(name: str) -> bytes:
    return pb_len(10, pb_len(1, name))


def tf_attr_list_s(values: list[str]) -> bytes:
    return pb_len(1, b"".join(pb_len(2, v) for v in values))


def tf_attr_string_tensor(values: list[str]) -> bytes:
    return pb_len(8, pb_int(1, 7) + b"".join(pb_len(8, v) for v in values))


def tf_node(
    name: str, op: str, inputs: list[str] | None = None, attrs: dict[str, bytes] | None = None
) -> bytes:
    """A NodeDef: attrs map attribute names to encoded AttrValue messages (tf_attr_*)."""
    body = pb_len(1, name) + pb_len(2, op) + b"".join(pb_len(3, i) for i in inputs or [])
    for key, value in (attrs or {}).items():
        body += pb_len(5, pb_len(1, key) + pb_len(2, value))
    return body


def tf_const_string(name: str, value: str) -> bytes:
    return tf_node(name, "Const", attrs={"dtype": pb_int(6, 7), "value": tf_attr_string_tensor([value])})


def tf_function(name: str, nodes: list[bytes]) -> bytes:
    """A FunctionDef: signature (OpDef name) and node_def bodies."""
    return pb_len(1, pb_len(1, name)) + b"".join(pb_len(3, n) for n in nodes)


def tf_graph(nodes: list[bytes], functions: list[bytes] | None = None) -> bytes:
    library = pb_len(2, b"".join(pb_len(1, f) for f in functions)) if functions else b""
    return b"".join(pb_len(1, n) for n in nodes) + library + pb_len(4, pb_int(1, 1087))


def tf_saved_model(
    graph: bytes,
    *,
    assets: list[tuple[str, str]] | None = None,
    keras_user_objects: list[str] | None = None,
    saver_filename: str | None = None,
) -> bytes:
    """SavedModel{schema 1, MetaGraphDef{meta_info(tags serve), graph_def, assets, object graph}}."""
    meta_info = pb_len(4, "serve") + pb_len(5, "2.15.0")
    meta = pb_len(1, meta_info) + pb_len(2, graph)
    if saver_filename is not None:
        meta += pb_len(3, pb_len(1, saver_filename) + pb_len(2, "save/control_dependency:0"))
    for filename, tensor in assets or []:
        meta += pb_len(6, pb_len(1, pb_len(1, tensor)) + pb_len(2, filename))
    if keras_user_objects:
        nodes = b"".join(
            pb_len(1, pb_len(4, pb_len(1, "_tf_keras_layer") + pb_len(3, m))) for m in keras_user_objects
        )
        meta += pb_len(7, nodes)
    return pb_int(1, 1) + pb_len(2, meta)


def tf_keras_metadata(layers: list[dict[str, Any]]) -> bytes:
    """keras_metadata.pb: SavedMetadata{nodes: SavedObject{node_id, node_path, identifier, metadata}}."""
    out = b""
    for index, layer in enumerate(layers):
        obj = (
            pb_int(2, index + 1)
            + pb_len(3, f"root.layer-{index}")
            + pb_len(4, "_tf_keras_layer")
            + pb_len(5, json.dumps(layer))
        )
        out += pb_len(1, obj)
    return out


def tf_benign_graph(
    extra_function_nodes: list[bytes] | None = None, extra_graph_nodes: list[bytes] | None = None
) -> bytes:
    """The shape of a TF2 Keras export: variables, a serving function, traced save/restore functions."""
    serving = tf_function(
        "__inference_signature_wrapper_1017",
        [
            tf_node(
                "dense/MatMul/ReadVariableOp", "ReadVariableOp", ["dense_matmul_readvariableop_resource"]
            ),
            tf_node("dense/MatMul", "MatMul", ["inputs", "dense/MatMul/ReadVariableOp:value:0"]),
            tf_node(
                "dense/BiasAdd/ReadVariableOp", "ReadVariableOp", ["dense_biasadd_readvariableop_resource"]
            ),
            tf_node(
                "dense/BiasAdd", "BiasAdd", ["dense/MatMul:product:0", "dense/BiasAdd/ReadVariableOp:value:0"]
            ),
            tf_node("dense/Relu", "Relu", ["dense/BiasAdd:output:0"]),
            tf_node("Identity", "Identity", ["dense/Relu:activations:0"]),
            *(extra_function_nodes or []),
        ],
    )
    save = tf_function(
        "__inference__traced_save_1090",
        [
            tf_node(
                "StaticRegexFullMatch",
                "StaticRegexFullMatch",
                ["file_prefix"],
                {"pattern": tf_attr_s("^s3://.*")},
            ),
            tf_const_string("Const", ".part"),
            tf_const_string("Const_1", "_temp/part"),
            tf_node(
                "Select", "Select", ["StaticRegexFullMatch:output:0", "Const:output:0", "Const_1:output:0"]
            ),
            tf_node("StringJoin", "StringJoin", ["file_prefix", "Select:output:0"]),
            tf_node("ShardedFilename", "ShardedFilename", ["StringJoin:output:0", "num_shards", "shard"]),
            tf_node(
                "SaveV2",
                "SaveV2",
                [
                    "ShardedFilename:filename:0",
                    "tensor_names",
                    "shape_and_slices",
                    "dense_kernel",
                    "dense_bias",
                ],
            ),
            tf_node("MergeV2Checkpoints", "MergeV2Checkpoints", ["Pack:output:0", "file_prefix"]),
            tf_node("NoOp", "NoOp"),
        ],
    )
    restore = tf_function(
        "__inference__traced_restore_1130",
        [
            tf_node(
                "RestoreV2",
                "RestoreV2",
                ["file_prefix", "RestoreV2/tensor_names", "RestoreV2/shape_and_slices"],
            ),
            tf_node("AssignVariableOp", "AssignVariableOp", ["dense_kernel", "RestoreV2:tensors:0"]),
            tf_node("Identity_1", "Identity", ["file_prefix"]),
        ],
    )
    nodes = [
        tf_node("saver_filename", "Placeholder"),
        tf_node("dense/kernel", "VarHandleOp", attrs={"shared_name": tf_attr_s("dense/kernel")}),
        tf_node("dense/bias", "VarHandleOp", attrs={"shared_name": tf_attr_s("dense/bias")}),
        tf_node("serving_default_inputs", "Placeholder"),
        tf_node(
            "StatefulPartitionedCall",
            "StatefulPartitionedCall",
            ["serving_default_inputs", "dense/kernel", "dense/bias"],
            {"f": tf_attr_func("__inference_signature_wrapper_1017")},
        ),
        tf_node(
            "StatefulPartitionedCall_1",
            "StatefulPartitionedCall",
            ["saver_filename"],
            {"f": tf_attr_func("__inference__traced_save_1090")},
        ),
        tf_node(
            "StatefulPartitionedCall_2",
            "StatefulPartitionedCall",
            ["saver_filename"],
            {"f": tf_attr_func("__inference__traced_restore_1130")},
        ),
        tf_node("NoOp", "NoOp"),
        *(extra_graph_nodes or []),
    ]
    return tf_graph(nodes, [serving, save, restore])


def keras_zip(config: dict[str, Any]) -> bytes:
    """A .keras archive around a config: config.json, metadata.json and an (empty-weights) HDF5."""
    import io
    import zipfile

    import h5py

    weights = io.BytesIO()
    with h5py.File(weights, "w") as handle:
        handle.create_group("layers")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-01-01"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())
    return buffer.getvalue()
