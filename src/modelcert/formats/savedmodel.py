"""TensorFlow protobufs without TensorFlow: SavedModel, bare GraphDef, Keras SavedModel metadata.

Decoded with the bounded wire decoder for just the fields the checks need (field numbers from
tensorflow/core/protobuf/{saved_model,meta_graph,saved_object_graph}.proto,
tensorflow/core/framework/{graph,node_def,function,attr_value,tensor}.proto and
keras/protobuf/saved_metadata.proto):

    SavedModel        1 schema_version (varint)  2 meta_graphs
    MetaGraphDef      1 meta_info_def  2 graph_def  3 saver_def  6 asset_file_def  7 object_graph_def
    SaverDef          1 filename_tensor_name
    MetaInfoDef       4 tags  5 tensorflow_version
    AssetFileDef      1 tensor_info (TensorInfo: 1 name)  2 filename
    SavedObjectGraph  1 nodes → SavedObject 4 user_object → SavedUserObject 1 identifier 3 metadata
    GraphDef          1 node  2 library  3 version  4 versions  5 debug_info
    FunctionDefLibrary 1 function → FunctionDef 1 signature (OpDef: 1 name)  3 node_def
    NodeDef           1 name  2 op  3 input  4 device  5 attr (map: 1 key, 2 AttrValue)
    AttrValue         1 list (ListValue: 2 s, 9 func)  2 s  8 tensor  10 func (NameAttrList: 1 name)
    TensorProto       1 dtype (7 = DT_STRING)  8 string_val
    SavedMetadata     1 nodes → SavedObject 3 node_path  4 identifier  5 metadata (JSON)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.protowire import LEN, VARINT, Field, ProtoReader
from modelcert.limits import Limits
from modelcert.records import MutableRecord, Record

DT_STRING = 7
_MAX_ATTR_TEXT = 1024  # per string attribute kept for the checks
_MAX_INPUTS_KEPT = 4
_MAX_CONST_STRINGS = 8


class TfNode(Record):
    """One NodeDef: where it is, what op it runs, its first inputs and its string attributes."""

    __slots__ = ("const_strings", "function_refs", "inputs", "name", "op", "pointer", "scope", "string_attrs")
    scope: Final[str]  # "graph" or the name of the function it belongs to
    pointer: Final[str]
    name: Final[str]
    op: Final[str]
    inputs: Final[tuple[str, ...]]
    string_attrs: Final[tuple[tuple[str, str], ...]]  # (attr name, value) for s / list(s) attributes
    function_refs: Final[tuple[str, ...]]  # functions named by func / list(func) attributes
    const_strings: Final[tuple[str, ...]]  # string values of a string tensor attribute (Const nodes)

    def __init__(
        self,
        scope: str,
        pointer: str,
        name: str,
        op: str,
        inputs: tuple[str, ...],
        string_attrs: tuple[tuple[str, str], ...],
        function_refs: tuple[str, ...],
        const_strings: tuple[str, ...],
    ) -> None:
        self.scope = scope
        self.pointer = pointer
        self.name = name
        self.op = op
        self.inputs = inputs
        self.string_attrs = string_attrs
        self.function_refs = function_refs
        self.const_strings = const_strings

    def attr(self, name: str) -> list[str]:
        return [value for key, value in self.string_attrs if key == name]


class TfView(MutableRecord):
    __slots__ = (
        "asset_files", "functions", "keras_metadata", "kind", "nodes", "saver_filename_tensors", "tags",
        "tensorflow_version",
    )  # fmt: skip
    kind: str  # "saved_model" | "graph_def" | "keras_metadata" | "fingerprint"
    nodes: list[TfNode]
    functions: set[str]
    tags: list[str]
    tensorflow_version: str
    asset_files: list[tuple[str, str]]  # (filename, bound tensor name)
    saver_filename_tensors: list[str]  # fed the checkpoint path on load
    keras_metadata: list[tuple[str, str]]  # (pointer, JSON text)

    def __init__(
        self,
        kind: str,
        nodes: list[TfNode] | None = None,
        functions: set[str] | None = None,
        tags: list[str] | None = None,
        tensorflow_version: str = "",
        asset_files: list[tuple[str, str]] | None = None,
        saver_filename_tensors: list[str] | None = None,
        keras_metadata: list[tuple[str, str]] | None = None,
    ) -> None:
        self.kind = kind
        self.nodes = [] if nodes is None else nodes
        self.functions = set() if functions is None else functions
        self.tags = [] if tags is None else tags
        self.tensorflow_version = tensorflow_version
        self.asset_files = [] if asset_files is None else asset_files
        self.saver_filename_tensors = [] if saver_filename_tensors is None else saver_filename_tensors
        self.keras_metadata = [] if keras_metadata is None else keras_metadata

    def ops(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts


def read_tf_protobuf(blob: Blob, limits: Limits, kind: str) -> TfView:
    """Decode `kind` ("saved_model", "keras_metadata", "fingerprint", or "auto" for a bare .pb)."""
    if blob.size == 0:
        raise FormatError("empty protobuf")
    reader = ProtoReader.with_limits(blob, limits)
    decoder = _Decoder(reader, limits)
    if kind == "keras_metadata":
        return decoder.keras_metadata()
    if kind == "fingerprint":
        return decoder.fingerprint()
    if kind == "saved_model":
        return decoder.saved_model()
    return decoder.auto()


class _Decoder:
    def __init__(self, reader: ProtoReader, limits: Limits) -> None:
        self.r = reader
        self.limits = limits

    # -- top-level messages ------------------------------------------------------------------

    def auto(self) -> TfView:
        """A `.pb` of unknown role: a SavedModel (field 1 is a varint) or a bare GraphDef (field 1
        holds nodes). With only field 2 present both readings are possible; SavedModel is tried first."""
        schema_version = graph_nodes = other = 0
        count = 0
        for f in self.r.all_fields():
            count += 1
            if f.is_varint(1):
                schema_version += 1
            elif f.is_len(1):
                graph_nodes += 1
            elif not (f.number in (2, 4, 5) and f.wire_type == LEN) and not f.is_varint(3):
                other += 1
        if count == 0 or other:
            raise FormatError("neither a TensorFlow SavedModel nor a GraphDef")
        if not graph_nodes:
            view = self.saved_model()
            if view.nodes or view.functions or schema_version:
                return view
        view = TfView(kind="graph_def")
        self._graph(view, [(0, self.r.size)], "graph_def")
        if not view.nodes and not view.functions:
            raise FormatError("a protobuf without TensorFlow nodes")
        return view

    def saved_model(self) -> TfView:
        view = TfView(kind="saved_model")
        metas = 0
        for f in self.r.all_fields():
            if f.is_len(2):
                self._meta_graph(view, f, f"meta_graphs[{metas}]")
                metas += 1
        if metas == 0:
            raise FormatError("SavedModel without meta graphs")
        return view

    def keras_metadata(self) -> TfView:
        view = TfView(kind="keras_metadata")
        for index, f in enumerate(f for f in self.r.all_fields() if f.is_len(1)):
            path = metadata = ""
            for g in self.r.fields(f.offset, f.end):
                if g.is_len(3):
                    path = self.r.read_text(g)
                elif g.is_len(5):
                    metadata = self.r.read_text(g, self.limits.max_json_bytes)
            if metadata:
                view.keras_metadata.append((f"nodes[{index}]({path})", metadata))
        return view

    def fingerprint(self) -> TfView:
        for f in self.r.all_fields():
            if not (f.wire_type == VARINT and 1 <= f.number <= 5) and not f.is_len(6):
                raise FormatError(f"unexpected field {f.number} in a SavedModel fingerprint", f.offset)
        return TfView(kind="fingerprint")

    # -- SavedModel parts ----------------------------------------------------------------------

    def _meta_graph(self, view: TfView, meta: Field, pointer: str) -> None:
        graphs: list[tuple[int, int]] = []
        for f in self.r.fields(meta.offset, meta.end):
            if f.is_len(1):
                self._meta_info(view, f)
            elif f.is_len(2):
                graphs.append((f.offset, f.end))
            elif f.is_len(3):
                for g in self.r.fields(f.offset, f.end):
                    if g.is_len(1):
                        view.saver_filename_tensors.append(self.r.read_text(g, _MAX_ATTR_TEXT))
            elif f.is_len(6):
                view.asset_files.append(self._asset(f))
            elif f.is_len(7):
                self._object_graph(view, f, f"{pointer}/object_graph_def")
        if graphs:
            self._graph(view, graphs, f"{pointer}/graph_def")

    def _meta_info(self, view: TfView, info: Field) -> None:
        for f in self.r.fields(info.offset, info.end):
            if f.is_len(4):
                view.tags.append(self.r.read_text(f, _MAX_ATTR_TEXT))
            elif f.is_len(5):
                view.tensorflow_version = self.r.read_text(f, _MAX_ATTR_TEXT)

    def _asset(self, asset: Field) -> tuple[str, str]:
        filename = tensor = ""
        for f in self.r.fields(asset.offset, asset.end):
            if f.is_len(2):
                filename = self.r.read_text(f)
            elif f.is_len(1):
                for g in self.r.fields(f.offset, f.end):
                    if g.is_len(1):
                        tensor = self.r.read_text(g)
        return filename, tensor

    def _object_graph(self, view: TfView, graph: Field, pointer: str) -> None:
        # Keras SavedModels written by TF 2.0-2.4 keep Keras metadata in SavedUserObject.metadata.
        for index, node in enumerate(f for f in self.r.fields(graph.offset, graph.end) if f.is_len(1)):
            for user in self.r.fields(node.offset, node.end):
                if not user.is_len(4):
                    continue
                for f in self.r.fields(user.offset, user.end):
                    if f.is_len(3) and f.value:
                        text = self.r.read_text(f, self.limits.max_json_bytes)
                        view.keras_metadata.append((f"{pointer}/nodes[{index}]/user_object", text))

    # -- graphs and functions ----------------------------------------------------------------

    def _graph(self, view: TfView, spans: list[tuple[int, int]], pointer: str) -> None:
        index = 0
        for start, end in spans:
            for f in self.r.fields(start, end):
                if f.is_len(1):
                    view.nodes.append(self._node(f, "graph", f"{pointer}/node[{index}]"))
                    index += 1
                    self._bound(view)
                elif f.is_len(2):
                    self._library(view, f, f"{pointer}/library")

    def _library(self, view: TfView, library: Field, pointer: str) -> None:
        for index, func in enumerate(f for f in self.r.fields(library.offset, library.end) if f.is_len(1)):
            name = ""
            bodies: list[Field] = []
            for f in self.r.fields(func.offset, func.end):
                if f.is_len(1):
                    for g in self.r.fields(f.offset, f.end):
                        if g.is_len(1):
                            name = self.r.read_text(g)
                elif f.is_len(3):
                    bodies.append(f)
            view.functions.add(name)
            for node_index, body in enumerate(bodies):
                node_pointer = f"{pointer}/function[{index}]({name})/node_def[{node_index}]"
                view.nodes.append(self._node(body, name, node_pointer))
                self._bound(view)

    def _node(self, node: Field, scope: str, pointer: str) -> TfNode:
        name = op = ""
        inputs: list[str] = []
        attrs: list[tuple[str, str]] = []
        funcs: list[str] = []
        consts: list[str] = []
        for f in self.r.fields(node.offset, node.end):
            if f.is_len(1):
                name = self.r.read_text(f)
            elif f.is_len(2):
                op = self.r.read_text(f)
            elif f.is_len(3) and len(inputs) < _MAX_INPUTS_KEPT:
                inputs.append(self.r.read_text(f))
            elif f.is_len(5):
                self._attr_entry(f, attrs, funcs, consts)
        return TfNode(scope, pointer, name, op, tuple(inputs), tuple(attrs), tuple(funcs), tuple(consts))

    def _attr_entry(
        self, entry: Field, attrs: list[tuple[str, str]], funcs: list[str], consts: list[str]
    ) -> None:
        key = ""
        values: list[Field] = []
        for f in self.r.fields(entry.offset, entry.end):
            if f.is_len(1):
                key = self.r.read_text(f, _MAX_ATTR_TEXT)
            elif f.is_len(2):
                values.append(f)
        for value in values:
            for f in self.r.fields(value.offset, value.end):
                if f.is_len(2):
                    attrs.append((key, self._short_text(f)))
                elif f.is_len(10):
                    funcs.extend(self._func_names(f))
                elif f.is_len(8):
                    consts.extend(self._tensor_strings(f))
                elif f.is_len(1):
                    for g in self.r.fields(f.offset, f.end):
                        if g.is_len(2):
                            attrs.append((key, self._short_text(g)))
                        elif g.is_len(9):
                            funcs.extend(self._func_names(g))

    def _func_names(self, name_attr_list: Field) -> Iterator[str]:
        for f in self.r.fields(name_attr_list.offset, name_attr_list.end):
            if f.is_len(1):
                yield self.r.read_text(f, _MAX_ATTR_TEXT)

    def _tensor_strings(self, tensor: Field) -> list[str]:
        dtype = 0
        strings: list[Field] = []
        for f in self.r.fields(tensor.offset, tensor.end):
            if f.is_varint(1):
                dtype = f.value
            elif f.is_len(8) and len(strings) < _MAX_CONST_STRINGS:
                strings.append(f)
        if dtype != DT_STRING:
            return []
        return [self._short_text(f) for f in strings]

    def _short_text(self, f: Field) -> str:
        # Attribute strings matter by their start (a path, a URL); keep a bounded prefix.
        data = self.r.read_bytes(Field(f.number, LEN, min(f.value, _MAX_ATTR_TEXT), f.offset))
        return data.decode("utf-8", errors="replace")

    def _bound(self, view: TfView) -> None:
        if len(view.nodes) > self.limits.max_count:
            raise LimitExceeded(f"more than {self.limits.max_count} TensorFlow nodes")
