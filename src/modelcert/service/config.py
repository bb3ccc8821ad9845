"""Server configuration: one dataclass, from a YAML file, environment variables and flags.

The admin token bootstraps everything else (it registers certifier, publisher and witness keys). It is
never stored in clear: the config holds its SHA-256 (`admin_token_sha256`), or the token is read from
the environment variable MODELCERT_ADMIN_TOKEN or a file (`admin_token_file`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from modelcert.certificate.keys import KeyFileError, SigningKey
from modelcert.errors import ModelcertError
from modelcert.registry.database import sqlite_url

ADMIN_TOKEN_ENV = "MODELCERT_ADMIN_TOKEN"  # noqa: S105 - the variable's name, not a secret
MiB = 1024 * 1024


class ConfigError(ModelcertError):
    """The server configuration is incomplete or invalid."""


@dataclass(frozen=True)
class ServiceConfig:
    database_url: str
    registry_key_path: Path
    origin: str = "modelcert.localhost/registry"
    admin_token_sha256: str | None = None
    max_body_bytes: int = 4 * MiB
    rate_limit_per_minute: int = 120  # writes per key
    rate_limit_burst: int = 30
    currency_lifetime_hours: float = 24.0
    min_certifiers: int = 1
    min_jurisdictions: int = 1

    def check_admin_token(self, token: str) -> bool:
        if not self.admin_token_sha256:
            return False
        offered = hashlib.sha256(token.encode("utf-8")).hexdigest()
        return secrets.compare_digest(offered, self.admin_token_sha256)

    def load_registry_key(self) -> SigningKey:
        try:
            return SigningKey.from_pem(self.registry_key_path.read_bytes())
        except (OSError, KeyFileError) as exc:
            raise ConfigError(f"registry key {self.registry_key_path}: {exc}") from None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def prepare_data_dir(data_dir: Path) -> tuple[ServiceConfig, str | None]:
    """Defaults for a self-contained registry in `data_dir`: SQLite file and a registry key (created on
    first use, mode 0600). Returns the config and, when one had to be generated, the new admin token
    (also written to data_dir/admin-token, mode 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / "registry-key.pem"
    if not key_path.exists():
        _write_private(key_path, SigningKey.generate("ed25519").private_pem())
    token_path = data_dir / "admin-token"
    generated: str | None = None
    env_token = os.environ.get(ADMIN_TOKEN_ENV)
    if env_token:
        token = env_token
    elif token_path.exists():
        token = token_path.read_text(encoding="utf-8").strip()
    else:
        token = generated = secrets.token_urlsafe(32)
        _write_private(token_path, (token + "\n").encode("utf-8"))
    config = ServiceConfig(
        database_url=sqlite_url(data_dir / "registry.db"),
        registry_key_path=key_path,
        admin_token_sha256=hash_token(token),
    )
    return config, generated


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def load_config_file(path: Path, base: ServiceConfig | None) -> ServiceConfig:
    """Overlay a YAML config file on `base` (or build one). Unknown keys are an error."""
    import yaml  # type: ignore[import-untyped]

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config {path}: expected a mapping")
    return apply_settings(doc, base, path.parent)


def apply_settings(doc: dict[str, Any], base: ServiceConfig | None, relative_to: Path) -> ServiceConfig:
    known = {f.name for f in fields(ServiceConfig)} | {"admin_token_file"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
    values = dict(doc)
    token_file = values.pop("admin_token_file", None)
    if token_file is not None:
        try:
            token = (relative_to / str(token_file)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"admin_token_file: {exc.strerror}") from None
        values["admin_token_sha256"] = hash_token(token)
    if "registry_key_path" in values:
        values["registry_key_path"] = relative_to / str(values["registry_key_path"])
    for name in (
        "max_body_bytes",
        "rate_limit_per_minute",
        "rate_limit_burst",
        "min_certifiers",
        "min_jurisdictions",
    ):
        if name in values and (
            not isinstance(values[name], int) or isinstance(values[name], bool) or values[name] < 1
        ):
            raise ConfigError(f"{name} must be a positive integer")
    if "currency_lifetime_hours" in values and not (
        isinstance(values["currency_lifetime_hours"], int | float)
        and 0 < values["currency_lifetime_hours"] <= 24 * 30
    ):
        raise ConfigError("currency_lifetime_hours must be a number of hours between 0 and 720")
    for name in ("database_url", "origin", "admin_token_sha256"):
        if name in values and not isinstance(values[name], str):
            raise ConfigError(f"{name} must be a string")
    if "origin" in values and (
        not values["origin"] or any(ch.isspace() or ch == "+" for ch in values["origin"])
    ):
        raise ConfigError("origin must be a non-empty name without spaces or '+' (C2SP checkpoint origin)")
    if base is None:
        if "database_url" not in values or "registry_key_path" not in values:
            raise ConfigError("config needs database_url and registry_key_path (or use --data-dir)")
        return ServiceConfig(**values)
    return replace(base, **values)
