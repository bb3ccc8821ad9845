"""Native executables and shared libraries shipped in a model package (ELF, PE, Mach-O).

A model needs no machine code. A `.so` / `.dll` / `.dylib` next to the weights is what custom-op
registration (`torch.ops.load_library`, `onnxruntime` `register_custom_ops_library`,
`tf.load_op_library`) or `ctypes.CDLL` in shipped Python loads, and an executable is what a README's
"run this" points at; neither can be reviewed like source. The file is reported, never run.
"""

from __future__ import annotations

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.detect import HEAD_BYTES, native_executable_kind


class NativeBinaryInPackage(Check):
    """The package ships native machine code: an ELF, PE or Mach-O executable or shared library.

    Weights, tokenizers and configs are data; machine code in a model package is either a custom
    operator library that `torch.ops.load_library`, ONNX Runtime's `register_custom_ops_library`,
    TensorFlow's `load_op_library` or `ctypes` in shipped Python will load into the process, or a
    program someone is meant to run. Its behaviour cannot be established by reading it, so the
    package is suspicious until the binary is accounted for (built from reviewed source, or removed).
    Detection is by content (ELF magic and class, PE header, Mach-O magic), whatever the file name.
    """

    id = "MC427"
    title = "Native executable or shared library in the package"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = (
        "Remove the binary, or ship its source and a reproducible build; never load custom-op libraries "
        "from a downloaded model."
    )
    tags = ("native-code", "remote-code")


def analyze_executable(blob: Blob, ctx: AnalysisContext) -> None:
    kind = native_executable_kind(blob.head(HEAD_BYTES)) or "native binary"
    ctx.add(
        NativeBinaryInPackage.finding(
            f"{kind} ({blob.size} bytes): machine code that custom-op loading or ctypes would run",
            ctx.location,
            details={"kind": kind, "size": blob.size},
        )
    )


ANALYZERS: tuple[AnalyzerSpec, ...] = (AnalyzerSpec(formats=("executable",), analyze=analyze_executable),)
