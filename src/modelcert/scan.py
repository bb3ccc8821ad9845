"""The one orchestrator: walk → one read pass per file (digest + detection) → analyzers → ScanReport.

Every reader failure becomes a finding here (fail closed): a format error makes the artifact
unscannable, a limit hit too, and an unexpected exception is an analyzer error, never a pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from modelcert.background_digests import BackgroundDigests

from modelcert import __version__
from modelcert.checks.base import AnalysisContext, PackageView
from modelcert.checks.core import (
    ExtensionMismatch,
    InternalError,
    LimitHit,
    NestingLimit,
    SpecialFile,
    SymlinkInPackage,
    Unparseable,
)
from modelcert.checks.registry import analyzer_for, load_package_checks
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import (
    ArtifactReport,
    Finding,
    InputRoot,
    Location,
    ScanReport,
    Severity,
    Verdict,
)
from modelcert.formats.blob import Blob, BytesBlob, FileBlob
from modelcert.formats.detect import HEAD_BYTES, TAIL_BYTES, detect
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.package import (
    ModelPackage,
    PackageFile,
    PackageFiles,
    PackageLink,
    file_sha256,
    oms_root_digest,
)
from modelcert.records import MutableRecord

# Files up to this size are read into memory once and both hashed and parsed from that buffer;
# larger ones are hashed in a streaming pass and parsed through positioned reads of what they need.
IN_MEMORY_FILE_BYTES = 32 * 1024 * 1024
# Large reads for hashing: a hashing thread re-takes the GIL once per chunk, and while an analyzer
# runs Python code each re-take can wait a whole switch interval (5 ms). 8 MiB chunks keep that
# to ~125 waits per GB.
HASH_CHUNK_BYTES = 8 * 1024 * 1024

# Formats the zip analyzer itself assigns (a zip already read as a zip).
_ZIP_BASED = frozenset({"zip", "pytorch-zip", "torchscript", "npz", "keras"})

# Findings that only say "this is not a parseable pickle" (no callable, no payload found).
# A limit hit (MC902) is not among them: what lies beyond a limit is unknown.
_PARSE_FAILURE_IDS = frozenset({"MC901", "MC107", "MC108", "MC109"})

SKIP_REASONS = {
    "text": "plain text: no reader applies (documentation, licence, vocabulary)",
    "binary": "no reader claims this content (raw data)",
    "empty": "empty file",
    "image": "image (PNG/JPEG/GIF/WebP): model-card picture, holds no code or weights",
    "tensor-data": "raw tensor bytes (ONNX external data): no structure of its own; checked via its graph",
}


class ScanObserver(Protocol):
    """Progress callbacks; the CLI draws a bar, the library default is silent."""

    def started(self, total_files: int, total_bytes: int) -> None: ...

    def file_done(self, relpath: str, size: int) -> None: ...


class _SilentObserver:
    def started(self, total_files: int, total_bytes: int) -> None:
        pass

    def file_done(self, relpath: str, size: int) -> None:
        pass


PackageCheck = Callable[["PackageContext"], Iterable[Finding]]


class PackageContext(MutableRecord):
    """What package-level checks see after every file was analysed."""

    __slots__ = ("files", "limits", "notes", "package", "view")
    package: ModelPackage
    view: PackageView
    files: list[ArtifactReport]
    notes: dict[str, dict[str, Any]]  # relpath -> facts noted by analyzers
    limits: Limits

    def __init__(
        self,
        package: ModelPackage,
        view: PackageView,
        files: list[ArtifactReport],
        notes: dict[str, dict[str, Any]],
        limits: Limits,
    ) -> None:
        self.package = package
        self.view = view
        self.files = files
        self.notes = notes
        self.limits = limits


PACKAGE_CHECKS: list[PackageCheck] = []


def register_package_check(check: PackageCheck) -> PackageCheck:
    """Decorator for checks that look across files (template vs base, auto_map wiring, lineage)."""
    PACKAGE_CHECKS.append(check)
    return check


class _Artifact(MutableRecord):
    """Mutable builder for one ArtifactReport while its analyzer runs."""

    __slots__ = ("findings", "format", "members", "path", "sha256", "size", "skipped_reason")
    path: str
    format: str
    size: int
    sha256: str | None
    findings: list[Finding]
    members: list[ArtifactReport]
    skipped_reason: str | None

    def __init__(
        self,
        path: str,
        format: str,
        size: int,
        sha256: str | None,
        findings: list[Finding] | None = None,
        members: list[ArtifactReport] | None = None,
        skipped_reason: str | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.size = size
        self.sha256 = sha256
        self.findings = [] if findings is None else findings
        self.members = [] if members is None else members
        self.skipped_reason = skipped_reason

    def freeze(self) -> ArtifactReport:
        return ArtifactReport(
            path=self.path,
            format=self.format,
            size=self.size,
            sha256=self.sha256,
            findings=tuple(self.findings),
            members=tuple(self.members),
            skipped_reason=self.skipped_reason,
        )


class _Context:
    """AnalysisContext for one artifact; children get their own."""

    def __init__(
        self,
        engine: _Engine,
        artifact: _Artifact,
        location: Location,
        depth: int,
        notes: dict[str, Any],
    ) -> None:
        self._engine = engine
        self._artifact = artifact
        self._location = location
        self._depth = depth
        self._notes = notes
        self._unpacked = 0

    @property
    def limits(self) -> Limits:
        return self._engine.limits

    @property
    def location(self) -> Location:
        return self._location

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def package(self) -> PackageView | None:
        return self._engine.view

    @property
    def relpath(self) -> str:
        return self._artifact.path

    def add(self, finding: Finding) -> None:
        self._artifact.findings.append(finding)

    def set_format(self, fmt: str) -> None:
        self._artifact.format = fmt

    def note(self, key: str, value: Any) -> None:
        self._notes.setdefault(key, []).append(value)

    def scan_member(self, name: str, blob: Blob, *, format_hint: str | None = None) -> None:
        location = self._location.inner(name)
        if self._depth + 1 > self.limits.max_nesting:
            child = _Artifact(path=name, format="unknown", size=blob.size, sha256=None)
            child.findings.append(
                NestingLimit.finding(
                    f"not opened: {self._depth + 1} containers deep (limit {self.limits.max_nesting})",
                    location,
                )
            )
            self._artifact.members.append(child.freeze())
            return
        digest = _digest_blob(blob) if blob.size <= self.limits.in_memory_member_bytes else None
        report = self._engine.analyse(blob, name, location, self._depth + 1, digest, self._notes, format_hint)
        self._artifact.members.append(report)


def _digest_blob(blob: Blob) -> str:
    h = hashlib.sha256()
    if isinstance(blob, BytesBlob):
        h.update(blob.data)
    else:
        step = 4 * 1024 * 1024
        for offset in range(0, blob.size, step):
            h.update(blob.read_at(offset, step))
    return h.hexdigest()


class _Engine:
    def __init__(self, limits: Limits, view: PackageView | None) -> None:
        self.limits = limits
        self.view = view

    def analyse(
        self,
        blob: Blob,
        name: str,
        location: Location,
        depth: int,
        digest: str | None,
        notes: dict[str, Any],
        format_hint: str | None = None,
    ) -> ArtifactReport:
        head = blob.head(HEAD_BYTES)
        tail = blob.tail(TAIL_BYTES) if blob.size > HEAD_BYTES else head
        detection = detect(head, tail, blob.size, name)
        # A container that knows a member's role (TorchScript code, a Keras config) names its format;
        # detection still runs so that content contradicting the role is reported.
        fmt = format_hint or detection.format
        artifact = _Artifact(path=name, format=fmt, size=blob.size, sha256=digest)
        if detection.mismatch:
            artifact.findings.append(
                ExtensionMismatch.finding(
                    f"content is {fmt} but the name suggests {detection.hint}",
                    location,
                    details={"content": fmt, "name_suggests": detection.hint},
                )
            )
        analyzer = analyzer_for(fmt)
        if analyzer is None:
            artifact.skipped_reason = SKIP_REASONS.get(fmt, f"no reader for format {fmt!r} yet")
            return artifact.freeze()
        ctx = _Context(self, artifact, location, depth, notes)
        _run_analyzer(analyzer, blob, ctx, artifact, location)
        if detection.guessed and _only_parse_failures(artifact.freeze()):
            # Named like a pickle, but the stream breaks before importing anything: no unpickler can
            # run code from it (calls need a callable, and callables only enter through imports).
            return ArtifactReport(
                path=name, format="binary", size=blob.size, sha256=digest,
                skipped_reason="raw data: not a pickle stream (it breaks before any import)",
            )
        if fmt != "zip" and artifact.format not in _ZIP_BASED and b"PK\x05\x06" in tail:
            # A polyglot: zipfile-based loaders (Keras, numpy.load) read a zip from its end record,
            # whatever the file starts with. Read that view too.
            ctx.scan_member("<zip directory at end of file>", blob, format_hint="zip")
        return artifact.freeze()


def _run_analyzer(
    analyzer: Callable[[Blob, AnalysisContext], None],
    blob: Blob,
    ctx: _Context,
    artifact: _Artifact,
    location: Location,
) -> None:
    try:
        analyzer(blob, ctx)
    except LimitExceeded as exc:
        artifact.findings.append(LimitHit.finding(str(exc), location.at(offset=exc.offset)))
    except FormatError as exc:
        artifact.findings.append(
            Unparseable.finding(f"{artifact.format}: {exc}", location.at(offset=exc.offset))
        )
    except RecursionError:
        artifact.findings.append(LimitHit.finding("structure nested beyond the recursion limit", location))
    except MemoryError:
        artifact.findings.append(LimitHit.finding("ran out of memory while reading", location))
    except Exception as exc:  # fail closed on analyzer bugs, never crash the scan
        artifact.findings.append(
            InternalError.finding(
                f"{artifact.format} analyzer failed: {type(exc).__name__}: {str(exc)[:200]}", location
            )
        )


def _run_package_check(check: PackageCheck, pctx: PackageContext) -> list[Finding]:
    """One package-level check; its failure is a finding (fail closed), never a crashed scan."""
    name = getattr(check, "__qualname__", repr(check))
    where = Location(path=".")  # the package as a whole
    try:
        return list(check(pctx))
    except RecursionError:
        return [LimitHit.finding(f"package check {name}: nested beyond the recursion limit", where)]
    except MemoryError:
        return [LimitHit.finding(f"package check {name}: ran out of memory", where)]
    except Exception as exc:  # an analyzer bug must not turn into a pass or a crash
        message = f"package check {name} failed: {type(exc).__name__}: {str(exc)[:200]}"
        return [InternalError.finding(message, where)]


def _open_file(
    pf: PackageFile,
    digests: BackgroundDigests | None,
    on_hashed: Callable[[], None],
) -> tuple[Blob, Callable[[], bytes]]:
    """One read pass: a blob the analyzers read from, and its SHA-256 digest (possibly still running).

    Small files stay in memory, hashed and parsed from one buffer. Large ones are already being
    hashed in the background (see `background_digests`) *while* the analyzers (and then the
    package-level checks) read the structure they need with positioned reads, which the page cache
    serves: analysis time hides behind hashing time instead of adding to it.
    """
    if pf.size <= IN_MEMORY_FILE_BYTES:
        with open(pf.abspath, "rb", buffering=0) as fh:
            data = fh.read()
        digest = hashlib.sha256(data).digest()
        on_hashed()
        return BytesBlob(data, pf.relpath), lambda: digest
    blob = FileBlob(pf.abspath, pf.relpath)
    if digests is None:
        digest = file_sha256(pf.abspath, HASH_CHUNK_BYTES)
        on_hashed()
        return blob, lambda: digest
    pending = digests.future(pf.abspath)
    pending.add_done_callback(on_hashed)
    return blob, pending.result


_Analysed = tuple[ArtifactReport, Callable[[], bytes] | None]


def _analyse_file(
    pf: PackageFile,
    engine: _Engine,
    notes: dict[str, dict[str, Any]],
    lock: threading.Lock,
    observer: ScanObserver,
    digests: BackgroundDigests | None,
) -> _Analysed:
    location = Location(path=pf.relpath)
    file_notes: dict[str, Any] = {}
    try:
        blob, digest_of = _open_file(pf, digests, lambda: observer.file_done(pf.relpath, pf.size))
    except OSError as exc:
        observer.file_done(pf.relpath, pf.size)
        finding = Unparseable.finding(f"cannot read: {exc.strerror}", location)
        return ArtifactReport(path=pf.relpath, format="unknown", size=pf.size, findings=(finding,)), None
    try:
        report = engine.analyse(blob, pf.relpath, location, 0, None, file_notes)
    finally:
        blob.close()
    if file_notes:
        with lock:
            notes[pf.relpath] = file_notes
    return report, digest_of


@contextlib.contextmanager
def _short_gil_switch_interval(seconds: float = 0.0005) -> Iterator[None]:
    """While large files hash in threads beside Python-heavy analyzers, hand the GIL back sooner.

    Only for the fallback where no child interpreter could hash them. A hashing thread releases the
    GIL inside hashlib and file reads but must re-take it per chunk; with the default 5 ms switch
    interval it waits behind the analyzer thread for most of that.
    Restored on exit (it is process-wide).
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _scan_package(
    package: ModelPackage, limits: Limits, observer: ScanObserver, workers: int
) -> tuple[list[ArtifactReport], dict[str, bytes], list[Finding]]:
    """Analyse every file, run the package-level checks, then collect the digests still hashing."""
    view = PackageFiles(package) if package.is_dir else None
    engine = _Engine(limits, view)
    notes: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    package_findings: list[Finding] = []
    with contextlib.ExitStack() as stack:
        big_files = [pf for pf in package.files if pf.size > IN_MEMORY_FILE_BYTES]
        hashing: BackgroundDigests | None = None
        if workers > 1 and big_files:
            # Started first, before any analyzer is even imported: hashing is the critical path.
            from modelcert.background_digests import BackgroundDigests

            hashing = stack.enter_context(
                BackgroundDigests([pf.abspath for pf in big_files], [pf.size for pf in big_files], workers)
            )
            if hashing.in_threads:
                stack.enter_context(_short_gil_switch_interval())
        if workers > 1 and len(package.files) > 1:
            from concurrent.futures import ThreadPoolExecutor

            # Shut down before the package checks: the template renderer forks, and a fork is safest
            # with as few threads alive as possible.
            def analyse(pf: PackageFile) -> _Analysed:
                return _analyse_file(pf, engine, notes, lock, observer, hashing)

            with ThreadPoolExecutor(workers, "modelcert-scan") as pool:
                analysed = list(pool.map(analyse, package.files))
        else:
            analysed = [_analyse_file(pf, engine, notes, lock, observer, hashing) for pf in package.files]
        reports = [report for report, _ in analysed]
        reports.extend(_link_reports(package.links))
        reports.extend(
            ArtifactReport(
                path=rel, format="special", size=0,
                findings=(SpecialFile.finding("special file: not opened", Location(path=rel)),),
            )
            for rel in package.special
        )
        reports.sort(key=lambda r: r.path)
        reports = _relabel_onnx_external_data(reports, notes)
        if view is not None:
            pctx = PackageContext(package, view, reports, notes, limits)
            PACKAGE_CHECKS.extend(c for c in load_package_checks() if c not in PACKAGE_CHECKS)
            for check in PACKAGE_CHECKS:
                package_findings.extend(_run_package_check(check, pctx))
        # Only now wait for the digests: the package checks above ran while large files hashed.
        digests = {report.path: digest_of() for report, digest_of in analysed if digest_of is not None}
    reports = [
        r.replace(sha256=digests[r.path].hex()) if r.path in digests else r for r in reports
    ]
    return reports, digests, package_findings


def scan_paths(
    paths: Sequence[Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    observer: ScanObserver | None = None,
    workers: int = 2,
) -> ScanReport:
    """Scan each path (folder or file) and return one report; never executes what it reads."""
    started = time.perf_counter()
    observer = observer or _SilentObserver()
    packages = [ModelPackage.open(Path(p), limits) for p in paths]
    observer.started(sum(len(p.files) for p in packages), sum(p.total_bytes for p in packages))
    inputs: list[InputRoot] = []
    files: list[ArtifactReport] = []
    package_findings: list[Finding] = []
    for package in packages:
        reports, digests, findings = _scan_package(package, limits, observer, workers)
        package_findings.extend(findings)
        inputs.append(
            InputRoot(
                path=str(package.root),
                root_digest=oms_root_digest(digests),
                file_count=len(package.files),
                total_bytes=package.total_bytes,
            )
        )
        files.extend(reports)
    return ScanReport(
        tool="modelcert",
        version=__version__,
        inputs=tuple(inputs),
        files=tuple(files),
        package_findings=tuple(package_findings),
        duration_seconds=time.perf_counter() - started,
    )


def _only_parse_failures(report: ArtifactReport) -> bool:
    return all(f.check_id in _PARSE_FAILURE_IDS for f in report.all_findings())


def _relabel_onnx_external_data(
    reports: list[ArtifactReport], notes: dict[str, dict[str, Any]]
) -> list[ArtifactReport]:
    """Raw tensor files an ONNX model references are data, not broken pickles.

    A file named like `weights.bin` is analysed as a pickle (that is how torch.load would read it),
    and raw tensor bytes then fail to parse. When an ONNX model in the package declares the file as
    its external data and the pickle analysis found nothing but the parse failure, the file is
    reported as skipped raw data. Any callable, payload or other finding keeps the pickle verdict.
    """
    referenced: dict[str, str] = {}
    for owner, facts in notes.items():
        for target in facts.get("onnx_external_data", []):
            referenced.setdefault(str(target), owner)
    if not referenced:
        return reports
    out = []
    for original in reports:
        report = original
        referrer = referenced.get(report.path)
        raw = report.format == "binary" or (report.format == "pickle" and _only_parse_failures(report))
        if referrer is not None and raw:
            report = ArtifactReport(
                path=report.path,
                format="onnx-external-data",
                size=report.size,
                sha256=report.sha256,
                skipped_reason=f"raw tensor data referenced by {referrer} (ONNX external_data)",
            )
        out.append(report)
    return out


def scan_blob(blob: Blob, name: str, limits: Limits = DEFAULT_LIMITS) -> ArtifactReport:
    """Analyse bytes that are not on disk (tests, a registry upload) as one artifact."""
    engine = _Engine(limits, None)
    return engine.analyse(blob, name, Location(path=name), 0, _digest_blob(blob), {})


def _link_reports(links: Sequence[PackageLink]) -> list[ArtifactReport]:
    out = []
    for link in links:
        finding = SymlinkInPackage.finding(
            f"symlink to {link.target!r}"
            + (" leaves the package or dangles" if link.escapes else " (inside the package)"),
            Location(path=link.relpath),
            severity=Severity.HIGH if link.escapes else None,
            verdict=Verdict.UNSAFE if link.escapes else None,
            details={"target": link.target},
        )
        out.append(ArtifactReport(path=link.relpath, format="symlink", size=0, findings=(finding,)))
    return out
