"""A recursive macro (the type-mapping helper of tool-calling templates) is analysed, not recursed forever.

The Hermes / NousResearch function-calling template calls `json_to_python_type` from itself; the
backdoor template reader expanded macro calls inside expressions without remembering which macros it
was already expanding, and the RecursionError escaped the package checks and crashed the whole scan.
Package checks now also fail closed: an exception in one is a finding, never a crashed scan.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcert import scan as scan_module
from modelcert.findings import Verdict
from modelcert.scan import scan_paths

RECURSIVE_TOOL_TEMPLATE = """\
{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"} %}
{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec|items) + "]" }}
{%- elif json_spec.type == "object" and json_spec.additionalProperties is defined %}
    {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}
{{- '<|im_start|>system\\nYou may call these tools: <tools>' }}
{%- for tool in tools %}
    {%- for name, fields in tool.parameters.properties|items %}
        {{- name + ": " + json_to_python_type(fields) }}
    {%- endfor %}
{%- endfor %}
{{- '</tools><|im_end|>\\n' }}
{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""


def _package(root: Path) -> Path:
    root.mkdir()
    (root / "tokenizer_config.json").write_text(json.dumps({"chat_template": RECURSIVE_TOOL_TEMPLATE}))
    (root / "chat_template.jinja").write_text(RECURSIVE_TOOL_TEMPLATE)
    return root


def test_recursive_tool_template_scans_clean(tmp_path: Path) -> None:
    report = scan_paths([_package(tmp_path / "pkg")])
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]


def test_a_failing_package_check_is_a_finding_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_ctx: object) -> list[object]:
        raise KeyError("bug")

    monkeypatch.setattr(scan_module, "PACKAGE_CHECKS", [broken])
    monkeypatch.setattr(scan_module, "load_package_checks", lambda: ())
    report = scan_paths([_package(tmp_path / "pkg")])
    crashed = [f for f in report.package_findings if f.check_id == "MC903"]
    assert crashed and "KeyError" in crashed[0].message
    assert report.verdict is not Verdict.CLEAN
