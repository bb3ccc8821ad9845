"""Callables no advisory names yet that reach code, processes, files or the network: never clean.

Each is built with a harmless argument; the scanner must call the file unsafe (a known-dangerous
callable) — these were checked by hand against the catalogue and are kept here as regressions.
"""

from __future__ import annotations

import pytest

from builders import pickles as P
from modelcert.findings import Verdict

G = P.op_global  # import module.name (STACK_GLOBAL at protocol 4)



def _call(module: str, name: str, *args: str) -> bytes:
    return P.reduce_call(module, name, args, proto=4)


GADGETS = {
    "operator.methodcaller on a module": (
        G("operator", "methodcaller") + P.op_str("system") + P.op_str("echo hi") + b"\x86R"
        + G("os", "path") + b"\x85R"
    ),
    "timeit.timeit runs a statement": _call("timeit", "timeit", "print(1)"),
    "cProfile.run runs a statement": _call("cProfile", "run", "print(1)"),
    "pdb.run": _call("pdb", "run", "print(1)"),
    "pty.spawn": _call("pty", "spawn", "/bin/true"),
    "_posixsubprocess.fork_exec": G("_posixsubprocess", "fork_exec") + b")R",
    "asyncio subprocess": _call("asyncio", "create_subprocess_shell", "echo hi"),
    "webbrowser.open": _call("webbrowser", "open", "http://example.invalid"),
    "runpy.run_path": _call("runpy", "run_path", "/tmp/never.py"),
    "torch.hub.load fetches code": _call("torch.hub", "load", "owner/repo", "entry"),
    "torch.ops.load_library loads native code": _call("torch.ops", "load_library", "/tmp/never.so"),
    "ctypes.CDLL": _call("ctypes", "CDLL", "libc.so.6"),
    "yaml.unsafe_load": _call("yaml", "unsafe_load", "!!python/object/apply:os.system ['echo hi']"),
    "pip.main installs": G("pip", "main") + b"]" + P.op_str("install") + b"a\x85R",
    "shutil.rmtree": _call("shutil", "rmtree", "/tmp/never"),
    "operator.call of os.system": (
        G("operator", "call") + G("os", "system") + P.op_str("echo hi") + b"\x86R"
    ),
    "functools.reduce with os.system": (
        G("functools", "reduce") + G("os", "system") + P.op_str("echo hi") + b"\x85\x86R"
    ),
    "copyreg._reconstructor of Popen": (
        G("copyreg", "_reconstructor") + G("subprocess", "Popen") + G("builtins", "object") + b"N\x87R"
    ),
    "marshal.loads of code": G("marshal", "loads") + P.op_bytes(b"\xe3") + b"\x85R",
    "types.FunctionType": G("types", "FunctionType") + b")R",
    "importlib SourceFileLoader": _call("importlib.machinery", "SourceFileLoader", "x", "/tmp/never.py"),
    "numpy.load of a path": _call("numpy", "load", "/tmp/never.npy"),
}


@pytest.mark.parametrize("name", sorted(GADGETS))
def test_gadget_is_unsafe(name: str) -> None:
    report = P.scan(b"\x80\x04" + GADGETS[name] + b".", "model.pkl")
    assert report.verdict is Verdict.UNSAFE, [f.message for f in report.all_findings()]
