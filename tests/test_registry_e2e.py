"""End to end through the CLI against a real server: certify → publish → status current → the publisher
supersedes with a safety-fix release → status superseded → offline verify with a stapled statement
passes until it expires (or grows too old for the verifier), then fails; a rolled-back statement is
refused; the log proves inclusion and a witness cosigns."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelcert.certificate.keys import SigningKey, VerifyingKey
from modelcert.cli.main import main
from modelcert.registry.checkpoint import CosignatureSigner
from modelcert.registry.currency import CurrencyError, verify_statement
from test_registry_support import LINE, ServerProcess, make_model

pytestmark = pytest.mark.slow
TOKEN = "e2e-admin-token"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_certify_publish_supersede_and_offline_currency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ServerProcess(tmp_path / "registry", TOKEN).start()
    try:
        _scenario(server, tmp_path, capsys)
    finally:
        server.stop()


def _scenario(server: ServerProcess, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url
    token_file = tmp / "admin-token"
    token_file.write_text(TOKEN + "\n")
    for name, extra in (("lab", ["--name", "Lab One", "--jurisdiction", "DE"]), ("acme", []), ("wit", [])):
        assert _run(capsys, "keys", "generate", "--out", str(tmp / name), *extra)[0] == 0
    for pem, role, name, extra in (
        ("lab", "certifier", "Lab One", ["--jurisdiction", "DE"]),
        ("acme", "publisher", "Acme AI", []),
        ("wit", "witness", "witness.example/w1", []),
    ):
        code, out = _run(
            capsys,
            "publish",
            "--registry",
            url,
            "--admin-token-file",
            str(token_file),
            "--register-key",
            str(tmp / pem / "public.pem"),
            "--role",
            role,
            "--name",
            name,
            *extra,
        )
        assert code == 0, out
    info = server.client().info()
    (tmp / "registry-key.pem").write_text(info["registryPublicKeyPem"])
    vkey = info["logVerifierKey"]
    registry_key = ["--registry-key", str(tmp / "registry-key.pem")]
    state = ["--state", str(tmp / "currency-state.json")]

    # certify 1.0 and publish the certificate; the publisher declares the release
    v1 = make_model(tmp / "widget-1.0", seed=1)
    code, out = _run(
        capsys,
        "certify",
        str(v1),
        "--key",
        str(tmp / "lab" / "private.pem"),
        "--issuer",
        str(tmp / "lab" / "issuer.json"),
        "--line",
        LINE,
        "--version",
        "1.0",
        "--output",
        str(tmp / "cert-1.0.json"),
    )
    assert code == 0, out
    code, out = _run(
        capsys,
        "publish",
        str(tmp / "cert-1.0.json"),
        "--registry",
        url,
        "--key",
        str(tmp / "lab" / "private.pem"),
        "--output",
        str(tmp / "published-1.0.json"),
    )
    assert code == 0, out
    code, out = _run(
        capsys,
        "publish",
        "--registry",
        url,
        "--key",
        str(tmp / "acme" / "private.pem"),
        "--release",
        LINE,
        "--sequence",
        "1",
        "--version",
        "1.0",
        "--path",
        str(v1),
    )
    assert code == 0, out

    # status: current; the statement is stapled next to the certificate
    stapled = tmp / "currency-1.0.json"
    code, out = _run(
        capsys, "status", str(v1), "--registry", url, *registry_key, *state, "--save-statement", str(stapled)
    )
    assert code == 0 and out.startswith("current (pkg:huggingface/acme/widget 1.0), as of"), out

    # the log proves the certificate's inclusion; a witness cosigns the checkpoint
    code, out = _run(
        capsys,
        "log",
        "verify",
        "--log-key",
        vkey,
        "--registry",
        url,
        "--inclusion",
        str(tmp / "published-1.0.json"),
    )
    assert code == 0 and "PASS entry 3" in out, out
    (tmp / "old-checkpoint").write_text(server.client().checkpoint())
    code, out = _run(
        capsys,
        "witness",
        "--registry",
        url,
        "--key",
        str(tmp / "wit" / "private.pem"),
        "--name",
        "witness.example/w1",
        "--log-key",
        vkey,
        "--state",
        str(tmp / "witness-state"),
    )
    assert code == 0 and "PASS cosigned" in out, out

    # a safety fix: 1.1 is certified, published and declared, superseding 1.0
    v2 = make_model(tmp / "widget-1.1", seed=2)
    assert (
        _run(
            capsys,
            "certify",
            str(v2),
            "--key",
            str(tmp / "lab" / "private.pem"),
            "--issuer",
            str(tmp / "lab" / "issuer.json"),
            "--line",
            LINE,
            "--version",
            "1.1",
            "--output",
            str(tmp / "cert-1.1.json"),
        )[0]
        == 0
    )
    assert (
        _run(
            capsys,
            "publish",
            str(tmp / "cert-1.1.json"),
            "--registry",
            url,
            "--key",
            str(tmp / "lab" / "private.pem"),
        )[0]
        == 0
    )
    code, out = _run(
        capsys,
        "publish",
        "--registry",
        url,
        "--key",
        str(tmp / "acme" / "private.pem"),
        "--release",
        LINE,
        "--sequence",
        "2",
        "--version",
        "1.1",
        "--path",
        str(v2),
        "--supersede",
        "superseded-safety-fix",
    )
    assert code == 0, out
    code, out = _run(capsys, "status", str(v1), "--registry", url, *registry_key, *state)
    assert code == 1 and "superseded by 1.1" in out and "because superseded-safety-fix" in out, out
    code, out = _run(capsys, "status", str(v2), "--registry", url, *registry_key, *state, "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "current", out

    # the witness sees the log grew consistently; log verify checks consistency with the old checkpoint
    assert (
        _run(
            capsys,
            "witness",
            "--registry",
            url,
            "--key",
            str(tmp / "wit" / "private.pem"),
            "--name",
            "witness.example/w1",
            "--log-key",
            vkey,
            "--state",
            str(tmp / "witness-state"),
        )[0]
        == 0
    )
    code, out = _run(
        capsys,
        "log",
        "verify",
        "--log-key",
        vkey,
        "--registry",
        url,
        "--old-checkpoint",
        str(tmp / "old-checkpoint"),
        "--entry",
        "0",
        "--witness",
        _witness_vkey(tmp),
        "--witness-quorum",
        "1",
    )
    assert code == 0 and "append-only" in out, out

    # offline: the certificate verifies (certificate package) and the stapled statement passes...
    assert (
        _run(
            capsys,
            "keys",
            "trust",
            "--certifier",
            str(tmp / "lab" / "certifier.json"),
            "--output",
            str(tmp / "trust.json"),
        )[0]
        == 0
    )
    code, out = _run(
        capsys, "verify", str(v1), "--cert", str(tmp / "cert-1.0.json"), "--trust", str(tmp / "trust.json")
    )
    assert code == 0, out
    code, out = _run(capsys, "status", str(v1), "--statement", str(stapled), *registry_key, "--no-state")
    assert code == 0 and out.startswith("current"), out
    # ... but not for a verifier that already saw the newer line status (rollback) ...
    code, out = _run(capsys, "status", str(v1), "--statement", str(stapled), *registry_key, *state)
    assert code == 1 and "REFUSED (rollback)" in out, out
    # ... nor once it is older than the verifier allows ...
    time.sleep(1.1)
    code, out = _run(
        capsys,
        "status",
        str(v1),
        "--statement",
        str(stapled),
        *registry_key,
        "--no-state",
        "--max-age",
        "0.0001",
    )
    assert code == 1 and "REFUSED (too-old)" in out, out
    # ... nor after it expires
    key = VerifyingKey.from_pem((tmp / "registry-key.pem").read_bytes())
    stapled_doc = json.loads(stapled.read_text())
    fresh = verify_statement(stapled_doc, key, datetime.now(UTC), None, None)
    with pytest.raises(CurrencyError) as exc:
        verify_statement(stapled_doc, key, fresh.expires + timedelta(seconds=1), None, None)
    assert exc.value.code == "expired"
    with pytest.raises(CurrencyError):
        verify_statement(stapled_doc, key, fresh.expires - timedelta(seconds=1), timedelta(hours=72), 2)


def _witness_vkey(tmp: Path) -> str:
    key = SigningKey.from_pem((tmp / "wit" / "private.pem").read_bytes())
    return CosignatureSigner("witness.example/w1", key.private_key).verifier.vkey()  # type: ignore[arg-type]
