"""Where values come from (data-origin labels) and which paths they name (symbolic path evaluation).

Labels: "decoded" (base64, zlib, marshal, chr chains, XOR), "network", "environ" (the whole
environment), "secret" (a secret-named variable or a credential file), "file". Paths keep their
literal parts, spell the home directory "~" and interpreter library directories "<site-packages>",
and put "*" where a part is unknown, so `Path.home() / ".ssh" / name` still reads as `~/.ssh/*`.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from modelcert.checks.remote_code_tables import PATH_CONSTRUCTORS, SECRET_ENV
from modelcert.checks.remote_code_values import (
    BINARY_CODECS,
    DECODERS,
    ENV_GETTERS,
    ENV_MAPPINGS,
    LOCAL,
    credential_path,
    is_network,
)

if TYPE_CHECKING:
    from modelcert.checks.remote_code_flow import ModuleModel

_HOME_VARS = frozenset({"HOME", "USERPROFILE"})
_SITE_FUNCS = frozenset(
    {
        "site.getsitepackages",
        "site.getusersitepackages",
        "sysconfig.get_path",
        "sysconfig.get_paths",
        "distutils.sysconfig.get_python_lib",
        "site.USER_SITE",
        "site.USER_BASE",
        "sys.prefix",
        "sys.exec_prefix",
        "sys.base_prefix",
        "sysconfig.get_paths()",
    }
)
_TEMP_FUNCS = frozenset({"tempfile.gettempdir", "tempfile.mkdtemp", "tempfile.mktemp", "tempfile.mkstemp"})
_JOINERS = frozenset(
    {
        "os.path.join",
        "posixpath.join",
        "os.path.abspath",
        "os.path.normpath",
        "os.path.realpath",
        "os.fspath",
        "builtins.str",
        *PATH_CONSTRUCTORS,
    }
)


# ---- labels -------------------------------------------------------------------------------------


def call_labels(model: ModuleModel, call: ast.Call) -> set[str]:
    names = model.resolve(call.func)
    if names & ENV_GETTERS:
        key = model.const_str(call.args[0]) if call.args else None
        if key is None:
            return {"environ"}
        return {"secret"} if SECRET_ENV.search(key) else set()
    out: set[str] = set()
    for name in names:
        if name in DECODERS:
            out.add("decoded")
        if is_network(name):
            out.add("network")
        if name == "builtins.open" or _is_path_method(name, ("read_text", "read_bytes", "open")):
            target = call.args[0] if name == "builtins.open" and call.args else _path_receiver(call)
            out.add("secret" if target is not None and credential_path(path_of(model, target)) else "file")
        if name.startswith(LOCAL + ".") and "()" not in name:
            for fn in model.functions.get(name[len(LOCAL) + 1 :], []):
                for value in model.returns.get(id(fn), []):
                    out |= model.labels(value)
    if isinstance(call.func, ast.Attribute):
        attr = call.func.attr
        codec = model.const_str(call.args[0]) if call.args and attr in {"decode", "encode"} else None
        if codec and codec.lower().replace("-", "_") in BINARY_CODECS:
            out.add("decoded")
        if attr == "translate":
            out.add("decoded")
        out |= model.labels(call.func.value)
    for arg in call.args:
        out |= model.labels(arg)
    for keyword in call.keywords:
        out |= model.labels(keyword.value)
    return out


def name_labels(model: ModuleModel, expr: ast.Name) -> set[str]:
    if model.resolve(expr) & ENV_MAPPINGS:
        return {"environ"}
    owner = model.lookup(expr.id, model.scope_of(expr))
    if owner is None:
        return set()
    out: set[str] = set()
    for value in (*owner.values.get(expr.id, ()), *owner.elements.get(expr.id, ())):
        out |= model.labels(value)
    if expr.id in owner.params:
        out |= param_labels(model, owner.node, expr.id)
    return out


def param_labels(model: ModuleModel, fn: ast.AST, param: str) -> set[str]:
    """Labels of what the module's own call sites pass for a parameter (one level, by name)."""
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return set()
    positional = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    out: set[str] = set()
    for call in model.calls_named(fn.name):
        shift = 1 if isinstance(call.func, ast.Attribute) and positional[:1] in (["self"], ["cls"]) else 0
        for keyword in call.keywords:
            if keyword.arg == param:
                out |= model.labels(keyword.value)
        if param in positional:
            index = positional.index(param) - shift
            if 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
                out |= model.labels(call.args[index])
    return out


# ---- paths --------------------------------------------------------------------------------------


def path_of(model: ModuleModel, expr: ast.AST, depth: int = 0) -> str | None:
    """A symbolic path: literal parts kept, "~" for home, "<site-packages>", "*" for unknown parts."""
    value = _path(model, expr, depth)
    return None if value in {None, "*"} else value


def _path(model: ModuleModel, expr: ast.AST, depth: int) -> str | None:
    if depth > 12:
        return "*"
    text = model.const_str(expr)
    if text is not None:
        return text
    if isinstance(expr, ast.Name):
        owner = model.lookup(expr.id, model.scope_of(expr))
        values = owner.values.get(expr.id, []) if owner is not None else []
        return _path(model, values[0], depth + 1) if len(values) == 1 else "*"
    if isinstance(expr, ast.JoinedStr):
        return "".join(
            _path(model, p.value, depth + 1) or "*"
            if isinstance(p, ast.FormattedValue)
            else str(getattr(p, "value", "*"))
            for p in expr.values
        )
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Div):
        left = _path(model, expr.left, depth + 1) or "*"
        right = _path(model, expr.right, depth + 1) or "*"
        return _join(left, right) if isinstance(expr.op, ast.Div) else left + right
    if isinstance(expr, ast.Subscript):
        if model.resolve(expr.value) & ENV_MAPPINGS and model.const_str(expr.slice) in _HOME_VARS:
            return "~"
        return _path(model, expr.value, depth + 1)
    names = model.resolve(expr)
    if names & _SITE_FUNCS or any(n.split("()")[0] in _SITE_FUNCS for n in names):
        return "<site-packages>"
    if isinstance(expr, ast.Call):
        return _path_call(model, expr, names, depth)
    return "*"


def _path_call(model: ModuleModel, call: ast.Call, names: frozenset[str], depth: int) -> str:
    bases = {n.removesuffix("()") for n in names}
    if bases & ENV_GETTERS:
        return "~" if call.args and model.const_str(call.args[0]) in _HOME_VARS else "*"
    if bases & _TEMP_FUNCS:
        return "/tmp"  # noqa: S108 - a label for "the temp dir", not a path we use
    if "pathlib.Path.home" in bases or ("os.path.expanduser" in bases and not call.args):
        return "~"
    if bases & {"os.path.expanduser", "os.path.expandvars"} and call.args:
        inner = _path(model, call.args[0], depth + 1) or "*"
        return re.sub(r"^\$\{?HOME\}?", "~", inner)
    if bases & _JOINERS:
        parts = [_path(model, a, depth + 1) or "*" for a in call.args]
        path = parts[0] if parts else "."
        for part in parts[1:]:
            path = _join(path, part)
        return path
    if isinstance(call.func, ast.Attribute):
        attr = call.func.attr
        if attr in {"expanduser", "resolve", "absolute", "as_posix", "__str__", "__fspath__"}:
            return _path(model, call.func.value, depth + 1) or "*"
        if attr == "joinpath":
            path = _path(model, call.func.value, depth + 1) or "*"
            for arg in call.args:
                path = _join(path, _path(model, arg, depth + 1) or "*")
            return path
    return "*"


def _join(left: str, right: str) -> str:
    if right.startswith(("/", "~")):
        return right
    return f"{left.rstrip('/')}/{right}"


def _is_path_method(name: str, methods: tuple[str, ...]) -> bool:
    head, _, method = name.rpartition(".")
    return method in methods and any(head.startswith(c) for c in PATH_CONSTRUCTORS) and "()" in head


def _path_receiver(call: ast.Call) -> ast.expr | None:
    return call.func.value if isinstance(call.func, ast.Attribute) else None
