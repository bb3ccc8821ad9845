"""Reports: SARIF 2.1.0 validated against the OASIS schema; text and JSON agree with the model."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from modelcert.demo import build
from modelcert.findings import Verdict
from modelcert.report import render_json, render_text, to_sarif
from modelcert.scan import scan_paths

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture
def demo_report(tmp_path: Path):  # type: ignore[no-untyped-def]
    build(tmp_path / "demo")
    (tmp_path / "demo" / "alias.bin").symlink_to(tmp_path / "demo" / "README.md")
    return scan_paths([tmp_path / "demo"])


def test_sarif_validates_against_the_oasis_schema(demo_report) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads(SCHEMA.read_text())
    sarif = to_sarif(demo_report)
    jsonschema.validate(sarif, schema)
    results = sarif["runs"][0]["results"]
    assert results, "the demo package has findings"
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_json_report_verdict_is_worst_of_files(demo_report) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(render_json(demo_report))
    assert data["summary"]["verdict"] == demo_report.verdict.value
    assert demo_report.verdict is Verdict.UNSAFE


def test_text_report_names_every_unclean_file(demo_report) -> None:  # type: ignore[no-untyped-def]
    text = render_text(demo_report)
    for artifact in demo_report.files:
        if artifact.verdict not in {Verdict.CLEAN, Verdict.SKIPPED}:
            assert artifact.path in text
    assert text.rstrip().endswith(f"verdict: {demo_report.verdict.value}")
