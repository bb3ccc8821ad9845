"""`modelcert log verify`: check a checkpoint, an inclusion proof, and the consistency of two checkpoints.

    modelcert log verify --log-key VKEY --registry URL                      latest checkpoint signature
    modelcert log verify --log-key VKEY --checkpoint CP --inclusion PROOF   offline inclusion
    modelcert log verify --log-key VKEY --registry URL --entry 7            fetch entry 7 and its proof
    modelcert log verify --log-key VKEY --old-checkpoint OLD --registry URL      consistency, fetched
    modelcert log verify --log-key VKEY --old-checkpoint OLD --checkpoint NEW --consistency P   offline

VKEY is the log's C2SP verifier key (`name+keyid+base64`, from `GET /v1/info`), given inline or as a
file. Witness cosignatures are required with --witness VKEY (repeatable) and --witness-quorum K.
Exit 0 when every check passes, 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from modelcert.cli.keys import read_file
from modelcert.errors import ModelcertError
from modelcert.registry.audit import (
    AuditError,
    check_consistency,
    check_inclusion,
    fetch_consistency,
    hashes_from_hex,
    log_verifier,
    open_checkpoint,
    witness_verifier,
)
from modelcert.registry.client import RegistryClient

EXIT_OK, EXIT_FAIL = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="verify checkpoints and proofs")
    verify.add_argument(
        "--log-key", required=True, metavar="VKEY", help="log verifier key, or a file holding it"
    )
    verify.add_argument("--registry", metavar="URL", help="fetch what is not given from this registry")
    verify.add_argument("--checkpoint", type=Path, help="the (newer) checkpoint note")
    verify.add_argument(
        "--inclusion", type=Path, metavar="PROOF.json", help="inclusion proof or publish answer"
    )
    verify.add_argument("--entry", type=int, metavar="INDEX", help="fetch this entry and prove its inclusion")
    verify.add_argument("--old-checkpoint", type=Path, metavar="OLD", help="an earlier checkpoint of the log")
    verify.add_argument("--consistency", type=Path, metavar="PROOF.json", help="consistency proof OLD → new")
    verify.add_argument("--witness", action="append", default=[], metavar="VKEY", help="trusted witness key")
    verify.add_argument("--witness-quorum", type=int, default=0, metavar="K", help="cosignatures required")


def text_or_file(value: str) -> str:
    path = Path(value)
    if "+" not in value and path.exists():
        return read_file(path).decode("utf-8").strip()
    return value.strip()


def _json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(read_file(path))
    except ValueError as exc:
        raise ModelcertError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelcertError(f"{path}: expected a JSON object")
    return doc


def run(args: argparse.Namespace) -> int:
    log_key = log_verifier(text_or_file(args.log_key))
    witnesses = [witness_verifier(text_or_file(w)) for w in args.witness]
    client = RegistryClient(args.registry) if args.registry else None
    try:
        return _verify(args, log_key, witnesses, client)
    except AuditError as exc:
        print(f"FAIL {exc}", file=sys.stdout)
        return EXIT_FAIL
    finally:
        if client is not None:
            client.close()


def _verify(
    args: argparse.Namespace, log_key: Any, witnesses: list[Any], client: RegistryClient | None
) -> int:
    inclusion = _json(args.inclusion) if args.inclusion else None
    if args.checkpoint:
        note = read_file(args.checkpoint).decode("utf-8")
    elif inclusion is not None and isinstance(inclusion.get("inclusionProof"), dict) and client is None:
        note = str(
            inclusion["inclusionProof"].get("checkpoint", "")
        )  # a publish answer carries its checkpoint
    elif client is not None:
        note = client.checkpoint()
    else:
        raise ModelcertError("give --checkpoint or --registry")
    latest = open_checkpoint(note, log_key, witnesses, args.witness_quorum).checkpoint
    print(
        f"PASS checkpoint {latest.origin} size {latest.size} root {latest.root_hash.hex()} signed by the log"
        + (f" and {args.witness_quorum}+ witness(es)" if args.witness_quorum else "")
    )
    if inclusion is not None:
        _inclusion(inclusion, latest, log_key, client)
    if args.entry is not None:
        if client is None:
            raise ModelcertError("--entry needs --registry")
        entries = client.entries(args.entry, args.entry + 1)
        if not entries:
            raise AuditError(f"the registry has no entry {args.entry}")
        proof = client.inclusion_proof(args.entry, latest.size)
        result = check_inclusion({**proof, "entry": entries[0]["entry"]}, latest)
        print(f"PASS entry {result.index} ({entries[0]['kind']}) is in the tree of size {result.tree_size}")
    if args.old_checkpoint:
        old = open_checkpoint(read_file(args.old_checkpoint).decode("utf-8"), log_key).checkpoint
        if args.consistency:
            hashes = hashes_from_hex(_json(args.consistency).get("hashes"), "consistency proof")
        elif client is not None:
            hashes = fetch_consistency(client, old, latest)
        else:
            raise ModelcertError("give --consistency or --registry to check consistency")
        check_consistency(old, latest, hashes)
        print(f"PASS the log of size {old.size} is a prefix of the log of size {latest.size} (append-only)")
    return EXIT_OK


def _inclusion(doc: dict[str, Any], latest: Any, log_key: Any, client: RegistryClient | None) -> None:
    """Prove the entry against the checkpoint the proof was made for (a publish answer embeds it), then
    prove that checkpoint is a prefix of the latest one."""
    nested = doc.get("inclusionProof")
    embedded = nested.get("checkpoint") if isinstance(nested, dict) else None
    anchor = open_checkpoint(str(embedded), log_key).checkpoint if embedded else latest
    result = check_inclusion(doc, anchor)
    print(f"PASS entry {result.index} (leaf {result.leaf.hex()[:16]}…) in the tree of {result.tree_size}")
    if anchor.size == latest.size:
        if anchor.root_hash != latest.root_hash:
            raise AuditError("two checkpoints of the same size differ: the log forked")
        return
    if client is None:
        print(f"INFO the proof's checkpoint (size {anchor.size}) was not compared with a newer one")
        return
    check_consistency(anchor, latest, fetch_consistency(client, anchor, latest))
    print(f"PASS the proof's checkpoint (size {anchor.size}) is a prefix of the latest (size {latest.size})")
