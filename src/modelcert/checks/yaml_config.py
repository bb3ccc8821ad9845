"""YAML configs (`*.yaml`, `*.yml`, MLflow `MLmodel`): Python object tags that unsafe loaders execute.

Model packages ship YAML next to the weights: Lightning `hparams.yaml`, NeMo `model_config.yaml`,
Hydra / MMEngine / Ultralytics configs, MLflow `MLmodel`. PyYAML's `yaml.load(Loader=Loader |
UnsafeLoader)`, `yaml.unsafe_load` and `full_load` before PyYAML 5.4 (CVE-2020-1747, CVE-2020-14343)
turn `!!python/object/apply:os.system [...]` into a call while the file is read. The document is
*composed* with PyYAML's safe composer, which builds nodes and never constructs objects, so nothing
in the file runs here; tags are read from the nodes after `%TAG` shorthands are expanded.
"""

from __future__ import annotations

from typing import Any

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.errors import LimitExceeded
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import Blob

PYTHON_TAG = "tag:yaml.org,2002:python/"
MAX_FINDINGS = 20  # per file; the rest are counted, not listed
# Tags that make an unsafe loader import a name or call something; the rest of python/* (tuple,
# complex, bytes, long …) build plain data.
CODE_TAGS = {
    "object/apply:": "calls",
    "object/new:": "instantiates (cls.__new__ then state)",
    "object:": "instantiates",
    "name:": "imports",
    "module:": "imports",
}


class YamlPythonObjectTag(Check):
    """A YAML file carries a Python object tag: an unsafe YAML loader runs code while reading it.

    `!!python/object/apply:os.system ["…"]`, `!!python/object/new:subprocess.Popen`,
    `!!python/object:…`, `!!python/name:…` and `!!python/module:…` make `yaml.load` with
    `Loader`/`UnsafeLoader`, `yaml.unsafe_load`, and `full_load` of PyYAML < 5.4 (CVE-2020-1747,
    CVE-2020-14343) import a module and call or build what the tag names, while the config is read:
    Lightning `hparams.yaml`, NeMo `model_config.yaml` and other training configs in model packages
    are loaded that way by some code paths. Configs have no reason to carry code; `%TAG` shorthands
    are expanded before matching, so `%TAG !p! tag:yaml.org,2002:python/` does not hide one.
    """

    id = "MC425"
    title = "YAML config carries a Python object tag"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-502"
    remediation = "Remove the tag: write the value as plain YAML data; load configs with yaml.safe_load."
    tags = ("code-execution", "yaml", "config")


class YamlNotParsed(Check):
    """Informational: the YAML file does not parse, so it was read as text only.

    PyYAML composes a whole document before it constructs any object, so a document that does not
    compose runs nothing when loaded; the file is reported so that a reviewer knows it was not read.
    """

    id = "MC426"
    title = "YAML file does not parse"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = "None needed for safety; fix the syntax if the file is meant to be loaded."
    tags = ("yaml", "config")


def analyze_yaml(blob: Blob, ctx: AnalysisContext) -> None:
    import yaml  # type: ignore[import-untyped]

    data = blob.read_all(ctx.limits.max_text_bytes)
    budget = [ctx.limits.max_count]
    reported = 0
    try:
        for document in yaml.compose_all(data, Loader=yaml.SafeLoader):
            for node, tag in _tagged_nodes(document, budget):
                if reported < MAX_FINDINGS:
                    _report(ctx, node, tag)
                reported += 1
    except yaml.YAMLError as exc:
        ctx.add(YamlNotParsed.finding(f"not parseable as YAML: {str(exc)[:160]}", ctx.location))



def _tagged_nodes(root: Any, budget: list[int]) -> list[tuple[Any, str]]:
    """Every node with a code-running Python tag; anchors may share or cycle nodes, each is seen once."""
    import yaml

    found: list[tuple[Any, str]] = []
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        budget[0] -= 1
        if budget[0] < 0:
            raise LimitExceeded("YAML document has more nodes than the count limit")
        tag = node.tag or ""
        if tag.startswith(PYTHON_TAG) and tag[len(PYTHON_TAG) :].startswith(tuple(CODE_TAGS)):
            found.append((node, tag[len(PYTHON_TAG) :]))
        if isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                todo.extend((key, value))
    return found


def _report(ctx: AnalysisContext, node: Any, tag: str) -> None:
    kind, _, target = tag.partition(":")
    verb = CODE_TAGS[f"{kind}:"]
    line = node.start_mark.line + 1 if node.start_mark is not None else None
    severity = Severity.CRITICAL if kind in {"object/apply", "object/new"} else Severity.HIGH
    ctx.add(
        YamlPythonObjectTag.finding(
            f"!!python/{kind}:{target[:120]} — an unsafe YAML loader {verb} {target[:120] or 'it'}",
            ctx.location.at(line=line),
            severity=severity,
            details={"tag": f"python/{tag}"[:300], "target": target[:300], "line": line},
        )
    )


ANALYZERS: tuple[AnalyzerSpec, ...] = (AnalyzerSpec(formats=("yaml",), analyze=analyze_yaml),)
