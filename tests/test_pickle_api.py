"""The API container analyzers call: analyze_pickle(blob, ctx, context=..., start=...)."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from builders import pickles as P
from modelcert.checks.base import PackageView
from modelcert.checks.pickle_code import analyze_pickle
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import Finding, Location, Verdict
from modelcert.formats.blob import Blob, BytesBlob
from modelcert.limits import DEFAULT_LIMITS, Limits


@dataclass
class RecordingContext:
    """A minimal AnalysisContext that records what the analyzer reports."""

    limits: Limits = DEFAULT_LIMITS
    location: Location = field(
        default_factory=lambda: Location(path="model.pt", member=("archive/data.pkl",))
    )
    depth: int = 1
    package: PackageView | None = None
    relpath: str = "archive/data.pkl"
    findings: list[Finding] = field(default_factory=list)
    members: list[tuple[str, Blob, str | None]] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def set_format(self, fmt: str) -> None:
        self.formats.append(fmt)

    def scan_member(self, name: str, blob: Blob, *, format_hint: str | None = None) -> None:
        self.members.append((name, blob, format_hint))

    def note(self, key: str, value: Any) -> None:
        pass


def test_contexts_and_returned_view() -> None:
    ctx = RecordingContext()
    parsed = analyze_pickle(BytesBlob(P.os_system_pickle(2), "data.pkl"), ctx, context="torch-data")
    assert parsed.streams[0].complete
    (finding,) = ctx.findings
    assert finding.check_id == "MC100" and finding.verdict is Verdict.UNSAFE
    assert finding.location.member == ("archive/data.pkl",) and finding.location.offset == 2
    assert not ctx.formats, "only the generic context relabels the artifact"
    with pytest.raises(ValueError, match="context"):
        analyze_pickle(BytesBlob(b"N.", "x"), RecordingContext(), context="nonsense")


def test_start_offset_for_embedded_streams() -> None:
    header = b"\x93NUMPY-like header\n"
    blob = BytesBlob(header + pickle.dumps(["a", "b"], 2), "x.npy")
    ctx = RecordingContext()
    parsed = analyze_pickle(blob, ctx, context="numpy-object-array", start=len(header))
    assert parsed.streams[0].start == len(header) and not ctx.findings
    with pytest.raises(FormatError):
        analyze_pickle(blob, RecordingContext(), start=blob.size)


def test_nested_payloads_are_handed_back_as_members() -> None:
    ctx = RecordingContext()
    analyze_pickle(BytesBlob(P.nested_loads(P.os_system_pickle(2)), "x"), ctx)
    ((name, member, hint),) = ctx.members
    assert name.startswith("pickle-payload@") and hint == "pickle"
    assert member.read_at(0, 2) == b"\x80\x02"


def test_limit_is_raised_after_reporting() -> None:
    ctx = RecordingContext(limits=Limits(max_pickle_opcodes=8))
    with pytest.raises(LimitExceeded):
        analyze_pickle(BytesBlob(P.os_system_pickle(2)[:-1] + b"0" + b"N0" * 10 + b"N.", "x"), ctx)
    assert any(f.check_id == "MC100" for f in ctx.findings)
