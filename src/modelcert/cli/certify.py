"""`modelcert certify PATH`: scan, apply a policy, sign a certificate (or co-sign an existing one).

`--base/--behaviour/--budget` scan for backdoor evidence as `modelcert scan` does (the level reached
goes into the certificate); `--comply-profile` runs a compliance profile whose clauses become
requirements of the certificate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from modelcert.certificate import dsse
from modelcert.certificate.attach import ComplianceAttachment
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
from modelcert.limits import DEFAULT_LIMITS
from modelcert.package import OMS_DEFAULT_IGNORED, ModelPackage, hash_package, oms_root_digest
from modelcert.policy.fields import format_time
from modelcert.policy.load import BUILTIN_PROFILES, load_policy
from modelcert.policy.waivers import NO_WAIVERS, WaiverSet
from modelcert.scan import scan_paths

if TYPE_CHECKING:
    from modelcert.behaviour.target import Target

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
    parser.add_argument("--base", type=Path, metavar="BASE", help="declared base model folder (lineage, E2)")
    parser.add_argument(
        "--behaviour", action="store_true", help="run the budgeted behavioural trigger scan (E3)"
    )
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="behavioural budget (default 300)")
    parser.add_argument(
        "--comply-profile",
        metavar="P",
        help="also apply this compliance profile; its clauses are requirements",
    )
    parser.add_argument(
        "--comply-target",
        metavar="T",
        help="model the profile probes: mock, mock:reckless, http://127.0.0.1:PORT, local or local:PATH",
    )
    parser.add_argument(
        "--comply-pack", default="modelcert-core", metavar="FILE", help="policy pack (default modelcert-core)"
    )
    parser.add_argument(
        "--comply-evidence",
        type=Path,
        metavar="FILE",
        help="write the public compliance evidence document here",
    )


def run(args: argparse.Namespace) -> int:
    if (args.line is None) != (args.model_version is None):
        raise ModelcertError("give --line and --version together")
    if args.budget is not None and not args.behaviour:
        raise ModelcertError("--budget is the behavioural scan's budget: give --behaviour too")
    if args.comply_profile is None and (args.comply_target or args.comply_evidence):
        raise ModelcertError("--comply-target/--comply-evidence need --comply-profile")
    key = SigningKey.from_pem(read_file(args.key))
    now = datetime.now(UTC)
    return _cosign(args, key, now) if args.cosign else _issue(args, key, now)


def _issue(args: argparse.Namespace, key: SigningKey, now: datetime) -> int:
    if args.issuer is None:
        raise ModelcertError("--issuer ISSUER.json is required (except with --cosign)")
    issuer = IssuerInfo.load(read_file(args.issuer), str(args.issuer))
    policy = load_policy(args.policy or "baseline")
    waivers = WaiverSet.load(read_file(args.waivers), str(args.waivers)) if args.waivers else NO_WAIVERS
    report = _scan(args)
    evidence = _publisher_evidence(args, report)
    if evidence is None:
        return EXIT_FAIL
    compliance = _compliance(args)
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
        compliance=compliance,
        base_digest=_base_digest(args.base) if args.base is not None else None,
    )
    result = issued.statement.predicate.result
    for reason in [*issued.policy_result.reasons(), *(compliance.failures if compliance else ())]:
        sys.stdout.write(f"  {reason}\n")
    if result == "FAILED" and not args.allow_failed:
        failed = f"policy {policy.id}" + (f" or profile {args.comply_profile}" if compliance else "")
        sys.stdout.write(
            f"modelcert certify: {args.path} FAILED {failed}; no certificate written "
            "(--allow-failed issues a FAILED certificate)\n"
        )
        return EXIT_FAIL
    _write_outputs(args, issued, key)
    if compliance is not None and args.comply_evidence:
        write_file(args.comply_evidence, json.dumps(compliance.document, indent=2, ensure_ascii=False) + "\n")
    p = issued.statement.predicate
    sys.stdout.write(
        f"modelcert certify: {result} under {policy.id} v{policy.version}; wrote {args.output}\n"
        f"  subject  sha256:{issued.statement.subject_digest} ({p.model.manifest.resource_count} files)\n"
        f"  issuer   {p.issuer.name} [{p.issuer.jurisdiction}] key {key.key_id}\n"
        f"  id       {p.certificate_id}, valid until {format_time(p.valid_until)}\n"
    )
    if p.backdoor_evidence is not None:
        blocked = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.backdoor_evidence.blocked_by.items())
        sys.stdout.write(
            f"  evidence backdoor evidence level {p.backdoor_evidence.level}"
            + (f" (not reached: {blocked})" if blocked else "")
            + "\n"
        )
    if p.compliance is not None:
        sys.stdout.write(f"  comply   profile {p.compliance.profile}: {p.compliance.status}\n")
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
    report = _scan(args)
    compliance = _compliance(args)
    try:
        signed = cosign(envelope, report, policy, key, now=now, compliance=compliance)
    except ModelcertError as exc:
        sys.stdout.write(f"modelcert certify: {exc.diagnostics()}\n")
        return EXIT_FAIL
    write_file(args.output, signed.to_json())
    sys.stdout.write(
        f"modelcert certify: co-signed with key {key.key_id} ({len(signed.signatures)} signatures); "
        f"wrote {args.output}\n"
    )
    return EXIT_OK


def _scan(args: argparse.Namespace) -> ScanReport:
    """The plain scan, or with --base/--behaviour the scan plus backdoor evidence (as `scan` does)."""
    if args.base is None and not args.behaviour:
        return scan_paths([args.path], workers=max(1, args.workers))
    from modelcert.evidence import scan_with_evidence

    return scan_with_evidence(
        [args.path],
        base=args.base,
        behaviour=args.behaviour,
        budget=args.budget,
        workers=max(1, args.workers),
    )


def _base_digest(base: Path) -> str:
    """The OMS root digest of the declared base, so the certificate names what the lineage was checked
    against."""
    package = ModelPackage.open(base, DEFAULT_LIMITS, ignore_paths=OMS_DEFAULT_IGNORED)
    return oms_root_digest(hash_package(package))


def _compliance(args: argparse.Namespace) -> ComplianceAttachment | None:
    """Run --comply-profile on the package (probing --comply-target), as `modelcert comply` would."""
    if args.comply_profile is None:
        return None
    from modelcert.certificate.attach import attach_compliance
    from modelcert.compliance.engine import RunOptions, run_compliance
    from modelcert.compliance.packs import load_pack

    pack = load_pack(args.comply_pack)
    pack.profile(args.comply_profile)
    target = _comply_target(args)
    try:
        run_ = run_compliance(args.path, pack, args.comply_profile, RunOptions(target=target))
    finally:
        close = getattr(target, "close", None)
        if callable(close):
            close()
    return attach_compliance(run_)


def _comply_target(args: argparse.Namespace) -> Target | None:
    """The same targets as `comply --target`, loopback only for HTTP (no API key, no remote endpoint)."""
    from modelcert.cli import comply

    spec = argparse.Namespace(
        target=args.comply_target, path=args.path, model="default", allow_remote=False, api_key_env=None
    )
    return comply._target(spec)


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
