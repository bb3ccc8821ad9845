"""Scan throughput and memory on a large folder, side by side with single-core hashlib.sha256.

Builds a folder of safetensors and PyTorch zip files (default 2.2 GB) under a scratch directory,
or with --gguf one GGUF file written by gguf.GGUFWriter (Q8_0 tensors of random bytes, llama metadata,
vocabulary and a chat template), or with --sharded a Hugging Face style folder of safetensors shards
with model.safetensors.index.json and config.json; warms the page cache, then measures in one run,
medians of --repeat:
  - hashlib.sha256 over every file, one core, 1 MiB reads (the physical reference);
  - `modelcert scan FOLDER --format json` as a subprocess (wall time and peak RSS of the child).
Prints a markdown table and the exact command. Not a test: run it by hand or via `make bench`.

    .venv/bin/python benchmarks/bench_scan.py --gb 2.2 --repeat 3
    .venv/bin/python benchmarks/bench_scan.py --gguf --gb 1.2 --repeat 3
    .venv/bin/python benchmarks/bench_scan.py --sharded --gb 2.2 --repeat 3
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


def write_gguf(path: Path, total_bytes: int, rng: np.random.Generator) -> None:
    """A llama-shaped GGUF from the reference writer: Q8_0 matrices of random bytes, F32 norms."""
    import gguf

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from builders.templates import LLAMA3_TOOLS

    q8 = gguf.GGMLQuantizationType.Q8_0
    hidden, ffn, vocab = 2048, 5632, 32000

    def q8_bytes(rows: int, cols: int) -> tuple[tuple[int, int], int]:
        return (rows, cols // 32 * 34), rows * cols // 32 * 34

    layer = [("attn_q", hidden, hidden), ("attn_k", hidden, hidden), ("attn_v", hidden, hidden),
             ("attn_output", hidden, hidden), ("ffn_gate", ffn, hidden), ("ffn_up", ffn, hidden),
             ("ffn_down", hidden, ffn)]  # fmt: skip
    per_layer = sum(q8_bytes(r, c)[1] for _, r, c in layer)
    blocks = max(1, -(-(total_bytes - 2 * q8_bytes(vocab, hidden)[1]) // per_layer))
    tensors: list[tuple[str, tuple[int, ...], int, bool]] = [
        ("token_embd.weight", *q8_bytes(vocab, hidden), True)
    ]
    for b in range(blocks):
        tensors.append((f"blk.{b}.attn_norm.weight", (hidden,), hidden * 4, False))
        tensors += [(f"blk.{b}.{name}.weight", *q8_bytes(r, c), True) for name, r, c in layer]
        tensors.append((f"blk.{b}.ffn_norm.weight", (hidden,), hidden * 4, False))
    tensors.append(("output_norm.weight", (hidden,), hidden * 4, False))
    tensors.append(("output.weight", *q8_bytes(vocab, hidden), True))
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("bench-llama")
    writer.add_context_length(4096)
    writer.add_embedding_length(hidden)
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(32)
    writer.add_head_count_kv(8)
    writer.add_rope_freq_base(500000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_chat_template(LLAMA3_TOOLS)
    for name, shape, nbytes, quantized in tensors:
        if quantized:
            writer.add_tensor_info(name, shape, np.dtype(np.uint8), nbytes, raw_dtype=q8)
        else:
            writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _name, shape, nbytes, quantized in tensors:
        data = np.frombuffer(rng.bytes(nbytes), dtype=np.uint8 if quantized else np.float32).reshape(shape)
        writer.write_tensor_data(data)
    writer.close()


def build_sharded(folder: Path, gigabytes: float, shards: int = 4) -> None:
    """model-0000i-of-0000n.safetensors with llama tensor names, their index and a config."""
    rng = np.random.default_rng(11)
    per_shard = int(gigabytes * 1e9) // shards
    weight_map: dict[str, str] = {}
    layer = 0
    for i in range(shards):
        shard = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        names, offset, sizes = [], 0, []
        while offset < per_shard:
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                name = f"model.layers.{layer}.self_attn.{proj}.weight"
                size = min(2048 * 2048 * 2, per_shard - offset) // 2 * 2
                if size <= 0:
                    break
                header[name] = {"dtype": "BF16", "shape": [size // 2],
                                "data_offsets": [offset, offset + size]}  # fmt: skip
                names.append(name)
                sizes.append(size)
                offset += size
            layer += 1
        encoded = json.dumps(header).encode()
        encoded += b" " * (-len(encoded) % 8)
        with open(folder / shard, "wb") as fh:
            fh.write(struct.pack("<Q", len(encoded)) + encoded)
            for size in sizes:
                fh.write(rng.bytes(size))
        weight_map.update(dict.fromkeys(names, shard))
    index = {"metadata": {"total_size": sum(p.stat().st_size for p in folder.glob("*.safetensors"))},
             "weight_map": weight_map}  # fmt: skip
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": layer}))


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


def build_kind(scratch: Path, args: argparse.Namespace) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    if args.gguf:
        write_gguf(scratch / "model-q8_0.gguf", int(args.gb * 1e9), np.random.default_rng(5))
    elif args.sharded:
        build_sharded(scratch, args.gb)
    else:
        build_corpus(scratch, args.gb)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=2.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="reuse/keep the corpus in this folder")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--gguf", action="store_true", help="one GGUF file (gguf.GGUFWriter) of about --gb GB")
    kind.add_argument("--sharded", action="store_true", help="safetensors shards + their index.json")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="modelcert-bench-", dir="/tmp"))
    kind_flag = "--gguf" if args.gguf else "--sharded" if args.sharded else None
    described = {"--gguf": "one GGUF from gguf.GGUFWriter, Q8_0, with chat template",
                 "--sharded": "safetensors shards + model.safetensors.index.json",
                 None: "safetensors + torch zip"}[kind_flag]  # fmt: skip
    if args.build_only:
        build_kind(scratch, args)
        return 0
    try:
        if not any(scratch.glob("*.gguf" if args.gguf else "*.safetensors")):
            # Built in a child process: a child's ru_maxrss starts at its parent's RSS at fork, so a
            # parent that held tensors while building would inflate the peak RSS measured below.
            flags = [kind_flag] if kind_flag else []
            subprocess.run([sys.executable, __file__, *flags, "--gb", str(args.gb), "--keep", str(scratch),
                            "--build-only"], check=True)  # fmt: skip
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
              f"({described}), page cache warm, {os.cpu_count()} cores")
        print()
        print(f"| measure | median of {args.repeat} | throughput |")
        print("|---|---|---|")
        print(f"| hashlib.sha256, one core | {h:.2f} s | {total / h / 1e9:.2f} GB/s |")
        print(f"| modelcert scan (CLI, whole process) | {s:.2f} s | {total / s / 1e9:.2f} GB/s |")
        print(f"| ratio scan / sha256 throughput | {h / s:.0%} | target ≥ 90% |")
        print(f"| modelcert peak RSS | {max(rss):.0f} MiB | target ≤ 150 MiB |")
        parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nverdict of the corpus: {verdict}; peak RSS of this benchmark process {parent:.0f} MiB "
              "(a child's ru_maxrss starts at its parent's RSS, so no reading can be lower)")
        print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
