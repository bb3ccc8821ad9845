"""TorchScript code members (`code/**/*.py` in a TorchScript archive) as an inert list of references.

`torch.jit.save` writes each scripted/traced function as Python-syntax TorchScript source that
`torch.jit.load` compiles again. The text is parsed with `ast` (never compiled or executed) and
reduced to what a check needs: every dotted name the code refers to (`torch.relu`,
`ops.myns.op`, `__torch__.torch.classes.x.Y`), calls by bare name, imports, dunder attributes,
and the names the code binds itself (so a local variable called `io` is not mistaken for the module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

if TYPE_CHECKING:  # imported when code is parsed (~1.5 ms): every zip scan loads this module
    import ast


class CodeRef(Record):
    """One reference in the code: `kind` is "name" (a dotted load), "call", "import" or "attr"."""

    __slots__ = ("dotted", "kind", "line")
    kind: Final[str]
    dotted: Final[str]
    line: Final[int]

    def __init__(self, kind: str, dotted: str, line: int) -> None:
        self.kind = kind
        self.dotted = dotted
        self.line = line


class TorchScriptCode(Record):
    __slots__ = ("bound_names", "node_count", "refs")
    refs: Final[tuple[CodeRef, ...]]
    bound_names: Final[frozenset[str]]  # assigned, parameters, loop targets, defined classes/functions
    node_count: Final[int]

    def __init__(self, refs: tuple[CodeRef, ...], bound_names: frozenset[str], node_count: int) -> None:
        self.refs = refs
        self.bound_names = bound_names
        self.node_count = node_count


def read_torchscript_code(blob: Blob, limits: Limits) -> TorchScriptCode:
    """Parse one code member; FormatError when it is not Python syntax (torch.jit.load would fail too)."""
    from modelcert.formats.pycode import parse_ast

    raw = blob.read_all(limits.max_text_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("TorchScript code is not UTF-8", exc.start) from exc
    try:
        tree = parse_ast(text, blob.name)
    except SyntaxError as exc:
        raise FormatError(f"TorchScript code is not Python syntax: {exc.msg} (line {exc.lineno})") from exc
    except (ValueError, MemoryError, RecursionError) as exc:
        raise FormatError(f"TorchScript code cannot be parsed: {type(exc).__name__}") from exc
    return _collect(tree, limits)


def _collect(tree: ast.AST, limits: Limits) -> TorchScriptCode:
    import ast

    refs: list[CodeRef] = []
    bound: set[str] = set()
    inner: set[int] = set()  # nodes inside an attribute chain: the whole chain is reported once
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > limits.max_count:
            raise LimitExceeded(f"TorchScript code has more than {limits.max_count} syntax nodes")
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import):
            refs.extend(CodeRef("import", alias.name, line) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            refs.extend(CodeRef("import", f"{module}.{alias.name}", line) for alias in node.names)
        elif isinstance(node, ast.Call):
            target = dotted_name(node.func)
            if target:
                refs.append(CodeRef("call", target, line))
            looked_up = _getattr_target(node)
            if looked_up:
                refs.append(CodeRef("name", looked_up, line))
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr.endswith("__"):
                refs.append(CodeRef("attr", node.attr, line))
            inner.add(id(node.value))
            target = dotted_name(node)
            if target and id(node) not in inner:
                refs.append(CodeRef("name", target, line))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in inner:
            refs.append(CodeRef("name", node.id, line))
    return TorchScriptCode(refs=tuple(refs), bound_names=frozenset(bound), node_count=count)


def _getattr_target(call: ast.Call) -> str | None:
    """`getattr(torch, "save")` names `torch.save` as surely as the attribute does."""
    import ast

    if not (isinstance(call.func, ast.Name) and call.func.id == "getattr" and len(call.args) >= 2):
        return None
    owner, attr = dotted_name(call.args[0]), call.args[1]
    if owner and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
        return f"{owner}.{attr.value}"
    return None


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name; None for anything else (calls, subscripts)."""
    import ast

    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
