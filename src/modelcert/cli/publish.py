"""`modelcert publish`: write to a registry — certificates, releases, status changes, keys, known-bad digests.

    modelcert publish CERT... --registry URL --key K                    certificates (certifier key)
    modelcert publish --release LINE --sequence N --version V (--digest D | --path MODEL) ...   (publisher)
    modelcert publish --set-status LINE --sequence N --status S [--reason R] [--successor N]   (publisher)
    modelcert publish --register-key PEM --role certifier --name N --jurisdiction CC --admin-token-file F
    modelcert publish --known-bad SHA256 --rule R --severity S --detail-file F                 (certifier)

Each answer (log index, inclusion proof, checkpoint) is printed as JSON, or written with --output so it
can be stapled next to the certificate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from modelcert.certificate.keys import SigningKey
from modelcert.cli.keys import read_file, write_file
from modelcert.cli.status import root_digest_of_path
from modelcert.errors import ModelcertError
from modelcert.registry.client import RegistryClient
from modelcert.registry.feed import make_commitment

EXIT_OK = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "certs", nargs="*", type=Path, metavar="CERT", help="certificate envelope(s) to publish"
    )
    parser.add_argument("--registry", required=True, metavar="URL", help="registry base URL")
    parser.add_argument("--key", type=Path, help="your private key (PEM): certifier, publisher or witness")
    parser.add_argument("--admin-token-file", type=Path, help="file holding the registry admin token")
    parser.add_argument("-o", "--output", type=Path, help="write the registry's answer(s) here as JSON")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--release", metavar="LINE", help="declare a release of LINE")
    mode.add_argument("--set-status", metavar="LINE", help="change the status of a release of LINE")
    mode.add_argument("--register-key", type=Path, metavar="PEM", help="register a public key (admin)")
    mode.add_argument("--known-bad", metavar="SHA256", help="report a file digest to the known-bad feed")
    mode.add_argument("--revoke", metavar="ENVELOPE_SHA256", help="revoke a certificate you signed")
    parser.add_argument("--sequence", type=int, help="release sequence number (only grows)")
    parser.add_argument("--version", dest="model_version", help="release version label, e.g. 1.3.0")
    parser.add_argument("--digest", help="release root digest (hex)")
    parser.add_argument("--path", type=Path, help="model folder: compute the root digest from it")
    parser.add_argument("--revision", help="source revision (commit or tag)")
    parser.add_argument("--supersede", metavar="REASON", help="mark earlier current releases superseded")
    parser.add_argument("--publisher-key-id", help="(admin) owner of a new line")
    parser.add_argument("--status", help="new status: current, supported, superseded, yanked, revoked")
    parser.add_argument("--reason", help="reason code for the status or revocation")
    parser.add_argument("--successor", type=int, help="sequence of the release that supersedes this one")
    parser.add_argument("--role", choices=("certifier", "publisher", "witness"))
    parser.add_argument("--name", help="name of the key's owner (a witness: its C2SP key name)")
    parser.add_argument("--jurisdiction", metavar="CC", help="ISO 3166-1 alpha-2 code")
    parser.add_argument("--rule", help="rule ID that found the file malicious, e.g. MC101")
    parser.add_argument("--severity", default="critical", help="severity of the known-bad finding")
    parser.add_argument("--scope", choices=("file", "package"), default="file")
    parser.add_argument(
        "--detail-file", type=Path, help="finding detail (JSON): only its salted commitment is sent"
    )


def _client(args: argparse.Namespace) -> RegistryClient:
    key = SigningKey.from_pem(read_file(args.key)) if args.key else None
    token = os.environ.get("MODELCERT_ADMIN_TOKEN")
    if args.admin_token_file:
        token = read_file(args.admin_token_file).decode("utf-8").strip()
    return RegistryClient(args.registry, key=key, admin_token=token)


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) in (None, "")]
    if missing:
        raise ModelcertError(f"this action needs {', '.join(missing)}")


def _root_digest(args: argparse.Namespace) -> str:
    if args.digest:
        return str(args.digest).lower().removeprefix("sha256:")
    if args.path is None:
        raise ModelcertError("give --digest or --path")
    return root_digest_of_path(args.path)


def run(args: argparse.Namespace) -> int:
    answers: list[dict[str, Any]] = []
    with _client(args) as client:
        if args.release:
            _need(args, "sequence", "model_version")
            answers.append(
                client.declare_release(
                    args.release,
                    args.sequence,
                    args.model_version,
                    _root_digest(args),
                    revision=args.revision,
                    supersede_reason=args.supersede,
                    publisher_key_id=args.publisher_key_id,
                )
            )
        elif args.set_status:
            _need(args, "sequence", "status")
            answers.append(
                client.change_status(
                    args.set_status, args.sequence, args.status, reason=args.reason, successor=args.successor
                )
            )
        elif args.register_key:
            _need(args, "role", "name")
            pem = read_file(args.register_key).decode("ascii", errors="replace")
            answers.append(client.register_key(pem, args.role, args.name, args.jurisdiction))
        elif args.known_bad:
            answers.append(_known_bad(client, args))
        elif args.revoke:
            _need(args, "reason")
            answers.append(client.revoke_certificate(args.revoke, args.reason))
        else:
            if not args.certs:
                raise ModelcertError(
                    "nothing to publish: give CERT files or an action (--release, --set-status, ...)"
                )
            for path in args.certs:
                envelope = json.loads(read_file(path))
                answers.append(client.publish_certificate(envelope))
    text = json.dumps(answers[0] if len(answers) == 1 else answers, indent=2) + "\n"
    if args.output:
        write_file(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _known_bad(client: RegistryClient, args: argparse.Namespace) -> dict[str, Any]:
    _need(args, "rule", "detail_file")
    try:
        detail = json.loads(read_file(args.detail_file))
    except ValueError as exc:
        raise ModelcertError(f"{args.detail_file}: not JSON: {exc}") from None
    commitment, salt = make_commitment(detail)
    answer: dict[str, Any] = client.report_known_bad(
        args.known_bad.lower(), args.rule, args.severity, commitment, args.scope
    )
    # the salt never leaves this machine: keep it to prove the detail later
    answer["commitment"] = commitment
    answer["salt"] = salt
    print("keep the salt private: it and the detail file open the commitment", file=sys.stderr)
    return answer
