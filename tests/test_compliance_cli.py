"""`modelcert comply`: per-clause table, JSON evidence, certificate fragment, exit codes, targets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelcert.behaviour.canonical import canonical_json
from modelcert.behaviour.mock import cautious_mock
from modelcert.behaviour.target import GenerationParams, Message
from modelcert.cli.main import main
from test_compliance_fixtures import build_package


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("cli") / "tiny-widget")


def test_documentation_profile_passes_and_prints_every_clause(package: Path, capsys: Any) -> None:
    assert main(["comply", str(package), "--profile", "eu-gpai"]) == 0
    out = capsys.readouterr().out
    assert "result   MET" in out
    for clause in (
        "EU:AIA:53(1)(a)",
        "EU:AIA:53(1)(b)",
        "EU:AIA:53(1)(c)",
        "EU:AIA:53(1)(d)",
        "EU:AIA:53(2)",
    ):
        assert clause in out


def test_bad_target_fails_with_exit_1(package: Path, capsys: Any) -> None:
    assert main(["comply", str(package), "--profile", "owasp-llm", "--target", "mock:reckless"]) == 1
    out = capsys.readouterr().out
    assert "✗ inj.direct" in out and "threshold missed" in out


def test_json_evidence_and_predicate_files(package: Path, tmp_path: Path) -> None:
    report, fragment = tmp_path / "evidence.json", tmp_path / "predicate.json"
    code = main(
        [
            "comply",
            str(package),
            "--profile",
            "cn-gbt45654",
            "--target",
            "mock",
            "--format",
            "json",
            "-o",
            str(report),
            "--predicate",
            str(fragment),
        ]
    )
    assert code == 0
    doc = json.loads(report.read_text())
    statuses = {c["id"]: c["status"] for c in doc["clauses"]}
    assert statuses["CN:TC260-003:9.2"] == "not measurable"  # reported; not automatable, so it cannot decide
    assert doc["profile"]["id"] == "cn-gbt45654" and doc["audience"] == "public"
    assert {c["id"]: c["status"] for c in doc["clauses"]}["CN:TC260-003:9.3"] == "met"
    canonical_json(doc)
    predicate = json.loads(fragment.read_text())
    assert predicate["schema"] == "modelcert/compliance/v1" and predicate["status"] == "met"


def test_target_errors_exit_2(package: Path, capsys: Any) -> None:
    assert main(["comply", str(package), "--profile", "eu-gpai", "--target", "ftp://x"]) == 2
    assert "--target" in capsys.readouterr().err
    assert main(["comply", str(package), "--profile", "eu-gpai", "--target", "http://192.0.2.1:1"]) == 2
    assert main(["comply", str(package), "--profile", "nope"]) == 2
    assert main(["comply", str(package), "--profile", "eu-gpai", "--bank", "no-equals-sign"]) == 2


class _Chat(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        messages = [Message(m["role"], m["content"]) for m in body["messages"]]
        reply = cautious_mock().chat(messages, GenerationParams())
        raw = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def endpoint() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_http_target_from_the_command_line(package: Path, endpoint: str, capsys: Any) -> None:
    assert main(["comply", str(package), "--profile", "nist-600-1", "--target", endpoint]) == 0
    out = capsys.readouterr().out
    assert "openai-compatible default (binding: endpoint)" in out and "result   MET" in out


def test_local_target_without_transformers_is_a_clear_error(package: Path, capsys: Any) -> None:
    pytest.importorskip("torch")
    try:
        import transformers  # noqa: F401
    except ImportError:
        assert main(["comply", str(package), "--profile", "owasp-llm", "--target", "local"]) == 2
        assert "needs `transformers`" in capsys.readouterr().err
    else:
        pytest.skip("transformers is installed: the local target would load the package")
