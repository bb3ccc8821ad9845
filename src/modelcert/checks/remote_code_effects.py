"""Effects of shipped Python on the host: files, environment, interpreter state, literals, exfiltration.

File operations are judged by the symbolic path they touch (`~/.ssh/...`, `/etc/...`,
`site-packages`), assignments by what they replace (builtins, `sys.modules`, `torch.load`,
`LD_PRELOAD`), literals by their encoding and entropy (decoded and scanned as members), and
network calls by the origin of the data they send.
"""

from __future__ import annotations

import ast
import base64
import binascii
import math
import re
from collections import Counter

from modelcert.checks.remote_code_checks import (
    EncodedPayload,
    FileSystemChange,
    RuntimeTampering,
    SecretExfiltration,
    SensitiveFileAccess,
)
from modelcert.checks.remote_code_origins import path_of
from modelcert.checks.remote_code_review import ReviewBase
from modelcert.checks.remote_code_tables import (
    DANGEROUS_ENV,
    FILE_OPS,
    MONKEYPATCH_MODULES,
    MONKEYPATCH_NAMES,
    STARTUP_OR_SYSTEM_PATHS,
)
from modelcert.checks.remote_code_values import (
    ENV_MAPPINGS,
    LOCAL,
    bounded_decompress,
    credential_path,
    is_network,
)
from modelcert.findings import Confidence, Severity, Verdict

LITERAL_MIN = 256
_B64_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-\s$]+$")
_HEX_CHARS = re.compile(r"^[0-9a-fA-F\s]+$")
_DESTRUCTIVE = re.compile(r"^(/|~|~/|/home/?|/root/?|/\*|~/\*|\*)$")
_WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})
_EXEC_BITS = 0o111


class EffectRules(ReviewBase):
    """Rules about what the code does to the machine it runs on."""

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
            self._add(
                RuntimeTampering,
                call,
                name,
                f"sets {dangerous[0]}, which changes what the process loads, trusts or connects to",
            )

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
        return mode_kind(mode)

    def _file_access(self, call: ast.Call, name: str, kind: str, target: ast.AST | None) -> None:
        path = path_of(self.model, target) if target is not None else None
        shown = path or "<computed path>"
        writes = kind in {"write", "delete", "chmod", "rw"}
        if path and writes and STARTUP_OR_SYSTEM_PATHS.search(path):
            self._add(
                SensitiveFileAccess,
                call,
                name,
                f"{name} {_VERB[kind]} {shown}: a startup, system or interpreter location",
                details={"path": path, "access": kind},
            )
        elif path and kind in {"read", "rw"} and credential_path(path):
            self._add(
                SensitiveFileAccess,
                call,
                name,
                f"{name} reads {shown}: credentials or secrets",
                details={"path": path, "access": kind},
            )
        elif path and kind in {"delete", "chmod"} and _DESTRUCTIVE.match(path):
            self._add(
                SensitiveFileAccess,
                call,
                name,
                f"{name} {_VERB[kind]} {shown}: destroys user data",
                details={"path": path, "access": kind},
            )
        elif kind in {"delete", "chmod"}:
            outside = path is not None and _outside_package(path)
            executable = kind == "chmod" and self._sets_exec_bits(call)
            self._add(
                FileSystemChange,
                call,
                name,
                f"{name} {_VERB[kind]} {shown}",
                severity=Severity.MEDIUM if outside or executable else Severity.INFO,
                verdict=Verdict.SUSPICIOUS if outside or executable else Verdict.CLEAN,
                details={"path": path, "access": kind},
            )
        elif kind == "write" and path is not None and _outside_package(path):
            self._add(
                FileSystemChange,
                call,
                name,
                f"{name} writes {shown}, outside the model folder",
                details={"path": path, "access": kind},
            )

    def _sets_exec_bits(self, call: ast.Call) -> bool:
        mode = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "mode"), None)
        )
        value = self.model.const(mode) if mode is not None else None
        if isinstance(value, int):
            return bool(value & _EXEC_BITS)
        return mode is not None and any(
            isinstance(n, ast.Attribute) and n.attr.startswith("S_IX") for n in ast.walk(mode)
        )

    def _assignment(self, node: ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete) -> None:
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute):
                bases = {
                    b for b in self.model.resolve(target.value) if "()" not in b and not b.startswith(LOCAL)
                }
                for base in sorted(bases):
                    full = f"{base}.{target.attr}"
                    if base.split(".")[0] in MONKEYPATCH_MODULES or full.startswith(MONKEYPATCH_NAMES):
                        self._add(
                            RuntimeTampering,
                            node,
                            full,
                            f"assigns {full}: replaces library behaviour "
                            "for every later caller (monkeypatching)",
                        )
                        break
            elif isinstance(target, ast.Subscript):
                self._subscript_assignment(node, target)

    def _subscript_assignment(self, node: ast.AST, target: ast.Subscript) -> None:
        bases = self.model.resolve(target.value)
        key = self.model.const_str(target.slice)
        if bases & {"builtins", "builtins.__dict__"}:
            self._add(RuntimeTampering, node, "builtins", f"replaces builtin {key or '<computed>'!s}")
        elif "sys.modules" in bases:
            self._add(
                RuntimeTampering,
                node,
                "sys.modules",
                f"replaces module {key or '<computed>'!s} in sys.modules",
            )
        elif bases & ENV_MAPPINGS and key and DANGEROUS_ENV.match(key):
            self._add(
                RuntimeTampering,
                node,
                "os.environ",
                f"sets {key}, which changes what the process loads, trusts or connects to",
            )

    def _literal(self, node: ast.Constant) -> None:
        value = node.value
        if not isinstance(value, str | bytes) or self._is_docstring(node):
            return
        text = value if isinstance(value, str) else value.decode("latin-1")
        sample = text[:65536]
        entropy = _entropy(sample)
        compact = re.sub(r"\s", "", sample)
        kind = None
        if _HEX_CHARS.match(sample) and len(compact) >= 2 * LITERAL_MIN:
            kind = "hex"
        elif _B64_CHARS.match(sample) and entropy >= 5.0:
            kind = "base64"
        elif entropy >= 6.5 and (isinstance(value, bytes) or _binary_share(sample) >= 0.3):
            kind = "binary"  # text in any script is not binary: only bytes or control/latin-1 soup
        if kind is None:
            return
        decoded = _decode_literal(compact if kind != "binary" else text, kind, self.ctx.limits.max_text_bytes)
        if decoded is not None:
            self._scan_payload(node, decoded, None)
        self._add(
            EncodedPayload,
            node,
            "literal",
            f"{len(value)}-character {kind} literal (entropy {entropy:.1f} bits/char): an opaque payload",
            details={"length": len(value), "encoding": kind, "entropy": round(entropy, 2)},
        )

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
            if name.startswith("huggingface_hub.") and not labels & {"environ"}:
                continue  # a Hub token handed to the Hub client is its intended use
            if labels & {"environ", "secret"}:
                flowed = True
                what = "the environment" if "environ" in labels else "secrets"
                self._add(SecretExfiltration, call, name, f"{name} sends {what} over the network")
        if flowed or not sinks:
            return
        dumps = [n for n in ast.walk(self.source.tree) if self._environment_dump(n)]
        if dumps:
            self._add(
                SecretExfiltration,
                dumps[0],
                "os.environ",
                f"the whole environment is read and the file talks to the network ({sinks[0][1]})",
                verdict=Verdict.SUSPICIOUS,
                confidence=Confidence.MEDIUM,
            )

    def _environment_dump(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        names = self.model.resolve(node.func)
        if names & {"os.environ.copy", "os.environ.items", "os.environ.keys", "os.environ.values"}:
            return True
        return any(self.model.resolve(a) & ENV_MAPPINGS for a in node.args)


_VERB = {
    "write": "writes",
    "delete": "deletes",
    "chmod": "changes permissions of",
    "rw": "opens",
    "read": "reads",
}


def mode_kind(mode: str | None) -> str:
    if mode is None:
        return "rw"
    return "write" if any(c in mode for c in "wax+") else "read"


def _outside_package(path: str) -> bool:
    if path.startswith(("/tmp", "/var/tmp", "/dev/null", "/dev/shm", "/proc/", "/sys/")):  # noqa: S108
        return False
    return path.startswith(("/", "~", "<site-packages>", ".."))


def _binary_share(text: str) -> float:
    """Share of characters that only appear in text smuggling raw bytes (controls, U+0080..U+00FF)."""
    odd = sum(1 for c in text if (ord(c) < 0x20 and c not in "\t\r\n") or 0x7F <= ord(c) <= 0xFF)
    return odd / len(text) if text else 0.0


def _entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _decode_literal(text: str, kind: str, limit: int) -> bytes | None:
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
