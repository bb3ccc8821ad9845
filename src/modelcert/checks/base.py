"""The check contract: stable IDs with a docstring each, and the context an analyzer reports into.

A *check* is a class with a stable ID (MCnnn); its docstring is its documentation page
(`make docs` renders docs/checks/). Findings are only created through `Check.finding`, so every
finding carries the check's ID, title, CWE and remediation.

An *analyzer* is a function `(blob, ctx) -> None` registered for one format: it runs the reader,
applies checks, and hands any member it finds (archive entries, embedded streams) back to the
scanner through `ctx.scan_member`, which detects and analyses it in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, Protocol

from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

CHECKS: dict[str, type[Check]] = {}


class Check:
    """Base class; subclasses set the class attributes and write their doc as the docstring."""

    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    confidence: ClassVar[Confidence] = Confidence.HIGH
    verdict: ClassVar[Verdict]
    cwe: ClassVar[str | None] = None
    remediation: ClassVar[str] = ""
    tags: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "id", None):
            return  # an intermediate base
        if cls.id in CHECKS and CHECKS[cls.id] is not cls:
            raise RuntimeError(f"duplicate check id {cls.id}: {CHECKS[cls.id].__name__} and {cls.__name__}")
        if not (cls.__doc__ or "").strip():
            raise RuntimeError(f"check {cls.id} needs a docstring: it is its documentation page")
        CHECKS[cls.id] = cls

    @classmethod
    def doc(cls) -> str:
        import inspect  # only docs need it; keeps CLI start-up lean

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def finding(
        cls,
        message: str,
        location: Location,
        *,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        verdict: Verdict | None = None,
        details: Mapping[str, Any] | None = None,
        tags: tuple[str, ...] = (),
    ) -> Finding:
        return Finding(
            check_id=cls.id,
            title=cls.title,
            severity=severity if severity is not None else cls.severity,
            confidence=confidence if confidence is not None else cls.confidence,
            verdict=verdict if verdict is not None else cls.verdict,
            message=message,
            location=location,
            cwe=cls.cwe,
            remediation=cls.remediation,
            tags=(*cls.tags, *tags),
            details=dict(details or {}),
        )


class PackageView(Protocol):
    """What an analyzer may know of the package around the file it reads (sibling files)."""

    def relpaths(self) -> list[str]:
        """POSIX relative paths of every regular file in the package."""

    def open_file(self, relpath: str) -> Blob | None:
        """A sibling file by relative path, or None when it is not a regular file of the package."""

    def is_symlink(self, relpath: str) -> bool:
        """True when the path is a symlink inside the package (never followed)."""


class AnalysisContext(Protocol):
    """What the scanner gives an analyzer for one artifact."""

    @property
    def limits(self) -> Limits: ...

    @property
    def location(self) -> Location:
        """Where the artifact being analysed is."""

    @property
    def depth(self) -> int:
        """How many containers deep this artifact is (0 for a file on disk)."""

    @property
    def package(self) -> PackageView | None: ...

    @property
    def relpath(self) -> str:
        """The artifact's path: its relative path in the package, or its member name."""

    def add(self, finding: Finding) -> None:
        """Record a finding against this artifact."""

    def set_format(self, fmt: str) -> None:
        """Refine the format label (e.g. "zip" → "pytorch-zip") once the analyzer knows better."""

    def scan_member(self, name: str, blob: Blob, *, format_hint: str | None = None) -> None:
        """Detect and analyse a member (archive entry, embedded stream) as a child artifact."""

    def note(self, key: str, value: Any) -> None:
        """Attach a fact for later package-level checks (e.g. GGUF metadata, auto_map targets)."""


Analyzer = Callable[[Blob, AnalysisContext], None]


class AnalyzerSpec(Record):
    """An analyzer and the format names it handles."""

    __slots__ = ("analyze", "formats")
    formats: Final[tuple[str, ...]]
    analyze: Final[Analyzer]

    def __init__(self, formats: tuple[str, ...], analyze: Analyzer) -> None:
        self.formats = formats
        self.analyze = analyze
