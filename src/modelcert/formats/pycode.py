"""Bounded parse of shipped Python source into an `ast` tree. Never imports, compiles to bytecode or runs it.

Model repositories ship `.py` files that `from_pretrained(trust_remote_code=True)` imports; the
checks read them as syntax trees. The parse honours PEP 263 coding cookies exactly as the
interpreter would (by handing the raw bytes to `ast.parse`), so a file cannot look like one program
to the scanner and another to Python.
"""

from __future__ import annotations

import ast
import re
import threading
import warnings
from typing import Any, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

# transformers.dynamic_module_utils.get_relative_imports: the files it copies next to a module.
_RELATIVE_IMPORT = re.compile(r"^\s*import\s+\.(\S+)\s*$", re.MULTILINE)
_RELATIVE_FROM = re.compile(r"^\s*from\s+\.(\S+)\s+import", re.MULTILINE)
# `from . import a, b` is not copied by transformers, but Python resolves it when the file is there.
_RELATIVE_FROM_PACKAGE = re.compile(r"^[ \t]*from[ \t]+\.[ \t]+import[ \t]+\(?([\w \t,]+)", re.MULTILINE)


class PythonSource(Record):
    """One parsed Python file: its syntax tree and a few facts about the text."""

    __slots__ = ("line_count", "name", "size", "tree")
    name: Final[str]
    size: Final[int]
    tree: Final[ast.Module]
    line_count: Final[int]

    def __init__(self, name: str, size: int, tree: ast.Module, line_count: int) -> None:
        self.name = name
        self.size = size
        self.tree = tree
        self.line_count = line_count

    @property
    def module_level(self) -> list[ast.stmt]:
        return self.tree.body


_AST_LOCK = threading.Lock()


def parse_ast(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, one call at a time in the process, warnings about the parsed code silenced.

    CPython 3.11's AST converter keeps its recursion depth in interpreter-wide state: two threads
    parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (the
    scanner analyses files on a thread pool). `warnings.catch_warnings` is not thread-safe either;
    the same lock covers it. Raises what ast.parse raises.
    """
    tree = _parse_locked(source, filename, "exec")
    assert isinstance(tree, ast.Module)
    return tree


def parse_literal(text: str) -> Any:
    """`ast.literal_eval` of untrusted text, parsed under the same lock as `parse_ast`."""
    return ast.literal_eval(_parse_locked(text.lstrip(" \t"), "<literal>", "eval"))


def _parse_locked(source: str | bytes, filename: str, mode: str) -> ast.AST:
    with _AST_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences etc. in scanned code are not ours
        return ast.parse(source, filename=filename, mode=mode, type_comments=False)


def parse_python(blob: Blob, limits: Limits) -> PythonSource:
    """Parse a Python file within `limits.max_text_bytes`; syntax errors become FormatError."""
    data = blob.read_all(limits.max_text_bytes)
    return parse_python_bytes(data, blob.name)


def parse_python_bytes(data: bytes, name: str) -> PythonSource:
    """Parse Python source bytes; raises FormatError (bad syntax/encoding) or LimitExceeded (too complex)."""
    try:
        tree = parse_ast(data, name)
    except SyntaxError as exc:
        line = exc.lineno or 0
        raise FormatError(f"Python syntax error at line {line}: {exc.msg}", None) from None
    except (ValueError, UnicodeError) as exc:  # null bytes, undecodable source, unknown coding cookie
        raise FormatError(f"not parseable as Python source: {str(exc)[:120]}", None) from None
    except (RecursionError, MemoryError):
        raise LimitExceeded("Python source nests too deeply to parse") from None
    return PythonSource(name=name, size=len(data), tree=tree, line_count=data.count(b"\n") + 1)


def relative_imports(text: str) -> list[str]:
    """Sibling module names a file imports relatively (`from .x import y` → "x"), transformers-style."""
    found: set[str] = set(_RELATIVE_IMPORT.findall(text)) | set(_RELATIVE_FROM.findall(text))
    for group in _RELATIVE_FROM_PACKAGE.findall(text):
        found.update(part.split(" as ")[0].strip() for part in group.split(",") if part.strip())
    return sorted(name for name in found if name and not name.startswith("."))
