"""TensorFlow analyzers: `tf-savedmodel` (saved_model.pb, keras_metadata.pb, fingerprint.pb) and
`protobuf` (any other .pb: a frozen GraphDef or a SavedModel under another name).

Check IDs MC350–MC369 belong to TensorFlow graphs. Ops are judged wherever they appear: the main
graph and every function of the library (serving signatures, tf.function bodies, save/restore).
"""

from __future__ import annotations

import posixpath
import re
from functools import cache
from pathlib import Path

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.checks.keras import report_keras_config
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.keras_config import parse_json, walk_config
from modelcert.formats.savedmodel import TfNode, TfView, read_tf_protobuf
from modelcert.records import MutableRecord

# Ops that call back into the Python interpreter of the process that runs the graph.
PYTHON_CALLBACK_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
# Ops whose purpose is to read or list host files (any path the graph computes).
FILE_READ_OPS = frozenset({
    "ReadFile", "MatchingFiles", "ImmutableConst", "WholeFileReader", "WholeFileReaderV2",
    "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TextLineReader", "TextLineReaderV2",
    "TFRecordReader", "TFRecordReaderV2", "LMDBReader", "ReaderRead", "ReaderReadV2", "ReaderReadUpTo",
    "ReaderReadUpToV2", "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "TextLineDataset",
    "TFRecordDataset", "TFRecordDatasetV2", "LMDBDataset", "ExperimentalLMDBDataset", "SqlDataset",
    "ExperimentalSqlDataset", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "LoadDataset",
    "MatchingFilesDataset", "ExperimentalMatchingFilesDataset",
})
# Ops that create, overwrite or append to host files.
FILE_WRITE_OPS = frozenset({
    "WriteFile", "SaveDataset", "SaveDatasetV2", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord",
    "SnapshotDataset", "SnapshotDatasetV2", "CreateSummaryFileWriter", "CreateSummaryDbWriter",
    "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "ImportEvent", "DistributedSave",
})
# Ops that open network connections to an address taken from the graph.
NETWORK_OPS = frozenset({
    "Rpc", "TryRpc", "RpcCall", "RpcCheckStatus", "RpcClient", "RpcGetValue", "RpcServer",
    "RpcServerRegister", "RpcServerStart", "DataServiceDataset", "DataServiceDatasetV2",
    "DataServiceDatasetV3", "DataServiceDatasetV4", "RegisterDataset", "RegisterDatasetV2",
})
# Cross-device rendezvous ops: inserted when a session partitions a graph, never in a saved one.
RENDEZVOUS_OPS = frozenset({"_Send", "_Recv", "_HostSend", "_HostRecv"})
# Ops with a legitimate file path input (checkpoints every SavedModel has, vocabulary tables, the
# tf.data cache): clean while the path comes from the loader, reported when it is a constant.
PATH_INPUTS: dict[str, tuple[int, ...]] = {
    "SaveV2": (0,), "RestoreV2": (0,), "MergeV2Checkpoints": (0, 1), "Save": (0,), "SaveSlices": (0,),
    "Restore": (0,), "RestoreSlice": (0,), "ShardedFilename": (0,), "ShardedFilespec": (0,),
    "InitializeTableFromTextFile": (1,), "InitializeTableFromTextFileV2": (1,),
    "CacheDataset": (1,), "CacheDatasetV2": (1,),
}
DEBUG_OPS = frozenset({
    "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
    "DebugNumericSummaryV2", "Copy", "CopyHost",
})
_ESCAPING_PATH = re.compile(r"^(/|\\|[A-Za-z]:|[A-Za-z][A-Za-z0-9+.-]*://)")


class TfPythonCallbackOp(Check):
    """The graph contains `PyFunc`, `PyFuncStateless` or `EagerPyFunc`: ops that call arbitrary
    Python code of the process running the model (`tf.py_function`, `tf.numpy_function`). The code
    is not in the file, so what runs depends on what the loading process registered — a model has
    no business asking for it. Verdict **unsafe**."""

    id = "MC350"
    title = "TensorFlow op calls Python"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-94"
    remediation = "Rewrite the callback in TensorFlow ops, or do not serve the model."


class TfFileAccessOp(Check):
    """The graph reads or writes host files at inference: `ReadFile`, `WriteFile`, `MatchingFiles`,
    `ImmutableConst` (memory-maps a file), file readers and file-backed datasets, summary writers,
    `PrintV2` printing to `file://`, debug ops dumping to `file://` URLs, `DecodeProtoV2` loading a
    descriptor file. A model served from a SavedModel can then exfiltrate or plant files
    (modelscan's `unsafe_tf_operators` lists ReadFile and WriteFile). Verdict **unsafe**."""

    id = "MC351"
    title = "TensorFlow op accesses host files"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-73"
    remediation = "Remove the file operations from the exported graph; serve pure computation."


class TfNetworkOp(Check):
    """The graph opens network connections: RPC ops (`Rpc`, `TryRpc`, `RpcClient`...), tf.data
    service datasets, debug ops streaming to `grpc://` URLs. A served model could exfiltrate its
    inputs or fetch attacker data. Rendezvous ops (`_Send`/`_Recv`), which never appear in a saved
    graph, are reported as suspicious. Verdict **unsafe**."""

    id = "MC352"
    title = "TensorFlow op reaches the network"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-918"
    remediation = "Remove the network operations from the exported graph."


class TfConstantFilePath(Check):
    """A checkpoint, vocabulary-table or cache op reads or writes a file path that is a constant of
    the graph instead of the path the loader supplies. Every SavedModel has SaveV2/RestoreV2 and
    MergeV2Checkpoints fed by the loader's checkpoint prefix; pointing them (or
    InitializeTableFromTextFile) at a fixed path turns them into file read/write primitives.
    Constants the loader replaces (asset_file_def tensors, the TF1 saver's filename tensor) are not
    reported.
    Verdict **unsafe** for absolute paths, `..` and URLs, **suspicious** for other constants."""

    id = "MC353"
    title = "TensorFlow file op with a constant path"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.UNSAFE
    cwe = "CWE-73"
    remediation = "Re-export the model so file paths come from the loader (checkpoint prefix, assets)."


class TfCustomOp(Check):
    """The graph uses an op from a custom-op library (namespaced `Library>Op`, e.g. TensorFlow
    Addons). It only loads after `tf.load_op_library` of a native shared object that is not in the
    package and was not scanned. Verdict **suspicious**."""

    id = "MC354"
    title = "TensorFlow custom op library"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Review and pin the op library, or re-export with built-in ops."


class TfUnknownOp(Check):
    """Ops not in modelcert's list of common TensorFlow ops (the list is curated without
    TensorFlow, so rare built-ins appear here). Reported for review only: an op TensorFlow does
    not know fails to load, and the dangerous built-ins are covered by MC350–MC353. Verdict
    **clean** (information)."""

    id = "MC355"
    title = "TensorFlow op not in the known list"
    severity = Severity.INFO
    confidence = Confidence.LOW
    verdict = Verdict.CLEAN
    remediation = "None needed unless the op is unexpected for the model."


class TfAssetPathEscapes(Check):
    """A SavedModel asset (`asset_file_def.filename`) is not a plain file name of the `assets/`
    folder: absolute, with `..`, or a URL. The loader joins it to the assets folder and hands the
    resulting host path to the graph (vocabulary tables read it). Verdict **unsafe**."""

    id = "MC356"
    title = "TensorFlow asset path leaves the SavedModel"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-22"
    remediation = "Re-export with assets copied into the SavedModel's assets/ folder."


@cache
def known_ops() -> frozenset[str]:
    # A path next to the package, not importlib.resources: that imports tempfile, shutil and zipfile (~6 ms).
    text = (Path(__file__).parents[1] / "data" / "tf_known_ops.txt").read_text(encoding="utf-8")
    words = (line.split("#", 1)[0].split() for line in text.splitlines())
    return frozenset(word for line in words for word in line)


def analyze_savedmodel(blob: Blob, ctx: AnalysisContext) -> None:
    base = posixpath.basename(ctx.relpath).lower()
    kind = {"keras_metadata.pb": "keras_metadata", "fingerprint.pb": "fingerprint"}.get(base, "saved_model")
    report_tf_view(read_tf_protobuf(blob, ctx.limits, kind), ctx)


def analyze_protobuf(blob: Blob, ctx: AnalysisContext) -> None:
    view = read_tf_protobuf(blob, ctx.limits, "auto")
    ctx.set_format("tf-savedmodel" if view.kind == "saved_model" else "tf-graphdef")
    report_tf_view(view, ctx)


def report_tf_view(view: TfView, ctx: AnalysisContext) -> None:
    _OpReport(ctx, view).run()
    for filename, tensor in view.asset_files:
        problem = _path_problem(filename)
        if problem:
            ctx.add(TfAssetPathEscapes.finding(f"asset {filename!r} (bound to {tensor or '?'}) {problem}",
                                               ctx.location.at(pointer="asset_file_def"),
                                               details={"filename": filename, "tensor": tensor}))
    for pointer, text in view.keras_metadata:
        root = parse_json(text.encode("utf-8"), ctx.limits, f"Keras metadata {pointer}")
        report_keras_config(walk_config(root, ctx.limits, prefix=pointer), ctx, source="savedmodel")


def _path_problem(path: str) -> str | None:
    if "\x00" in path:
        return "contains a NUL byte"
    if _ESCAPING_PATH.match(path):
        return "is absolute or a URL"
    if ".." in path.replace("\\", "/").split("/"):
        return "climbs with '..'"
    return None


class _Group(MutableRecord):
    """Nodes of one op reported by one check: counted, with the first place and a few examples."""

    __slots__ = ("check", "count", "examples", "op", "pointer", "worst")
    check: type[Check]
    op: str
    pointer: str
    count: int
    examples: list[str]
    worst: Verdict

    def __init__(
        self,
        check: type[Check],
        op: str,
        pointer: str,
        count: int = 0,
        examples: list[str] | None = None,
        worst: Verdict = Verdict.SUSPICIOUS,
    ) -> None:
        self.check = check
        self.op = op
        self.pointer = pointer
        self.count = count
        self.examples = [] if examples is None else examples
        self.worst = worst


class _OpReport(MutableRecord):
    __slots__ = ("ctx", "groups", "view")
    ctx: AnalysisContext
    view: TfView
    groups: dict[tuple[str, str], _Group]

    def __init__(
        self,
        ctx: AnalysisContext,
        view: TfView,
        groups: dict[tuple[str, str], _Group] | None = None,
    ) -> None:
        self.ctx = ctx
        self.view = view
        self.groups = {} if groups is None else groups

    def run(self) -> None:
        consts = {(n.scope, n.name): n.const_strings for n in self.view.nodes if n.const_strings}
        # Tensors the loader feeds with a path of its own: asset files and the TF1 saver's filename.
        fed = [t for _, t in self.view.asset_files] + self.view.saver_filename_tensors
        assets = {t.split(":", 1)[0] for t in fed if t}
        known = known_ops()
        unknown: dict[str, str] = {}
        custom: dict[str, str] = {}
        for node in self.view.nodes:
            op = node.op
            if op in self.view.functions:
                continue  # a call of a library function, whose nodes are judged themselves
            if op in PYTHON_CALLBACK_OPS:
                self._add(TfPythonCallbackOp, node, ",".join(node.attr("token")), Verdict.UNSAFE)
            elif op in FILE_READ_OPS or op in FILE_WRITE_OPS:
                self._add(TfFileAccessOp, node, self._const_input(node, 0, consts), Verdict.UNSAFE)
            elif op in NETWORK_OPS:
                self._add(TfNetworkOp, node, self._const_input(node, 0, consts), Verdict.UNSAFE)
            elif op in RENDEZVOUS_OPS:
                self._add(TfNetworkOp, node, "", Verdict.SUSPICIOUS)
            elif op in PATH_INPUTS:
                self._constant_paths(node, consts, assets)
            elif op == "PrintV2":
                self._attr_urls(node, ("output_stream",))
            elif op in DEBUG_OPS:
                self._attr_urls(node, ("debug_urls", "dump_root", "debug_ops_spec"))
            elif op in ("DecodeProtoV2", "EncodeProto"):
                sources = [s for s in node.attr("descriptor_source") if s and s != "local://"]
                if sources:
                    self._add(TfFileAccessOp, node, sources[0], Verdict.UNSAFE)
            elif ">" in op:
                custom.setdefault(op, node.pointer)
            elif op not in known and not op.startswith("_"):
                unknown.setdefault(op, node.pointer)
        self._emit()
        for op, pointer in sorted(custom.items()):
            self.ctx.add(TfCustomOp.finding(f"op {op!r} comes from a custom-op library",
                                            self.ctx.location.at(pointer=pointer), details={"op": op}))
        if unknown:
            names = sorted(unknown)
            self.ctx.add(TfUnknownOp.finding(
                f"{len(names)} op(s) not in the known list: {', '.join(names[:20])}",
                self.ctx.location.at(pointer=unknown[names[0]]), details={"ops": names[:200]}))

    def _const_input(self, node: TfNode, index: int, consts: dict[tuple[str, str], tuple[str, ...]]) -> str:
        values = self._input_constant(node, index, consts)
        return values[0] if values else ""

    @staticmethod
    def _input_constant(
        node: TfNode, index: int, consts: dict[tuple[str, str], tuple[str, ...]]
    ) -> tuple[str, ...] | None:
        if index >= len(node.inputs) or node.inputs[index].startswith("^"):
            return None
        source = node.inputs[index].split(":", 1)[0]
        return consts.get((node.scope, source))

    def _constant_paths(self, node: TfNode, consts: dict[tuple[str, str], tuple[str, ...]],
                        assets: set[str]) -> None:
        for index in PATH_INPUTS[node.op]:
            values = self._input_constant(node, index, consts)
            if values is None or node.inputs[index].split(":", 1)[0] in assets:
                continue
            paths = [v for v in values if v]
            if not paths:
                continue
            escaping = [p for p in paths if _path_problem(p)]
            self._add(TfConstantFilePath, node, (escaping or paths)[0],
                      Verdict.UNSAFE if escaping else Verdict.SUSPICIOUS)

    def _attr_urls(self, node: TfNode, names: tuple[str, ...]) -> None:
        for name in names:
            for value in node.attr(name):
                lowered = value.lower()
                if "grpc://" in lowered:
                    self._add(TfNetworkOp, node, value, Verdict.UNSAFE)
                elif "file://" in lowered or (name == "dump_root" and value):
                    self._add(TfFileAccessOp, node, value, Verdict.UNSAFE)

    def _add(self, check: type[Check], node: TfNode, example: str, verdict: Verdict) -> None:
        group = self.groups.get((check.id, node.op))
        if group is None:
            group = self.groups[(check.id, node.op)] = _Group(check, node.op, node.pointer)
        group.count += 1
        if verdict.rank > group.worst.rank:
            group.worst = verdict
        if example and len(group.examples) < 5 and example not in group.examples:
            group.examples.append(example[:200])

    def _emit(self) -> None:
        for group in self.groups.values():
            suffix = f" ({', '.join(repr(e) for e in group.examples)})" if group.examples else ""
            unsafe = group.worst is Verdict.UNSAFE
            self.ctx.add(group.check.finding(
                f"{group.count} {group.op} node(s){suffix}",
                self.ctx.location.at(pointer=group.pointer),
                severity=None if unsafe else Severity.MEDIUM,
                verdict=group.worst,
                details={"op": group.op, "count": group.count, "examples": group.examples},
            ))


ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(formats=("tf-savedmodel",), analyze=analyze_savedmodel),
    AnalyzerSpec(formats=("protobuf",), analyze=analyze_protobuf),
)
