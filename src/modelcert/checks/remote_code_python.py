"""Review of one shipped Python file: every call, reference and assignment classified by what it does.

The module model (remote_code_flow) resolves names and data origins; this module decides what each
resolved call means (tables in remote_code_tables), where it runs (at import time or later), and
how severe it is for this package (a file wired by `auto_map` runs on `from_pretrained`).
Decoded payloads (`exec(base64.b64decode("..."))`, long encoded literals) are handed back to the
scanner as members, so what they hide is analysed like any other file.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from modelcert.checks.base import AnalysisContext, Check
from modelcert.checks.remote_code_checks import (
    DeserializationOfData,
    DownloadedCodeExecution,
    DynamicCodeExecution,
    DynamicImport,
    EncodedPayload,
    FileSystemChange,
    ImportTimeCode,
    NativeCodeLoading,
    NetworkAccess,
    ObfuscatedCodeExecution,
    ProcessExecution,
    RuntimeTampering,
    SecretExfiltration,
    SensitiveFileAccess,
)
from modelcert.checks.remote_code_flow import ModuleModel
from modelcert.checks.remote_code_tables import (
    DANGEROUS_ENV,
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
    STARTUP_OR_SYSTEM_PATHS,
    TAMPER_CALLS,
    YAML_SAFE_LOADERS,
)
from modelcert.checks.remote_code_values import (
    ENV_MAPPINGS,
    LOCAL,
    bounded_decompress,
    credential_path,
    is_network,
    matches,
    path_of,
)
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.pycode import PythonSource

MAX_FINDINGS = 300
MAX_PAYLOADS = 16  # decoded payloads handed back to the scanner per file
_LITERAL_MIN = 256
_B64_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-\s$]+$")
_HEX_CHARS = re.compile(r"^[0-9a-fA-F\s]+$")
_DESTRUCTIVE = re.compile(r"^(/|~|~/|/home/?|/root/?|/\*|~/\*|\*)$")
_WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})
_EXEC_BITS = 0o111
_CALLABLE_TABLES: tuple[tuple[dict[str, str], type[Check]], ...] = (
    (EXEC, DynamicCodeExecution),
    (PROCESS, ProcessExecution),
    (REMOTE_CODE, DownloadedCodeExecution),
    (NATIVE, NativeCodeLoading),
    (DESERIALIZE, DeserializationOfData),
)


@dataclass(frozen=True)
class Wiring:
    """Why a file runs when the package is loaded (empty: it is only shipped)."""

    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.reasons)


@dataclass
class _Hit:
    check: type[Check]
    node: ast.AST
    target: str
    message: str
    severity: Severity | None = None
    verdict: Verdict | None = None
    confidence: Confidence | None = None
    details: dict[str, Any] = field(default_factory=dict)


class PythonReview:
    """Classifies one parsed file and reports into its context."""

    def __init__(self, source: PythonSource, ctx: AnalysisContext, wiring: Wiring) -> None:
        self.source = source
        self.ctx = ctx
        self.wiring = wiring
        self.model = ModuleModel(source.tree, ctx.limits.max_text_bytes)
        self.region, self.followed = import_time_region(self.model)
        self.hits: list[_Hit] = []
        self.payloads = 0
        self._parents: dict[int, ast.AST] | None = None

    def run(self) -> None:
        for call in self.model.calls:
            self._call(call)
            self._callable_arguments(call)
        for node in ast.walk(self.source.tree):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
                self._assignment(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                if len(node.value) >= _LITERAL_MIN:
                    self._literal(node)
        self._exfiltration_without_flow()
        self._import_time_summary()
        self._emit()

    # ---- calls --------------------------------------------------------------------------------

    def _call(self, call: ast.Call) -> None:
        names = sorted(self._call_targets(call))
        for name in names:
            if self._classify(call, name):
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
            self._add(DownloadedCodeExecution, call, name, f"{name}: {REMOTE_CODE[matches(name, REMOTE_CODE) or name]}")
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
            self._add(RuntimeTampering, call, name, f"{name}: {TAMPER_CALLS[matches(name, TAMPER_CALLS) or name]}")
        elif name in {"os.putenv", "os.environ.update", "os.environ.setdefault"}:
            self._env_write_call(call, name)
        elif name in FILE_OPS:
            self._file_op(call, name)
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
                kind = _mode_kind(self.model.const_str(call.args[0]) if call.args else "r")
            self._file_access(call, name, kind, receiver)
            return True
        if method == "exec_module" and "importlib" in head:
            self._dynamic_import(call, name)
            return True
        return False

    def _exec(self, call: ast.Call, name: str) -> None:
        labels = self._arg_labels(call)
        payload = self.model.const(call.args[0]) if call.args else None
        details: dict[str, Any] = {"callee": name}
        if isinstance(payload, str | bytes):
            details["payload_preview"] = _preview(payload)
            self._scan_payload(call, payload, "python")
        if "network" in labels:
            self._add(DownloadedCodeExecution, call, name, f"{name} runs code received over the network",
                      details=details)
        elif "decoded" in labels:
            self._add(ObfuscatedCodeExecution, call, name,
                      f"{name} runs code that was decoded/decompressed first (obfuscation)", details=details)
        else:
            self._add(DynamicCodeExecution, call, name, f"{name}: {EXEC[matches(name, EXEC) or name]}",
                      details=details)

    def _process(self, call: ast.Call, name: str) -> None:
        command = self.model.const(call.args[0]) if call.args else None
        shown = _preview(command) if isinstance(command, str | bytes) else None
        if isinstance(command, list) and all(isinstance(p, str) for p in command):
            shown = _preview(" ".join(command))
        reason = PROCESS[matches(name, PROCESS) or name]
        message = f"{name}: {reason}" + (f": {shown!r}" if shown else "")
        self._add(ProcessExecution, call, name, message, details={"command": shown} if shown else {})

    def _deserialize(self, call: ast.Call, name: str) -> None:
        if name in DESERIALIZE_CONDITIONAL and not self._unsafe_mode(call, name):
            return
        labels = self._arg_labels(call)
        payload = self.model.const(call.args[0]) if call.args else None
        if isinstance(payload, bytes) and name.endswith("loads"):
            self._scan_payload(call, payload, "pickle" if not name.startswith("marshal") else None)
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
        resolved = self.model.resolve(loader) or {ast.unparse(loader)}
        return not any(r.rsplit(".", 1)[-1] in YAML_SAFE_LOADERS for r in resolved)

    def _dynamic_import(self, call: ast.Call, name: str) -> None:
        if matches(name, DYNAMIC_IMPORT) and call.args and self.model.const_str(call.args[0]) is not None:
            return  # a constant module name is an ordinary import: its uses are resolved and checked
        labels = self._arg_labels(call)
        if isinstance(call.func, ast.Attribute):
            labels |= self.model.labels(call.func.value)
        reason = DYNAMIC_IMPORT.get(matches(name, DYNAMIC_IMPORT) or "") or LOAD_BY_PATH.get(
            matches(name, LOAD_BY_PATH) or "", "runs a module loaded by path"
        )
        if "network" in labels:
            self._add(DownloadedCodeExecution, call, name, f"{name} {reason}: the module comes from the network")
        else:
            self._add(DynamicImport, call, name, f"{name}: {reason}")

    def _reflection(self, call: ast.Call, name: str) -> None:
        if len(call.args) < 2:
            return
        bases = {b for b in self.model.resolve(call.args[0]) if "()" not in b and not b.startswith(LOCAL)}
        sensitive = {b for b in bases if b.split(".")[0] in REFLECTION_SENSITIVE}
        if name == "builtins.getattr":
            if sensitive and self.model.const_str(call.args[1]) is None:
                self._add(DynamicImport, call, name,
                          f"getattr on {sorted(sensitive)[0]} with a computed name hides which function is called")
            return
        patched = {b for b in bases if b.split(".")[0] in MONKEYPATCH_MODULES or b.startswith(MONKEYPATCH_NAMES)}
        if patched:
            self._add(RuntimeTampering, call, name, f"{name} on {sorted(patched)[0]} replaces library behaviour")

    def _env_write_call(self, call: ast.Call, name: str) -> None:
        keys: list[str] = []
        if name == "os.environ.update" and call.args and isinstance(call.args[0], ast.Dict):
            keys = [k for k in (self.model.const_str(k) for k in call.args[0].keys if k) if k]
        keys += [k.arg for k in call.keywords if k.arg]
        if name != "os.environ.update" and call.args:
            key = self.model.const_str(call.args[0])
            keys += [key] if key else []
        dangerous = [k for k in keys if DANGEROUS_ENV.match(k)]
        if dangerous:
            self._add(RuntimeTampering, call, name, f"sets {dangerous[0]}, which changes what the process "
                      "loads, trusts or connects to")

    def _network(self, call: ast.Call, name: str) -> None:
        reason = NETWORK.get(matches(name, NETWORK) or "", "talks to the network")
        severity = None
        filename = next((self.model.const_str(k.value) for k in call.keywords if k.arg == "filename"), None)
        if filename and filename.endswith((".py", ".so", ".pyc", ".pyd", ".dll", ".dylib", ".pkl", ".bin")):
            severity = Severity.HIGH
            reason += f" (fetches {filename!r}, which can carry code)"
        self._add(NetworkAccess, call, name, f"{name}: {reason}", severity=severity)

    # ---- files --------------------------------------------------------------------------------

    def _file_op(self, call: ast.Call, name: str) -> None:
        index, keyword, kind = FILE_OPS[name]
        target = next((k.value for k in call.keywords if k.arg == keyword), None)
        if target is None and len(call.args) > index:
            target = call.args[index]
        if kind == "rw":
            kind = self._open_kind(call, name)
        self._file_access(call, name, kind, target)

    def _open_kind(self, call: ast.Call, name: str) -> str:
        if name == "os.open":
            flags = call.args[1] if len(call.args) > 1 else None
            spelled = {n.attr for n in ast.walk(flags) if isinstance(n, ast.Attribute)} if flags else set()
            return "write" if spelled & _WRITE_FLAGS else "read"
        mode_node = next((k.value for k in call.keywords if k.arg == "mode"), None)
        if mode_node is None and len(call.args) > 1:
            mode_node = call.args[1]
        mode = "r" if mode_node is None else self.model.const_str(mode_node)
        return _mode_kind(mode)

    def _file_access(self, call: ast.Call, name: str, kind: str, target: ast.AST | None) -> None:
        path = path_of(self.model, target) if target is not None else None
        shown = path or "<computed path>"
        writes = kind in {"write", "delete", "chmod", "rw"}
        if path and writes and STARTUP_OR_SYSTEM_PATHS.search(path):
            self._add(SensitiveFileAccess, call, name,
                      f"{name} {_VERB[kind]} {shown}: a startup, system or interpreter location",
                      details={"path": path, "access": kind})
        elif path and kind in {"read", "rw"} and credential_path(path):
            self._add(SensitiveFileAccess, call, name, f"{name} reads {shown}: credentials or secrets",
                      details={"path": path, "access": kind})
        elif path and kind in {"delete", "chmod"} and _DESTRUCTIVE.match(path):
            self._add(SensitiveFileAccess, call, name, f"{name} {_VERB[kind]} {shown}: destroys user data",
                      details={"path": path, "access": kind})
        elif kind in {"delete", "chmod"}:
            outside = path is not None and _outside_package(path)
            executable = kind == "chmod" and self._sets_exec_bits(call)
            self._add(
                FileSystemChange, call, name, f"{name} {_VERB[kind]} {shown}",
                severity=Severity.MEDIUM if outside or executable else Severity.INFO,
                verdict=Verdict.SUSPICIOUS if outside or executable else Verdict.CLEAN,
                details={"path": path, "access": kind},
            )
        elif kind == "write" and path is not None and _outside_package(path):
            self._add(FileSystemChange, call, name, f"{name} writes {shown}, outside the model folder",
                      details={"path": path, "access": kind})

    def _sets_exec_bits(self, call: ast.Call) -> bool:
        mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
        value = self.model.const(mode) if mode is not None else None
        if isinstance(value, int):
            return bool(value & _EXEC_BITS)
        return mode is not None and any(
            isinstance(n, ast.Attribute) and n.attr.startswith("S_IX") for n in ast.walk(mode)
        )

    # ---- references, assignments, literals ----------------------------------------------------

    def _callable_arguments(self, call: ast.Call) -> None:
        """A dangerous function handed over as a value (Thread(target=os.system), map(eval, ...))."""
        for arg in (*call.args, *(k.value for k in call.keywords)):
            if not isinstance(arg, ast.Name | ast.Attribute | ast.Subscript):
                continue
            for name in self.model.resolve(arg):
                for table, check in _CALLABLE_TABLES:
                    entry = matches(name, table) if "()" not in name else None
                    if entry:
                        self._add(check, arg, name, f"{name} is passed as a callable ({table[entry]})")
                        break

    def _assignment(self, node: ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete) -> None:
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute):
                bases = {b for b in self.model.resolve(target.value) if "()" not in b and not b.startswith(LOCAL)}
                for base in sorted(bases):
                    full = f"{base}.{target.attr}"
                    if base.split(".")[0] in MONKEYPATCH_MODULES or full.startswith(MONKEYPATCH_NAMES):
                        self._add(RuntimeTampering, node, full, f"assigns {full}: replaces library behaviour "
                                  "for every later caller (monkeypatching)")
                        break
            elif isinstance(target, ast.Subscript):
                self._subscript_assignment(node, target)

    def _subscript_assignment(self, node: ast.AST, target: ast.Subscript) -> None:
        bases = self.model.resolve(target.value)
        key = self.model.const_str(target.slice)
        if bases & {"builtins", "builtins.__dict__"}:
            self._add(RuntimeTampering, node, "builtins", f"replaces builtin {key or '<computed>'!s}")
        elif "sys.modules" in bases:
            self._add(RuntimeTampering, node, "sys.modules", f"replaces module {key or '<computed>'!s} in sys.modules")
        elif bases & ENV_MAPPINGS and key and DANGEROUS_ENV.match(key):
            self._add(RuntimeTampering, node, "os.environ", f"sets {key}, which changes what the process "
                      "loads, trusts or connects to")

    def _literal(self, node: ast.Constant) -> None:
        value = node.value
        if self._is_docstring(node):
            return
        text = value if isinstance(value, str) else value.decode("latin-1")
        sample = text[:65536]
        entropy = _entropy(sample)
        compact = re.sub(r"\s", "", sample)
        kind = None
        if _HEX_CHARS.match(sample) and len(compact) >= 2 * _LITERAL_MIN:
            kind = "hex"
        elif _B64_CHARS.match(sample) and entropy >= 5.0:
            kind = "base64"
        elif entropy >= 6.5:
            kind = "binary"
        if kind is None:
            return
        decoded = _decode_literal(compact if kind != "binary" else text, kind, self.ctx.limits.max_text_bytes)
        if decoded is not None:
            self._scan_payload(node, decoded, None)
        self._add(EncodedPayload, node, "literal",
                  f"{len(value)}-character {kind} literal (entropy {entropy:.1f} bits/char): an opaque payload",
                  details={"length": len(value), "encoding": kind, "entropy": round(entropy, 2)})

    def _is_docstring(self, node: ast.Constant) -> bool:
        if self._parents is None:
            self._parents = {id(c): p for p in ast.walk(self.source.tree) for c in ast.iter_child_nodes(p)}
        parent = self._parents.get(id(node))
        if not isinstance(parent, ast.Expr):
            return False
        holder = self._parents.get(id(parent))
        body = getattr(holder, "body", None)
        return isinstance(body, list) and bool(body) and body[0] is parent and isinstance(node.value, str)

    # ---- exfiltration -------------------------------------------------------------------------

    def _network_sinks(self) -> list[tuple[ast.Call, str]]:
        sinks = []
        for call in self.model.calls:
            names = [n for n in self.model.resolve(call.func) if is_network(n)]
            if names:
                sinks.append((call, sorted(names)[0]))
        return sinks

    def _exfiltration_without_flow(self) -> None:
        sinks = self._network_sinks()
        flowed = False
        for call, name in sinks:
            labels = self._arg_labels(call)
            if labels & {"environ", "secret"}:
                flowed = True
                what = "the environment" if "environ" in labels else "secrets"
                self._add(SecretExfiltration, call, name, f"{name} sends {what} over the network")
        if flowed or not sinks:
            return
        dumps = [n for n in ast.walk(self.source.tree) if self._environment_dump(n)]
        if dumps:
            self._add(SecretExfiltration, dumps[0], "os.environ",
                      f"the whole environment is read and the file talks to the network ({sinks[0][1]})",
                      confidence=Confidence.MEDIUM)

    def _environment_dump(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        names = self.model.resolve(node.func)
        if names & {"os.environ.copy", "os.environ.items", "os.environ.keys", "os.environ.values"}:
            return True
        return any(self.model.resolve(a) & ENV_MAPPINGS for a in node.args)

    # ---- import time --------------------------------------------------------------------------

    def _import_time_summary(self) -> None:
        notable: list[tuple[int, str]] = []
        for call in self.model.calls:
            if id(call) not in self.region or id(call) in self.followed:
                continue
            for name in self.model.resolve(call.func):
                if "()" in name or name.endswith(REGISTRATION_SUFFIXES):
                    continue
                if name.startswith(LOCAL) or not matches(name, IMPORT_TIME_HARMLESS):
                    notable.append((getattr(call, "lineno", 0), name))
                    break
        if notable:
            shown = ", ".join(f"{name}() line {line}" for line, name in notable[:10])
            self._add(ImportTimeCode, self.source.tree, "module",
                      f"{len(notable)} call(s) run when the module is imported: {shown}",
                      details={"calls": [{"line": ln, "callee": n} for ln, n in notable[:50]]})

    # ---- reporting ----------------------------------------------------------------------------

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
        if hint == "python" and isinstance(payload, bytes):
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                hint = None
        name = f"payload@line{line}" + (".py" if hint == "python" else "")
        self.ctx.scan_member(name, BytesBlob(data, name), format_hint=hint)

    def _add(self, check: type[Check], node: ast.AST, target: str, message: str, *,
             severity: Severity | None = None, verdict: Verdict | None = None,
             confidence: Confidence | None = None, details: dict[str, Any] | None = None) -> None:
        self.hits.append(_Hit(check, node, target, message, severity, verdict, confidence, dict(details or {})))

    def _emit(self) -> None:
        seen: set[tuple[str, int]] = set()
        emitted = 0
        for hit in sorted(self.hits, key=lambda h: -(h.severity or h.check.severity)):
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

    def _finding(self, hit: _Hit, line: int | None) -> Any:
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
        return hit.check.finding(message, location, severity=severity, verdict=verdict,
                                 confidence=hit.confidence, details=details, tags=tags)


_VERB = {"write": "writes", "delete": "deletes", "chmod": "changes permissions of", "rw": "opens",
         "read": "reads"}


def _mode_kind(mode: str | None) -> str:
    if mode is None:
        return "rw"
    return "write" if any(c in mode for c in "wax+") else "read"


def _outside_package(path: str) -> bool:
    if path.startswith(("/tmp", "/var/tmp", "/dev/null", "/dev/shm", "/proc/", "/sys/")):  # noqa: S108
        return False
    return path.startswith(("/", "~", "<site-packages>")) or path.startswith("..")


def _preview(value: Any, limit: int = 160) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _decode_literal(text: str, kind: str, limit: int) -> bytes | None:
    import base64
    import binascii

    try:
        if kind == "hex":
            data = binascii.unhexlify(text)
        elif kind == "base64":
            data = base64.b64decode(text.lstrip("$") + "=" * (-len(text.lstrip("$")) % 4), validate=False)
        else:
            data = text.encode("latin-1", "replace")
    except (ValueError, binascii.Error):
        return None
    for magic, algo in ((b"\x78", "zlib"), (b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ", "lzma")):
        if data.startswith(magic):
            inflated = bounded_decompress(algo, data, limit)
            if inflated is not None:
                return inflated
    return data if kind != "binary" else None


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
            s for s in cls.body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
            and s.name in {"__init__", "__new__", "__post_init__", "__init_subclass__", "__set_name__"}
        ]
    return bodies
