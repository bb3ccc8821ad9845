"""ONNX analyzer: external-data references that leave the package, and operators that need native code.

Check IDs MC150–MC159 belong to ONNX.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from pathlib import Path
from urllib.parse import unquote

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check, PackageView
from modelcert.findings import Confidence, Location, Severity, Verdict
from modelcert.formats.blob import Blob, FileBlob
from modelcert.formats.onnx_model import ExternalDataRef, OnnxView, read_onnx
from modelcert.records import MutableRecord

# Operator domains whose kernels ship inside the ONNX runtimes themselves. A node in any other
# domain only runs if the user registers a custom-op library (native code from outside the file).
BUILT_IN_DOMAINS: dict[str, str] = {
    "": "default ONNX operator set",
    "ai.onnx": "default ONNX operator set, by its explicit name",
    "ai.onnx.ml": "ONNX-ML operators (trees, scalers, encoders) defined by the ONNX specification",
    "ai.onnx.training": "training operators defined by the ONNX specification",
    "ai.onnx.preview.training": "preview training operators defined by the ONNX specification",
    "com.microsoft": "ONNX Runtime contrib operators compiled into onnxruntime; exported and optimised "
    "transformers (optimum, ORT transformers optimizer) use them routinely",
    "com.microsoft.nchwc": "ONNX Runtime layout-optimised kernels written by its own graph optimiser",
    "com.ms.internal.nhwc": "ONNX Runtime internal NHWC layout domain written by its own optimiser",
}

# Well-known optional libraries: still native code from outside the file, so still reported, but
# named so that a reviewer can decide quickly.
KNOWN_OPTIONAL_DOMAINS: dict[str, str] = {
    "com.microsoft.extensions": "onnxruntime-extensions (tokenizers, audio/image decoding)",
    "ai.onnx.contrib": "onnxruntime-extensions (legacy domain name)",
    "org.pytorch.aten": "ONNX Runtime ATen fallback (needs torch at run time)",
}

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:")


class OnnxExternalDataEscapes(Check):
    """An ONNX tensor's `external_data` location points outside the model package.

    ONNX stores large tensors in side files named by `external_data` entries (`location`, `offset`,
    `length`). The loader joins `location` to the model's folder and reads it, so a location that is
    absolute (`/etc/passwd`, `C:\\Windows\\...`, `\\\\server\\share`), climbs with `..` (also nested
    as `weights/../../../x` and with Windows backslashes), is URL-encoded (`%2e%2e%2f`), is a URL, or
    holds a NUL byte, makes loading the model read an arbitrary host file into a weight, from
    where the model's outputs can leak it.

    Covers CVE-2022-25882 (onnx `..` traversal) and CVE-2024-27318 (the nested `dir/../../`
    bypass of its fix). Verdict **unsafe** when the location leaves the package (or may: absolute,
    URL, encoded), **suspicious** when `..` stays inside the package but leaves the model's folder.
    """

    id = "MC150"
    title = "ONNX external data outside the package"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-22"
    remediation = (
        "Re-save the model with onnx.save_model(..., save_as_external_data=True, location='<file in the "
        "model folder>'); never load it with an onnx/onnxruntime version older than the CVE fixes."
    )


class OnnxExternalDataLink(Check):
    """An ONNX external-data file is a symbolic link or a hard link to a file outside the package.

    The location itself looks harmless (`weights.bin`), but the file behind it is a link, so the
    loader reads whatever the link points to — `/etc/shadow`, an SSH key — into a tensor. Symlinks
    are CVE-2026-27489 and CVE-2026-34447; hard links, which no path check can see, are
    CVE-2026-34446 (a hard link is detected when the file has more links than the package holds).
    Verdict **unsafe**.
    """

    id = "MC151"
    title = "ONNX external data through a link"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-59"
    remediation = "Replace the link with a regular copy of the data file, or re-save the model."


class OnnxExternalDataMissing(Check):
    """An ONNX tensor is stored externally, but the data file is not in the package (or no location
    is given). The model cannot load as shipped, and the file a loader would find in its place is
    not the one that was scanned. Verdict **suspicious**."""

    id = "MC152"
    title = "ONNX external data file missing"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-20"
    remediation = "Ship the external data file next to the model, or re-save with the data embedded."


class OnnxExternalDataBounds(Check):
    """An ONNX external-data entry has an `offset`/`length` that is not a non-negative integer or
    that runs past the end of its data file. Loaders reject or mis-read such tensors; crafted bounds
    have been used to exhaust memory. Verdict **suspicious**."""

    id = "MC153"
    title = "ONNX external data offset/length invalid"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-125"
    remediation = "Re-save the model with its own onnx library so offsets match the data file."


class OnnxCustomOperatorDomain(Check):
    """Nodes use an operator domain that no ONNX runtime implements by itself.

    Such operators only run when the user registers a custom-op library (a native shared object),
    so the model depends on native code that is not in the package and was not scanned; a
    malicious model can ask for a library the attacker ships elsewhere. The standard ONNX domains
    and ONNX Runtime's built-in contrib domains (`com.microsoft`, used by exported transformers) are
    allowed; functions defined inside the model (FunctionProto) are walked, and their nodes
    checked, instead of being treated as custom operators. Subgraphs of If/Loop/Scan and every
    GRAPH/GRAPHS attribute are walked too. Verdict **suspicious**.
    """

    id = "MC154"
    title = "ONNX custom operator domain"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Use standard ONNX operators, or review and pin the custom-op library the model needs."


def analyze_onnx(blob: Blob, ctx: AnalysisContext) -> None:
    view = read_onnx(blob, ctx.limits)
    _check_operators(view, ctx)
    _ExternalDataChecker(ctx).run(view)


def _check_operators(view: OnnxView, ctx: AnalysisContext) -> None:
    by_domain: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for use in view.ops:
        if use.domain in BUILT_IN_DOMAINS or (use.domain, use.op_type) in view.functions:
            continue
        by_domain.setdefault(use.domain, []).append(use.op_type)
        first.setdefault(use.domain, use.first_pointer)
    for domain, ops in sorted(by_domain.items()):
        known = KNOWN_OPTIONAL_DOMAINS.get(domain)
        message = f"operators {', '.join(sorted(ops)[:20])} in domain {domain!r} need a custom-op library"
        if known:
            message += f" ({known})"
        ctx.add(
            OnnxCustomOperatorDomain.finding(
                message,
                ctx.location.at(pointer=first[domain]),
                severity=Severity.LOW if known else None,
                details={"domain": domain, "operators": sorted(ops)[:100]},
            )
        )


def external_location_problem(location: str) -> str | None:
    """Why a location can reach outside any folder it is resolved in, or None when it cannot.

    `..` that stays inside is judged by the caller, which knows the model's folder.
    """
    if "\x00" in location:
        return "contains a NUL byte"
    decoded = location
    for _ in range(3):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
    if decoded != location:
        inner = external_location_problem(decoded)
        if inner or _has_parent_step(decoded):
            return f"is percent-encoded and decodes to {decoded!r}"
    norm = location.replace("\\", "/")
    if norm.startswith("//"):
        return "is a UNC / network path"
    if norm.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(norm):
        return "is a Windows drive path"
    if _URL.match(norm):
        return "is a URL"
    return None


def _has_parent_step(location: str) -> bool:
    return ".." in location.replace("\\", "/").split("/")


class _DataFile(MutableRecord):
    __slots__ = ("blob_size", "problem")
    blob_size: int | None
    problem: str | None

    def __init__(self, blob_size: int | None = None, problem: str | None = None) -> None:
        self.blob_size = blob_size
        self.problem = problem


class _ExternalDataChecker(MutableRecord):
    __slots__ = ("_files", "_relpaths", "ctx")
    ctx: AnalysisContext
    _files: dict[str, _DataFile]
    _relpaths: set[str] | None

    def __init__(
        self,
        ctx: AnalysisContext,
        _files: dict[str, _DataFile] | None = None,
        _relpaths: set[str] | None = None,
    ) -> None:
        self.ctx = ctx
        self._files = {} if _files is None else _files
        self._relpaths = _relpaths

    def run(self, view: OnnxView) -> None:
        for ref in view.external_data:
            self._check(ref)

    def _check(self, ref: ExternalDataRef) -> None:
        ctx = self.ctx
        where = ctx.location.at(pointer=ref.pointer)
        location = ref.location
        if not location:
            if ref.marked_external:
                ctx.add(OnnxExternalDataMissing.finding(
                    f"tensor {ref.tensor_name!r} is external but names no location", where))
            return
        details = {"tensor": ref.tensor_name, "location": location}
        problem = external_location_problem(location)
        if problem:
            ctx.add(OnnxExternalDataEscapes.finding(
                f"tensor {ref.tensor_name!r}: external data location {location!r} {problem}", where,
                details=details))
            return
        base = posixpath.dirname(ctx.relpath) if ctx.depth == 0 else ""
        resolved = posixpath.normpath(posixpath.join(base, location.replace("\\", "/")))
        if resolved == ".." or resolved.startswith("../"):
            ctx.add(OnnxExternalDataEscapes.finding(
                f"tensor {ref.tensor_name!r}: external data location {location!r} climbs out of the package",
                where, details=details))
            return
        if _has_parent_step(location):
            ctx.add(OnnxExternalDataEscapes.finding(
                f"tensor {ref.tensor_name!r}: external data location {location!r} uses '..' "
                "(the loader refuses it; it leaves the model's folder)",
                where, severity=Severity.MEDIUM, verdict=Verdict.SUSPICIOUS, details=details))
        package = ctx.package
        if package is None or ctx.depth != 0:
            return  # a single file or an archive member: siblings cannot be checked from here
        self._check_file(package, ref, resolved, where)

    def _check_file(
        self, package: PackageView, ref: ExternalDataRef, resolved: str, location: Location
    ) -> None:
        ctx = self.ctx
        state = self._files.get(resolved)
        if state is None:
            state = self._files[resolved] = self._inspect(package, resolved)
            if state.blob_size is not None:
                ctx.note("onnx_external_data", resolved)
            if state.problem:
                missing = state.problem == "missing"
                check: type[Check] = OnnxExternalDataMissing if missing else OnnxExternalDataLink
                text = (f"external data file {resolved!r} is not in the package" if missing
                        else f"external data file {resolved!r} {state.problem}")
                ctx.add(check.finding(text, location, details={"tensor": ref.tensor_name, "file": resolved}))
        if state.problem or state.blob_size is None:
            return
        bounds = _bounds_problem(ref, state.blob_size)
        if bounds:
            ctx.add(OnnxExternalDataBounds.finding(
                f"tensor {ref.tensor_name!r} in {resolved!r}: {bounds}", location,
                details={"tensor": ref.tensor_name, "file": resolved, "file_size": state.blob_size}))

    def _inspect(self, package: PackageView, resolved: str) -> _DataFile:
        if package.is_symlink(resolved):
            return _DataFile(problem="is a symbolic link (CVE-2026-27489, CVE-2026-34447)")
        if self._relpaths is None:
            self._relpaths = set(package.relpaths())
        if resolved not in self._relpaths:
            return _DataFile(problem="missing")
        blob = package.open_file(resolved)
        if blob is None:
            return _DataFile(problem="missing")
        try:
            outside = _hard_links_outside(blob, resolved, self._relpaths)
            if outside:
                return _DataFile(blob_size=blob.size, problem=f"is a hard link with {outside} link(s) "
                                 "outside the package (CVE-2026-34446)")
            return _DataFile(blob_size=blob.size)
        finally:
            blob.close()


def _hard_links_outside(blob: Blob, relpath: str, relpaths: set[str]) -> int:
    """How many hard links of this file are not accounted for by files of the package (0 when unknown)."""
    if not isinstance(blob, FileBlob):
        return 0
    try:
        st = os.lstat(blob.path)
    except OSError:
        return 0
    if not stat.S_ISREG(st.st_mode) or st.st_nlink <= 1:
        return 0
    root = _package_root(blob.path, relpath)
    if root is None:
        return st.st_nlink - 1
    inside = 0
    for other in relpaths:
        try:
            other_st = os.lstat(root / other)
        except OSError:
            continue
        if (other_st.st_dev, other_st.st_ino) == (st.st_dev, st.st_ino):
            inside += 1
    return max(0, st.st_nlink - inside)


def _package_root(path: Path, relpath: str) -> Path | None:
    parts = len(Path(relpath).parts)
    root = path
    for _ in range(parts):
        root = root.parent
    return root if (root / relpath) == path else None


def _bounds_problem(ref: ExternalDataRef, file_size: int) -> str | None:
    values: dict[str, int] = {}
    for key in ("offset", "length"):
        raw = ref.value(key)
        if raw is None:
            continue
        try:
            number = int(raw)
        except ValueError:
            return f"{key} {raw[:40]!r} is not an integer"
        if number < 0:
            return f"{key} {number} is negative"
        values[key] = number
    offset = values.get("offset", 0)
    if offset > file_size:
        return f"offset {offset} is past the end of the file ({file_size} bytes)"
    length = values.get("length")
    if length is not None and offset + length > file_size:
        return f"offset {offset} + length {length} runs past the end of the file ({file_size} bytes)"
    return None


ANALYZERS: tuple[AnalyzerSpec, ...] = (AnalyzerSpec(formats=("onnx",), analyze=analyze_onnx),)
