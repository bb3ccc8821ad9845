"""Per-format scan time of real-size files: modelcert beside ModelAudit (the one peer that reads them all).

Writes one file per format under a scratch directory in /tmp (deleted after unless --keep):
  GGUF         gguf.GGUFWriter, Q8_0 tensors of random bytes, llama metadata and chat template;
  safetensors  one file of BF16 tensors (random bytes);
  ONNX         onnx.helper MatMul chain with random float32 initializers stored inline;
  Keras        keras 3 (torch backend) Sequential of Dense layers saved as .keras.
Then, page cache warm, medians of --repeat interleaved rounds: single-core hashlib.sha256 over the file,
`modelcert scan FILE --format json -q` and `modelaudit scan FILE --format json --no-cache` (peer venv,
telemetry off), each as a subprocess with its peak RSS (wait4). Prints a markdown table. Not a test.

    .venv/bin/python benchmarks/bench_formats.py --mb 400 --repeat 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import CHUNK, run_measured, write_gguf

ENV_OFF = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_ANALYTICS": "1", "DO_NOT_TRACK": "1"}


def write_safetensors(path: Path, nbytes: int, rng: np.random.Generator) -> None:
    per = 2048 * 2048 * 2
    count = max(1, nbytes // per)
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for i in range(count):
        header[f"model.layers.{i}.mlp.up_proj.weight"] = {
            "dtype": "BF16", "shape": [2048, 2048], "data_offsets": [i * per, (i + 1) * per],
        }  # fmt: skip
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(encoded)) + encoded)
        for _ in range(count):
            fh.write(rng.bytes(per))


def write_onnx(path: Path, nbytes: int, rng: np.random.Generator) -> None:
    from onnx import TensorProto, helper, numpy_helper, save_model

    width = 2048
    layers = max(1, nbytes // (width * width * 4))
    nodes, inits = [], []
    current = "X"
    for i in range(layers):
        weight = rng.standard_normal((width, width), dtype=np.float32)
        inits.append(numpy_helper.from_array(weight, name=f"W{i}"))
        nodes.append(helper.make_node("MatMul", [current, f"W{i}"], [f"H{i}"]))
        nodes.append(helper.make_node("Relu", [f"H{i}"], [f"R{i}"]))
        current = f"R{i}"
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, width])], initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save_model(model, str(path))


def write_keras(path: Path, nbytes: int) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    width = 2048
    layers = max(1, nbytes // (width * width * 4))
    model = keras.Sequential([keras.Input((width,)), *[keras.layers.Dense(width, activation="relu")
                                                        for _ in range(layers)]])  # fmt: skip
    model.save(path)


def sha256_file(path: Path) -> float:
    import time

    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    start = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            h.update(view[:n])
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=400, help="approximate size of each file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", type=Path, default=Path("/tmp/peers"))
    parser.add_argument("--keep", type=Path, help="reuse/keep the files in this folder")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="modelcert-formats-", dir="/tmp"))
    scratch.mkdir(parents=True, exist_ok=True)
    nbytes = args.mb * 1_000_000
    rng = np.random.default_rng(3)
    files = {
        "GGUF": scratch / "model-q8_0.gguf",
        "safetensors": scratch / "model.safetensors",
        "ONNX": scratch / "model.onnx",
        "Keras": scratch / "model.keras",
    }
    writers = {
        "GGUF": lambda p: write_gguf(p, nbytes, rng),
        "safetensors": lambda p: write_safetensors(p, nbytes, rng),
        "ONNX": lambda p: write_onnx(p, nbytes, rng),
        "Keras": lambda p: write_keras(p, nbytes),
    }
    os.environ.update(ENV_OFF)
    mc = str(Path(sys.executable).parent / "modelcert")
    ma = str(args.peers / "bin" / "modelaudit")
    if args.write_only:
        for name, path in files.items():
            if not path.exists():
                writers[name](path)
        return 0
    try:
        # Written by a child process: a child's ru_maxrss starts at its parent's RSS, and writing
        # Keras/ONNX models makes this process large; measured from here, the readings stay honest.
        writer = [sys.executable, __file__, "--mb", str(args.mb), "--keep", str(scratch), "--write-only"]
        subprocess.run(writer, check=True)
        rows = []
        for name, path in files.items():
            sha256_file(path)  # warm the page cache
            hashes, ours, theirs, our_rss, their_rss = [], [], [], [], []
            verdict, their_code = "", 0
            for _ in range(args.repeat):
                hashes.append(sha256_file(path))
                seconds, rss, _code, out = run_measured([mc, "scan", str(path), "--format", "json", "-q"])
                ours.append(seconds)
                our_rss.append(rss)
                verdict = json.loads(out)["summary"]["verdict"]
                seconds, rss, their_code, _ = run_measured([ma, "scan", str(path), "--format", "json",
                                                            "--no-cache"])  # fmt: skip
                theirs.append(seconds)
                their_rss.append(rss)
            size = path.stat().st_size
            rows.append(
                f"| {name} | {size / 1e6:.0f} MB | {statistics.median(hashes):.2f} s | "
                f"{statistics.median(ours):.2f} s ({size / statistics.median(ours) / 1e9:.2f} GB/s) | "
                f"{max(our_rss):.0f} MiB | {verdict} | {statistics.median(theirs):.2f} s | "
                f"{max(their_rss):.0f} MiB | exit {their_code} |"
            )
        print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores; "
              f"page cache warm; medians of {args.repeat}\n")
        print("| format | size | sha256 (1 core) | modelcert scan | modelcert peak RSS | modelcert verdict | "
              "modelaudit scan | modelaudit peak RSS | modelaudit result |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak RSS of this benchmark process: {parent:.0f} MiB (no child reading can be lower)")
        print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
