"""Fixtures and builders shared by the registry, service and log tests (this module holds no tests).

- `store_url`: a fresh database per test, SQLite file and (when MODELCERT_TEST_POSTGRES_URL is set) a
  fresh schema on a real PostgreSQL server, so store tests run against both backends.
- `certify_model`: a real certificate (the certificate package's issue_certificate) for a tiny model.
- `RegistryHarness`: the ASGI app in-process with clients for admin, certifier, publisher, witness.
- `ServerProcess`: a real `modelcert serve` on 127.0.0.1 with a free port, stopped by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from modelcert.certificate.dsse import Envelope
from modelcert.certificate.issue import issue_certificate
from modelcert.certificate.keys import SigningKey
from modelcert.certificate.trust import IssuerInfo
from modelcert.policy.load import load_policy
from modelcert.policy.waivers import NO_WAIVERS
from modelcert.registry.client import RegistryClient
from modelcert.registry.database import sqlite_url
from modelcert.scan import scan_paths
from modelcert.service.app import create_app
from modelcert.service.config import hash_token, prepare_data_dir

PG_ENV = "MODELCERT_TEST_POSTGRES_URL"
LINE = "pkg:huggingface/acme/widget"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with an empty schema; the PostgreSQL variant skips without a server."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "registry.db")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: no PostgreSQL server for this run")
    yield from _pg_schema(base)


def _pg_schema(base: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_model(root: Path, seed: int = 0) -> Path:
    """A small model folder of text and raw bytes (baseline policy passes it)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(f"# widget {seed}\n")
    (root / "weights.f32").write_bytes(os.urandom(1024))
    return root


def certify_model(
    model: Path,
    key: SigningKey,
    *,
    name: str = "Lab One",
    jurisdiction: str = "DE",
    line: str = LINE,
    version: str = "1.0",
    now: datetime = NOW,
) -> tuple[Envelope, str]:
    """A signed certificate for `model` and the model's root digest."""
    report = scan_paths([model])
    issued = issue_certificate(
        report,
        load_policy("baseline"),
        NO_WAIVERS,
        IssuerInfo(f"https://{name.lower().replace(' ', '-')}.example", name, jurisdiction),
        key,
        now=now,
        line=line,
        version=version,
    )
    assert report.root_digest is not None
    return issued.envelope, report.root_digest


@dataclass
class RegistryHarness:
    """The service in-process (ASGI transport), with its admin token and registered keys."""

    app: Any
    token: str
    data_dir: Path
    keys: dict[str, SigningKey] = field(default_factory=dict)

    def transport(self) -> httpx.BaseTransport:
        return TestClient(self.app)._transport  # the ASGI transport of the test client

    def client(self, key: SigningKey | None = None, admin: bool = False) -> RegistryClient:
        return RegistryClient(
            "http://testserver",
            key=key,
            admin_token=self.token if admin else None,
            transport=self.transport(),
        )

    def register(
        self, role: str, name: str, jurisdiction: str | None = None, algorithm: str = "ed25519"
    ) -> SigningKey:
        key = SigningKey.generate(algorithm)  # type: ignore[arg-type]
        with self.client(admin=True) as admin:
            admin.register_key(key.verifying.public_pem(), role, name, jurisdiction)
        self.keys[name] = key
        return key

    @property
    def ledger(self) -> Any:
        return self.app.state.guard.ledger


def make_harness(tmp_path: Path, database_url: str | None = None, **settings: Any) -> RegistryHarness:
    data_dir = tmp_path / "registry"
    config, _ = prepare_data_dir(data_dir)
    token = "test-admin-token-" + uuid.uuid4().hex
    config = replace(config, admin_token_sha256=hash_token(token), **settings)
    if database_url is not None:
        config = replace(config, database_url=database_url)
    return RegistryHarness(create_app(config), token, data_dir)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`modelcert serve` in a child process on 127.0.0.1; stopped (or killed) by its pid."""

    def __init__(self, data_dir: Path, token: str, *extra: str) -> None:
        self.data_dir = data_dir
        self.token = token
        self.extra = extra
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.port = free_port()
        env = {**os.environ, "MODELCERT_ADMIN_TOKEN": self.token}
        log = (self.data_dir.parent / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelcert.cli.main",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, like a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, key: SigningKey | None = None, admin: bool = False) -> RegistryClient:
        return RegistryClient(self.url, key=key, admin_token=self.token if admin else None)


def many_certificates(
    model: Path, key: SigningKey, count: int, name: str = "Lab One"
) -> tuple[list[Envelope], str]:
    """`count` distinct certificates (fresh certificate IDs) for one model, from a single scan."""
    report = scan_paths([model])
    issuer = IssuerInfo(f"https://{name.lower().replace(' ', '-')}.example", name, "DE")
    policy = load_policy("baseline")
    envelopes = [
        issue_certificate(report, policy, NO_WAIVERS, issuer, key, now=NOW, line=LINE, version="1.0").envelope
        for _ in range(count)
    ]
    assert report.root_digest is not None
    return envelopes, report.root_digest
