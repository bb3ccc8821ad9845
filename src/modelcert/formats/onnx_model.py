"""ONNX ModelProto → an inert view: which operators run, which local functions exist, where data lives.

Two readers build the same view. Files that fit in memory are parsed by the `onnx` package's own
protobuf classes (the parser `onnx.load` uses, so the view is what a loader sees). Larger files,
including those beyond protobuf's 2 GiB ceiling, are walked with the bounded wire decoder, which
skips tensor payloads by length and mirrors protobuf's merge rules (last value of a singular field
wins, repeated occurrences of a singular message merge). Nothing is ever run: no onnxruntime, no
shape inference, no external data loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.protowire import LEN, Field, ProtoReader, signed64
from modelcert.limits import Limits
from modelcert.records import Record

EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL

Span = tuple[int, int]


class ExternalDataRef(Record):
    """A tensor's `external_data` key/value entries, as written (the loader keeps the last of each key)."""

    __slots__ = ("entries", "marked_external", "pointer", "tensor_name")
    tensor_name: Final[str]
    pointer: Final[str]
    entries: Final[tuple[tuple[str, str], ...]]
    marked_external: Final[bool]  # data_location == EXTERNAL: the loader will open the file

    def __init__(
        self,
        tensor_name: str,
        pointer: str,
        entries: tuple[tuple[str, str], ...],
        marked_external: bool,
    ) -> None:
        self.tensor_name = tensor_name
        self.pointer = pointer
        self.entries = entries
        self.marked_external = marked_external

    def value(self, key: str) -> str | None:
        found = None
        for k, v in self.entries:
            if k == key:
                found = v
        return found

    @property
    def location(self) -> str | None:
        return self.value("location")


class OpUse(Record):
    """Every node running one (domain, op_type), counted, with the first place it appears."""

    __slots__ = ("count", "domain", "first_pointer", "op_type")
    domain: Final[str]
    op_type: Final[str]
    count: Final[int]
    first_pointer: Final[str]

    def __init__(self, domain: str, op_type: str, count: int, first_pointer: str) -> None:
        self.domain = domain
        self.op_type = op_type
        self.count = count
        self.first_pointer = first_pointer


class OnnxView(Record):
    __slots__ = (
        "external_data", "functions", "ir_version", "max_graph_depth", "node_count", "ops", "opset_imports",
        "parsed_with", "producer", "tensor_count",
    )  # fmt: skip
    ir_version: Final[int | None]
    producer: Final[str]
    opset_imports: Final[tuple[tuple[str, int], ...]]
    ops: Final[tuple[OpUse, ...]]
    functions: Final[frozenset[tuple[str, str]]]  # model-local FunctionProto (domain, name)
    external_data: Final[tuple[ExternalDataRef, ...]]
    node_count: Final[int]
    tensor_count: Final[int]
    max_graph_depth: Final[int]
    parsed_with: Final[str]  # "onnx" (protobuf runtime) or "wire" (bounded streaming decoder)

    def __init__(
        self,
        ir_version: int | None,
        producer: str,
        opset_imports: tuple[tuple[str, int], ...],
        ops: tuple[OpUse, ...],
        functions: frozenset[tuple[str, str]],
        external_data: tuple[ExternalDataRef, ...],
        node_count: int,
        tensor_count: int,
        max_graph_depth: int,
        parsed_with: str,
    ) -> None:
        self.ir_version = ir_version
        self.producer = producer
        self.opset_imports = opset_imports
        self.ops = ops
        self.functions = functions
        self.external_data = external_data
        self.node_count = node_count
        self.tensor_count = tensor_count
        self.max_graph_depth = max_graph_depth
        self.parsed_with = parsed_with


class _Builder:
    """Collects what both readers find; bounds the number of things kept."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._ops: dict[tuple[str, str], list[Any]] = {}
        self.functions: set[tuple[str, str]] = set()
        self.external: list[ExternalDataRef] = []
        self.nodes = 0
        self.tensors = 0
        self.max_depth = 0

    def depth(self, depth: int, pointer: str) -> None:
        self.max_depth = max(self.max_depth, depth)
        if depth > self._limits.max_graph_depth:
            raise LimitExceeded(f"subgraphs nested deeper than {self._limits.max_graph_depth} at {pointer}")

    def node(self, domain: str, op_type: str, pointer: str) -> None:
        self.nodes += 1
        if self.nodes > self._limits.max_count:
            raise LimitExceeded(f"more than {self._limits.max_count} nodes")
        use = self._ops.get((domain, op_type))
        if use is None:
            self._ops[(domain, op_type)] = [1, pointer]
        else:
            use[0] += 1

    def tensor(self, name: str, pointer: str, entries: list[tuple[str, str]], marked_external: bool) -> None:
        self.tensors += 1
        if self.tensors > self._limits.max_count:
            raise LimitExceeded(f"more than {self._limits.max_count} tensors")
        if entries or marked_external:
            self.external.append(ExternalDataRef(name, pointer, tuple(entries), marked_external))

    def view(
        self, ir_version: int | None, producer: str, opsets: list[tuple[str, int]], how: str
    ) -> OnnxView:
        ops = tuple(OpUse(d, o, c, p) for (d, o), (c, p) in sorted(self._ops.items()))
        return OnnxView(
            ir_version=ir_version,
            producer=producer,
            opset_imports=tuple(opsets),
            ops=ops,
            functions=frozenset(self.functions),
            external_data=tuple(self.external),
            node_count=self.nodes,
            tensor_count=self.tensors,
            max_graph_depth=self.max_depth,
            parsed_with=how,
        )


def read_onnx(blob: Blob, limits: Limits) -> OnnxView:
    """The view of an ONNX model; FormatError when it is not a ModelProto, LimitExceeded past a bound."""
    if blob.size == 0:
        raise FormatError("empty file is not an ONNX model")
    if blob.size <= limits.in_memory_member_bytes:
        return read_with_protobuf(blob.read_all(limits.in_memory_member_bytes), limits)
    return read_with_wire_decoder(blob, limits)


# -- protobuf runtime path ----------------------------------------------------------------------


def read_with_protobuf(data: bytes, limits: Limits) -> OnnxView:
    # Imported here: onnx is heavy and only ONNX files need it.
    from google.protobuf.message import DecodeError
    from onnx import ModelProto

    model = ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise FormatError(f"not an ONNX ModelProto: {exc}") from None
    _require_model(model.HasField("graph") or len(model.functions) > 0, model.HasField("ir_version"))
    b = _Builder(limits)
    if model.HasField("graph"):
        _proto_graph(model.graph, "graph", 0, b)
    for i, info in enumerate(model.training_info):
        if info.HasField("initialization"):
            _proto_graph(info.initialization, f"training_info[{i}]/initialization", 0, b)
        if info.HasField("algorithm"):
            _proto_graph(info.algorithm, f"training_info[{i}]/algorithm", 0, b)
    for i, func in enumerate(model.functions):
        b.functions.add((_text(func.domain), _text(func.name)))
        pointer = f"functions[{i}]"
        for j, node in enumerate(func.node):
            _proto_node(node, f"{pointer}/node[{j}]", 0, b)
        for attr in func.attribute_proto:
            _proto_attr(attr, f"{pointer}/{_text(attr.name)}", 0, b)
    opsets = [(_text(o.domain), o.version) for o in model.opset_import]
    ir = model.ir_version if model.HasField("ir_version") else None
    producer = f"{_text(model.producer_name)} {_text(model.producer_version)}".strip()
    return b.view(ir, producer, opsets, "onnx")


def _text(value: Any) -> str:
    # proto2 strings are not UTF-8 validated: protobuf hands back bytes for invalid ones.
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _proto_graph(graph: Any, pointer: str, depth: int, b: _Builder) -> None:
    b.depth(depth, pointer)
    for i, tensor in enumerate(graph.initializer):
        _proto_tensor(tensor, f"{pointer}/initializer[{i}]", b)
    for i, sparse in enumerate(graph.sparse_initializer):
        _proto_sparse(sparse, f"{pointer}/sparse_initializer[{i}]", b)
    for i, node in enumerate(graph.node):
        _proto_node(node, f"{pointer}/node[{i}]", depth, b)


def _proto_node(node: Any, pointer: str, depth: int, b: _Builder) -> None:
    b.node(_text(node.domain), _text(node.op_type), pointer)
    for attr in node.attribute:
        _proto_attr(attr, f"{pointer}/{_text(attr.name)}", depth, b)


def _proto_attr(attr: Any, pointer: str, depth: int, b: _Builder) -> None:
    if attr.HasField("t"):
        _proto_tensor(attr.t, f"{pointer}/t", b)
    for i, tensor in enumerate(attr.tensors):
        _proto_tensor(tensor, f"{pointer}/tensors[{i}]", b)
    if attr.HasField("sparse_tensor"):
        _proto_sparse(attr.sparse_tensor, f"{pointer}/sparse_tensor", b)
    for i, sparse in enumerate(attr.sparse_tensors):
        _proto_sparse(sparse, f"{pointer}/sparse_tensors[{i}]", b)
    if attr.HasField("g"):
        _proto_graph(attr.g, f"{pointer}/g", depth + 1, b)
    for i, graph in enumerate(attr.graphs):
        _proto_graph(graph, f"{pointer}/graphs[{i}]", depth + 1, b)


def _proto_sparse(sparse: Any, pointer: str, b: _Builder) -> None:
    if sparse.HasField("values"):
        _proto_tensor(sparse.values, f"{pointer}/values", b)
    if sparse.HasField("indices"):
        _proto_tensor(sparse.indices, f"{pointer}/indices", b)


def _proto_tensor(tensor: Any, pointer: str, b: _Builder) -> None:
    entries = [(_text(e.key), _text(e.value)) for e in tensor.external_data]
    marked = tensor.HasField("data_location") and tensor.data_location == EXTERNAL
    b.tensor(_text(tensor.name), pointer, entries, marked)


# -- bounded wire-decoder path --------------------------------------------------------------------

# Field numbers from onnx/onnx.proto (proto2).
_MODEL_IR_VERSION, _MODEL_PRODUCER, _MODEL_PRODUCER_VERSION = 1, 2, 3
_MODEL_GRAPH, _MODEL_OPSET, _MODEL_TRAINING, _MODEL_FUNCTIONS = 7, 8, 20, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE = 1, 5, 15
_NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = 4, 5, 7
_ATTR_NAME, _ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS = 1, 5, 6, 10, 11
_ATTR_SPARSE, _ATTR_SPARSES = 22, 23
_TENSOR_NAME, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 8, 13, 14
_FUNC_NAME, _FUNC_NODE, _FUNC_DOMAIN, _FUNC_ATTRIBUTE_PROTO = 1, 7, 10, 11


def read_with_wire_decoder(blob: Blob, limits: Limits) -> OnnxView:
    r = ProtoReader.with_limits(blob, limits)
    b = _Builder(limits)
    graphs: list[Span] = []
    training: list[Span] = []
    functions: list[Span] = []
    opsets: list[tuple[str, int]] = []
    ir: int | None = None
    producer = ["", ""]
    for f in r.all_fields():
        if f.is_varint(_MODEL_IR_VERSION):
            ir = signed64(f.value)
        elif f.is_len(_MODEL_GRAPH):
            graphs.append((f.offset, f.end))
        elif f.is_len(_MODEL_OPSET):
            opsets.append(_wire_opset(r, f))
        elif f.is_len(_MODEL_TRAINING):
            training.append((f.offset, f.end))
        elif f.is_len(_MODEL_FUNCTIONS):
            functions.append((f.offset, f.end))
        elif f.is_len(_MODEL_PRODUCER):
            producer[0] = r.read_text(f)
        elif f.is_len(_MODEL_PRODUCER_VERSION):
            producer[1] = r.read_text(f)
    _require_model(bool(graphs or functions), ir is not None)
    if graphs:
        _wire_graph(r, graphs, "graph", 0, b)
    for i, span in enumerate(training):
        parts: dict[int, list[Span]] = {1: [], 2: []}
        for f in r.fields(*span):
            if f.wire_type == LEN and f.number in parts:
                parts[f.number].append((f.offset, f.end))
        if parts[1]:
            _wire_graph(r, parts[1], f"training_info[{i}]/initialization", 0, b)
        if parts[2]:
            _wire_graph(r, parts[2], f"training_info[{i}]/algorithm", 0, b)
    for i, span in enumerate(functions):
        _wire_function(r, span, f"functions[{i}]", b)
    return b.view(ir, " ".join(producer).strip(), opsets, "wire")


def _merged(r: ProtoReader, spans: Iterable[Span]) -> Iterator[Field]:
    """Fields of a singular message that occurs several times: protobuf merges the occurrences."""
    for start, end in spans:
        yield from r.fields(start, end)


def _wire_opset(r: ProtoReader, field: Field) -> tuple[str, int]:
    domain, version = "", 0
    for f in r.fields(field.offset, field.end):
        if f.is_len(1):
            domain = r.read_text(f)
        elif f.is_varint(2):
            version = signed64(f.value)
    return domain, version


def _wire_graph(r: ProtoReader, spans: list[Span], pointer: str, depth: int, b: _Builder) -> None:
    b.depth(depth, pointer)
    nodes: list[Span] = []
    initializer = sparse = 0
    for f in _merged(r, spans):
        if f.is_len(_GRAPH_NODE):
            nodes.append((f.offset, f.end))
        elif f.is_len(_GRAPH_INITIALIZER):
            _wire_tensor(r, [(f.offset, f.end)], f"{pointer}/initializer[{initializer}]", b)
            initializer += 1
        elif f.is_len(_GRAPH_SPARSE):
            _wire_sparse(r, [(f.offset, f.end)], f"{pointer}/sparse_initializer[{sparse}]", b)
            sparse += 1
    for i, span in enumerate(nodes):
        _wire_node(r, span, f"{pointer}/node[{i}]", depth, b)


def _wire_node(r: ProtoReader, span: Span, pointer: str, depth: int, b: _Builder) -> None:
    op_type = domain = ""
    attributes: list[Span] = []
    for f in r.fields(*span):
        if f.is_len(_NODE_OP_TYPE):
            op_type = r.read_text(f)
        elif f.is_len(_NODE_DOMAIN):
            domain = r.read_text(f)
        elif f.is_len(_NODE_ATTRIBUTE):
            attributes.append((f.offset, f.end))
    b.node(domain, op_type, pointer)
    for attr in attributes:
        _wire_attr(r, attr, pointer, depth, b)


def _wire_attr(r: ProtoReader, span: Span, node_pointer: str, depth: int, b: _Builder) -> None:
    name = ""
    singular: dict[int, list[Span]] = {_ATTR_T: [], _ATTR_G: [], _ATTR_SPARSE: []}
    repeated: dict[int, list[Span]] = {_ATTR_TENSORS: [], _ATTR_GRAPHS: [], _ATTR_SPARSES: []}
    for f in r.fields(*span):
        if f.is_len(_ATTR_NAME):
            name = r.read_text(f)
        elif f.wire_type == LEN and f.number in singular:
            singular[f.number].append((f.offset, f.end))
        elif f.wire_type == LEN and f.number in repeated:
            repeated[f.number].append((f.offset, f.end))
    pointer = f"{node_pointer}/{name}"
    if singular[_ATTR_T]:
        _wire_tensor(r, singular[_ATTR_T], f"{pointer}/t", b)
    for i, s in enumerate(repeated[_ATTR_TENSORS]):
        _wire_tensor(r, [s], f"{pointer}/tensors[{i}]", b)
    if singular[_ATTR_SPARSE]:
        _wire_sparse(r, singular[_ATTR_SPARSE], f"{pointer}/sparse_tensor", b)
    for i, s in enumerate(repeated[_ATTR_SPARSES]):
        _wire_sparse(r, [s], f"{pointer}/sparse_tensors[{i}]", b)
    if singular[_ATTR_G]:
        _wire_graph(r, singular[_ATTR_G], f"{pointer}/g", depth + 1, b)
    for i, s in enumerate(repeated[_ATTR_GRAPHS]):
        _wire_graph(r, [s], f"{pointer}/graphs[{i}]", depth + 1, b)


def _wire_sparse(r: ProtoReader, spans: list[Span], pointer: str, b: _Builder) -> None:
    values: list[Span] = []
    indices: list[Span] = []
    for f in _merged(r, spans):
        if f.is_len(1):
            values.append((f.offset, f.end))
        elif f.is_len(2):
            indices.append((f.offset, f.end))
    if values:
        _wire_tensor(r, values, f"{pointer}/values", b)
    if indices:
        _wire_tensor(r, indices, f"{pointer}/indices", b)


def _wire_tensor(r: ProtoReader, spans: list[Span], pointer: str, b: _Builder) -> None:
    name = ""
    location: int | None = None
    entries: list[tuple[str, str]] = []
    for f in _merged(r, spans):
        if f.is_len(_TENSOR_NAME):
            name = r.read_text(f)
        elif f.is_len(_TENSOR_EXTERNAL):
            entries.append(_wire_entry(r, f))
        elif f.is_varint(_TENSOR_LOCATION) and f.value in (0, EXTERNAL):
            location = f.value  # proto2 closed enum: unknown values are not stored
    b.tensor(name, pointer, entries, location == EXTERNAL)


def _wire_entry(r: ProtoReader, field: Field) -> tuple[str, str]:
    key = value = ""
    for f in r.fields(field.offset, field.end):
        if f.is_len(1):
            key = r.read_text(f)
        elif f.is_len(2):
            value = r.read_text(f)
    return key, value


def _wire_function(r: ProtoReader, span: Span, pointer: str, b: _Builder) -> None:
    name = domain = ""
    nodes: list[Span] = []
    attrs: list[Span] = []
    for f in r.fields(*span):
        if f.is_len(_FUNC_NAME):
            name = r.read_text(f)
        elif f.is_len(_FUNC_DOMAIN):
            domain = r.read_text(f)
        elif f.is_len(_FUNC_NODE):
            nodes.append((f.offset, f.end))
        elif f.is_len(_FUNC_ATTRIBUTE_PROTO):
            attrs.append((f.offset, f.end))
    b.functions.add((domain, name))
    for i, node in enumerate(nodes):
        _wire_node(r, node, f"{pointer}/node[{i}]", 0, b)
    for attr in attrs:
        _wire_attr(r, attr, pointer, 0, b)


def _require_model(has_content: bool, has_ir_version: bool) -> None:
    # Any byte string that happens to be valid protobuf parses as an (empty) ModelProto; a model
    # without a graph, functions and IR version is not an ONNX model a runtime would load.
    if not has_content and not has_ir_version:
        raise FormatError("no graph, functions or IR version: not an ONNX model")

