"""`modelcert checks`: the catalogue of checks (ID, severity, verdict, title)."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from modelcert.checks.registry import all_checks

    checks = all_checks()
    if args.json:
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "severity": c.severity.label,
                "verdict": c.verdict.value,
                "cwe": c.cwe,
            }
            for c in checks.values()
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for check in checks.values():
        sys.stdout.write(f"{check.id}  {check.severity.label:<8} {check.verdict.value:<11} {check.title}\n")
    return 0
