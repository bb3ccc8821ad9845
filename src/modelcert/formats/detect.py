"""Format detection by content. The file name is only a hint, and a mismatch is itself a signal.

`detect` looks at the first bytes (and the last ones for zip), never at the extension alone:
a pickle renamed `.safetensors` is a pickle, a zip whose name says nothing is still read as zip.
"""

from __future__ import annotations

import io
import json
from pathlib import PurePosixPath
from typing import Final

from modelcert.records import Record

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 66 * 1024  # the zip end-of-central-directory record plus the longest comment

# Extensions and the formats a loader would treat them as. Used as hints and for mismatch findings.
EXTENSION_HINTS: dict[str, str] = {
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "pickle",
    ".dill": "pickle",
    ".dat": "pickle",
    ".data": "pickle",
    ".pt": "pickle",  # torch.load: zip or legacy pickle
    ".pth": "pickle",
    ".bin": "pickle",
    ".ckpt": "pickle",
    ".pkl.gz": "gzip",
    ".npy": "numpy",
    ".npz": "zip",
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".onnx": "onnx",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".keras": "zip",
    ".pb": "protobuf",
    ".zip": "zip",
    ".tar": "tar",
    ".tgz": "gzip",
    ".gz": "gzip",
    ".bz2": "bzip2",
    ".xz": "xz",
    ".zst": "zstd",
    ".7z": "7z",
    ".json": "json",
    ".jinja": "jinja",
    ".jinja2": "jinja",
    ".j2": "jinja",
    ".py": "python",
    ".pyc": "pyc",
    ".yaml": "yaml",
    ".yml": "yaml",
}

# Extensions that torch.load / pickle.load / joblib.load are pointed at in practice: content we cannot
# identify under these names is analysed as pickle (fail closed), since that is how a loader reads it.
PICKLE_LOADER_EXTENSIONS = frozenset(
    {".pkl", ".pickle", ".joblib", ".dill", ".dat", ".data", ".pt", ".pth", ".bin", ".ckpt"}
)

# What a content format may legitimately be named; outside this, a known extension is a mismatch.
COMPATIBLE: dict[str, frozenset[str]] = {
    # joblib.load decompresses transparently: a compressed pickle under a pickle name is normal
    "pickle": frozenset(
        {"pickle", "zip", "numpy", "binary", "gguf", "safetensors",
         "gzip", "bzip2", "xz", "lz4", "zstd", "zlib", "lzma"}
    ),
    "zip": frozenset({"zip"}),
    "numpy": frozenset({"numpy"}),
    "safetensors": frozenset({"safetensors"}),
    "gguf": frozenset({"gguf"}),
    "onnx": frozenset({"onnx"}),
    "hdf5": frozenset({"hdf5"}),
    "gzip": frozenset({"gzip", "tar"}),
    "json": frozenset({"json"}),
}


class Detection(Record):
    """What the content is, what the name suggested, and whether they disagree."""

    __slots__ = ("format", "guessed", "hint", "mismatch")
    format: Final[str]
    hint: Final[str | None]
    mismatch: Final[bool]
    guessed: Final[bool]  # the format comes from the name, not from a signature in the content

    def __init__(self, format: str, hint: str | None, mismatch: bool, guessed: bool = False) -> None:
        self.format = format
        self.hint = hint
        self.mismatch = mismatch
        self.guessed = guessed


def extension_of(name: str) -> str:
    path = PurePosixPath(name.lower())
    suffixes = path.suffixes
    if len(suffixes) >= 2 and "".join(suffixes[-2:]) in EXTENSION_HINTS:
        return "".join(suffixes[-2:])
    return path.suffix


def hint_for(name: str) -> str | None:
    base = PurePosixPath(name).name.lower()
    if base in {"saved_model.pb", "keras_metadata.pb", "fingerprint.pb"}:
        return "tf-savedmodel"
    if base.endswith((".jinja", ".jinja2", ".j2")) or base == "chat_template.json":
        return "jinja" if not base.endswith(".json") else "json"
    if base == "mlmodel":
        return "yaml"  # MLflow's model descriptor
    return EXTENSION_HINTS.get(extension_of(name))


def sniff(head: bytes, tail: bytes, size: int) -> str | None:
    """The format named by the content alone, or None when no signature matches."""
    if size == 0:
        return "empty"
    if head.startswith(b"\x80") and len(head) >= 2 and 2 <= head[1] <= 5:
        return "pickle"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")) or b"PK\x05\x06" in tail:
        return "zip"
    if head.startswith((b"GGUF", b"FUGG")):
        return "gguf"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 3 and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if _looks_like_zlib(head):
        return "zlib"
    if _looks_like_lzma_alone(head):
        return "lzma"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    for offset in (0, 512, 1024, 2048):
        if head[offset : offset + 8] == b"\x89HDF\r\n\x1a\n":
            return "hdf5"
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return "image"
    if native_executable_kind(head) is not None:
        return "executable"
    if _looks_like_safetensors(head, size):
        return "safetensors"
    if _looks_like_pickle_v0(head, size):
        return "pickle"
    if _looks_like_json(head):
        return "json"
    return None


_MACHO_MAGICS = {
    b"\xfe\xed\xfa\xce": "Mach-O 32-bit",
    b"\xfe\xed\xfa\xcf": "Mach-O 64-bit",
    b"\xce\xfa\xed\xfe": "Mach-O 32-bit",
    b"\xcf\xfa\xed\xfe": "Mach-O 64-bit",
}
_ELF_TYPES = {1: "relocatable object", 2: "executable", 3: "shared library or PIE executable", 4: "core dump"}


def native_executable_kind(head: bytes) -> str | None:
    """"ELF shared library …", "PE DLL", "Mach-O 64-bit" … when `head` starts a native binary, else None.

    Only structural signatures count: ELF's magic with a valid class, PE's "MZ" stub pointing at a
    "PE\\0\\0" header inside the head, Mach-O's magics (not the fat/Java-class 0xCAFEBABE).
    """
    if head[:4] == b"\x7fELF" and len(head) >= 18 and head[4] in (1, 2) and head[5] in (1, 2):
        e_type = int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")
        return f"ELF {_ELF_TYPES.get(e_type, 'file')}"
    if head[:2] == b"MZ" and len(head) >= 0x40:
        pe = int.from_bytes(head[0x3C:0x40], "little")
        if 0x40 <= pe <= len(head) - 24 and head[pe : pe + 4] == b"PE\x00\x00":
            characteristics = int.from_bytes(head[pe + 22 : pe + 24], "little")
            return "PE DLL" if characteristics & 0x2000 else "PE executable"
    return _MACHO_MAGICS.get(head[:4])


def detect(head: bytes, tail: bytes, size: int, name: str) -> Detection:
    """Decide a format from content, then use the name to refine protobuf/text cases and flag mismatches."""
    hint = hint_for(name)
    found = sniff(head, tail, size)
    if found is None and hint == "pyc" and head[2:4] == b"\r\n":
        found = "pyc"  # compiled Python: 2-byte version magic then \r\n
    if found is None:
        if hint in {"onnx", "tf-savedmodel", "protobuf"}:
            found = hint if hint != "protobuf" else "protobuf"
        elif hint == "python" or (hint in {"jinja", "yaml"} and _is_text(head)):
            found = hint  # a .py that is not UTF-8 still imports (coding cookie): parse it, fail closed
        elif name.lower().endswith((".onnx.data", ".onnx_data")):
            found = "tensor-data"  # ONNX external data: raw tensor bytes, checked through the graph
        elif _loader_would_unpickle(name, head):
            # torch.load / pickle.load would read it and could run code before failing: analyse it as a
            # pickle (fail closed). A first byte that is no opcode stops every unpickler at once.
            return Detection(format="pickle", hint=hint, mismatch=False, guessed=True)
        elif _is_text(head):
            found = "text"
        else:
            found = "binary"
    elif found == "json" and hint == "jinja" and not _is_complete_json(head, size):
        found = "jinja"  # templates start with "{%" / "{{", which the lenient JSON sniff accepts
    mismatch = False
    if hint is not None and hint in COMPATIBLE and found not in {"empty", "binary", "text", "tensor-data"}:
        mismatch = found not in COMPATIBLE[hint]
    if hint == "safetensors" and found not in {"safetensors", "empty"}:
        mismatch = True
    return Detection(format=found, hint=hint, mismatch=mismatch)


def _loader_would_unpickle(name: str, head: bytes) -> bool:
    return extension_of(name) in PICKLE_LOADER_EXTENSIONS and not _is_text(head) and head[0] in OPCODE_BYTES


def _looks_like_zlib(head: bytes) -> bool:
    """A bare zlib stream (RFC 1950): deflate method, 32 KiB window, header checksum, no preset dictionary."""
    return (
        len(head) >= 2
        and head[0] == 0x78
        and head[1] in (0x01, 0x5E, 0x9C, 0xDA)
        and (head[0] << 8 | head[1]) % 31 == 0
    )


def _looks_like_lzma_alone(head: bytes) -> bool:
    """An LZMA-alone (.lzma) header: default properties, a power-of-two-ish dictionary, a sane size."""
    if len(head) < 13 or head[0] != 0x5D:
        return False
    dictionary = int.from_bytes(head[1:5], "little")
    plausible_dict = any(dictionary in (1 << n, 3 << (n - 1)) for n in range(12, 31))
    size = int.from_bytes(head[5:13], "little")
    return plausible_dict and (size == (1 << 64) - 1 or size < (1 << 42))


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    length = int.from_bytes(head[:8], "little")
    if length < 2 or length + 8 > size:
        return False
    # The loader's JSON parser skips leading whitespace, so a padded header still loads.
    return head[8 : 8 + min(length, 4096)].lstrip(b" \t\r\n")[:1] == b"{"


def _looks_like_json(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith((b"{", b"[")):
        return False
    try:
        json.loads(head.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return False
    except json.JSONDecodeError as exc:
        # A truncated head of a large JSON file fails at its end, not its start.
        return exc.pos >= len(head) - 64 or len(head) >= HEAD_BYTES - 8
    except RecursionError:
        return True  # nesting bomb: the JSON reader reports the depth limit
    return True


def _is_complete_json(head: bytes, size: int) -> bool:
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{%", b"{{", b"{#")):
        return False  # Jinja2 tags; never valid JSON
    if len(head) < size:
        return True
    try:
        json.loads(head.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return True


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a multibyte character cut by the head boundary
    return True


# Every opcode byte of protocols 0-5, spelled out so detection does not import pickletools (~4 ms of
# start-up for every scan); tests/test_detect.py checks it against pickletools.opcodes.
OPCODE_BYTES = frozenset(
    b"().012BCFGIJKLMNPQRSTUVX]abcdeghijlopqrstu}"
    b"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98"
)
_PICKLE_V0_FIRST = frozenset(b"(cI]}lLSVFdNKJMTUXBCGhjqrpg)t.0a") | frozenset(
    b"\x80\x8c\x8d\x95\x8a\x8b\x8e\x88\x89\x8f\x96"  # pickle.load needs no PROTO (GHSA-9gvj-pp9x-gcfr)
)
_DEF_OPS = frozenset({"GLOBAL", "INST", "REDUCE", "BUILD", "OBJ", "STACK_GLOBAL", "NEWOBJ"})


def _looks_like_pickle_v0(head: bytes, size: int) -> bool:
    """Protocol 0/1 pickles have no magic: accept when the head parses as opcodes that reach STOP.

    Text files rarely form a valid opcode run to STOP; requiring at least one import/call opcode or
    a STOP that ends the head keeps plain text out.
    """
    if not head or head[0] not in _PICKLE_V0_FIRST:
        return False
    import pickletools

    seen_stop = False
    seen_def = False
    count = 0
    try:
        for opcode, _arg, pos in pickletools.genops(io.BytesIO(head)):
            count += 1
            if opcode.name in _DEF_OPS:
                seen_def = True
            if opcode.name == "STOP":
                seen_stop = True
                end = (pos or 0) + 1
                return seen_def or (end == size and count > 2)
            if count > 10_000:
                return seen_def
    except Exception:  # any parse error means "not a pickle head"
        return seen_def and count > 4 and not seen_stop and len(head) >= HEAD_BYTES - 16
    return seen_def
