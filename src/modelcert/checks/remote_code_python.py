"""Review of one shipped Python file: every call, reference and assignment classified by what it does.

The module model (remote_code_flow) resolves names and data origins; this module decides what each
resolved call means (tables in remote_code_tables), where it runs (at import time or later), and
how severe it is for this package (a file wired by `auto_map` runs on `from_pretrained`).
Decoded payloads (`exec(base64.b64decode("..."))`, long encoded literals) are handed back to the
scanner as members, so what they hide is analysed like any other file.
"""

from __future__ import annotations

import ast
from typing import Any

from modelcert.checks.remote_code_checks import (
    DeserializationOfData,
    DownloadedCodeExecution,
    DynamicCodeExecution,
    DynamicImport,
    ImportTimeCode,
    NativeCodeLoading,
    NetworkAccess,
    ObfuscatedCodeExecution,
    ProcessExecution,
    RuntimeTampering,
)
from modelcert.checks.remote_code_effects import LITERAL_MIN, EffectRules, mode_kind
from modelcert.checks.remote_code_origins import path_of
from modelcert.checks.remote_code_refs import ReferenceRules
from modelcert.checks.remote_code_review import Wiring, preview
from modelcert.checks.remote_code_tables import (
    DESERIALIZE,
    DESERIALIZE_CONDITIONAL,
    DYNAMIC_IMPORT,
    EXEC,
    FILE_OPS,
    IMPORT_TIME_HARMLESS,
    LOAD_BY_PATH,
    MONKEYPATCH_MODULES,
    MONKEYPATCH_NAMES,
    NATIVE,
    NETWORK,
    PATH_CONSTRUCTORS,
    PATH_METHODS,
    PROCESS,
    REFLECTION_SENSITIVE,
    REGISTRATION_SUFFIXES,
    REMOTE_CODE,
    TAMPER_CALLS,
    YAML_SAFE_LOADERS,
)
from modelcert.checks.remote_code_values import LOCAL, dotted, is_network, matches
from modelcert.findings import Severity

_HOOK_CALLERS = frozenset({"builtins.breakpoint", "sys.breakpointhook"})


class PythonReview(EffectRules, ReferenceRules):
    """Classifies one parsed file and reports into its context."""

    def run(self) -> None:
        basename = self.ctx.relpath.rsplit("/", 1)[-1]
        if basename in {"sitecustomize.py", "usercustomize.py"}:
            self._add(
                RuntimeTampering,
                self.source.tree,
                basename,
                f"{basename} is run by every Python start-up that finds it on sys.path",
            )
        for call in self.model.calls:
            self._call(call)
        self._references()
        self._environment_names()
        self._named_strings()
        for node in ast.walk(self.source.tree):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
                self._assignment(node)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str | bytes)
                and len(node.value) >= LITERAL_MIN
            ):
                self._literal(node)
        self._exfiltration_without_flow()
        self._import_time_summary()
        self._emit()

    # ---- calls --------------------------------------------------------------------------------

    def _call(self, call: ast.Call) -> None:
        names = sorted(self._call_targets(call))
        hooked = self.breakpoint_targets() if _HOOK_CALLERS & set(names) else set()
        for name in sorted(hooked) + names:
            if self._classify(call, name):
                self.classified.add(id(call))
                if name in hooked and self.hits:
                    self.hits[-1].message += " (breakpoint() calls it: PYTHONBREAKPOINT / sys.breakpointhook)"
                return

    def _call_targets(self, call: ast.Call) -> set[str]:
        names = set(self.model.resolve(call.func))
        func = call.func
        if isinstance(func, ast.Call) and call.args and func.args:  # methodcaller("system", c)(os)
            method = self.model.const_str(func.args[0])
            if method and "operator.methodcaller" in self.model.resolve(func.func):
                names |= {f"{base}.{method}" for base in self.model.resolve(call.args[0])}
        return names

    def _classify(self, call: ast.Call, name: str) -> bool:
        """Record what calling `name` means; True when the call was classified."""
        if "()" in name:
            return self._result_method(call, name)
        if matches(name, EXEC):
            self._exec(call, name)
        elif matches(name, REMOTE_CODE):
            self._add(
                DownloadedCodeExecution,
                call,
                name,
                f"{name}: {REMOTE_CODE[matches(name, REMOTE_CODE) or name]}",
            )
        elif matches(name, PROCESS):
            self._process(call, name)
        elif matches(name, NATIVE):
            self._add(NativeCodeLoading, call, name, f"{name}: {NATIVE[matches(name, NATIVE) or name]}")
        elif matches(name, DESERIALIZE) or name in DESERIALIZE_CONDITIONAL:
            self._deserialize(call, name)
        elif matches(name, DYNAMIC_IMPORT) or matches(name, LOAD_BY_PATH):
            self._dynamic_import(call, name)
        elif name in {"builtins.getattr", "builtins.setattr", "builtins.delattr"}:
            self._reflection(call, name)
        elif matches(name, TAMPER_CALLS):
            self._add(
                RuntimeTampering, call, name, f"{name}: {TAMPER_CALLS[matches(name, TAMPER_CALLS) or name]}"
            )
        elif name in {"os.putenv", "os.environ.update", "os.environ.setdefault"}:
            self._env_write_call(call, name)
        elif name in FILE_OPS:
            self._file_op(call, name)
            if is_network(name):  # urlretrieve both downloads and writes
                self._network(call, name)
        elif is_network(name):
            self._network(call, name)
        else:
            return False
        return True

    def _result_method(self, call: ast.Call, name: str) -> bool:
        if name in NATIVE:
            self._add(NativeCodeLoading, call, name, f"{name}: {NATIVE[name]}")
            return True
        head, _, method = name.rpartition(".")
        if method in PATH_METHODS and any(head.startswith(c + "(") for c in PATH_CONSTRUCTORS):
            receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
            kind = PATH_METHODS[method]
            if kind == "rw":
                kind = mode_kind(self.model.const_str(call.args[0]) if call.args else "r")
            self._file_access(call, name, kind, receiver)
            return True
        if method == "exec_module" and "importlib" in head:
            self._dynamic_import(call, name)
            return True
        return False

    def _exec(self, call: ast.Call, name: str) -> None:
        labels = set(self._arg_labels(call))
        payload = self.model.const(call.args[0]) if call.args else None
        details: dict[str, Any] = {"callee": name}
        if isinstance(payload, str | bytes):
            details["payload_preview"] = preview(payload)
            self._scan_payload(call, payload, "python")
            if not self._plain_literal(call.args[0]):
                labels.add("decoded")  # built by slicing/joining/decoding: the source hides the program
        source_file = self._read_source_file(call.args[0]) if call.args else None
        if "network" in labels:
            self._add(
                DownloadedCodeExecution,
                call,
                name,
                f"{name} runs code received over the network",
                details=details,
            )
        elif "decoded" in labels:
            self._add(
                ObfuscatedCodeExecution,
                call,
                name,
                f"{name} runs code that was decoded/decompressed first (obfuscation)",
                details=details,
            )
        elif "file" in labels and not (source_file or "").endswith(".py"):
            self._add(
                ObfuscatedCodeExecution,
                call,
                name,
                f"{name} runs code read from a data file ({source_file or 'computed path'}), out of review",
                details=details,
            )
        elif "file" in labels:
            self._add(
                DynamicCodeExecution,
                call,
                name,
                f"{name} runs the source of {source_file}",
                severity=Severity.HIGH,
                details=details,
            )
        else:
            self._add(
                DynamicCodeExecution,
                call,
                name,
                f"{name}: {EXEC[matches(name, EXEC) or name]}",
                details=details,
            )

    def _plain_literal(self, expr: ast.expr) -> bool:
        """A string literal as written (directly or through one name), not computed from pieces."""
        if isinstance(expr, ast.Constant):
            return True
        if isinstance(expr, ast.Name):
            owner = self.model.lookup(expr.id, self.model.scope_of(expr))
            values = owner.values.get(expr.id, []) if owner is not None else []
            return len(values) == 1 and isinstance(values[0], ast.Constant)
        return False

    def _read_source_file(self, expr: ast.expr) -> str | None:
        """The path of `open(path).read()`-style arguments, when it can be evaluated."""
        for node in ast.walk(expr):
            if isinstance(node, ast.Call) and "builtins.open" in self.model.resolve(node.func) and node.args:
                return path_of(self.model, node.args[0])
        return None

    def _process(self, call: ast.Call, name: str) -> None:
        command = self.model.const(call.args[0]) if call.args else None
        shown = preview(command) if isinstance(command, str | bytes) else None
        if isinstance(command, list) and all(isinstance(p, str) for p in command):
            shown = preview(" ".join(command))
        reason = PROCESS[matches(name, PROCESS) or name]
        message = f"{name}: {reason}" + (f": {shown!r}" if shown else "")
        self._add(ProcessExecution, call, name, message, details={"command": shown} if shown else {})

    def _deserialize(self, call: ast.Call, name: str) -> None:
        if name in DESERIALIZE_CONDITIONAL and not self._unsafe_mode(call, name):
            return
        labels = self._arg_labels(call)
        payload = self.model.const(call.args[0]) if call.args else None
        if isinstance(payload, bytes) and name.endswith("loads") and not name.startswith("marshal"):
            self._scan_payload(call, payload, "pickle")  # marshalled code objects are not reviewable
        reason = DESERIALIZE.get(matches(name, DESERIALIZE) or "", DESERIALIZE_CONDITIONAL.get(name, ""))
        if "network" in labels:
            self._add(DownloadedCodeExecution, call, name, f"{name} {reason}, on data from the network")
        elif "decoded" in labels:
            self._add(ObfuscatedCodeExecution, call, name, f"{name} {reason}, on data decoded in the file")
        else:
            self._add(DeserializationOfData, call, name, f"{name}: {reason}")

    def _unsafe_mode(self, call: ast.Call, name: str) -> bool:
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        if name == "torch.load":
            flag = keywords.get("weights_only")
            return isinstance(flag, ast.Constant) and flag.value is False
        if name == "numpy.load":
            flag = keywords.get("allow_pickle")
            return isinstance(flag, ast.Constant) and flag.value is True
        loader = keywords.get("Loader", call.args[1] if len(call.args) > 1 else None)
        if loader is None:
            return True
        resolved = self.model.resolve(loader) or {dotted(loader) or ""}
        return not any(r.rsplit(".", 1)[-1] in YAML_SAFE_LOADERS for r in resolved)

    def _dynamic_import(self, call: ast.Call, name: str) -> None:
        if matches(name, DYNAMIC_IMPORT) and call.args and self.model.const_str(call.args[0]) is not None:
            if not self._plain_literal(call.args[0]):
                module = self.model.const_str(call.args[0])
                self._add(DynamicImport, call, name, f"{name} imports {module!r}, a name spelled to hide it")
            return  # a constant module name is an ordinary import: its uses are resolved and checked
        labels = self._arg_labels(call)
        if isinstance(call.func, ast.Attribute):
            labels |= self.model.labels(call.func.value)
        reason = DYNAMIC_IMPORT.get(matches(name, DYNAMIC_IMPORT) or "") or LOAD_BY_PATH.get(
            matches(name, LOAD_BY_PATH) or "", "runs a module loaded by path"
        )
        if "network" in labels:
            self._add(
                DownloadedCodeExecution, call, name, f"{name} {reason}: the module comes from the network"
            )
        else:
            self._add(DynamicImport, call, name, f"{name}: {reason}")

    def _reflection(self, call: ast.Call, name: str) -> None:
        if len(call.args) < 2:
            return
        bases = {b for b in self.model.resolve(call.args[0]) if "()" not in b and not b.startswith(LOCAL)}
        sensitive = {b for b in bases if b.split(".")[0] in REFLECTION_SENSITIVE}
        if name == "builtins.getattr":
            if sensitive and self.model.const_str(call.args[1]) is None:
                self._add(
                    DynamicImport,
                    call,
                    name,
                    f"getattr on {sorted(sensitive)[0]} with a computed name hides which function is called",
                )
            return
        patched = {
            b for b in bases if b.split(".")[0] in MONKEYPATCH_MODULES or b.startswith(MONKEYPATCH_NAMES)
        }
        if patched:
            self._add(
                RuntimeTampering, call, name, f"{name} on {sorted(patched)[0]} replaces library behaviour"
            )

    def _network(self, call: ast.Call, name: str) -> None:
        reason = NETWORK.get(matches(name, NETWORK) or "", "talks to the network")
        severity = None
        target = next((k.value for k in call.keywords if k.arg == "filename"), None)
        if target is None and len(call.args) > 1:
            target = call.args[1]  # hf_hub_download(repo_id, filename) / urlretrieve(url, filename)
        filename = self.model.const_str(target) if target is not None else None
        if filename and filename.endswith((".py", ".so", ".pyc", ".pyd", ".dll", ".dylib", ".pkl", ".bin")):
            severity = Severity.HIGH
            reason += f" (fetches {filename!r}, which can carry code)"
        self._add(NetworkAccess, call, name, f"{name}: {reason}", severity=severity)

    # ---- import time --------------------------------------------------------------------------

    def _import_time_summary(self) -> None:
        notable: list[tuple[int, str]] = []
        for call in self.model.calls:
            if id(call) not in self.region or id(call) in self.followed or id(call) in self.classified:
                continue
            for name in self.model.resolve(call.func):
                if "()" in name or name.endswith(REGISTRATION_SUFFIXES):
                    continue
                if name.startswith(LOCAL) or not matches(name, IMPORT_TIME_HARMLESS):
                    notable.append((getattr(call, "lineno", 0), name))
                    break
        if notable:
            shown = ", ".join(f"{name}() line {line}" for line, name in notable[:10])
            self._add(
                ImportTimeCode,
                self.source.tree,
                "module",
                f"{len(notable)} call(s) run when the module is imported: {shown}",
                details={"calls": [{"line": ln, "callee": n} for ln, n in notable[:50]]},
            )


__all__ = ["PythonReview", "Wiring"]
