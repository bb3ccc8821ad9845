"""`modelcert status PATH|DIGEST`: current / superseded by X / revoked because Y, as of T.

Online: `--registry URL` fetches a fresh signed currency statement. Offline: `--statement FILE` checks a
stapled one. Either way the statement's signature is checked against the registry key (`--registry-key`
PEM; without it the key the registry serves is used, trust on first use, with a warning), its expiry and
`--max-age`, and rollback: the highest line-status version seen per line is remembered in --state, and
an older one is refused. Exit 0 when the release may be used (current or supported), 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from modelcert.certificate.keys import VerifyingKey
from modelcert.cli.keys import read_file, write_file
from modelcert.errors import ModelcertError
from modelcert.limits import DEFAULT_LIMITS
from modelcert.package import OMS_DEFAULT_IGNORED, ModelPackage, hash_package, oms_root_digest
from modelcert.registry.client import RegistryClient
from modelcert.registry.currency import CurrencyError, RollbackState, verify_statement

EXIT_OK, EXIT_FAIL = 0, 1
_DIGEST = re.compile(r"(sha256:)?[0-9a-fA-F]{64}")


def default_state_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelcert" / "currency-state.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PATH|DIGEST", help="model folder/file, or its root digest")
    parser.add_argument("--registry", metavar="URL", help="ask this registry for a fresh statement")
    parser.add_argument("--statement", type=Path, help="check this stapled statement instead (offline)")
    parser.add_argument("--registry-key", type=Path, metavar="PEM", help="the registry's public key (pin it)")
    parser.add_argument("--line", help="the line, when the digest is a release of several lines")
    parser.add_argument(
        "--max-age",
        type=float,
        default=72.0,
        metavar="HOURS",
        help="oldest acceptable statement (default 72)",
    )
    parser.add_argument("--state", type=Path, help=f"rollback state file (default {default_state_path()})")
    parser.add_argument("--no-state", action="store_true", help="do not read or record seen versions")
    parser.add_argument("--save-statement", type=Path, metavar="FILE", help="write the statement (to staple)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def root_digest_of_path(path: Path) -> str:
    package = ModelPackage.open(path, DEFAULT_LIMITS, ignore_paths=OMS_DEFAULT_IGNORED)
    return oms_root_digest(hash_package(package))


def _digest(target: str) -> str:
    if _DIGEST.fullmatch(target) and not Path(target).exists():
        return target.lower().removeprefix("sha256:")
    return root_digest_of_path(Path(target))


def run(args: argparse.Namespace) -> int:
    if bool(args.registry) == bool(args.statement):
        raise ModelcertError("give either --registry URL (online) or --statement FILE (offline)")
    digest = _digest(args.target)
    key: VerifyingKey | None = (
        VerifyingKey.from_pem(read_file(args.registry_key)) if args.registry_key else None
    )
    if args.statement:
        if key is None:
            raise ModelcertError("an offline check needs the pinned --registry-key")
        raw = read_file(args.statement)
    else:
        raw, key = _fetch(args.registry, digest, args.line, key)
    state = None if args.no_state else RollbackState(args.state or default_state_path())
    now = datetime.now(UTC)
    try:
        statement = json.loads(raw)
    except ValueError:
        statement = None
    try:
        result = verify_statement(
            statement if isinstance(statement, dict) else raw,
            key,
            now,
            timedelta(hours=args.max_age),
            state.last_seen(_line_of(statement)) if state and isinstance(statement, dict) else None,
            expected_digest=digest,
        )
    except CurrencyError as exc:
        _emit(
            args,
            {"rootDigest": digest, "accepted": False, "error": exc.code, "message": str(exc)},
            f"REFUSED ({exc.code}): {exc}",
        )
        return EXIT_FAIL
    if state is not None:
        state.record(result)
    if args.save_statement:
        write_file(args.save_statement, raw.decode("utf-8"))
    ok = result.acceptable()
    doc = {
        "rootDigest": digest,
        "accepted": ok,
        "line": result.line,
        "version": result.version,
        "status": result.status,
        "reason": result.reason,
        "successor": None
        if result.successor is None
        else {"version": result.successor.version, "rootDigest": result.successor.root_digest},
        "lineStatusVersion": result.line_status_version,
        "checkedAt": result.checked_at.isoformat(),
        "expires": result.expires.isoformat(),
        "registry": result.registry,
    }
    _emit(args, doc, result.describe())
    return EXIT_OK if ok else EXIT_FAIL


def _line_of(statement: object) -> str:
    """The line named in an (unverified) statement, only to look up its last-seen version."""
    try:
        payload = json.loads(base64.b64decode(statement["payload"]))  # type: ignore[index]
        return str(payload["predicate"]["line"])
    except (KeyError, TypeError, ValueError):
        return ""


def _fetch(url: str, digest: str, line: str | None, key: VerifyingKey | None) -> tuple[bytes, VerifyingKey]:
    with RegistryClient(url) as client:
        if key is None:
            print(
                "warning: registry key not pinned (--registry-key): trusting the key it serves",
                file=sys.stderr,
            )
            key = client.registry_key()
        envelope = client.currency(digest, line)
    return json.dumps(envelope, indent=2).encode("utf-8") + b"\n", key


def _emit(args: argparse.Namespace, doc: dict[str, object], text: str) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(text + "\n")
