"""The CLI: exit codes 0 clean / 1 not clean at --fail-on / 2 error, and the three report formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelcert.cli.main import main
from modelcert.demo import build


def test_version_is_fast_and_prints_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        from modelcert.cli.main import entry

        sys.argv = ["modelcert", "--version"]
        entry()
    assert exc.value.code == 0
    assert "modelcert" in capsys.readouterr().out
    # lazy imports: --version must not import the scanner, rich or any format library
    code = (
        "import sys; from modelcert.cli.main import main; rc = main(['--version']) if False else None;"
        "import modelcert.cli.main; "
        "print(','.join(m for m in ('modelcert.scan','rich','onnx','h5py','numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_clean_folder_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("hello\n")
    assert main(["scan", str(tmp_path), "-q"]) == 0
    assert "verdict:" in capsys.readouterr().out


def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing")]) == 2
    assert "error" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan"]) == 2
    assert main(["scan", ".", "--fail-on", "nonsense"]) == 2
    assert main(["no-such-command"]) == 2


def test_demo_package_is_unsafe_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path / "demo")
    out_file = tmp_path / "report.json"
    rc = main(["scan", str(tmp_path / "demo"), "--format", "json", "-o", str(out_file)])
    report = json.loads(out_file.read_text())
    verdicts = {f["path"]: f["verdict"] for f in report["files"]}
    assert verdicts["optimizer.pkl"] == "unsafe"
    assert verdicts["model.safetensors"] == "clean"
    assert rc == 1


def test_fail_on_threshold_controls_exit_code(tmp_path: Path) -> None:
    # a symlink inside the package is a medium-severity finding
    (tmp_path / "a.bin").write_bytes(b"\x00" * 4)
    (tmp_path / "alias.bin").symlink_to(tmp_path / "a.bin")
    assert main(["scan", str(tmp_path), "-q", "--fail-on", "medium"]) == 1
    assert main(["scan", str(tmp_path), "-q", "--fail-on", "high"]) == 0


def test_json_report_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path / "demo")
    main(["scan", str(tmp_path / "demo"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert {"tool", "version", "root_digest", "summary", "files"} <= report.keys()
    assert len(report["root_digest"]) == 64
    for entry in report["files"]:
        assert {"path", "format", "sha256", "size", "verdict", "findings"} <= entry.keys()
        assert entry["verdict"] in {"clean", "suspicious", "unsafe", "unscannable", "skipped"}
    assert sorted(f["path"] for f in report["files"]) == [
        "README.md", "config.json", "model.safetensors", "optimizer.pkl"
    ]


def test_single_file_path_is_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path / "demo")
    main(["scan", str(tmp_path / "demo" / "optimizer.pkl"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in report["files"]] == ["optimizer.pkl"]


def test_scan_feed_marks_a_listed_digest_unsafe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`scan --feed`: a README that scans clean becomes unsafe once a signed feed lists its digest."""
    import hashlib
    from datetime import UTC, datetime

    from modelcert.certificate.keys import SigningKey
    from modelcert.findings import Severity
    from modelcert.registry.feed import FeedEntry, build_feed, make_commitment, sign_feed

    (tmp_path / "model").mkdir()
    readme = tmp_path / "model" / "README.md"
    readme.write_text("innocent looking\n")
    key = SigningKey.generate()
    commitment, _ = make_commitment({"why": "reported by a certifier"})
    digest = hashlib.sha256(readme.read_bytes()).hexdigest()
    entry = FeedEntry(digest, "MC100", Severity.CRITICAL, commitment, "file", 1)
    feed = build_feed([entry], "r", datetime.now(UTC))
    (tmp_path / "feed.json").write_text(sign_feed(feed, key).to_json())
    (tmp_path / "registry.pem").write_text(key.verifying.public_pem())
    assert main(["scan", str(tmp_path / "model"), "-q"]) == 0
    capsys.readouterr()
    feed_args = ["--feed", str(tmp_path / "feed.json")]
    rc = main(["scan", str(tmp_path / "model"), "-q", "--format", "json", *feed_args,
               "--feed-key", str(tmp_path / "registry.pem")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert [f["id"] for f in out["package_findings"]] == ["MC950"]
    other = SigningKey.generate()
    (tmp_path / "other.pem").write_text(other.verifying.public_pem())
    assert main(["scan", str(tmp_path / "model"), "-q", "--feed", str(tmp_path / "feed.json"),
                 "--feed-key", str(tmp_path / "other.pem")]) == 2
