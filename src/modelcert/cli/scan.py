"""`modelcert scan PATH...`: scan and report; exit 1 when any finding reaches --fail-on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from modelcert.findings import ScanReport, Severity

EXIT_OK, EXIT_FAIL = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="model folder, file or archive")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="report format")
    parser.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument(
        "--fail-on",
        default="low",
        type=Severity.parse,
        metavar="SEVERITY",
        help="exit 1 when a finding reaches this severity: info, low (default), medium, high, critical",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list clean and skipped files too")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=2, help="files read in parallel (default 2)")
    parser.add_argument(
        "--feed",
        metavar="FILE|URL",
        help="known-bad feed (a registry's /feed or a file): files whose digest is listed are unsafe",
    )
    parser.add_argument(
        "--feed-key",
        type=Path,
        metavar="PEM",
        help="registry public key: refuse a feed that is not signed by it",
    )
    parser.add_argument("--base", type=Path, metavar="BASE", help="declared base model folder (lineage)")
    parser.add_argument("--behaviour", action="store_true", help="run the budgeted behavioural trigger scan")
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="behavioural budget (default 300)")


class _RichProgress:
    """A progress bar on stderr, only when it is a terminal."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self._task: Any = None

    def started(self, total_files: int, total_bytes: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(f"scanning {total_files} files", total=total_bytes)

    def file_done(self, relpath: str, size: int) -> None:
        self._progress.advance(self._task, size)

    def stop(self) -> None:
        self._progress.stop()


def _with_feed_matches(report: ScanReport, source: str, key_path: Path | None) -> ScanReport:
    """Add known-bad feed matches (MC950/MC951) to the report as package-level findings."""
    from modelcert.certificate.keys import VerifyingKey
    from modelcert.registry.feed import load_feed, match_report

    key = VerifyingKey.from_pem(key_path.read_bytes()) if key_path else None
    matches = match_report(report, load_feed(source, registry_key=key))
    return report.replace(package_findings=(*report.package_findings, *matches))


def run(args: argparse.Namespace) -> int:
    from modelcert.report import render_json, render_sarif, render_text
    from modelcert.scan import scan_paths

    progress = _RichProgress() if (sys.stderr.isatty() and not args.quiet) else None
    try:
        if args.base is not None or args.behaviour:
            from modelcert.evidence import scan_with_evidence

            report: ScanReport = scan_with_evidence(
                args.paths, base=args.base, behaviour=args.behaviour, budget=args.budget,
                observer=progress, workers=max(1, args.workers),
            )
        else:
            report = scan_paths(args.paths, observer=progress, workers=max(1, args.workers))
    finally:
        if progress is not None:
            progress.stop()
    if args.feed:
        report = _with_feed_matches(report, args.feed, args.feed_key)
    if args.format == "json":
        text = render_json(report)
    elif args.format == "sarif":
        text = render_sarif(report)
    else:
        text = render_text(report, verbose=args.verbose)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_FAIL if report.fails_at(args.fail_on) else EXIT_OK
