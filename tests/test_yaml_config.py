"""YAML configs with Python object tags (PyYAML unsafe loaders; CVE-2020-1747, CVE-2020-14343) — MC425.

Every payload is a harmless `echo`; nothing is ever loaded: the analyzer only composes nodes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.findings import Severity, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.scan import scan_blob, scan_paths

MALICIOUS = {
    "apply": 'init: !!python/object/apply:os.system ["echo hi"]\n',
    "new": 'proc: !!python/object/new:subprocess.Popen [["echo", "hi"]]\n',
    "object": "cb: !!python/object:builtins.eval {}\n",
    "name": "fn: !!python/name:os.system\n",
    "module": "m: !!python/module:os\n",
    "verbatim tag": 'x: !<tag:yaml.org,2002:python/object/apply:os.system> ["echo hi"]\n',
    "TAG shorthand": '%TAG !p! tag:yaml.org,2002:python/\n---\nx: !p!object/apply:os.system ["echo hi"]\n',
    "in a key": '? !!python/object/apply:os.system ["echo hi"]\n: value\n',
    "deep in a list": 'a: [1, {b: [2, !!python/name:os.system ]}]\n',
    "second document": 'a: 1\n---\nb: !!python/object/apply:os.system ["echo hi"]\n',
    "behind an anchor": 'a: &x !!python/object/apply:os.system ["echo hi"]\nb: *x\n',
}

BENIGN = {
    "lightning hparams": "lr: 0.001\nbatch_size: 32\nlayers: [64, 64]\noptimizer: adamw\n",
    "nemo config": "model:\n  encoder:\n    _target_: nemo.collections.asr.modules.ConformerEncoder\n"
    "    d_model: 176\n  train_ds:\n    manifest_filepath: null\n",
    "mlflow": "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.7\n"
    "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n",
    "data tags": "shape: !!python/tuple [3, 4]\nz: !!python/complex 1+2j\nb: !!binary aGVsbG8=\n"
    "s: !!str 5\nts: 2024-01-01\n",
    "anchors": "base: &base {lr: 0.1, wd: 0.01}\nrun1: {<<: *base, lr: 0.2}\nrun2: *base\n",
    "comments only": "# nothing here\n",
    "custom local tag": "loss: !CrossEntropy {weight: 1.0}\n",
}


def _scan(text: str, name: str = "hparams.yaml"):  # type: ignore[no-untyped-def]
    return scan_blob(BytesBlob(text.encode(), name), name)


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_python_object_tags_are_unsafe(name: str) -> None:
    report = _scan(MALICIOUS[name])
    assert report.format == "yaml"
    assert report.verdict is Verdict.UNSAFE, [f.message for f in report.findings]
    assert {f.check_id for f in report.findings} == {"MC425"}


def test_apply_is_critical_and_names_the_target_and_line() -> None:
    report = _scan('a: 1\nb:\n  c: !!python/object/apply:os.system ["echo hi"]\n')
    (finding,) = report.findings
    assert finding.severity is Severity.CRITICAL
    assert finding.details["target"] == "os.system" and finding.location.line == 3


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_ordinary_configs_are_clean(name: str) -> None:
    report = _scan(BENIGN[name])
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.findings]


def test_names_that_are_yaml_and_mlflow_descriptor(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(MALICIOUS["apply"])
    (tmp_path / "MLmodel").write_text(MALICIOUS["name"])
    (tmp_path / "notes.txt").write_text(MALICIOUS["apply"])  # no loader reads .txt as YAML
    report = scan_paths([tmp_path])
    verdicts = {a.path: a.verdict for a in report.files}
    assert verdicts["config.yml"] is Verdict.UNSAFE and verdicts["MLmodel"] is Verdict.UNSAFE
    assert verdicts["notes.txt"] is Verdict.SKIPPED


def test_syntax_error_is_informational_because_nothing_is_constructed() -> None:
    report = _scan("a: [1, 2\nb: : :\n")
    assert report.verdict is Verdict.CLEAN
    assert [f.check_id for f in report.findings] == ["MC426"]


def test_alias_bombs_and_cycles_are_walked_once() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    assert _scan("\n".join(lines) + "\n").verdict is Verdict.CLEAN
    assert _scan("a: &a [1, *a]\n").verdict is Verdict.CLEAN


def test_deep_nesting_is_a_limit_not_a_crash() -> None:
    deep = "a: " + "[" * (sys.getrecursionlimit() * 2) + "]" * (sys.getrecursionlimit() * 2) + "\n"
    report = _scan(deep)
    assert report.verdict is not Verdict.UNSAFE
    assert "MC903" not in {f.check_id for f in report.findings}


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_analyzer(data: bytes) -> None:
    report = scan_blob(BytesBlob(data, "x.yaml"), "x.yaml")
    assert "MC903" not in {f.check_id for f in report.findings}
