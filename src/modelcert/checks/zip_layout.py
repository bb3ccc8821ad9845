"""What a zip is by its member names (PyTorch, TorchScript, npz, Keras, plain zip) and the role each
member plays in it, as the loader of that kind reads it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

from modelcert.records import Record

# Roles: how a member is handed to the scanner.
PICKLE = "pickle"  # read by torch.load / torch.jit.load as a pickle whatever its bytes say
TORCHSCRIPT_CODE = "torchscript-code"
KERAS_CONFIG = "keras-config"
STORAGE = "storage"  # tensor bytes, version, byteorder: raw unless a magic number says otherwise
RECORD = "record"  # any other PyTorch record: detected by content, not listed when raw
MEMBER = "member"  # anything else: detected by content

TORCH_KINDS = frozenset({"pytorch-zip", "torchscript"})
# Folders of raw tensor bytes (torch.save, torch.jit.save, the pre-1.4 TorchScript layout) and small
# bookkeeping records; their bytes are never interpreted by torch.
STORAGE_DIRS = ("data/", "constants/", "traced_inputs/", "tensors/", ".data/")
BOOKKEEPING = frozenset({"version", "byteorder", ".format_version", ".storage_alignment"})
_PICKLE_OPS_WITH_EFFECT = frozenset({"GLOBAL", "INST", "REDUCE", "BUILD", "OBJ", "STACK_GLOBAL", "NEWOBJ",
                                     "NEWOBJ_EX", "EXT1", "EXT2", "EXT4"})


class ZipLayout(Record):
    __slots__ = ("kind", "prefix")
    kind: Final[str]  # "pytorch-zip", "torchscript", "npz", "keras" or "zip"
    prefix: Final[str]  # the PyTorch archive folder ("archive", or the name torch.save was given)

    def __init__(self, kind: str, prefix: str) -> None:
        self.kind = kind
        self.prefix = prefix

    def record(self, name: str) -> str | None:
        """The PyTorch record name of a member (its path under the archive folder), or None."""
        if self.kind in TORCH_KINDS and name.startswith(self.prefix + "/"):
            return name[len(self.prefix) + 1 :]
        return None

    def role(self, name: str) -> str:
        record = self.record(name)
        if record is not None:
            if record.endswith((".pkl", ".debug_pkl")):
                return PICKLE
            if self.kind == "torchscript" and record.startswith("code/") and record.endswith(".py"):
                return TORCHSCRIPT_CODE
            if record.startswith(STORAGE_DIRS) or record in BOOKKEEPING:
                return STORAGE
            return RECORD
        if self.kind in TORCH_KINDS:
            return MEMBER
        if self.kind == "keras" and name == "config.json":
            return KERAS_CONFIG
        return MEMBER


def classify(names: Sequence[str]) -> ZipLayout:
    """Decide the kind the way the loaders do: PyTorch's reader takes the folder of the first entry
    as the archive prefix and looks records up under it; torch.load sends archives holding
    `constants.pkl` to torch.jit.load; np.load reads `.npy` members; Keras wants config.json."""
    files = [n for n in names if not n.endswith("/")]
    prefix = files[0].split("/", 1)[0] if files and "/" in files[0] else ""
    records = {n[len(prefix) + 1 :] for n in files if prefix and n.startswith(prefix + "/")}
    has_code = any(r.startswith("code/") and r.endswith(".py") for r in records)
    if "constants.pkl" in records or (has_code and ("data.pkl" in records or "model.json" in records)):
        return ZipLayout("torchscript", prefix)
    if "data.pkl" in records:
        return ZipLayout("pytorch-zip", prefix)
    top = set(files)
    if "config.json" in top and ({"metadata.json", "model.weights.h5", "model.weights.npz"} & top):
        return ZipLayout("keras", "")
    if files and all(n.endswith(".npy") for n in files):
        return ZipLayout("npz", "")
    return ZipLayout("zip", "")


def plausible_pickle(head: bytes) -> bool:
    """Whether bytes that start like a pickle parse as one long enough to do something.

    Raw float storages start with `\\x80\\x02`…`\\x80\\x05` about once in 16,000 tensors; such bytes
    fall apart within a few opcodes, while a pickle that imports or calls anything shows an
    import/call opcode before any parse error.
    """
    import pickletools  # with pickle, ~2 ms: most zips hold no pickle-looking member

    try:
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(head)):
            if opcode.name in _PICKLE_OPS_WITH_EFFECT:
                return True
            if opcode.name == "STOP":
                return False
    except Exception:  # any parse failure means "not a pickle"
        return False
    return False
