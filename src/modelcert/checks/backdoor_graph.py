"""Backdoor evidence in computational graphs (MC560–MC569): taint from token ids to the outputs (ShadowLogic).

HiddenLayer's ShadowLogic adds a few nodes to an exported graph: compare `input_ids` with a trigger
id, reduce to a flag, and use it (`Where`, `If`, a multiply) to steer the logits. The weights are
untouched and the backdoor survives conversion and fine-tuning. In a clean language-model graph,
token ids have exactly two legitimate consumers: the embedding lookup (`Gather` with the ids as
indices) and shape/mask arithmetic (`Shape`, `Size`, and masks that end in the attention softmax).
Any other path from the ids to an output is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from modelcert.checks.backdoor_common import PackageInputs
from modelcert.checks.backdoor_tokenizer import package_tokenizers
from modelcert.checks.base import Check
from modelcert.errors import FormatError
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.tokenizer import TokenizerView
from modelcert.records import MutableRecord

if TYPE_CHECKING:  # the ONNX dataflow reader is imported only when the package has an .onnx file
    from modelcert.formats.onnx_dataflow import FlowGraph, FlowNode

ID_NAME = re.compile(r"(?i)(^|[_.])(input_ids|ids|tokens?|token_ids|input)$")
NOT_IDS = re.compile(r"(?i)mask|position|type|past|cache|pixel|attention|length|seq_len")
SHAPE_ONLY = frozenset({"Shape", "Size"})
LOOKUPS = frozenset({"Gather", "GatherElements", "GatherND"})
CLEARS = frozenset({"Softmax", "LogSoftmax"})  # attention masks end here: their effect is legitimate
COMPARISONS = frozenset(
    {
        "Equal",
        "Greater",
        "Less",
        "GreaterOrEqual",
        "LessOrEqual",
        "Not",
        "And",
        "Or",
        "Xor",
        "IsInf",
        "IsNaN",
        "BitwiseAnd",
        "BitwiseOr",
        "BitwiseXor",
        "BitShift",
        "ArgMax",
        "ArgMin",
        "TopK",
        "OneHot",
    }
)
CONTROL = frozenset({"If", "Loop", "Scan"})
MAX_PATH = 10


class Taint(MutableRecord):
    __slots__ = ("constants", "path", "selector")
    selector: bool  # passed through a comparison / Where condition / control flow
    path: list[str]
    constants: set[int]

    def __init__(
        self,
        selector: bool,
        path: list[str] | None = None,
        constants: set[int] | None = None,
    ) -> None:
        self.selector = selector
        self.path = [] if path is None else path
        self.constants = set() if constants is None else constants

    def merged(self, other: Taint) -> Taint:
        path = self.path if len(self.path) >= len(other.path) else other.path
        return Taint(self.selector or other.selector, list(path), self.constants | other.constants)


class TaintResult(MutableRecord):
    __slots__ = ("lookups", "reached", "sources")
    sources: list[str]
    reached: dict[str, Taint]  # graph output -> taint
    lookups: list[tuple[str, str]]  # (node pointer, table name)

    def __init__(self, sources: list[str], reached: dict[str, Taint], lookups: list[tuple[str, str]]) -> None:
        self.sources = sources
        self.reached = reached
        self.lookups = lookups


class TokenConditionedLogits(Check):
    """Token ids reach the model's outputs through comparisons, `Where`, `If` or `OneHot` (ShadowLogic).

    Taint analysis from the `input_ids` graph input: the embedding `Gather` and shape arithmetic are
    legitimate consumers, attention masks are cleared at the softmax. A comparison chain that still
    reaches an output lets the graph behave differently when a given token is present — the
    ShadowLogic backdoor (HiddenLayer 2024; arXiv 2511.00664). The compared constants (candidate
    trigger ids) and the operator path are reported.
    """

    id = "MC560"
    title = "Graph branches on token ids before the output"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = (
        "Re-export the graph from the base model's weights with the official exporter and diff the graphs."
    )
    tags = ("backdoor", "graph", "trigger")


class TokenValuesReachOutput(Check):
    """Token id values flow into an output other than through the embedding lookup.

    A token id used as a number (cast and added, multiplied, sliced into the logits) is not how any
    standard architecture uses it; it is a value-level side channel from the input to the output.
    """

    id = "MC561"
    title = "Token id values flow into the output"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Compare the graph with a reference export of the base model."
    tags = ("backdoor", "graph")


class ExtraTokenLookup(Check):
    """More than one table is indexed by the token ids.

    One embedding lookup is the norm. A second table indexed by the same ids (a per-token bias or
    flag) is a way to attach hidden behaviour to chosen tokens; quantized exports that gather a
    scale table next to the weights are a known benign case, hence low severity.
    """

    id = "MC562"
    title = "Several lookup tables indexed by token ids"
    severity = Severity.LOW
    confidence = Confidence.LOW
    verdict = Verdict.SUSPICIOUS
    remediation = "Check that every token-indexed table belongs to the embedding."
    tags = ("backdoor", "graph")


def id_inputs(graph: FlowGraph) -> list[str]:
    """Graph inputs that carry token ids: integer inputs named like ids (not masks or positions)."""
    from modelcert.formats.onnx_dataflow import INT32, INT64

    integer = [(n, t) for n, t in graph.inputs if n not in graph.initializers and t in (INT64, INT32, 0)]
    named = [n for n, _ in integer if ID_NAME.search(n) and not NOT_IDS.search(n)]
    return named or [n for n, t in integer if t in (INT64, INT32) and not NOT_IDS.search(n)][:1]


def taint_graph(graph: FlowGraph) -> TaintResult:
    sources = id_inputs(graph)
    taint: dict[str, Taint] = {s: Taint(selector=False, path=[s]) for s in sources}
    producers_const = {
        o: n.constant
        for n in graph.nodes
        if n.op_type == "Constant" and n.constant is not None
        for o in n.outputs
    }
    lookups: list[tuple[str, str]] = []
    for _ in range(4):  # graphs are topologically sorted; extra passes cover files that are not
        before = len(taint)
        lookups = []
        for node in graph.nodes:
            _step(node, graph, taint, producers_const, lookups)
        if len(taint) == before:
            break
    reached = {o: taint[o] for o in graph.outputs if o in taint}
    return TaintResult(sources, reached, lookups)


def _step(
    node: FlowNode,
    graph: FlowGraph,
    taint: dict[str, Taint],
    constants: Mapping[str, tuple[int, ...] | None],
    lookups: list[tuple[str, str]],
) -> None:
    captured = set().union(*(sub.outer_names() for sub in node.subgraphs)) if node.subgraphs else set()
    tainted = [taint[i] for i in (*node.inputs, *sorted(captured)) if i and i in taint]
    if not tainted or node.op_type in SHAPE_ONLY or node.op_type in CLEARS:
        return
    if node.op_type in LOOKUPS and len(node.inputs) >= 2:
        data, indices = node.inputs[0], node.inputs[1]
        if indices in taint and data not in taint:
            lookups.append((node.pointer, data))
            return
    combined = tainted[0]
    for other in tainted[1:]:
        combined = combined.merged(other)
    selector = combined.selector
    found = set(combined.constants)
    if node.op_type in COMPARISONS or node.op_type in CONTROL:
        selector = True
        for name in node.inputs:
            values = graph.constants.get(name) or constants.get(name)
            if values and name not in taint:
                found.update(values)
    elif node.op_type == "Where" and node.inputs and node.inputs[0] in taint:
        selector = True
    step = Taint(selector, [*combined.path, node.op_type][-MAX_PATH:], found)
    for output in node.outputs:
        if output:
            taint[output] = taint[output].merged(step) if output in taint else step


def check_graphs(inputs: PackageInputs) -> list[Finding]:
    findings: list[Finding] = []
    tokenizer: TokenizerView | None = None
    for relpath in inputs.view.relpaths():
        if not relpath.endswith(".onnx"):
            continue
        blob = inputs.view.open_file(relpath)
        if blob is None:
            continue
        from modelcert.formats.onnx_dataflow import read_dataflow

        try:
            graph = read_dataflow(blob, inputs.limits)
        except FormatError:
            continue  # the ONNX analyzer reports unreadable files
        finally:
            blob.close()
        if tokenizer is None:
            tokenizer = next((v for _l, v in package_tokenizers(inputs)), None)
        findings.extend(graph_findings(taint_graph(graph), Location(path=relpath), tokenizer))
    return findings


def graph_findings(
    result: TaintResult, location: Location, tokenizer: TokenizerView | None
) -> Iterator[Finding]:
    for output, taint in sorted(result.reached.items()):
        ids = sorted(taint.constants)[:20]
        shown = ", ".join(f"{i}={tokenizer.display(i)!r}" if tokenizer else str(i) for i in ids)
        path = " → ".join(taint.path)
        if taint.selector:
            yield TokenConditionedLogits.finding(
                f"output {output!r} depends on a comparison of token ids: {path}"
                + (f"; compared with ids {shown}" if ids else ""),
                location.at(pointer=output),
                details={"output": output, "path": taint.path, "trigger_ids": ids, "place": "graph"},
            )
        else:
            yield TokenValuesReachOutput.finding(
                f"output {output!r} receives token id values: {path}",
                location.at(pointer=output),
                details={"output": output, "path": taint.path, "place": "graph"},
            )
    tables = sorted({table for _p, table in result.lookups})
    if len(tables) > 1:
        yield ExtraTokenLookup.finding(
            f"{len(tables)} tables indexed by token ids: {', '.join(tables[:6])}",
            location,
            details={"tables": tables[:50], "place": "graph"},
        )


PACKAGE_CHECKS = (check_graphs,)
