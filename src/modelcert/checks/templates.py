"""Chat templates (Jinja2): parsed with Jinja2's own parser, never rendered; the AST is audited for
the server-side template injection (SSTI) shapes behind CVE-2024-34359 and its vLLM / SGLang twins.

`check_template_source` is the entry point other analyzers call for embedded templates
(tokenizer_config.json `chat_template`, chat_template.json, GGUF `tokenizer.chat_template*`).
The check classes (MC180-MC188) live in `template_checks` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import re
import string as string_module
from collections.abc import Iterable
from typing import Any

from jinja2 import nodes

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.checks.core import LimitHit
from modelcert.checks.template_checks import (
    CodeExecutionCall,
    FormatStringAttribute,
    GadgetGlobal,
    ObfuscatedAttribute,
    PythonInternalsAccess,
    TemplateLoadsTemplates,
    TemplateResourceExhaustion,
    TemplateSyntax,
    UnresolvedAttribute,
)
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import Confidence, Location, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.jinja_template import (
    ConstantFolder,
    DictValue,
    Folded,
    Origin,
    TemplateSyntaxFailure,
    iter_nodes,
    parse_template,
)

__all__ = [
    "ANALYZERS",
    "ATTRIBUTE_FILTERS",
    "EXEC_GLOBALS",
    "EXEC_METHODS",
    "GADGET_GLOBALS",
    "MAX_FINDINGS",
    "MAX_RANGE",
    "PYTHON_INTERNALS",
    "CodeExecutionCall",
    "FormatStringAttribute",
    "GadgetGlobal",
    "ObfuscatedAttribute",
    "PythonInternalsAccess",
    "TemplateLoadsTemplates",
    "TemplateResourceExhaustion",
    "TemplateSyntax",
    "UnresolvedAttribute",
    "analyze_jinja",
    "check_template_source",
]

# -- vocabularies (each with the reason it is here) ---------------------------------------------

# Interpreter internals reachable without a leading underscore; none is data a template formats.
PYTHON_INTERNALS = frozenset(
    {
        "mro", "func_globals", "func_code", "func_closure", "func_defaults", "im_func", "im_self",
        "im_class", "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "gi_frame", "gi_code",
        "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "tb_frame", "tb_next",
        "co_code", "co_consts",
    }
)
# Methods that execute commands, import code or touch files once an escape reached their module.
EXEC_METHODS = frozenset(
    {
        "system", "popen", "popen2", "popen3", "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve",
        "spawnvp", "execl", "execle", "execlp", "execv", "execve", "execvp", "fork", "forkpty",
        "check_output", "check_call", "getoutput", "getstatusoutput", "Popen", "run_path",
        "run_module", "import_module", "load_module", "exec_module", "__import__", "eval", "exec",
        "execfile", "compile", "read_text", "write_text", "read_bytes", "write_bytes", "unlink",
        "rmtree", "putenv", "kill",
    }
)
# Global functions that execute code or reach arbitrary objects, if an environment exposes them.
EXEC_GLOBALS = frozenset(
    {
        "eval", "exec", "execfile", "compile", "__import__", "open", "getattr", "setattr", "delattr",
        "globals", "locals", "vars", "input", "breakpoint", "system", "popen", "import_module",
    }
)
# Roots of known SSTI chains (Jinja2 defaults, Flask globals, modules); never used by chat templates.
GADGET_GLOBALS = frozenset(
    {
        "lipsum", "self", "config", "request", "url_for", "get_flashed_messages", "g", "session",
        "os", "sys", "subprocess", "builtins", "importlib", "socket", "shutil", "pty", "posix",
        "application", "app", "current_app",
    }
) | EXEC_GLOBALS
# Filters whose arguments name attributes: filter -> (positional index of the attribute, keyword).
ATTRIBUTE_FILTERS: dict[str, int | None] = {
    "attr": 0,
    "map": None,  # map(attribute='x') or map('attr', 'x')
    "selectattr": 0,
    "rejectattr": 0,
    "groupby": 0,
    "sum": 0,
    "sort": 2,
    "unique": 1,
    "min": 1,
    "max": 1,
    "join": 1,
}
MAX_RANGE = 100_000  # jinja2.sandbox.MAX_RANGE
MAX_FINDINGS = 50  # per template; a payload repeats itself
_MANGLED = re.compile(r"_[A-Za-z]\w*__\w+")
_PATHLIKE = re.compile(r"(^|[\\/])\.\.([\\/]|$)|^[\\/]|^[A-Za-z]:|^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _danger(name: str) -> str | None:
    """Why an attribute name is dangerous ("dunder", "mangled", "internal", "private") or None."""
    if not name.strip("_"):
        return None  # only underscores: a fragment, not an attribute anything defines
    if name.startswith("__"):
        return "dunder"
    if _MANGLED.fullmatch(name):
        return "mangled"
    if name in PYTHON_INTERNALS:
        return "internal"
    if name.startswith("_"):
        return "private"
    return None


class _TemplateAudit:
    """Walks one parsed template and reports every SSTI shape found."""

    def __init__(self, tree: nodes.Template, ctx: AnalysisContext, location: Location) -> None:
        self.tree = tree
        self.ctx = ctx
        self.location = location
        self.folder = ConstantFolder(tree)
        self._seen: set[tuple[str, int, str]] = set()

    def run(self) -> None:
        for node in iter_nodes(self.tree):
            if len(self._seen) >= MAX_FINDINGS:
                return
            if isinstance(node, nodes.Getattr | nodes.NSRef):
                self._attribute(node.attr, node, computed=False)
            elif isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Slice):
                self._computed_key(node.arg, node, item=True)
            elif isinstance(node, nodes.Filter):
                self._filter(node)
            elif isinstance(node, nodes.Call):
                self._call(node)
            elif isinstance(node, nodes.Name) and node.ctx == "load":
                self._global(node)
            elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
                self._loads(node)
            elif isinstance(node, nodes.Pow | nodes.Mul):
                self._huge(node)

    # -- reporting -------------------------------------------------------------------------------

    def _report(
        self,
        check: type[Check],
        node: nodes.Node,
        key: str,
        message: str,
        *,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        verdict: Verdict | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        line = getattr(node, "lineno", None) or 0
        marker = (check.id, line, key)
        if marker in self._seen:
            return
        self._seen.add(marker)
        self.ctx.add(
            check.finding(
                message,
                self.location.at(line=line or None),
                severity=severity,
                confidence=confidence,
                verdict=verdict,
                details=details,
            )
        )

    # -- attribute sinks -------------------------------------------------------------------------

    def _attribute(self, name: str, node: nodes.Node, *, computed: bool, item: bool = False) -> None:
        reason = _danger(name)
        if reason is None:
            if computed and name in EXEC_METHODS:
                self._report(
                    ObfuscatedAttribute, node, name,
                    f"computed attribute name resolves to {name!r}, a code-execution method",
                    details={"name": name},
                )
            return
        if reason == "private":
            if item and not computed:
                return  # x['_key'] on a dict is an item lookup; only computed/attr access is odd
            self._report(
                PythonInternalsAccess, node, name, f"template reads private attribute {name!r}",
                severity=Severity.MEDIUM, verdict=Verdict.SUSPICIOUS, details={"name": name},
            )
            return
        check: type[Check] = ObfuscatedAttribute if computed else PythonInternalsAccess
        how = "computed attribute name resolves to" if computed else "template accesses"
        self._report(
            check, node, name, f"{how} {name!r} ({reason} attribute): a sandbox-escape primitive",
            details={"name": name, "kind": reason},
        )

    def _computed_key(self, expr: nodes.Node, sink: nodes.Node, *, item: bool, strict: bool = False) -> None:
        """Check every name an expression can produce; report what cannot be resolved."""
        folded = self.folder.fold(expr)
        computed = not isinstance(expr, nodes.Const)
        names = [part for name in folded.strings() for part in (name.split(".") if not item else (name,))]
        # One finding per sink: the most telling name (an exact dunder such as __class__ first).
        names.sort(key=_telling_first)
        for name in names[:1] if computed else names:
            self._attribute(name, sink, computed=computed, item=item)
        if folded.complete:
            return
        threshold = Origin.DATA if strict else Origin.OBJECT
        if folded.origin >= threshold:
            self._unresolved(expr, sink, folded)
        elif folded.origin == Origin.DATA_BUILT and self._assembles_underscores(expr):
            self._unresolved(expr, sink, folded)  # a dunder completed by runtime input: a planted backdoor

    def _unresolved(self, expr: nodes.Node, sink: nodes.Node, folded: Folded) -> None:
        assembles = self._assembles_underscores(expr)
        source = {
            Origin.PACKAGE: "package-supplied strings (special tokens)",
            Origin.DATA_BUILT: "runtime input joined with template constants",
        }.get(folded.origin, "parts it cannot follow")
        message = f"attribute/item name is computed from {source}"
        if assembles:
            self._report(
                UnresolvedAttribute, sink, "unresolved",
                message + ", and the parts assemble underscores: an obfuscated dunder",
                severity=Severity.CRITICAL, verdict=Verdict.UNSAFE,
            )
        else:
            self._report(UnresolvedAttribute, sink, "unresolved", message)

    def _assembles_underscores(self, expr: nodes.Node) -> bool:
        """Do the known pieces of an unresolved name spell underscores (a dunder being assembled)?"""
        if any("__" in hint or (hint and not hint.strip("_")) for hint in self.folder.fold(expr).hints):
            return True
        for node in iter_nodes(expr):
            if isinstance(node, nodes.Const) and isinstance(node.value, str):
                texts = [node.value]
            elif isinstance(node, nodes.Name):
                texts = self.folder.fold(node).strings()
            else:
                continue
            if any("__" in text or (text and text.strip("_") == "") for text in texts):
                return True
        return False

    def _filter(self, node: nodes.Filter) -> None:
        if node.name not in ATTRIBUTE_FILTERS:
            return
        position = ATTRIBUTE_FILTERS[node.name]
        if node.name == "map" and node.args:
            first = self.folder.fold(node.args[0])
            if "attr" in first.values and len(node.args) > 1:
                self._computed_key(node.args[1], node, item=False, strict=True)
            elif not first.complete and first.origin >= Origin.BUILT:
                self._unresolved(node.args[0], node, first)
        elif position is not None and len(node.args) > position:
            self._computed_key(node.args[position], node, item=False, strict=node.name == "attr")
        for keyword in node.kwargs:
            if keyword.key == "attribute":
                self._computed_key(keyword.value, node, item=False, strict=True)
        for dynamic in (node.dyn_args, node.dyn_kwargs):
            if dynamic is not None:
                self._dynamic_arguments(dynamic, node)

    def _dynamic_arguments(self, expr: nodes.Node, sink: nodes.Node) -> None:
        folded = self.folder.fold(expr)
        for value in folded.values:
            texts: Iterable[object] = value if isinstance(value, tuple) else ()
            if isinstance(value, DictValue):
                texts = [v for _, item in value.items for v in item.values]
            for text in texts:
                if isinstance(text, str):
                    for part in text.split("."):
                        self._attribute(part, sink, computed=True)
        if not folded.complete:
            self._unresolved(expr, sink, folded)

    # -- calls, globals, loads -------------------------------------------------------------------

    def _call(self, node: nodes.Call) -> None:
        callee = node.node
        names: list[str] = []
        if isinstance(callee, nodes.Name) and not self.folder.is_local(callee.name):
            if callee.name in EXEC_GLOBALS:
                names.append(callee.name)
            if callee.name == "range":
                self._range(node)
        elif isinstance(callee, nodes.Getattr):
            names.append(callee.attr)
            if callee.attr in {"format", "format_map"}:
                self._format_call(callee.node, node)
        elif isinstance(callee, nodes.Getitem) and not isinstance(callee.arg, nodes.Slice):
            names.extend(self.folder.fold(callee.arg).strings())
        elif isinstance(callee, nodes.Filter) and callee.name == "attr" and callee.args:
            names.extend(self.folder.fold(callee.args[0]).strings())
        for name in names:
            if name in EXEC_METHODS or (isinstance(callee, nodes.Name) and name in EXEC_GLOBALS):
                self._report(
                    CodeExecutionCall, node, name, f"template calls {name}(): a code-execution primitive",
                    details={"name": name},
                )

    def _format_call(self, receiver: nodes.Node, call: nodes.Call) -> None:
        folded = self.folder.fold(receiver)
        for text in folded.strings():
            for field in _format_fields(text):
                parts = re.split(r"[.\[\]]", field)[1:]
                for part in parts:
                    if part and _danger(part.strip("'\"")) not in (None, "private"):
                        self._report(
                            FormatStringAttribute, call, field,
                            f"format string field {{{field}}} walks to {part!r}", details={"field": field},
                        )
        if not folded.complete and folded.origin >= Origin.BUILT:
            self._report(
                FormatStringAttribute, call, "unresolved",
                "str.format called on a format string assembled from parts that cannot be resolved",
                severity=Severity.HIGH, verdict=Verdict.SUSPICIOUS, confidence=Confidence.MEDIUM,
            )

    def _global(self, node: nodes.Name) -> None:
        name = node.name
        if self.folder.is_local(name):
            return
        if name.startswith("__"):
            self._report(
                PythonInternalsAccess, node, name, f"template names the Python internal {name!r}",
                details={"name": name},
            )
        elif name in GADGET_GLOBALS:
            self._report(
                GadgetGlobal, node, name, f"template references {name!r}, a known SSTI gadget root",
                details={"name": name},
            )

    def _loads(self, node: nodes.Node) -> None:
        kind = type(node).__name__.lower()
        target = self.folder.fold(node.template)  # type: ignore[attr-defined]
        names = target.strings()
        escaping = [n for n in names if _PATHLIKE.search(n)]
        if escaping:
            self._report(
                TemplateLoadsTemplates, node, kind,
                f"{{% {kind} %}} of {escaping[0]!r}: a path outside any template folder",
                severity=Severity.HIGH, verdict=Verdict.UNSAFE, details={"names": names},
            )
        else:
            self._report(
                TemplateLoadsTemplates, node, kind, f"{{% {kind} %}} loads another template",
                details={"names": names},
            )

    def _range(self, node: nodes.Call) -> None:
        for arg in node.args:
            ints = [v for v in self.folder.fold(arg).values if isinstance(v, int) and not isinstance(v, bool)]
            if any(abs(v) > MAX_RANGE for v in ints):
                self._report(
                    TemplateResourceExhaustion, node, "range", f"range() of up to {max(map(abs, ints))} items"
                )

    def _huge(self, node: nodes.Pow | nodes.Mul) -> None:
        right = self.folder.fold(node.right).values
        left = self.folder.fold(node.left).values
        ints = [v for v in (*left, *right) if isinstance(v, int) and not isinstance(v, bool)]
        limit = 64 if isinstance(node, nodes.Pow) else 10_000_000
        if any(abs(v) > limit for v in ints):
            self._report(TemplateResourceExhaustion, node, "huge", "arithmetic that builds a huge value")


def _telling_first(name: str) -> tuple[bool, bool, int]:
    exact_dunder = name.startswith("__") and name.endswith("__")
    return (not exact_dunder, _danger(name) is None and name not in EXEC_METHODS, len(name))


def _format_fields(text: str) -> list[str]:
    try:
        parsed = list(string_module.Formatter().parse(text))
    except ValueError:
        return []
    return [name for _, name, _, _ in parsed if name and re.search(r"[.\[]", name)]


# -- entry points ---------------------------------------------------------------------------------


def check_template_source(source: str, ctx: AnalysisContext, location: Location, *, origin: str) -> None:
    """Parse one chat template (never render it) and record SSTI findings through ctx.add.

    `origin` says where the template came from (e.g. "tokenizer_config.json:chat_template",
    "gguf:tokenizer.chat_template"); it is noted with the template's digest for later checks.
    """
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    ctx.note("chat_template", {"sha256": digest, "origin": origin, "chars": len(source),
                               "location": location.display()})
    try:
        tree = parse_template(source, ctx.limits)
    except TemplateSyntaxFailure as exc:
        ctx.add(
            TemplateSyntax.finding(
                f"{exc}; transformers/vLLM would fail to load it too, and nothing in it was analysed",
                location.at(line=exc.line),
                details={"origin": origin},
            )
        )
        return
    except LimitExceeded as exc:
        ctx.add(LimitHit.finding(f"chat template not analysed: {exc}", location))
        return
    except FormatError as exc:
        ctx.add(TemplateSyntax.finding(f"{exc}; nothing in it was analysed", location))
        return
    try:
        _TemplateAudit(tree, ctx, location).run()
    except RecursionError:
        ctx.add(LimitHit.finding("chat template nests beyond the recursion limit", location))


def analyze_jinja(blob: Blob, ctx: AnalysisContext) -> None:
    """A standalone template file (*.jinja, *.j2)."""
    data = blob.read_all(ctx.limits.max_text_bytes)
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError("chat template is not UTF-8 text", exc.start) from None
    check_template_source(source, ctx, ctx.location, origin=ctx.relpath)


ANALYZERS: tuple[AnalyzerSpec, ...] = (AnalyzerSpec(formats=("jinja",), analyze=analyze_jinja),)
