"""References to dangerous callables used as values, and strings that name them.

A dangerous function does not have to be called where it is spelled: `{"go": os.execv}`,
`[os.system]`, `def run(c, f=os.system)`, `Thread(target=os.system)`, `return eval` hand it to
code that calls it later, where the call may be out of the model's reach. So any *reference* to a
callable the tables classify (process execution, exec/eval/compile, downloaded code, native loading,
unsafe deserialisation, import machinery) that is used as a value is reported under the same check
as the call, one severity step lower unless it is passed straight to another call.

Strings are references too when something resolves them to callables: a dotted or `module:attr`
name written to the environment (`PYTHONBREAKPOINT=os.system` makes every `breakpoint()` call
`os.system`; loaders and CLIs read `*_FACTORY`/`*_CLASS` variables the same way) or left as a bare
constant (logging `()` factories, Hydra `_target_`, `pydoc.locate` elsewhere).
"""

from __future__ import annotations

import ast
import re

from modelcert.checks.base import Check
from modelcert.checks.remote_code_checks import (
    DeserializationOfData,
    DownloadedCodeExecution,
    DynamicCodeExecution,
    DynamicImport,
    NativeCodeLoading,
    ProcessExecution,
    RuntimeTampering,
)
from modelcert.checks.remote_code_review import ReviewBase
from modelcert.checks.remote_code_tables import (
    DESERIALIZE,
    DYNAMIC_IMPORT,
    EXEC,
    LOAD_BY_PATH,
    NATIVE,
    PROCESS,
    REMOTE_CODE,
)
from modelcert.checks.remote_code_values import ENV_MAPPINGS, canonical, matches
from modelcert.findings import Confidence, Severity, Verdict

# What calling each kind of callable means, in the order a name is classified.
REFERENCE_TABLES: tuple[tuple[dict[str, str], type[Check]], ...] = (
    (EXEC, DynamicCodeExecution),
    (PROCESS, ProcessExecution),
    (REMOTE_CODE, DownloadedCodeExecution),
    (NATIVE, NativeCodeLoading),
    (DESERIALIZE, DeserializationOfData),
    (DYNAMIC_IMPORT, DynamicImport),
    (LOAD_BY_PATH, DynamicImport),
)
BREAKPOINT_ENV = "PYTHONBREAKPOINT"
_CALLABLE_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:[.:][A-Za-z_]\w*)$")
_NOT_CALLABLE_LEAF = re.compile(r"^[A-Z0-9_]+$|(Error|Exception|Warning|Expired|Exit)$")
_ENV_WRITERS = frozenset(
    {"os.putenv", "os.environ.setdefault", "os.environ.__setitem__", "os.environb.setdefault"}
)
_TYPE_CHECKS = frozenset({"builtins.isinstance", "builtins.issubclass"})
_DUNDER_DATA = re.compile(r"^__(?!call__|init__|new__)\w+__$")


def dangerous_callable(name: str) -> tuple[dict[str, str], type[Check], str] | None:
    """(table, check, entry) for a canonical dotted name that is a classified callable, else None."""
    if "()" in name:
        for table, check in REFERENCE_TABLES:
            if name in table:
                return table, check, name
        return None
    if "." not in name:
        return None  # a whole module is not something to call
    leaf = name.rsplit(".", 1)[-1]
    for table, check in REFERENCE_TABLES:
        entry = matches(name, table)
        if entry == name:
            return table, check, entry  # listed itself (ctypes.CDLL, os.system)
        if entry:
            # Under a listed module or callable: constants, exception classes and `__doc__` are not callables.
            if _NOT_CALLABLE_LEAF.search(leaf) or _DUNDER_DATA.match(leaf):
                return None
            return table, check, entry
    return None


def callable_named_by(text: str, *, bare_is_builtin: bool = False) -> str | None:
    """The canonical name a resolver would import for `text` ("os.system", "subprocess:Popen")."""
    if bare_is_builtin and text.isidentifier():
        return f"builtins.{text}"  # PYTHONBREAKPOINT=exec means builtins.exec
    if len(text) > 200 or not _CALLABLE_NAME.match(text):
        return None
    return canonical(text.replace(":", "."))


class ReferenceRules(ReviewBase):
    """Reports references to dangerous callables used as values, and strings naming them."""

    _hook_targets: set[str] | None = None
    _env_writes: list[tuple[ast.AST, str | None, ast.expr | None]] | None = None

    def _references(self) -> None:
        modules = self._imported_modules()
        parents = self._parent_map()
        skipped = self._non_value_nodes()
        for node in ast.walk(self.source.tree):
            if not isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
                continue
            if id(node) in skipped or not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
                continue
            parent = parents.get(id(node))
            if _is_callee_or_prefix(node, parent):
                continue
            names = self.model.resolve(node)
            for name in sorted(names):
                if name in modules:
                    continue
                found = dangerous_callable(name)
                if found is not None:
                    self._reference(node, parent, name, found)
                    break

    def _reference(
        self, node: ast.AST, parent: ast.AST | None, name: str, found: tuple[dict[str, str], type[Check], str]
    ) -> None:
        table, check, entry = found
        reason = table[entry]
        passed = isinstance(parent, ast.Call | ast.keyword)
        if passed:
            message = f"{name} is passed as a callable ({reason})"
        else:
            how = _how(node, parent)
            effect = "instances do the same" if how == "subclassed" else "whoever calls it runs it"
            message = f"reference to {name} {how} ({reason}): {effect}"
        severity = None if passed else Severity(max(Severity.INFO, check.severity - 1))
        self._add(check, node, name, message, severity=severity, details={"reference": True})

    def _imported_modules(self) -> frozenset[str]:
        """Names bound by `import x.y` statements: module objects, not callables."""
        found: set[str] = set()
        for node in ast.walk(self.source.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    found.update(canonical(".".join(parts[: i + 1])) for i in range(len(parts)))
        return frozenset(found)

    def _parent_map(self) -> dict[int, ast.AST]:
        if self._parents is None:
            self._parents = {id(c): p for p in ast.walk(self.source.tree) for c in ast.iter_child_nodes(p)}
        return self._parents

    def _non_value_nodes(self) -> set[int]:
        """Annotations, `except` types and isinstance() type arguments: types named, not called."""
        roots: list[ast.AST] = []
        for node in ast.walk(self.source.tree):
            if isinstance(node, ast.arg) and node.annotation is not None:
                roots.append(node.annotation)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
                roots.append(node.returns)
            elif isinstance(node, ast.AnnAssign):
                roots.append(node.annotation)
            elif isinstance(node, ast.ExceptHandler) and node.type is not None:
                roots.append(node.type)
            elif isinstance(node, ast.Call) and len(node.args) == 2 and self._type_check(node):
                roots.append(node.args[1])
            elif isinstance(node, ast.Compare):  # `type(f) is types.FunctionType`: compared, not kept
                roots.extend([node.left, *node.comparators])
            elif isinstance(node, ast.Dict):  # types as dispatch keys ({types.CodeType: save_code})
                roots.extend(k for k in node.keys if isinstance(k, ast.Attribute) and k.attr[:1].isupper())
        return {id(n) for root in roots for n in ast.walk(root)}

    def _type_check(self, call: ast.Call) -> bool:
        return bool(self.model.resolve(call.func) & _TYPE_CHECKS)

    # ---- strings naming callables -------------------------------------------------------------

    def _environment_names(self) -> None:
        for node, key, value in self.env_writes():
            text = self.model.const_str(value) if value is not None else None
            if key == BREAKPOINT_ENV:
                self._breakpoint_env(node, text)
                continue
            name = callable_named_by(text) if text else None
            found = dangerous_callable(name) if name else None
            if found is not None and name is not None:
                table, check, entry = found
                self._add(
                    check,
                    node,
                    name,
                    f"sets {key or 'an environment variable'} to {text!r}, the name of {name} "
                    f"({table[entry]}): whatever resolves the variable calls it",
                    details={"variable": key, "value": text},
                )

    def _breakpoint_env(self, node: ast.AST, text: str | None) -> None:
        if text in {"0", ""}:
            return  # disables breakpoint(): the documented, harmless use
        name = callable_named_by(text, bare_is_builtin=True) if text else None
        found = dangerous_callable(name) if name else None
        if found is not None and name is not None:
            table, check, entry = found
            self._add(
                check,
                node,
                name,
                f"sets {BREAKPOINT_ENV} to {text!r}: every breakpoint() call now runs {name} "
                f"({table[entry]})",
                details={"variable": BREAKPOINT_ENV, "value": text},
            )
            return
        self._add(
            RuntimeTampering,
            node,
            BREAKPOINT_ENV,
            f"sets {BREAKPOINT_ENV} to {text or '<computed>'!s}: "
            "breakpoint() imports and calls whatever it names",
            details={"variable": BREAKPOINT_ENV, "value": text},
        )

    def _named_strings(self) -> None:
        """Constants that spell a dangerous callable in full ("os.system", "subprocess:Popen")."""
        written = {id(value) for _node, _key, value in self.env_writes() if value is not None}
        for node in ast.walk(self.source.tree):
            if id(node) in written:
                continue  # reported with the environment variable it is written to
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if len(node.value) > 200:
                continue
            if ":" not in node.value and "." not in node.value:
                continue
            name = callable_named_by(node.value)
            found = dangerous_callable(name) if name else None
            if found is None or name is None or self._is_docstring_node(node):
                continue
            table, check, entry = found
            self._add(
                check,
                node,
                name,
                f"string {node.value!r} names {name} ({table[entry]}); anything that resolves names "
                "(pkgutil.resolve_name, pydoc.locate, logging factories, config _target_) would call it",
                severity=Severity.MEDIUM,
                verdict=Verdict.SUSPICIOUS,
                confidence=Confidence.LOW,
                details={"string": node.value},
            )

    def _is_docstring_node(self, node: ast.Constant) -> bool:
        parent = self._parent_map().get(id(node))
        if not isinstance(parent, ast.Expr):
            return False
        holder = self._parent_map().get(id(parent))
        body = getattr(holder, "body", None)
        return isinstance(body, list) and bool(body) and body[0] is parent

    # ---- environment writes and the breakpoint hook -------------------------------------------

    def env_writes(self) -> list[tuple[ast.AST, str | None, ast.expr | None]]:
        """(node, variable, value) of every environment write the model can see."""
        if self._env_writes is not None:
            return self._env_writes
        writes: list[tuple[ast.AST, str | None, ast.expr | None]] = []
        self._env_writes = writes
        model = self.model
        for node in ast.walk(self.source.tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript) and model.resolve(target.value) & ENV_MAPPINGS:
                        writes.append((node, model.const_str(target.slice), node.value))
                    elif isinstance(node, ast.AugAssign) and model.resolve(target) & ENV_MAPPINGS:
                        writes.extend(self._mapping_writes(node, node.value, []))
            elif isinstance(node, ast.Call):
                names = model.resolve(node.func)
                if names & _ENV_WRITERS and len(node.args) >= 2:
                    writes.append((node, model.const_str(node.args[0]), node.args[1]))
                elif names & {"os.environ.update", "os.environb.update"}:
                    mapping = node.args[0] if node.args else None
                    writes.extend(self._mapping_writes(node, mapping, node.keywords))
        return writes

    def _mapping_writes(
        self, node: ast.AST, mapping: ast.expr | None, keywords: list[ast.keyword]
    ) -> list[tuple[ast.AST, str | None, ast.expr | None]]:
        out: list[tuple[ast.AST, str | None, ast.expr | None]] = []
        if isinstance(mapping, ast.Dict):
            for key, value in zip(mapping.keys, mapping.values, strict=True):
                if key is not None:
                    out.append((node, self.model.const_str(key), value))
        elif mapping is not None:
            out.extend((node, None, value) for value in self.model.containers.elements(mapping))
        out.extend((node, k.arg, k.value) for k in keywords if k.arg)
        return out

    def breakpoint_targets(self) -> set[str]:
        """What `breakpoint()` calls: names written to PYTHONBREAKPOINT, values of sys.breakpointhook."""
        if self._hook_targets is not None:
            return self._hook_targets
        targets: set[str] = set()
        for _node, key, value in self.env_writes():
            text = self.model.const_str(value) if key == BREAKPOINT_ENV and value is not None else None
            name = callable_named_by(text, bare_is_builtin=True) if text else None
            if name:
                targets.add(name)
        for spelled, values in self.model.module_scope.values.items():
            head, _, attr = spelled.rpartition(".")
            if attr == "breakpointhook" and head and _spelled_sys(self, head):
                for value in values:
                    targets |= self.model.resolve(value)
        self._hook_targets = targets
        return targets


def _spelled_sys(review: ReviewBase, head: str) -> bool:
    """Does a module-level dotted spelling (`sys`, `_s`) stand for the sys module?"""
    first, _, rest = head.partition(".")
    bases = review.model.resolve_name(first, review.model.module_scope) or {first}
    return any(canonical(f"{base}.{rest}" if rest else base) == "sys" for base in bases)


def _is_callee_or_prefix(node: ast.AST, parent: ast.AST | None) -> bool:
    """The node is called, or is the object of a longer attribute/subscript chain."""
    if isinstance(parent, ast.Call) and parent.func is node:
        return True
    return isinstance(parent, ast.Attribute | ast.Subscript) and parent.value is node


def _how(node: ast.AST, parent: ast.AST | None) -> str:
    if isinstance(parent, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.Starred):
        return "stored in a container"
    if isinstance(parent, ast.Assign) and any(isinstance(t, ast.Subscript) for t in parent.targets):
        return "stored in a container"
    if isinstance(parent, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
        return "assigned"
    if isinstance(parent, ast.arguments):
        return "used as a parameter default"
    if isinstance(parent, ast.Return | ast.Yield | ast.YieldFrom) or (
        isinstance(parent, ast.Lambda) and parent.body is node
    ):
        return "returned"
    if isinstance(parent, ast.Subscript):
        return "used as a key"
    if isinstance(parent, ast.ClassDef):
        return "subclassed"
    return "used as a value"
