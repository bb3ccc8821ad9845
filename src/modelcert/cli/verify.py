"""`modelcert verify PATH --cert CERT... --trust TRUST.json`: offline verification with a per-step report."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from modelcert.certificate.trust import TrustRoot
from modelcert.certificate.verify import Step, VerifyReport, verify_package
from modelcert.cli.keys import read_file

EXIT_OK, EXIT_FAIL = 0, 1
_MARK = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "info": "INFO"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH", help="model folder or file")
    parser.add_argument(
        "--cert",
        action="append",
        required=True,
        type=Path,
        metavar="CERT",
        help="a certificate (repeat for several certifiers)",
    )
    parser.add_argument("--trust", required=True, type=Path, metavar="TRUST.json", help="trusted certifiers")
    parser.add_argument("--min-certifiers", type=int, metavar="K", help="distinct certifiers required")
    parser.add_argument("--min-jurisdictions", type=int, metavar="J", help="distinct jurisdictions required")
    parser.add_argument(
        "--publisher-signature",
        action="append",
        default=[],
        type=Path,
        metavar="SIG",
        help="also check a publisher's model_signing bundle against TRUST.json publishers",
    )
    parser.add_argument(
        "--min-evidence",
        choices=("E0", "E1", "E2", "E3"),
        help="reject a certificate whose backdoor evidence level is lower",
    )
    parser.add_argument(
        "--require-clause",
        action="append",
        default=[],
        metavar="CLAUSE",
        help="reject a certificate that does not report this compliance clause as met (repeatable)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--workers", type=int, default=2, help="files hashed in parallel (default 2)")


def run(args: argparse.Namespace) -> int:
    trust = TrustRoot.load(read_file(args.trust), str(args.trust))
    certificates = [(path.name, read_file(path)) for path in args.cert]
    bundles = [(path.name, read_file(path)) for path in args.publisher_signature]
    report = verify_package(
        args.path,
        certificates,
        trust,
        now=datetime.now(UTC),
        min_certifiers=args.min_certifiers,
        min_jurisdictions=args.min_jurisdictions,
        publisher_bundles=bundles,
        detached=_inside(args.path, [*args.cert, *args.publisher_signature]),
        workers=max(1, args.workers),
        min_evidence=args.min_evidence,
        require_clauses=args.require_clause,
    )
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")  # ASCII: no raw control characters
    else:
        sys.stdout.write(render_text(report))
    return EXIT_OK if report.passed else EXIT_FAIL


def _inside(root: Path, files: list[Path]) -> list[str]:
    """Certificates and signatures stored inside the model folder are not part of the model."""
    if not root.is_dir():
        return []
    base = root.resolve()
    out = []
    for path in files:
        resolved = path.resolve()
        if resolved.is_relative_to(base):
            out.append(resolved.relative_to(base).as_posix())
    return out


def render_text(report: VerifyReport) -> str:
    lines = [f"modelcert verify: {'PASSED' if report.passed else 'FAILED'}  (sha256:{report.root_digest})"]
    lines += _steps("package", report.package)
    for check in report.certificates:
        lines.append(f"certificate {_printable(check.label)}: {'accepted' if check.accepted else 'REJECTED'}")
        lines += [f"  {_MARK[s.status]}  {s.name:<10} {_printable(s.message)}" for s in check.steps]
    lines += _steps("quorum", report.quorum)
    if report.publishers:
        lines += _steps("publisher signatures", report.publishers)
    return "\n".join(lines) + "\n"


def _steps(title: str, steps: list[Step]) -> list[str]:
    return [f"{title}:"] + [f"  {_MARK[s.status]}  {_printable(s.message)}" for s in steps]


def _printable(text: str) -> str:
    """Messages quote certificate fields, which an attacker writes: never send control characters
    (terminal escape sequences) to the terminal."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cc" else c for c in text)
