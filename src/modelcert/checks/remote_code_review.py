"""Shared machinery of the Python review: what was found, where it runs, how it is reported.

`ReviewBase` collects hits, hands decoded payloads back to the scanner, and turns hits into findings
with the package context: one step more severe when config wiring makes the file run on
`from_pretrained`, tagged `import-time` when the code runs as soon as the module is imported.
"""

from __future__ import annotations

import ast
from typing import Any, Final

from modelcert.checks.base import AnalysisContext, Check
from modelcert.checks.remote_code_checks import ImportTimeCode
from modelcert.checks.remote_code_flow import ModuleModel
from modelcert.checks.remote_code_values import LOCAL
from modelcert.findings import Confidence, Finding, Severity, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.pycode import PythonSource, parse_ast
from modelcert.records import MutableRecord, Record

MAX_FINDINGS = 300
MAX_PAYLOADS = 16  # decoded payloads handed back to the scanner per file


class Wiring(Record):
    """Why a file runs when the package is loaded (empty: it is only shipped)."""

    __slots__ = ("reasons",)
    reasons: Final[tuple[str, ...]]

    def __init__(self, reasons: tuple[str, ...] = ()) -> None:
        self.reasons = reasons

    def __bool__(self) -> bool:
        return bool(self.reasons)


class Hit(MutableRecord):
    """One thing the review found, before package context turns it into a Finding."""

    __slots__ = ("check", "confidence", "details", "message", "node", "severity", "target", "verdict")
    check: type[Check]
    node: ast.AST
    target: str
    message: str
    severity: Severity | None
    verdict: Verdict | None
    confidence: Confidence | None
    details: dict[str, Any]

    def __init__(
        self,
        check: type[Check],
        node: ast.AST,
        target: str,
        message: str,
        severity: Severity | None = None,
        verdict: Verdict | None = None,
        confidence: Confidence | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.check = check
        self.node = node
        self.target = target
        self.message = message
        self.severity = severity
        self.verdict = verdict
        self.confidence = confidence
        self.details = {} if details is None else details


class ReviewBase:
    """State of one file's review and the reporting side of it."""

    def __init__(self, source: PythonSource, ctx: AnalysisContext, wiring: Wiring) -> None:
        self.source = source
        self.ctx = ctx
        self.wiring = wiring
        self.model = ModuleModel(source.tree, ctx.limits.max_text_bytes)
        self.region, self.followed = import_time_region(self.model)
        self.hits: list[Hit] = []
        self.payloads = 0
        self.classified: set[int] = set()
        self._parents: dict[int, ast.AST] | None = None

    def _arg_labels(self, call: ast.Call) -> frozenset[str]:
        out: set[str] = set()
        for arg in (*call.args, *(k.value for k in call.keywords)):
            out |= self.model.labels(arg)
        return frozenset(out)

    def _scan_payload(self, node: ast.AST, payload: str | bytes, format_hint: str | None) -> None:
        if self.payloads >= MAX_PAYLOADS:
            return
        self.payloads += 1
        data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
        line = getattr(node, "lineno", 0)
        hint = format_hint
        if hint in {"python", None}:
            hint = "python" if _looks_like_python(data) else None
        name = f"payload@line{line}" + (".py" if hint == "python" else "")
        self.ctx.scan_member(name, BytesBlob(data, name), format_hint=hint)

    def _add(
        self,
        check: type[Check],
        node: ast.AST,
        target: str,
        message: str,
        *,
        severity: Severity | None = None,
        verdict: Verdict | None = None,
        confidence: Confidence | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.hits.append(
            Hit(check, node, target, message, severity, verdict, confidence, dict(details or {}))
        )

    def _emit(self) -> None:
        seen: set[tuple[str, int]] = set()
        emitted = 0
        for hit in sorted(self.hits, key=lambda h: -(h.check.severity if h.severity is None else h.severity)):
            line = getattr(hit.node, "lineno", None)
            key = (hit.check.id, line or 0)
            if key in seen:
                continue
            seen.add(key)
            if emitted >= MAX_FINDINGS:
                self.ctx.note("python_findings_truncated", {"file": self.ctx.relpath, "limit": MAX_FINDINGS})
                break
            emitted += 1
            self.ctx.add(self._finding(hit, line))

    def _finding(self, hit: Hit, line: int | None) -> Finding:
        verdict = hit.verdict or hit.check.verdict
        severity = hit.severity if hit.severity is not None else hit.check.severity
        tags: tuple[str, ...] = ()
        message = hit.message
        at_import = id(hit.node) in self.region and hit.check is not ImportTimeCode
        if at_import:
            tags += ("import-time",)
            message += " — runs when the module is imported"
        if self.wiring and verdict is not Verdict.CLEAN:
            severity = Severity(min(Severity.CRITICAL, severity + 1))
            tags += ("wired",)
            message += f" — file is loaded by {self.wiring.reasons[0]}"
        details = {**hit.details, "target": hit.target}
        if self.wiring:
            details["wired_by"] = list(self.wiring.reasons[:5])
        location = self.ctx.location.at(line=line) if line else self.ctx.location
        return hit.check.finding(
            message,
            location,
            severity=severity,
            verdict=verdict,
            confidence=hit.confidence,
            details=details,
            tags=tags,
        )


def preview(value: Any, limit: int = 160) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _looks_like_python(data: bytes) -> bool:
    """Decoded bytes that parse as Python with at least one statement beyond a bare constant."""
    try:
        tree = parse_ast(data.decode("utf-8"))
    except (SyntaxError, ValueError, UnicodeError, RecursionError, MemoryError):
        return False
    return any(not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in tree.body)


def import_time_region(model: ModuleModel) -> tuple[set[int], set[int]]:
    """Node ids executed when the module is imported, and those reached only through local calls.

    Module and class bodies run; function bodies run only when something at import time calls the
    function (directly, as a decorator, or by instantiating a local class); `if __name__ ==
    "__main__":` blocks do not run on import.
    """
    region: set[int] = set()
    followed: set[int] = set()
    done: set[int] = set()
    pending: list[tuple[list[ast.AST], bool]] = [(list(model.tree.body), False)]
    while pending:
        roots, via_call = pending.pop()
        new_calls: list[ast.Call] = []
        stack = list(roots)
        while stack:
            node = stack.pop()
            region.add(id(node))
            if via_call:
                followed.add(id(node))
            if isinstance(node, ast.Call):
                new_calls.append(node)
            stack.extend(_executed_children(node))
        for call in new_calls:
            for name in model.resolve(call.func):
                for fn in _local_bodies(model, name):
                    if id(fn) not in done:
                        done.add(id(fn))
                        pending.append((list(fn.body), True))
        for node in list(roots):
            for deco in getattr(node, "decorator_list", []):
                for name in model.resolve(deco):
                    for fn in _local_bodies(model, name):
                        if id(fn) not in done:
                            done.add(id(fn))
                            pending.append((list(fn.body), True))
    return region, followed


def _executed_children(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        return [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if isinstance(node, ast.Lambda):
        return [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    if isinstance(node, ast.If) and _is_main_guard(node.test):
        return [node.test, *node.orelse]
    return list(ast.iter_child_nodes(node))


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _local_bodies(model: ModuleModel, name: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    if not name.startswith(LOCAL + ".") or "()" in name:
        return []
    short = name[len(LOCAL) + 1 :]
    bodies: list[ast.FunctionDef | ast.AsyncFunctionDef] = list(model.functions.get(short, []))
    for cls in model.classes.get(short, []):
        bodies += [
            s
            for s in cls.body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
            and s.name in {"__init__", "__new__", "__post_init__", "__init_subclass__", "__set_name__"}
        ]
    return bodies
