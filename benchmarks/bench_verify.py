"""`modelcert verify` on a >= 2 GB package, side by side with single-core hashlib and model_signing.

Builds a folder of safetensors shards (default 2.2 GB of random tensor bytes) in a scratch directory
under /tmp, certifies it (the certificate is built from the file digests, so setup does not pay for a
full scan), signs it with model_signing (key method), warms the page cache, then measures, medians of
--repeat interleaved rounds, warm cache:
  - hashlib.sha256 over every file, one core, 1 MiB reads (the physical reference);
  - `modelcert verify FOLDER --cert CERT --trust TRUST.json` as a subprocess (end to end, start-up included);
  - `verify_package(...)` in-process (the library call: re-hash + signatures + quorum);
  - `model_signing verify key --signature SIG --public_key PUB FOLDER` as a subprocess.
Prints a markdown table and the exact command, then deletes the scratch directory. Not a test.

    .venv/bin/python benchmarks/bench_verify.py --gb 2.2 --repeat 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import signing

from modelcert.certificate.issue import issue_certificate
from modelcert.certificate.keys import SigningKey
from modelcert.certificate.trust import Certifier, IssuerInfo, TrustRoot, build_trust
from modelcert.certificate.verify import verify_package
from modelcert.findings import ArtifactReport, InputRoot, ScanReport
from modelcert.limits import DEFAULT_LIMITS
from modelcert.package import ModelPackage, hash_package, oms_root_digest
from modelcert.policy.load import load_policy
from modelcert.policy.waivers import NO_WAIVERS

CHUNK = 1024 * 1024
BIN = Path(sys.executable).parent


def write_shard(path: Path, total_bytes: int) -> None:
    """A valid safetensors file: one U8 tensor of random bytes."""
    size = total_bytes - 256
    header = json.dumps({"weight": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        left = size
        while left:
            step = min(left, 64 * CHUNK)
            fh.write(os.urandom(step))
            left -= step


def hashlib_single_core(folder: Path) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h = hashlib.sha256()
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buffer):
                h.update(view[:n])


def timed_interleaved(
    cases: list[tuple[str, Callable[[], object]]], repeat: int
) -> list[tuple[str, float, list[float]]]:
    """Every case once per round, `repeat` rounds: on a shared machine, load swings hit all cases alike."""
    runs: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeat):
        for name, fn in cases:
            started = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - started)
    return [(name, statistics.median(runs[name]), runs[name]) for name, _ in cases]


def run(cmd: list[str], expect: int = 0) -> None:
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")


def setup(scratch: Path, gb: float, shards: int) -> dict[str, Path]:
    model = scratch / "model"
    model.mkdir()
    per = int(gb * 1e9) // shards
    for i in range(shards):
        write_shard(model / f"model-{i + 1:05d}-of-{shards:05d}.safetensors", per)
    (model / "config.json").write_text('{"model_type": "llama"}\n')
    # the certificate, from the digests (a synthetic clean scan report: this benchmark measures verify)
    package = ModelPackage.open(model, DEFAULT_LIMITS)
    digests = hash_package(package)
    files = tuple(
        ArtifactReport(f.relpath, "safetensors", f.size, digests[f.relpath].hex()) for f in package.files
    )
    report = ScanReport(
        "modelcert",
        "bench",
        (InputRoot(str(model), oms_root_digest(digests), len(files), package.total_bytes),),
        files,
    )
    key = SigningKey.generate()
    issued = issue_certificate(
        report,
        load_policy("baseline"),
        NO_WAIVERS,
        IssuerInfo("urn:bench", "Bench", "US"),
        key,
        now=datetime.now(UTC),
    )
    paths = {
        "model": model,
        "cert": scratch / "cert.json",
        "trust": scratch / "trust.json",
        "sig": scratch / "model.sig",
        "pub": scratch / "publisher.pub.pem",
    }
    paths["cert"].write_text(issued.envelope.to_json())
    trust = build_trust([Certifier(key.verifying, "Bench", "US")], [load_policy("baseline")])
    paths["trust"].write_text(json.dumps(trust.to_dict()))
    # the publisher's OMS signature, made by model_signing itself
    private = ec.generate_private_key(ec.SECP256R1())
    (scratch / "publisher.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths["pub"].write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    signing.Config().use_elliptic_key_signer(private_key=scratch / "publisher.pem").sign(model, paths["sig"])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.2, help="package size in GB (10^9 bytes), >= 2")
    parser.add_argument("--shards", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="modelcert-bench-verify-", dir=args.scratch))
    try:
        p = setup(scratch, args.gb, args.shards)
        total = sum(f.stat().st_size for f in p["model"].rglob("*") if f.is_file())
        hashlib_single_core(p["model"])  # warm the page cache
        verify_cmd = [
            str(BIN / "modelcert"),
            "verify",
            str(p["model"]),
            "--cert",
            str(p["cert"]),
            "--trust",
            str(p["trust"]),
        ]
        ms_cmd = [
            str(BIN / "model_signing"),
            "verify",
            "key",
            "--signature",
            str(p["sig"]),
            "--public_key",
            str(p["pub"]),
            str(p["model"]),
        ]
        root = TrustRoot.load(p["trust"].read_bytes())
        cert = p["cert"].read_bytes()
        load_before = os.getloadavg()
        rows = timed_interleaved(
            [
                ("hashlib.sha256, 1 core, 1 MiB reads (reference)", lambda: hashlib_single_core(p["model"])),
                ("`modelcert verify` (CLI, end to end)", lambda: run(verify_cmd)),
                (
                    "`verify_package()` (library, in-process)",
                    lambda: verify_package(p["model"], [("cert.json", cert)], root, now=datetime.now(UTC)),
                ),
                ("`model_signing verify key` (CLI, end to end)", lambda: run(ms_cmd)),
            ],
            args.repeat,
        )
        load_after = os.getloadavg()
        reference = rows[0][1]
        print(
            f"Package: {args.shards} safetensors shards + config.json = {total:,} bytes "
            f"({total / 1e9:.2f} GB), "
            f"page cache warm; {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after; Python {sys.version.split()[0]}.\n"
        )
        print("| what | median s | GB/s | × hashlib 1 core | runs (s) |")
        print("|---|---:|---:|---:|---|")
        for name, median, runs in rows:
            print(
                f"| {name} | {median:.3f} | {total / median / 1e9:.2f} | {median / reference:.2f} | "
                f"{', '.join(f'{r:.3f}' for r in runs)} |"
            )
        print(f"\nCommand: `{sys.executable} {' '.join(sys.argv)}`")
        print(f"modelcert verify: `{' '.join(verify_cmd)}`")
        print(f"model_signing: `{' '.join(ms_cmd)}`")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
