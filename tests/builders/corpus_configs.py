"""Corpus samples for YAML configs (Python object tags) and native binaries shipped in packages.

Kept apart from corpus.py (already long); `corpus.build_corpus` calls these like its own builders.
Payloads are harmless `echo` commands and minimal binary headers that are never run.
"""

from __future__ import annotations

import io
import struct
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builders.corpus import _Writer

CMD = "echo modelcert-corpus"


def elf_header(e_type: int = 3) -> bytes:
    """The first bytes of a 64-bit little-endian x86-64 ELF (3 = shared object); not runnable."""
    return b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHI", e_type, 62, 1) + bytes(48)


def pe_dll_header() -> bytes:
    stub = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80))
    stub += bytes(0x80 - len(stub))
    return bytes(stub) + b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, 0x2022) + bytes(64)


def yaml_samples(w: _Writer) -> None:
    w.bad("yaml", "YAML hparams python/object/apply (PyYAML unsafe_load)", "hparams.yaml",
          f'lr: 0.001\ncallback: !!python/object/apply:os.system ["{CMD}"]\n'.encode(), unsafe=True)
    w.bad("yaml", "YAML model_config python/object/new Popen", "model_config.yaml",
          f'encoder:\n  proc: !!python/object/new:subprocess.Popen [["{CMD}"]]\n'.encode(), unsafe=True)
    w.bad("yaml", "YAML %TAG shorthand hides python/name", "config.yml",
          b"%TAG !p! tag:yaml.org,2002:python/\n---\nactivation: !p!name:os.system\n", unsafe=True)
    w.bad("yaml", "YAML payload in the second document", "train.yaml",
          f'epochs: 3\n---\nhook: !!python/object/apply:subprocess.check_output [["{CMD}"]]\n'.encode(),
          unsafe=True)
    mlmodel = f'flavors:\n  python_function:\n    loader_module: !!python/object/apply:os.system ["{CMD}"]\n'
    w.bad("yaml", "MLflow MLmodel with a python/object/apply", "MLmodel", mlmodel.encode(), unsafe=True)


def native_samples(w: _Writer) -> None:
    w.bad("native", "custom-op shared library next to the weights", "libcustom_ops.so", elf_header())
    w.bad("native", "Windows DLL renamed as weights", "model.bin", pe_dll_header())
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("model/handler.so", elf_header())
        archive.writestr("model/MANIFEST.json", '{"model": {"handler": "handler.so"}}')
    w.bad("native", "model archive (.mar) carrying a shared library", "model.mar", raw.getvalue())


def benign_yaml(w: _Writer) -> None:
    w.good("yaml", "Lightning hparams.yaml", "hparams.yaml",
           b"lr: 0.001\nbatch_size: 32\nhidden_dims: [64, 64]\noptimizer: adamw\nscheduler: null\n")
    w.good("yaml", "NeMo-style config with _target_ and a tuple tag", "model_config.yaml",
           b"model:\n  encoder:\n    _target_: nemo.collections.asr.modules.ConformerEncoder\n"
           b"    d_model: 176\n    kernel: !!python/tuple [3, 3]\n  optim: {name: adamw, lr: 0.002}\n")
    w.good("yaml", "MLflow MLmodel", "MLmodel",
           b"flavors:\n  python_function:\n    env: conda.yaml\n    loader_module: mlflow.sklearn\n"
           b"    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n"
           b"    serialization_format: cloudpickle\n    sklearn_version: 1.5.0\n")
    w.good("yaml", "dataset descriptor with anchors and merge keys", "data.yaml",
           b"defaults: &d {imgsz: 640, batch: 16}\ntrain: {<<: *d, path: images/train}\n"
           b"val: {<<: *d, path: images/val}\nnames: [person, bicycle, car]\n")
