"""Build the built-in sample package that `make demo` scans: one clean model, one malicious pickle.

The malicious file is a protocol-0 pickle that would call `os.system("echo modelcert-demo")` if
anyone unpickled it. modelcert never does; the payload is harmless even if someone else did.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

MALICIOUS_PICKLE = b"cos\nsystem\n(S'echo modelcert-demo'\ntR."


def _safetensors(tensors: dict[str, tuple[str, list[int], bytes]]) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + data


def build(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    weight = struct.pack("<4f", 0.5, -1.0, 2.0, 0.25)
    bias = struct.pack("<2f", 0.0, 1.0)
    (folder / "model.safetensors").write_bytes(
        _safetensors({"linear.bias": ("F32", [2], bias), "linear.weight": ("F32", [2, 2], weight)})
    )
    (folder / "config.json").write_text(
        json.dumps({"architectures": ["TinyLinear"], "hidden_size": 2, "model_type": "tiny"}, indent=2) + "\n"
    )
    (folder / "README.md").write_text(
        "# demo package\n\nOne clean safetensors model, one malicious pickle.\n"
    )
    (folder / "optimizer.pkl").write_bytes(MALICIOUS_PICKLE)


def build_clean(folder: Path) -> None:
    """The same model without the malicious pickle: what a publisher should have shipped."""
    build(folder)
    (folder / "optimizer.pkl").unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["build", "build-clean"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    (build if args.action == "build" else build_clean)(args.folder)
    sys.stderr.write(f"built demo package in {args.folder}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
