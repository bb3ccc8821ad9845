"""Analyzers for Hugging Face JSON files ("json"), shipped Python ("python") and bytecode ("pyc").

Readers: `formats.json_doc.load_json` and `formats.pycode.parse_python` (bounded, inert). Checks:
MC400–MC407 on configs and JSON (remote_code_config), MC410–MC424 on Python (remote_code_python).
"""

from __future__ import annotations

from modelcert.checks.base import AnalysisContext, AnalyzerSpec
from modelcert.checks.remote_code_checks import CompiledPython
from modelcert.checks.remote_code_config import review_json, wiring_for
from modelcert.checks.remote_code_python import PythonReview
from modelcert.formats.blob import Blob
from modelcert.formats.json_doc import load_json
from modelcert.formats.pycode import parse_python

# CPython writes a 2-byte version magic then "\r\n", and a 16-byte header since 3.7.
_PYC_HEADER = 16


def analyze_json(blob: Blob, ctx: AnalysisContext) -> None:
    """Parse any JSON file with limits, then apply the checks its name and content call for."""
    review_json(load_json(blob, ctx.limits), ctx)


def analyze_python(blob: Blob, ctx: AnalysisContext) -> None:
    """Parse a shipped .py file (never import it) and review every call it can make."""
    source = parse_python(blob, ctx.limits)
    PythonReview(source, ctx, wiring_for(ctx)).run()


def analyze_pyc(blob: Blob, ctx: AnalysisContext) -> None:
    """Compiled bytecode cannot be reviewed as source: report it, do not unmarshal it."""
    head = blob.head(_PYC_HEADER)
    shape = "a CPython bytecode header" if head[2:4] == b"\r\n" else "no valid bytecode header"
    ctx.add(
        CompiledPython.finding(
            f"compiled Python file ({blob.size} bytes, {shape})",
            ctx.location,
            details={"magic": head[:4].hex()},
        )
    )


ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(formats=("json",), analyze=analyze_json),
    AnalyzerSpec(formats=("python",), analyze=analyze_python),
    AnalyzerSpec(formats=("pyc",), analyze=analyze_pyc),
)
