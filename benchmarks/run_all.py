"""Run every benchmark script in sequence and print their markdown, one section each.

Every bench_*.py here runs (known ones with the arguments below, new ones with their defaults), each
as its own process, one at a time: they measure wall time and peak RSS on a 2-core machine, so they
must not overlap. A script that fails is reported and the others still run; the
exit code is 1 when any failed. Scratch data goes under /tmp and is deleted by each script.

    .venv/bin/python benchmarks/run_all.py            # the numbers in docs/benchmarks.md
    .venv/bin/python benchmarks/run_all.py --quick    # small sizes, a smoke run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plan(quick: bool) -> list[tuple[str, list[str]]]:
    gb, gguf_gb, mb = ("0.3", "0.3", "50") if quick else ("2.2", "1.2", "400")
    repeat = ["--repeat", "1" if quick else "3"]
    peers = ["--modelaudit-every", "10"] if quick else []
    return [
        ("Scan throughput: safetensors + PyTorch zip folder", ["bench_scan.py", "--gb", gb, *repeat]),
        ("Scan throughput: one GGUF", ["bench_scan.py", "--gguf", "--gb", gguf_gb, *repeat]),
        ("Scan throughput: sharded safetensors", ["bench_scan.py", "--sharded", "--gb", gb, *repeat]),
        ("Verify throughput", ["bench_verify.py", "--gb", max(gb, "2.0"), *repeat]),  # needs >= 2 GB
        ("Peers on the labelled corpus", ["bench_peers.py", *peers]),
        ("Per-format scan time beside ModelAudit", ["bench_formats.py", "--mb", mb, *repeat]),
        ("Backdoor evidence on the planted set", ["bench_backdoor.py", "--seeds", "1" if quick else "3"]),
    ]


def every_script(quick: bool) -> list[tuple[str, list[str]]]:
    """The plan, then any other bench_*.py in this folder with its default arguments."""
    known = plan(quick)
    named = {argv[0] for _, argv in known}
    extra = [(path.stem, [path.name]) for path in sorted(HERE.glob("bench_*.py")) if path.name not in named]
    return [(title, argv) for title, argv in known if (HERE / argv[0]).exists()] + extra


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and one repeat")
    parser.add_argument("--only", help="comma-separated script names to run (e.g. bench_peers.py)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    failed = []
    for title, argv in every_script(args.quick):
        if only and argv[0] not in only:
            continue
        print(f"## {title}\n", flush=True)
        started = time.perf_counter()
        command = [sys.executable, str(HERE / argv[0]), *argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        print(done.stdout.rstrip())
        if done.returncode != 0:
            failed.append(argv[0])
            print(f"\n**failed** (exit {done.returncode}):\n\n```\n{done.stderr[-2000:]}\n```")
        print(f"\n_({time.perf_counter() - started:.0f} s)_\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
