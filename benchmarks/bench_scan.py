"""Scan throughput and memory on a large folder, side by side with single-core hashlib.sha256.

Builds a folder of safetensors and PyTorch zip files (default 2.2 GB) under a scratch directory,
warms the page cache, then measures in one run, medians of --repeat:
  - hashlib.sha256 over every file, one core, 1 MiB reads (the physical reference);
  - `modelcert scan FOLDER --format json` as a subprocess (wall time and peak RSS of the child).
Prints a markdown table and the exact command. Not a test: run it by hand or via `make bench`.

    .venv/bin/python benchmarks/bench_scan.py --gb 2.2 --repeat 3
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
from pathlib import Path

import numpy as np

CHUNK = 1024 * 1024


def write_safetensors(path: Path, total_bytes: int, rng: np.random.Generator) -> None:
    n_tensors = 64
    per = (total_bytes // n_tensors) // 4 * 4
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for i in range(n_tensors):
        header[f"model.layers.{i}.weight"] = {
            "dtype": "F32",
            "shape": [per // 4],
            "data_offsets": [i * per, (i + 1) * per],
        }
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(encoded)))
        fh.write(encoded)
        for _ in range(n_tensors):
            fh.write(rng.integers(0, 256, per, dtype=np.uint8).tobytes())


def write_torch_zip(path: Path, total_bytes: int, rng: np.random.Generator) -> None:
    import torch

    n = 32
    per = total_bytes // n
    state = {
        f"encoder.block.{i}.weight": torch.from_numpy(rng.integers(0, 256, per, dtype=np.uint8))
        for i in range(n)
    }
    torch.save(state, path)


def build_corpus(folder: Path, gigabytes: float) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    total = int(gigabytes * 1e9)
    st_share, pt_share = int(total * 0.6), total - int(total * 0.6)
    for i in range(3):
        write_safetensors(folder / f"model-0000{i + 1}-of-00003.safetensors", st_share // 3, rng)
    for i in range(2):
        write_torch_zip(folder / f"pytorch_model-0000{i + 1}-of-00002.bin", pt_share // 2, rng)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    return sum(p.stat().st_size for p in folder.iterdir())


def sha256_single_core(folder: Path) -> float:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    start = time.perf_counter()
    for path in sorted(folder.iterdir()):
        h = hashlib.sha256()
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buffer):
                h.update(view[:n])
    return time.perf_counter() - start


def run_measured(argv: list[str]) -> tuple[float, float, int, str]:
    """Run a command; wall seconds, peak RSS (MiB) of that child alone (wait4), exit code, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode, out.decode(errors="replace")


def modelcert_scan(folder: Path) -> tuple[float, float, str]:
    exe = Path(sys.executable).parent / "modelcert"
    elapsed, rss, code, out = run_measured([str(exe), "scan", str(folder), "--format", "json", "-q"])
    if code not in (0, 1):
        raise SystemExit(f"modelcert failed with exit {code}")
    return elapsed, rss, json.loads(out)["summary"]["verdict"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=2.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="reuse/keep the corpus in this folder")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="modelcert-bench-"))
    try:
        if not any(scratch.glob("*.safetensors")):
            build_corpus(scratch, args.gb)
        total = sum(p.stat().st_size for p in scratch.iterdir())
        sha256_single_core(scratch)  # warm the page cache
        hash_times, scan_times, rss = [], [], []
        verdict = ""
        for _ in range(args.repeat):
            hash_times.append(sha256_single_core(scratch))
            seconds, peak_mib, verdict = modelcert_scan(scratch)
            scan_times.append(seconds)
            rss.append(peak_mib)
        h, s = statistics.median(hash_times), statistics.median(scan_times)
        print(f"corpus: {total / 1e9:.2f} GB in {len(list(scratch.iterdir()))} files "
              f"(safetensors + torch zip), page cache warm, {os.cpu_count()} cores")
        print()
        print(f"| measure | median of {args.repeat} | throughput |")
        print("|---|---|---|")
        print(f"| hashlib.sha256, one core | {h:.2f} s | {total / h / 1e9:.2f} GB/s |")
        print(f"| modelcert scan (CLI, whole process) | {s:.2f} s | {total / s / 1e9:.2f} GB/s |")
        print(f"| ratio scan / sha256 throughput | {h / s:.0%} | target ≥ 90% |")
        print(f"| modelcert peak RSS | {max(rss):.0f} MiB | target ≤ 150 MiB |")
        print(f"\nverdict of the corpus: {verdict}")
        print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
