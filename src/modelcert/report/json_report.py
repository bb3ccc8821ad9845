"""The JSON report: one entry per file on disk, members nested, and the package's OMS root digest."""

from __future__ import annotations

import json

from modelcert.findings import ScanReport


def render_json(report: ScanReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"
