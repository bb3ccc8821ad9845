"""NumPy `.npy` arrays (also the members of `.npz`): header checks, object arrays handed to the pickle
analyzer, and data that does not match the declared shape (MC220–MC221)."""

from __future__ import annotations

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.errors import FormatError
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.numpy_format import read_npy_header


class NumpyObjectArray(Check):
    """The array has an object dtype (`'|O'`, or a structured dtype with an object field): its data
    is a pickle stream, unpickled by `np.load(..., allow_pickle=True)` — and by every `np.load`
    before numpy 1.16.3, where `allow_pickle` defaulted to True (CVE-2019-6446).

    Informational: the pickle itself is analysed as a member named `<array data>` (by the pickle
    analyzer), and that analysis decides the verdict. An object array of plain strings is clean;
    one whose pickle imports `os.system` is unsafe.
    """

    id = "MC220"
    title = "NumPy object array (pickled data)"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    cwe = "CWE-502"
    remediation = "Store numeric or fixed-width string dtypes instead; load with allow_pickle=False."
    tags = ("CVE-2019-6446",)


class NumpyDataSize(Check):
    """The bytes after an `.npy` header are not shape × itemsize of the declared dtype.

    Shorter data makes `np.load` fail (a corrupt or truncated file); longer data is ignored by
    `np.load` and so can hide a second payload — it is analysed as a member named
    `<trailing data>`. Either way the file was not written by `np.save`: **suspicious**.
    """

    id = "MC221"
    title = "NumPy data size does not match its header"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-130"
    remediation = "Re-save the array with np.save."


def analyze_npy(blob: Blob, ctx: AnalysisContext) -> None:
    header = read_npy_header(blob, ctx.limits)
    remaining = blob.size - header.data_offset
    if header.has_object:
        ctx.add(
            NumpyObjectArray.finding(
                f"object dtype {header.descr!r}: the data is a pickle, run by np.load(allow_pickle=True)",
                ctx.location,
                details={"descr": str(header.descr)[:200], "shape": list(header.shape[:16])},
            )
        )
        if remaining <= 0:
            raise FormatError("object array without data after its header", header.data_offset)
        ctx.scan_member(
            "<array data>",
            blob.window(header.data_offset, remaining, "<array data>"),
            format_hint="pickle",
        )
        return
    expected = header.expected_data_bytes
    if remaining == expected:
        return
    location = ctx.location.at(offset=header.data_offset)
    if remaining < expected:
        ctx.add(
            NumpyDataSize.finding(
                f"shape {header.shape} of {header.itemsize}-byte items needs {expected} bytes, "
                f"the file holds {remaining}",
                location,
            )
        )
        return
    extra_at = header.data_offset + expected
    ctx.add(
        NumpyDataSize.finding(
            f"{remaining - expected} bytes follow the array data (np.load ignores them)",
            ctx.location.at(offset=extra_at),
        )
    )
    ctx.scan_member("<trailing data>", blob.window(extra_at, remaining - expected, "<trailing data>"))


ANALYZERS: tuple[AnalyzerSpec, ...] = (AnalyzerSpec(formats=("numpy",), analyze=analyze_npy),)
