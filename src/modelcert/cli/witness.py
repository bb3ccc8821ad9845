"""`modelcert witness`: check that a registry's log only grew since last time, then cosign its checkpoint.

    modelcert witness --registry URL --key WITNESS.pem --name witness.example/w1 --log-key VKEY --state DIR

The witness key (Ed25519) must be registered at the registry with role `witness` and the same name.
The last cosigned checkpoint is kept in --state; if the new one is not an extension of it (a fork or a
shrink: a split view), nothing is cosigned, both checkpoints are printed as evidence, and the exit code
is 1.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from modelcert.certificate.keys import SigningKey
from modelcert.cli.keys import read_file, write_file
from modelcert.cli.log import text_or_file
from modelcert.errors import ModelcertError
from modelcert.registry.audit import AuditError, log_verifier, witness
from modelcert.registry.checkpoint import CosignatureSigner
from modelcert.registry.client import RegistryClient

EXIT_OK, EXIT_FAIL = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", required=True, metavar="URL")
    parser.add_argument("--key", required=True, type=Path, help="the witness's Ed25519 private key (PEM)")
    parser.add_argument("--name", required=True, help="the witness's key name, as registered")
    parser.add_argument("--log-key", required=True, metavar="VKEY", help="the log's verifier key (or a file)")
    parser.add_argument(
        "--state", required=True, type=Path, metavar="DIR", help="where the last checkpoint is kept"
    )


def run(args: argparse.Namespace) -> int:
    key = SigningKey.from_pem(read_file(args.key))
    if not isinstance(key.private_key, ed25519.Ed25519PrivateKey):
        raise ModelcertError("a witness key must be Ed25519 (C2SP cosignature/v1)")
    log_key = log_verifier(text_or_file(args.log_key))
    state_file = args.state / (re.sub(r"[^A-Za-z0-9._-]", "_", log_key.name) + ".checkpoint")
    previous = read_file(state_file).decode("utf-8") if state_file.exists() else None
    with RegistryClient(args.registry, key=key) as client:
        try:
            result = witness(
                client, CosignatureSigner(args.name, key.private_key), log_key, previous, int(time.time())
            )
        except AuditError as exc:
            print(f"FAIL {exc}: not cosigning", file=sys.stdout)
            if previous is not None:
                print("last cosigned checkpoint:\n" + previous, file=sys.stdout)
            return EXIT_FAIL
        client.cosign(result.cosigned_note)
    args.state.mkdir(parents=True, exist_ok=True)
    write_file(state_file, result.cosigned_note)
    since = (
        "first checkpoint seen"
        if result.previous_size is None
        else f"consistent with size {result.previous_size}"
    )
    print(f"PASS cosigned {result.checkpoint.origin} size {result.checkpoint.size} ({since})")
    return EXIT_OK
