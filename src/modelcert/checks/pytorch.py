"""PyTorch: TorchScript archives and the code inside them (MC140–MC145).

A TorchScript archive (`torch.jit.save`) carries `code/**/*.py`: TorchScript source that
`torch.jit.load` compiles and runs. Tracing or scripting an ordinary `nn.Module` yields only
tensor maths — `torch.<aten op>`, `ops.prim.*`, calls between the archive's own classes — so the
analyzer lists every reference the code makes (`formats.torchscript`) and flags the ones that reach
beyond that: host file access, Python escapes, native libraries, operators or classes from
namespaces libtorch does not ship, remote calls. The archive itself gets an informational note
(MC140) because it is code by construction (CVE-2025-32434).
"""

from __future__ import annotations

from collections.abc import Iterator

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.torchscript import CodeRef, read_torchscript_code

MAX_FINDINGS_PER_MEMBER = 50

# Operator namespaces compiled into libtorch or its domain libraries: calling them is tensor maths.
BUILTIN_OP_NAMESPACES: dict[str, str] = {
    "aten": "ATen tensor operators: the core of every model",
    "prim": "TorchScript interpreter primitives (lists, control flow, exceptions)",
    "prims": "PrimTorch primitives that ATen operators decompose into",
    "quantized": "built-in quantized kernels (quantized Linear/Conv)",
    "_quantized": "built-in quantized kernels (internal variants)",
    "quantization": "built-in quantization helpers",
    "quantized_decomposed": "torch.ao quantize/dequantize decompositions, registered by torch itself",
    "mkldnn": "oneDNN CPU kernels shipped in libtorch",
    "mkldnn_prepacked": "oneDNN prepacked convolution kernels shipped in libtorch",
    "onednn": "oneDNN fused kernels shipped in libtorch",
    "mkl": "MKL kernels shipped in libtorch",
    "prepacked": "XNNPACK prepacked kernels of mobile-optimised models",
    "sparse": "sparse tensor kernels",
    "profiler": "record_function ranges: profiling only",
    "torchvision": "torchvision's operators (nms, roi_align): a PyTorch domain library, no model code",
    "torchaudio": "torchaudio's operators: a PyTorch domain library, no model code",
    "torchtext": "torchtext's operators: a PyTorch domain library, no model code",
}
# Custom-class namespaces libtorch itself registers (packed parameters of quantized/mobile models).
BUILTIN_CLASS_NAMESPACES: dict[str, str] = {
    "quantized": "packed weights of quantized Linear/Conv layers",
    "rnn": "cell parameters of quantized dynamic RNNs",
    "xnnpack": "XNNPACK prepacked contexts of mobile-optimised models",
    "_nnapi": "Android NNAPI compiled-model wrapper",
}
# Distributed communication: reaches other processes or hosts through a process group or RPC agent.
REMOTE_OP_NAMESPACES = frozenset(
    {"c10d", "_c10d_functional", "_c10d_functional_autograd", "symm_mem", "_dtensor"}
)
REMOTE_PRIM_OPS = frozenset({"rpc_async", "rpc_sync", "rpc_remote"})
REMOTE_CLASS_NAMESPACES = frozenset({"dist_c10d", "dist_rpc"})
# ATen operators that read or write host files by path (from torch's operator schemas).
FILE_OPS = frozenset({"save", "from_file"})
# Names and modules that only appear when someone wrote the code by hand to reach the host.
HOST_NAMES = frozenset({"open", "input", "breakpoint", "exit", "quit"})
HOST_MODULES = frozenset({
    "os", "posix", "nt", "sys", "subprocess", "socket", "shutil", "pathlib", "io", "tempfile", "glob",
    "urllib", "http", "requests", "ftplib", "smtplib", "telnetlib", "webbrowser", "pty", "signal",
    "multiprocessing", "asyncio", "ctypes", "mmap", "fcntl",
})
ESCAPE_NAMES = frozenset({"exec", "eval", "compile", "__import__", "globals", "locals", "vars"})
ESCAPE_MODULES = frozenset({"builtins", "__builtins__", "importlib", "pickle", "marshal", "runpy", "code",
                            "codeop", "types", "inspect", "pydoc", "pkgutil"})
ESCAPE_DUNDERS = frozenset({
    "__class__", "__globals__", "__subclasses__", "__builtins__", "__code__", "__dict__", "__bases__",
    "__base__", "__mro__", "__reduce__", "__reduce_ex__", "__getattribute__", "__import__", "__loader__",
    "__spec__", "__self__", "__func__", "__closure__", "__getattr__", "__setattr__", "__delattr__",
})
IMPORTABLE_ROOTS = frozenset({"torch", "__torch__", "typing", "math"})


class TorchScriptArchive(Check):
    """The file is a TorchScript archive: it carries `code/` that `torch.jit.load` compiles and runs.

    Informational. `torch.load(..., weights_only=True)` in torch ≤ 2.5.1 handed TorchScript
    archives to the unrestricted `torch.jit.load` (CVE-2025-32434, fixed in 2.6 by
    pytorch/pytorch#143326), so "weights only" never protected against a TorchScript file: it is
    code whatever the loader flag. That alone does not make it dangerous — `torch.jit.trace` and
    `torch.jit.script` of any ordinary module produce such archives — so this note does not change
    the verdict; every code member is analysed by MC141–MC145, which do.
    """

    id = "MC140"
    title = "TorchScript archive (code runs on torch.jit.load)"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = (
        "Load it only with torch ≥ 2.6; prefer safetensors weights plus reviewed model code when you need "
        "weights only."
    )
    tags = ("CVE-2025-32434",)


class TorchScriptHostAccess(Check):
    """TorchScript code touches the host: it reads or writes files by path (`torch.save`,
    `torch.from_file` — the ATen operators whose schemas take a filename), or names `open`, `os`,
    `subprocess`, `socket` and similar modules.

    Traced or scripted models never do this; such code was written by hand into the archive. The
    file is **unsafe**.
    """

    id = "MC141"
    title = "TorchScript code accesses files, processes or the network"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-94"
    remediation = "Do not load it. Re-export the model from its source, or ship safetensors weights."


class TorchScriptPythonEscape(Check):
    """TorchScript code reaches for Python's dynamic machinery: `exec`, `eval`, `compile`,
    `__import__`, `importlib`, `builtins`, `pickle`, introspection dunders (`__globals__`,
    `__subclasses__`, …) or imports modules other than torch/typing/math.

    TorchScript itself has none of these; their presence means the code was hand-written to escape
    the TorchScript sandbox or to run under a different loader. The file is **unsafe**.
    """

    id = "MC142"
    title = "TorchScript code uses Python escapes"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-95"
    remediation = "Do not load it; re-export the model from its source."


class TorchScriptCustomOp(Check):
    """TorchScript code calls an operator (`ops.<ns>.<op>`) or uses a custom class
    (`__torch__.torch.classes.<ns>.<cls>`) from a namespace libtorch does not ship.

    Such operators live in a native library that must be loaded before the model (C++ code with no
    sandbox); the model only works where that library exists, and what it does cannot be seen in
    the archive. Allowed namespaces (each with its reason) are in `BUILTIN_OP_NAMESPACES` and
    `BUILTIN_CLASS_NAMESPACES`. The file is **suspicious**.
    """

    id = "MC143"
    title = "TorchScript code uses a custom operator or class"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Find and review the native library that provides the operator before loading the model."


class TorchScriptNativeLibrary(Check):
    """TorchScript code refers to `torch.ops.load_library` / `torch.classes.load_library`: loading a
    shared library runs its native initialisers with the loader's privileges. The file is
    **unsafe**."""

    id = "MC144"
    title = "TorchScript code loads a native library"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-829"
    remediation = "Do not load it; a model never needs to load libraries itself."


class TorchScriptRemoteCall(Check):
    """TorchScript code calls distributed-communication operators (`prim::rpc_*`, `c10d` collectives,
    process-group classes): at inference time they send tensors to, or run functions on, other
    processes or hosts. Ordinary exported models contain none. The file is **suspicious**."""

    id = "MC145"
    title = "TorchScript code makes remote calls"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-200"
    remediation = "Review why an exported model communicates; strip the distributed calls before use."


def classify_ref(ref: CodeRef, bound: frozenset[str]) -> tuple[type[Check], str] | None:
    """The check a reference triggers and why, or None when it is ordinary TorchScript."""
    parts = ref.dotted.split(".")
    root = parts[0]
    if ref.kind == "attr":
        if ref.dotted in ESCAPE_DUNDERS:
            return TorchScriptPythonEscape, f"introspection attribute {ref.dotted}"
        return None
    if ref.kind == "import":
        top = ref.dotted.lstrip(".").split(".")[0]
        if top not in IMPORTABLE_ROOTS:
            return TorchScriptPythonEscape, f"imports {ref.dotted}"
        return None
    if root in bound:
        return None  # a local variable, parameter or the archive's own class
    if root in ESCAPE_NAMES or root in ESCAPE_MODULES:
        return TorchScriptPythonEscape, f"uses {ref.dotted}"
    if root in HOST_NAMES or root in HOST_MODULES:
        return TorchScriptHostAccess, f"uses {ref.dotted}"
    return _classify_torch(parts)


def _classify_torch(parts: list[str]) -> tuple[type[Check], str] | None:
    dotted = ".".join(parts)
    if parts[0] == "__torch__" and parts[1:3] == ["torch", "classes"]:
        return _classify_class(parts[3:], dotted)
    if parts[0] == "torch" and len(parts) >= 2 and parts[1] == "classes":
        return _classify_class(parts[2:], dotted)
    if parts[0] == "ops":
        return _classify_op(parts[1:], dotted)
    if parts[0] == "torch" and len(parts) >= 2 and parts[1] == "ops":
        return _classify_op(parts[2:], dotted)
    if parts[0] == "torch" and len(parts) >= 2:
        if parts[-1] in FILE_OPS:
            return TorchScriptHostAccess, f"{dotted} reads or writes a file by path"
        if parts[1] == "distributed":
            return TorchScriptRemoteCall, f"uses {dotted}"
    return None


def _classify_op(rest: list[str], dotted: str) -> tuple[type[Check], str] | None:
    if not rest:
        return None
    namespace = rest[0]
    if namespace == "load_library":
        return TorchScriptNativeLibrary, f"calls {dotted}"
    op = rest[1] if len(rest) > 1 else ""
    if namespace == "aten" and op in FILE_OPS:
        return TorchScriptHostAccess, f"{dotted} reads or writes a file by path"
    if namespace in REMOTE_OP_NAMESPACES or (namespace == "prim" and op in REMOTE_PRIM_OPS):
        return TorchScriptRemoteCall, f"calls {dotted}"
    if namespace not in BUILTIN_OP_NAMESPACES and len(rest) > 1:
        return TorchScriptCustomOp, f"calls operator {namespace}::{op}, not shipped with libtorch"
    return None


def _classify_class(rest: list[str], dotted: str) -> tuple[type[Check], str] | None:
    if not rest:
        return None
    namespace = rest[0]
    if namespace == "load_library":
        return TorchScriptNativeLibrary, f"calls {dotted}"
    if namespace in REMOTE_CLASS_NAMESPACES:
        return TorchScriptRemoteCall, f"uses {dotted}"
    if namespace not in BUILTIN_CLASS_NAMESPACES and len(rest) > 1:
        return TorchScriptCustomOp, f"uses custom class {dotted}"
    return None


def analyze_torchscript_code(blob: Blob, ctx: AnalysisContext) -> None:
    code = read_torchscript_code(blob, ctx.limits)
    for emitted, (check, reason, ref) in enumerate(_findings(code.refs, code.bound_names)):
        if emitted >= MAX_FINDINGS_PER_MEMBER:
            break
        location = ctx.location.at(line=ref.line)
        ctx.add(check.finding(f"TorchScript code {reason}", location, details={"reference": ref.dotted}))


def _findings(refs: tuple[CodeRef, ...], bound: frozenset[str]) -> Iterator[tuple[type[Check], str, CodeRef]]:
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        result = classify_ref(ref, bound)
        if result is None:
            continue
        check, reason = result
        key = (check.id, ref.dotted)
        if key in seen:
            continue
        seen.add(key)
        yield check, reason, ref


ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(formats=("torchscript-code",), analyze=analyze_torchscript_code),
)
