"""`modelcert certify PATH`: scan, apply a policy, sign a certificate (or co-sign an existing one)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from modelcert.certificate import dsse
from modelcert.certificate.interop import check_oms_signature, cyclonedx_bom, vsa_statement
from modelcert.certificate.issue import Issued, cosign, issue_certificate
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.keys import SigningKey
from modelcert.certificate.predicate import PublisherSignature
from modelcert.certificate.statement import Statement
from modelcert.certificate.trust import IssuerInfo, Publisher
from modelcert.cli.keys import read_file, write_file
from modelcert.errors import ModelcertError
from modelcert.findings import ScanReport
from modelcert.policy.fields import format_time
from modelcert.policy.load import BUILTIN_PROFILES, load_policy
from modelcert.policy.waivers import NO_WAIVERS, WaiverSet
from modelcert.scan import scan_paths

EXIT_OK, EXIT_FAIL = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH", help="model folder or file")
    parser.add_argument("--key", required=True, type=Path, help="the certifier's private key (PEM)")
    parser.add_argument(
        "--issuer", type=Path, metavar="ISSUER.json", help="who certifies (not needed with --cosign)"
    )
    parser.add_argument("--policy", help="baseline (default), strict, or a policy file")
    parser.add_argument("--line", help="model line, e.g. pkg:huggingface/acme/widget-llm")
    parser.add_argument(
        "--version", dest="model_version", metavar="V", help="publisher version label, e.g. 1.3.0"
    )
    parser.add_argument(
        "--waivers", type=Path, help="waivers file (check ID + file digest + reason + expiry)"
    )
    parser.add_argument("--validity-days", type=int, default=180, help="certificate lifetime (default 180)")
    parser.add_argument(
        "--allow-failed", action="store_true", help="issue a FAILED certificate instead of refusing"
    )
    parser.add_argument(
        "--cosign", type=Path, metavar="CERT", help="add this key's signature to CERT if it agrees"
    )
    parser.add_argument(
        "--publisher-signature", type=Path, metavar="SIG", help="publisher's model_signing bundle"
    )
    parser.add_argument(
        "--publisher-key", type=Path, metavar="PEM", help="publisher public key (OMS key method)"
    )
    parser.add_argument(
        "--publisher-chain", type=Path, metavar="PEM", help="publisher CA chain (certificate method)"
    )
    parser.add_argument(
        "--disclosure", type=Path, help="write the full findings with their salts here (private)"
    )
    parser.add_argument("--vsa", type=Path, help="also write a signed SLSA VSA v1 envelope here")
    parser.add_argument("--cyclonedx", type=Path, help="also write a CycloneDX 1.6 ML-BOM here")
    parser.add_argument(
        "--output", required=True, type=Path, metavar="CERT", help="certificate file to write"
    )
    parser.add_argument("--workers", type=int, default=2, help="files read in parallel (default 2)")


def run(args: argparse.Namespace) -> int:
    if (args.line is None) != (args.model_version is None):
        raise ModelcertError("give --line and --version together")
    key = SigningKey.from_pem(read_file(args.key))
    now = datetime.now(UTC)
    return _cosign(args, key, now) if args.cosign else _issue(args, key, now)


def _issue(args: argparse.Namespace, key: SigningKey, now: datetime) -> int:
    if args.issuer is None:
        raise ModelcertError("--issuer ISSUER.json is required (except with --cosign)")
    issuer = IssuerInfo.load(read_file(args.issuer), str(args.issuer))
    policy = load_policy(args.policy or "baseline")
    waivers = WaiverSet.load(read_file(args.waivers), str(args.waivers)) if args.waivers else NO_WAIVERS
    report = scan_paths([args.path], workers=max(1, args.workers))
    evidence = _publisher_evidence(args, report)
    if evidence is None:
        return EXIT_FAIL
    issued = issue_certificate(
        report,
        policy,
        waivers,
        issuer,
        key,
        now=now,
        line=args.line,
        version=args.model_version,
        validity_days=args.validity_days,
        publisher_signatures=evidence,
    )
    result = issued.statement.predicate.result
    for reason in issued.policy_result.reasons():
        sys.stdout.write(f"  {reason}\n")
    if result == "FAILED" and not args.allow_failed:
        sys.stdout.write(
            f"modelcert certify: {args.path} FAILED policy {policy.id}; no certificate written "
            "(--allow-failed issues a FAILED certificate)\n"
        )
        return EXIT_FAIL
    _write_outputs(args, issued, key)
    p = issued.statement.predicate
    sys.stdout.write(
        f"modelcert certify: {result} under {policy.id} v{policy.version}; wrote {args.output}\n"
        f"  subject  sha256:{issued.statement.subject_digest} ({p.model.manifest.resource_count} files)\n"
        f"  issuer   {p.issuer.name} [{p.issuer.jurisdiction}] key {key.key_id}\n"
        f"  id       {p.certificate_id}, valid until {format_time(p.valid_until)}\n"
    )
    return EXIT_FAIL if result == "FAILED" else EXIT_OK


def _write_outputs(args: argparse.Namespace, issued: Issued, key: SigningKey) -> None:

    write_file(args.output, issued.envelope.to_json())
    if args.disclosure:
        write_file(args.disclosure, issued.disclosure.decode("utf-8") + "\n")
    if args.vsa:
        payload_sha = hashlib.sha256(issued.envelope.payload).hexdigest()
        vsa = canonicalize(vsa_statement(issued.statement, payload_sha))
        write_file(args.vsa, dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, vsa, key).to_json())
    if args.cyclonedx:
        write_file(args.cyclonedx, json.dumps(cyclonedx_bom(issued.statement), indent=2) + "\n")


def _cosign(args: argparse.Namespace, key: SigningKey, now: datetime) -> int:
    envelope = dsse.Envelope.from_json(read_file(args.cosign))
    named = Statement.from_payload(envelope.payload).predicate.policy
    if args.policy is None and named.id not in BUILTIN_PROFILES:
        raise ModelcertError(
            f"the certificate's policy {named.id!r} is not built in: give it with --policy FILE"
        )
    policy = load_policy(args.policy or named.id)
    report = scan_paths([args.path], workers=max(1, args.workers))
    try:
        signed = cosign(envelope, report, policy, key, now=now)
    except ModelcertError as exc:
        sys.stdout.write(f"modelcert certify: {exc.diagnostics()}\n")
        return EXIT_FAIL
    write_file(args.output, signed.to_json())
    sys.stdout.write(
        f"modelcert certify: co-signed with key {key.key_id} ({len(signed.signatures)} signatures); "
        f"wrote {args.output}\n"
    )
    return EXIT_OK


def _publisher_evidence(args: argparse.Namespace, report: ScanReport) -> list[PublisherSignature] | None:
    """The checked publisher signature, [] when none was given, None when it does not verify."""

    if args.publisher_signature is None:
        if args.publisher_key or args.publisher_chain:
            raise ModelcertError("--publisher-key/--publisher-chain need --publisher-signature")
        return []
    if (args.publisher_key is None) == (args.publisher_chain is None):
        raise ModelcertError(
            "--publisher-signature needs exactly one of --publisher-key and --publisher-chain"
        )
    source = args.publisher_key or args.publisher_chain
    pem = read_file(source).decode("ascii", "replace")
    publisher = (
        Publisher(source.stem, public_key_pem=pem)
        if args.publisher_key
        else Publisher(source.stem, certificate_chain_pem=pem)
    )
    digests = {a.path: bytes.fromhex(a.sha256) for a in report.files if a.sha256}
    check = check_oms_signature(read_file(args.publisher_signature), [publisher], digests)
    if not check.ok:
        sys.stdout.write(f"modelcert certify: publisher signature rejected: {check.message}\n")
        return None
    sys.stdout.write(f"  {check.message}\n")
    return [check.evidence]
