"""Static reading of a chat template for conditional injection: content taint, gated emissions, fragments.

Works on the Jinja2 AST from `formats.jinja_template.parse_template` (never rendered here) and uses its
`ConstantFolder` to learn which strings an expression can produce. Three questions:

1. Which expressions carry message *content* (`message.content`, `message['content']`, variables set
   from them, items of a content list)? `raw` content vs `derived` values (split, lower, slices...).
2. Which conditions test content *values* (`'x' in content`, `content.startswith(...)`, a comparison,
   the truthiness of a derived value)? Shape tests on raw content (`is string`, `is none`, bare
   truthiness) are not value tests: every real template uses them.
3. What literal text does a branch guarded by such a condition emit (directly, through variables it
   sets, or through macros it calls)? Markup (role markers, `<think>`, tool tags) is not natural
   language; instructions and URLs are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from jinja2 import nodes

from modelcert.formats.jinja_template import ConstantFolder, Folded, iter_nodes
from modelcert.records import MutableRecord, Record

RAW, DERIVED = 1, 2
SHAPE_TESTS = frozenset(
    {
        "string",
        "defined",
        "undefined",
        "none",
        "mapping",
        "iterable",
        "sequence",
        "number",
        "integer",
        "float",
        "boolean",
        "true",
        "false",
        "callable",
    }
)
STRUCTURAL_KEYS = frozenset({"type", "role", "name", "id", "tool_call_id", "tool_calls"})
TRANSPARENT_FILTERS = frozenset({"trim", "string", "e", "escape", "safe", "default", "d"})
TRIMMING_METHODS = frozenset({"strip", "lstrip", "rstrip"})
TIME_SOURCES = frozenset({"strftime_now", "now", "date_string", "current_date", "today"})
ROLE_WORDS = frozenset(
    {
        "system",
        "user",
        "assistant",
        "tool",
        "tools",
        "ipython",
        "model",
        "human",
        "bot",
        "function",
        "developer",
        "response",
        "instruction",
        "instructions",
        "input",
        "output",
        "question",
        "answer",
        "gpt",
        "ai",
        "context",
        "end",
        "start",
        "turn",
        "of",
        "the",
        "role",
        "header",
        "id",
        "eot",
        "im",
        "sep",
        "inst",
        "sys",
        "think",
        "reasoning",
        "channel",
        "message",
        "final",
        "analysis",
        "call",
        "calls",
        "result",
        "results",
        "observation",
    }
)
_MARKUP = re.compile(
    r"<[|｜][^<>\n]{0,64}[|｜]>|</?[A-Za-z_][\w:\-]{0,40}>|<<\s*/?SYS\s*>>|\[/?[A-Z_]{2,32}\]|\{\{.*?\}\}",
)
_URL = re.compile(
    r"(?i)\b(?:https?://|ftp://|www\.)[^\s'\"<>]+|\b[a-z0-9-]{2,}\.(?:com|net|org|io|ru|cn|xyz|top|"
    r"info|biz|co|me|ly|sh|app|dev|site|online|link|click)(?:/[^\s'\"<>]*)?\b"
)
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_MARKER = re.compile(
    r"<\|[^|<>]{1,40}\|>|<[|｜][^<>]{1,40}[|｜]>|\[/?(?:INST|SYS|SYSTEM_PROMPT|TOOL_CALLS|"
    r"AVAILABLE_TOOLS|TOOL_RESULTS)\]|<</?SYS>>|<(?:start|end)_of_turn>"
)


class LiteralText(Record):
    """A literal string the template can emit, with the line it comes from."""

    __slots__ = ("line", "text")
    text: Final[str]
    line: Final[int]

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line


class GatedBranch(MutableRecord):
    """A branch whose condition tests content values (or the clock), and what it emits."""

    __slots__ = ("condition", "emitted", "gate", "line", "trigger_constants")
    line: int
    condition: str
    trigger_constants: list[str]
    emitted: list[LiteralText]
    gate: str  # "content" or "time"

    def __init__(
        self,
        line: int,
        condition: str,
        trigger_constants: list[str],
        emitted: list[LiteralText],
        gate: str,
    ) -> None:
        self.line = line
        self.condition = condition
        self.trigger_constants = trigger_constants
        self.emitted = emitted
        self.gate = gate


class TemplateFacts(MutableRecord):
    __slots__ = ("assembled", "constants", "emitted", "gated")
    gated: list[GatedBranch]
    emitted: list[LiteralText]  # every literal the template can emit
    assembled: list[tuple[str, int]]  # (marker or URL, line)
    constants: list[str]  # candidate trigger words for rendering

    def __init__(
        self,
        gated: list[GatedBranch] | None = None,
        emitted: list[LiteralText] | None = None,
        assembled: list[tuple[str, int]] | None = None,
        constants: list[str] | None = None,
    ) -> None:
        self.gated = [] if gated is None else gated
        self.emitted = [] if emitted is None else emitted
        self.assembled = [] if assembled is None else assembled
        self.constants = [] if constants is None else constants


def is_natural_language(text: str) -> bool:
    """Instructions, not markup: at least three words that are not role names once markers are removed."""
    stripped = _MARKUP.sub(" ", text)
    words = [w for w in _WORD.findall(stripped) if w.lower() not in ROLE_WORDS]
    return len(words) >= 3 or _cjk_count(stripped, 6) >= 6


def _cjk_count(text: str, enough: int) -> int:
    """Kana, CJK ideographs and Hangul in `text`, counted up to `enough`. Comparisons, not a regex
    character class: compiling these ranges costs ~2 ms, on every package scan's start-up path."""
    if text.isascii():
        return 0
    count = 0
    for ch in text:
        if "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af":
            count += 1
            if count >= enough:
                break
    return count


def urls_in(text: str) -> list[str]:
    return [m.group(0) for m in _URL.finditer(text)]


def markers_in(text: str) -> set[str]:
    return {m.group(0) for m in _MARKER.finditer(text)}


class TemplateReader:
    """Computes TemplateFacts for one parsed template."""

    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.folder = ConstantFolder(tree)
        self.macros = {n.name: n for n in iter_nodes(tree) if isinstance(n, nodes.Macro)}
        self._expanding: set[str] = set()  # macros being expanded now: recursive macros stop here
        self.emitted_names = self._emitted_names()
        self.taint: dict[str, int] = {}
        self._solve_taint()

    # -- taint ---------------------------------------------------------------------------------

    def _solve_taint(self) -> None:
        sites = [n for n in iter_nodes(self.tree) if isinstance(n, nodes.Assign | nodes.For | nodes.With)]
        for _ in range(8):
            before = dict(self.taint)
            for site in sites:
                if isinstance(site, nodes.Assign):
                    self._bind(site.target, self.level(site.node))
                elif isinstance(site, nodes.For):
                    self._bind(site.target, self.level(site.iter))
                else:
                    for target, value in zip(site.targets, site.values, strict=False):
                        self._bind(target, self.level(value))
            if self.taint == before:
                break

    def _bind(self, target: nodes.Node, level: int) -> None:
        if not level:
            return
        for name in _target_names(target):
            self.taint[name] = max(self.taint.get(name, 0), level)

    def level(self, expr: nodes.Node | None) -> int:
        """0 (no content), RAW (content itself) or DERIVED (computed from content)."""
        if expr is None:
            return 0
        if isinstance(expr, nodes.Name):
            return self.taint.get(expr.name, 0)
        if isinstance(expr, nodes.NSRef):
            return self.taint.get(f"{expr.name}.{expr.attr}", 0)
        if isinstance(expr, nodes.Getattr | nodes.Getitem):
            key = expr.attr if isinstance(expr, nodes.Getattr) else _const_key(expr.arg)
            if key == "content":
                return RAW
            inner = self.level(expr.node)
            if inner == RAW and isinstance(expr, nodes.Getattr) and key in STRUCTURAL_KEYS:
                return 0
            if inner == RAW and isinstance(expr, nodes.Getitem):
                if key in STRUCTURAL_KEYS:
                    return 0
                return DERIVED if isinstance(expr.arg, nodes.Slice) else RAW
            if isinstance(expr, nodes.Getattr) and namespace_key(expr) in self.taint:
                return self.taint[namespace_key(expr)]
            return inner
        if isinstance(expr, nodes.Call):
            node = expr.node
            if isinstance(node, nodes.Getattr) and node.attr in TRIMMING_METHODS:
                return self.level(node.node)  # whitespace trimming keeps raw content raw
            if (
                isinstance(node, nodes.Getattr)
                and node.attr == "get"
                and expr.args
                and _const_key(expr.args[0]) == "content"
            ):
                return RAW
            parts = [self.level(a) for a in (*expr.args, *(k.value for k in expr.kwargs))]
            if isinstance(node, nodes.Getattr):
                parts.append(self.level(node.node))
            return DERIVED if any(parts) else 0
        if isinstance(expr, nodes.Filter):
            inner = self.level(expr.node)
            if expr.name == "map" and any(
                k.key == "attribute" and _const_key(k.value) == "content" for k in expr.kwargs
            ):
                return DERIVED
            if inner == RAW and expr.name in TRANSPARENT_FILTERS:
                return RAW
            args = [self.level(a) for a in expr.args]
            return DERIVED if inner or any(args) else 0
        if isinstance(expr, nodes.CondExpr):
            return max(self.level(expr.expr1), self.level(expr.expr2))
        children = [c for c in expr.iter_child_nodes() if isinstance(c, nodes.Expr)]
        return DERIVED if any(self.level(c) for c in children) else 0

    # -- conditions ------------------------------------------------------------------------------

    def gate(self, test: nodes.Node) -> tuple[str | None, list[str]]:
        """("content" | "time" | None, constants compared) for a condition expression."""
        kinds: set[str] = set()
        constants: list[str] = []
        for node in _walk_condition(test):
            if isinstance(node, nodes.Compare):
                operands = [node.expr, *(op.expr for op in node.ops)]
                if any(self.level(o) for o in operands):
                    kinds.add("content")
                    constants.extend(s for o in operands if not self.level(o) for s in self._strings(o))
                if any(_reads_time(o) for o in operands):
                    kinds.add("time")
            elif isinstance(node, nodes.Test):
                lvl = self.level(node.node)
                if lvl == DERIVED or (lvl == RAW and node.name not in SHAPE_TESTS):
                    kinds.add("content")
                    constants.extend(s for a in node.args for s in self._strings(a))
            elif (
                isinstance(node, nodes.Call)
                and isinstance(node.node, nodes.Getattr)
                and self.level(node.node.node)
            ):
                kinds.add("content")
                constants.extend(s for a in node.args for s in self._strings(a))
            elif (
                isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem | nodes.Filter | nodes.NSRef)
                and self.level(node) == DERIVED
            ):
                kinds.add("content")
            if isinstance(node, nodes.Call) and _reads_time(node):
                kinds.add("time")
        kind = "content" if "content" in kinds else "time" if "time" in kinds else None
        return kind, sorted({c for c in constants if c.strip()})

    def _strings(self, expr: nodes.Node) -> list[str]:
        folded = self.folder.fold(expr)
        out = list(folded.strings())
        for value in folded.values:
            if isinstance(value, tuple):
                out.extend(v for v in value if isinstance(v, str))
        return out

    # -- emissions -------------------------------------------------------------------------------

    def literals(self, expr: nodes.Node) -> Iterator[LiteralText]:
        """Literal strings an output expression can produce (maximal foldable parts)."""
        if isinstance(expr, nodes.Call) and isinstance(expr.node, nodes.Name):
            if expr.node.name == "raise_exception":
                return  # aborts rendering: never reaches the model
            macro = self.macros.get(expr.node.name)
            if macro is not None:
                if macro.name in self._expanding:
                    return  # a recursive macro (type-mapping helpers in tool templates) adds nothing new
                self._expanding.add(macro.name)
                try:
                    yield from self.body_literals(macro.body, set())
                finally:
                    self._expanding.discard(macro.name)
                return
        if isinstance(expr, nodes.Test | nodes.Compare | nodes.Not | nodes.And | nodes.Or):
            return  # conditions produce booleans, not text
        folded: Folded = self.folder.fold(expr)
        if folded.complete and folded.values:
            for value in folded.strings():
                if value.strip():
                    yield LiteralText(value, expr.lineno)
            return
        for child in _emitting_children(expr):
            yield from self.literals(child)

    def body_literals(self, body: Sequence[nodes.Node], seen_macros: set[str]) -> Iterator[LiteralText]:
        """Everything a block emits, including literals it stores in variables that are emitted later."""
        for stmt in body:
            for node in iter_nodes(stmt):
                if isinstance(node, nodes.Macro):
                    continue
                if isinstance(node, nodes.Output):
                    for child in node.nodes:
                        if isinstance(child, nodes.TemplateData):
                            if child.data.strip():
                                yield LiteralText(child.data, child.lineno)
                        else:
                            yield from self._literals_once(child, seen_macros)
                elif isinstance(node, nodes.Assign | nodes.AssignBlock) and (
                    set(_target_names(node.target)) & self.emitted_names
                ):
                    if isinstance(node, nodes.Assign):
                        yield from self.literals(node.node)
                    else:
                        yield from self.body_literals(node.body, seen_macros)

    def _literals_once(self, expr: nodes.Node, seen_macros: set[str]) -> Iterator[LiteralText]:
        if (
            isinstance(expr, nodes.Call)
            and isinstance(expr.node, nodes.Name)
            and expr.node.name in self.macros
        ):
            if expr.node.name in seen_macros:
                return
            seen_macros.add(expr.node.name)
            yield from self.body_literals(self.macros[expr.node.name].body, seen_macros)
            return
        yield from self.literals(expr)

    def _emitted_names(self) -> set[str]:
        names: set[str] = set()
        for node in iter_nodes(self.tree):
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    for sub in iter_nodes(child):
                        if isinstance(sub, nodes.Name):
                            names.add(sub.name)
                        elif isinstance(sub, nodes.NSRef | nodes.Getattr) and namespace_key(sub):
                            names.add(namespace_key(sub))
        # Variables that flow into emitted variables count too (one level is what templates use).
        for node in iter_nodes(self.tree):
            if isinstance(node, nodes.Assign) and set(_target_names(node.target)) & names:
                names |= {n.name for n in iter_nodes(node.node) if isinstance(n, nodes.Name)}
        return names

    # -- the facts -----------------------------------------------------------------------------

    def facts(self) -> TemplateFacts:
        facts = TemplateFacts()
        for node in iter_nodes(self.tree):
            if isinstance(node, nodes.If):
                kind, constants = self.gate(node.test)
                if kind:
                    bodies = [node.body, *(e.body for e in node.elif_), node.else_]
                    emitted = [lit for body in bodies for lit in self.body_literals(body, set())]
                    facts.gated.append(
                        GatedBranch(node.lineno, _source_hint(node.test), constants, emitted, kind)
                    )
            elif isinstance(node, nodes.CondExpr) and node.test is not None:
                kind, constants = self.gate(node.test)
                if kind:
                    emitted = [*self.literals(node.expr1), *(self.literals(node.expr2) if node.expr2 else [])]
                    facts.gated.append(
                        GatedBranch(node.lineno, _source_hint(node.test), constants, emitted, kind)
                    )
            elif isinstance(node, nodes.For) and node.test is not None:
                kind, constants = self.gate(node.test)
                if kind:
                    emitted = list(self.body_literals(node.body, set()))
                    facts.gated.append(
                        GatedBranch(node.lineno, _source_hint(node.test), constants, emitted, kind)
                    )
            elif isinstance(node, nodes.Concat | nodes.Add | nodes.Filter | nodes.Call | nodes.Mod):
                facts.assembled.extend(self._assembled(node))
        facts.emitted = list(self.body_literals(self.tree.body, set()))
        facts.constants = self._candidate_words(facts)
        return facts

    def _assembled(self, expr: nodes.Node) -> Iterator[tuple[str, int]]:
        folded = self.folder.fold(expr)
        if not folded.complete or not folded.strings():
            return
        pieces: list[str] = []
        for child in _operands(expr):
            pieces.extend(self._strings(child))
        if not pieces:
            return
        for result in folded.strings():
            for found in markers_in(result) | set(urls_in(result)):
                if not any(found in piece for piece in pieces):
                    yield found, expr.lineno

    def _candidate_words(self, facts: TemplateFacts) -> list[str]:
        gate_words = [c for g in facts.gated for c in g.trigger_constants]
        others = [
            n.value
            for n in iter_nodes(self.tree)
            if isinstance(n, nodes.Const)
            and isinstance(n.value, str)
            and 2 <= len(n.value.strip()) <= 40
            and any(ch.isalpha() for ch in n.value)
        ]
        ordered: list[str] = []
        for raw in [*gate_words, *others]:
            word = raw.strip()
            if word and word not in ordered:
                ordered.append(word)
        return ordered[:96]


# Which arguments of a string method / filter end up in its result (the rest only steer it).
_EMITTING_ARGS = {
    "replace": slice(1, 2),
    "format": slice(0, None),
    "join": slice(0, 1),
    "default": slice(0, 1),
    "d": slice(0, 1),
}


def _emitting_children(expr: nodes.Node) -> list[nodes.Node]:
    """The sub-expressions whose text can appear in an expression's output."""
    if isinstance(expr, nodes.Concat | nodes.Add):
        return _operands(expr)
    if isinstance(expr, nodes.CondExpr):
        return [e for e in (expr.expr1, expr.expr2) if e is not None]
    if isinstance(expr, nodes.Filter):
        chosen = expr.args[_EMITTING_ARGS[expr.name]] if expr.name in _EMITTING_ARGS else []
        return [e for e in (expr.node, *chosen) if e is not None]
    if isinstance(expr, nodes.Call) and isinstance(expr.node, nodes.Getattr):
        method = expr.node.attr
        chosen = expr.args[_EMITTING_ARGS[method]] if method in _EMITTING_ARGS else []
        kwargs = [k.value for k in expr.kwargs] if method == "format" else []
        return [expr.node.node, *chosen, *kwargs]
    if isinstance(expr, nodes.Getitem | nodes.Getattr):
        return [expr.node]
    if isinstance(expr, nodes.List | nodes.Tuple):
        return list(expr.items)
    if isinstance(expr, nodes.Dict):
        return [pair.value for pair in expr.items]
    if isinstance(expr, nodes.Mod):
        return [expr.left, expr.right]
    if isinstance(expr, nodes.MarkSafe | nodes.MarkSafeIfAutoescape):
        return [expr.expr]
    return []


def namespace_key(expr: nodes.Node) -> str:
    if isinstance(expr, nodes.NSRef):
        return f"{expr.name}.{expr.attr}"
    if isinstance(expr, nodes.Getattr) and isinstance(expr.node, nodes.Name):
        return f"{expr.node.name}.{expr.attr}"
    return ""


def _target_names(target: nodes.Node) -> list[str]:
    if isinstance(target, nodes.Name):
        return [target.name]
    if isinstance(target, nodes.NSRef):
        return [f"{target.name}.{target.attr}"]
    if isinstance(target, nodes.Tuple):
        return [n for item in target.items for n in _target_names(item)]
    return []


def _const_key(expr: nodes.Node) -> str | None:
    if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
        return expr.value
    return None


def _walk_condition(test: nodes.Node) -> Iterator[nodes.Node]:
    """The condition's nodes, not descending into a CondExpr's branches (they are values, not tests)."""
    stack = [test]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, nodes.Compare | nodes.Test):
            continue  # operands were judged as a whole
        stack.extend(c for c in node.iter_child_nodes() if isinstance(c, nodes.Expr))


def _reads_time(expr: nodes.Node) -> bool:
    return any(isinstance(n, nodes.Name) and n.name in TIME_SOURCES for n in iter_nodes(expr))


def _operands(expr: nodes.Node) -> list[nodes.Node]:
    """Direct inputs of a composite string expression (flattening ~ and + chains)."""
    if isinstance(expr, nodes.Concat):
        return [
            o for n in expr.nodes for o in (_operands(n) if isinstance(n, nodes.Concat | nodes.Add) else [n])
        ]
    if isinstance(expr, nodes.Add):
        return [
            o
            for n in (expr.left, expr.right)
            for o in (_operands(n) if isinstance(n, nodes.Concat | nodes.Add) else [n])
        ]
    if isinstance(expr, nodes.Call) and isinstance(expr.node, nodes.Getattr):
        return [expr.node.node, *expr.args]
    return [c for c in expr.iter_child_nodes() if isinstance(c, nodes.Expr)]


def _source_hint(test: nodes.Node) -> str:
    names = []
    for node in iter_nodes(test):
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            names.append(repr(node.value))
        elif isinstance(node, nodes.Name):
            names.append(node.name)
        elif isinstance(node, nodes.Getattr):
            names.append(f".{node.attr}")
        elif isinstance(node, nodes.Compare):
            names.extend(op.op for op in node.ops)
    return " ".join(names)[:160]
