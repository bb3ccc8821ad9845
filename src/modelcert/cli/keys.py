"""`modelcert keys`: make a certifier key pair (and its issuer/trust entries), or assemble a TRUST.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from modelcert.certificate.jurisdictions import check_jurisdiction
from modelcert.certificate.keys import SigningKey
from modelcert.certificate.trust import Certifier, IssuerInfo, Publisher, build_trust
from modelcert.errors import ModelcertError
from modelcert.policy.fields import Fields, load_json
from modelcert.policy.load import load_policy

EXIT_OK = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser("generate", help="create a signing key pair in a folder")
    gen.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the key files")
    gen.add_argument("--algorithm", choices=("ed25519", "ecdsa-p256"), default="ed25519")
    gen.add_argument("--name", help="certifier name: also write issuer.json and certifier.json")
    gen.add_argument(
        "--jurisdiction", metavar="CC", help="ISO 3166-1 alpha-2 code of the certifier (with --name)"
    )
    gen.add_argument(
        "--id", dest="issuer_id", metavar="URI", help="certifier URI (default: urn:modelcert:<key id>)"
    )
    trust = actions.add_parser("trust", help="assemble a TRUST.json from certifier entries and policies")
    trust.add_argument("--certifier", action="append", required=True, type=Path, metavar="CERTIFIER.json")
    trust.add_argument(
        "--policy", action="append", metavar="P", help="accepted policy: baseline, strict or a file"
    )
    trust.add_argument(
        "--publisher-key",
        action="append",
        default=[],
        metavar="NAME=PEM",
        help="accept OMS (model_signing) signatures by this publisher key",
    )
    trust.add_argument("--min-certifiers", type=int, default=1)
    trust.add_argument("--min-jurisdictions", type=int, default=1)
    trust.add_argument("--conflict-rule", choices=("veto", "majority"), help="override the policies' rule")
    trust.add_argument("--output", required=True, type=Path, metavar="TRUST.json")


def run(args: argparse.Namespace) -> int:
    if args.action == "generate":
        return _generate(args)
    return _trust(args)


def _generate(args: argparse.Namespace) -> int:
    if bool(args.name) != bool(args.jurisdiction):
        raise ModelcertError("give --name and --jurisdiction together")
    try:
        jurisdiction = check_jurisdiction(args.jurisdiction) if args.jurisdiction else None
    except ValueError as exc:
        raise ModelcertError(str(exc)) from None
    private_path, public_path = args.out / "private.pem", args.out / "public.pem"
    if private_path.exists():
        raise ModelcertError(f"{private_path} exists: refusing to overwrite a private key")
    key = SigningKey.generate(args.algorithm)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        # created 0600 from the start: the private key is never readable by others, even briefly
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_pem())
        public_path.write_text(key.verifying.public_pem(), encoding="ascii")
        written = [private_path, public_path]
        if args.name and jurisdiction:
            issuer = IssuerInfo(
                args.issuer_id or f"urn:modelcert:certifier:{key.key_id}", args.name, jurisdiction
            )
            (args.out / "issuer.json").write_text(
                json.dumps(issuer.to_dict(), indent=2) + "\n", encoding="utf-8"
            )
            entry = Certifier(key.verifying, args.name, jurisdiction).to_dict()
            (args.out / "certifier.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
            written += [args.out / "issuer.json", args.out / "certifier.json"]
    except OSError as exc:
        raise ModelcertError(f"cannot write keys to {args.out}: {exc.strerror}") from None
    sys.stdout.write(f"{key.algorithm} key {key.key_id}\n")
    for path in written:
        sys.stdout.write(f"  wrote {path}\n")
    return EXIT_OK


def _trust(args: argparse.Namespace) -> int:
    certifiers = []
    for path in args.certifier:
        doc = load_json(read_file(path), str(path))
        certifiers.append(
            Certifier.parse(Fields(doc, "", ("keyId", "publicKeyPem", "name", "jurisdiction", "role")))
        )
    publishers = []
    for spec in args.publisher_key:
        name, sep, pem_path = spec.partition("=")
        if not sep or not name:
            raise ModelcertError(f"--publisher-key {spec!r}: write NAME=PUBLIC_KEY.pem")
        publishers.append(
            Publisher(name, public_key_pem=read_file(Path(pem_path)).decode("ascii", "replace"))
        )
    policies = [load_policy(p) for p in (args.policy or ["baseline"])]
    trust = build_trust(
        certifiers,
        policies,
        min_certifiers=args.min_certifiers,
        min_jurisdictions=args.min_jurisdictions,
        conflict_rule=args.conflict_rule,
        publishers=publishers,
    )
    write_file(args.output, json.dumps(trust.to_dict(), indent=2) + "\n")
    sys.stdout.write(
        f"wrote {args.output}: {len(certifiers)} certifier(s), {len(policies)} accepted policy(ies), "
        f"quorum {trust.min_certifiers} certifier(s) / {trust.min_jurisdictions} jurisdiction(s)\n"
    )
    return EXIT_OK


def read_file(path: Path) -> bytes:
    """Bytes of a file the user named; an unreadable one is a usage error (exit 2), not a traceback."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelcertError(f"cannot read {path}: {exc.strerror}") from None


def write_file(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ModelcertError(f"cannot write {path}: {exc.strerror}") from None
