"""ONNX dataflow: which node reads which value, for taint analysis (never runs the graph).

A bounded walk of the protobuf wire format (`protowire.ProtoReader`) that keeps, per graph, its
inputs (with element types), outputs, initializer names and nodes (op, inputs, outputs, subgraphs),
plus the values of small integer constants (the token ids a trigger compares with). Tensor payloads
are skipped by length, so multi-gigabyte models are walked with positioned reads.
"""

from __future__ import annotations

import struct
from typing import Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.protowire import LEN, VARINT, Field, ProtoReader, signed64
from modelcert.limits import Limits
from modelcert.records import Record

INT64, INT32 = 7, 6
MAX_CONSTANT_ELEMENTS = 64

_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 1, 5, 11, 12
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP, _NODE_DOMAIN, _NODE_ATTR = 1, 2, 4, 7, 5
_ATTR_NAME, _ATTR_T, _ATTR_G, _ATTR_GRAPHS = 1, 5, 6, 11
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_INT32, _TENSOR_INT64, _TENSOR_NAME, _TENSOR_RAW = 1, 2, 5, 7, 8, 9


class FlowNode(Record):
    __slots__ = ("constant", "domain", "inputs", "op_type", "outputs", "pointer", "subgraphs")
    op_type: Final[str]
    domain: Final[str]
    inputs: Final[tuple[str, ...]]
    outputs: Final[tuple[str, ...]]
    pointer: Final[str]
    subgraphs: Final[tuple[FlowGraph, ...]]
    constant: Final[tuple[int, ...] | None]  # a Constant node's small integer value

    def __init__(
        self,
        op_type: str,
        domain: str,
        inputs: tuple[str, ...],
        outputs: tuple[str, ...],
        pointer: str,
        subgraphs: tuple[FlowGraph, ...] = (),
        constant: tuple[int, ...] | None = None,
    ) -> None:
        self.op_type = op_type
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.pointer = pointer
        self.subgraphs = subgraphs
        self.constant = constant


class FlowGraph(Record):
    __slots__ = ("constants", "initializers", "inputs", "nodes", "outputs")
    inputs: Final[tuple[tuple[str, int], ...]]  # (name, element type)
    outputs: Final[tuple[str, ...]]
    initializers: Final[frozenset[str]]
    nodes: Final[tuple[FlowNode, ...]]
    constants: Final[dict[str, tuple[int, ...]]]  # small integer initializers

    def __init__(
        self,
        inputs: tuple[tuple[str, int], ...],
        outputs: tuple[str, ...],
        initializers: frozenset[str],
        nodes: tuple[FlowNode, ...],
        constants: dict[str, tuple[int, ...]] | None = None,
    ) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.nodes = nodes
        self.constants = {} if constants is None else constants

    def outer_names(self) -> set[str]:
        """Names this graph (and its subgraphs) read but do not define: outer-scope captures."""
        defined = {n for n, _ in self.inputs} | set(self.initializers)
        for node in self.nodes:
            defined.update(node.outputs)
        used: set[str] = set()
        for node in self.nodes:
            used.update(i for i in node.inputs if i)
            for sub in node.subgraphs:
                used |= sub.outer_names()
        return used - defined


def read_dataflow(blob: Blob, limits: Limits) -> FlowGraph:
    """The main graph of an ONNX model; FormatError when there is none."""
    r = ProtoReader.with_limits(blob, limits)
    spans = [(f.offset, f.end) for f in r.all_fields() if f.is_len(_MODEL_GRAPH)]
    if not spans:
        raise FormatError("ONNX model has no graph")
    return _graph(r, spans, "graph", 0, limits)


def _graph(
    r: ProtoReader, spans: list[tuple[int, int]], pointer: str, depth: int, limits: Limits
) -> FlowGraph:
    if depth > limits.max_graph_depth:
        raise LimitExceeded(f"subgraphs nested deeper than {limits.max_graph_depth} at {pointer}")
    nodes: list[FlowNode] = []
    inputs: list[tuple[str, int]] = []
    outputs: list[str] = []
    initializers: set[str] = set()
    constants: dict[str, tuple[int, ...]] = {}
    for start, end in spans:
        for f in r.fields(start, end):
            if f.is_len(_GRAPH_NODE):
                nodes.append(_node(r, f, f"{pointer}/node[{len(nodes)}]", depth, limits))
            elif f.is_len(_GRAPH_INITIALIZER):
                name, values = _tensor(r, f)
                initializers.add(name)
                if values is not None:
                    constants[name] = values
            elif f.is_len(_GRAPH_INPUT):
                inputs.append(_value_info(r, f))
            elif f.is_len(_GRAPH_OUTPUT):
                outputs.append(_value_info(r, f)[0])
    return FlowGraph(tuple(inputs), tuple(outputs), frozenset(initializers), tuple(nodes), constants)


def _node(r: ProtoReader, field_: Field, pointer: str, depth: int, limits: Limits) -> FlowNode:
    op_type = domain = ""
    inputs: list[str] = []
    outputs: list[str] = []
    subgraphs: list[FlowGraph] = []
    constant: tuple[int, ...] | None = None
    for f in r.fields(field_.offset, field_.end):
        if f.is_len(_NODE_INPUT):
            inputs.append(r.read_text(f))
        elif f.is_len(_NODE_OUTPUT):
            outputs.append(r.read_text(f))
        elif f.is_len(_NODE_OP):
            op_type = r.read_text(f)
        elif f.is_len(_NODE_DOMAIN):
            domain = r.read_text(f)
        elif f.is_len(_NODE_ATTR):
            name = ""
            for a in r.fields(f.offset, f.end):
                if a.is_len(_ATTR_NAME):
                    name = r.read_text(a)
                elif a.is_len(_ATTR_G) or a.is_len(_ATTR_GRAPHS):
                    subgraphs.append(
                        _graph(r, [(a.offset, a.end)], f"{pointer}/{name or 'g'}", depth + 1, limits)
                    )
                elif a.is_len(_ATTR_T):
                    constant = _tensor(r, a)[1]
    return FlowNode(op_type, domain, tuple(inputs), tuple(outputs), pointer, tuple(subgraphs), constant)


def _value_info(r: ProtoReader, field_: Field) -> tuple[str, int]:
    name, elem = "", 0
    for f in r.fields(field_.offset, field_.end):
        if f.is_len(1):
            name = r.read_text(f)
        elif f.is_len(2):  # TypeProto
            for t in r.fields(f.offset, f.end):
                if t.is_len(1):  # tensor_type
                    for e in r.fields(t.offset, t.end):
                        if e.is_varint(1):
                            elem = signed64(e.value)
    return name, elem


def _tensor(r: ProtoReader, field_: Field) -> tuple[str, tuple[int, ...] | None]:
    """A tensor's name and, when it is a small integer tensor, its values."""
    name = ""
    dtype = 0
    count = 1
    ints: list[int] = []
    raw: Field | None = None
    for f in r.fields(field_.offset, field_.end):
        if f.is_len(_TENSOR_NAME):
            name = r.read_text(f)
        elif f.is_varint(_TENSOR_TYPE):
            dtype = f.value
        elif f.number == _TENSOR_DIMS:
            for dim in _varints(r, f):
                count *= max(dim, 0)
        elif f.number in (_TENSOR_INT64, _TENSOR_INT32) and len(ints) <= MAX_CONSTANT_ELEMENTS:
            ints.extend(signed64(v) for v in _varints(r, f))
        elif f.is_len(_TENSOR_RAW):
            raw = f
    if dtype not in (INT64, INT32) or count > MAX_CONSTANT_ELEMENTS:
        return name, None
    if raw is not None:
        width = 8 if dtype == INT64 else 4
        data = r.read_bytes(raw, MAX_CONSTANT_ELEMENTS * 8)
        if len(data) != count * width:
            return name, None
        fmt = "<" + ("q" if width == 8 else "i") * count
        return name, tuple(struct.unpack(fmt, data))
    return name, tuple(ints[:count]) if len(ints) >= count else None


def _varints(r: ProtoReader, f: Field) -> list[int]:
    if f.wire_type == VARINT:
        return [f.value]
    if f.wire_type != LEN or f.value > 1024 * 1024:
        return []
    data = r.read_bytes(f)
    out, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            out.append(value & 0xFFFFFFFFFFFFFFFF)
            value, shift = 0, 0
        elif shift > 63:
            raise FormatError("packed varint longer than 10 bytes", f.offset)
    return out
