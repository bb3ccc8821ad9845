"""Renderers of a ScanReport: JSON, SARIF 2.1.0 and human text. Pure functions, no printing."""

from __future__ import annotations

from modelcert.report.json_report import render_json
from modelcert.report.sarif import render_sarif, to_sarif
from modelcert.report.text import render_text

__all__ = ["render_json", "render_sarif", "render_text", "to_sarif"]
