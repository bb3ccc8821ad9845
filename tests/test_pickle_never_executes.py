"""Safety: scanning the whole malicious corpus never executes, compiles, unpickles or imports what it names.

An audit hook (PEP 578) records the interpreter events that running a payload would raise; the
scan happens with the hook armed, and the test asserts that none of them fired.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from builders import pickles as P
from modelcert.checks.registry import analyzers

WATCHED = {
    "exec",
    "compile",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.startfile",
    "ctypes.dlopen",
    "pickle.find_class",
    "marshal.loads",
    "marshal.load",
    "socket.connect",
    "urllib.Request",
    "webbrowser.open",
    "import",
    "open",
}
# Modules the corpus names that the scanner itself has no reason to import.
NAMED_MODULES = {
    P.CANARY_MODULE,
    "pip",
    "pty",
    "mlflow",
    "runpy",
    "_pyrepl",
    "_osx_support",
    "_aix_support",
    "pydoc",
    "code",
    "timeit",
    "cProfile",
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
    "asyncio.unix_events",
    "ctypes",
    "distutils",
    "uuid",
    "multiprocessing.util",
    "torch.utils.collect_env",
    "logging",
}


def corpus() -> list[tuple[str, bytes]]:
    """Every malicious builder, in every protocol variant the builders offer."""
    inner = P.os_system_pickle(2)
    samples: list[tuple[str, bytes]] = [(f"os_system_p{p}.pkl", P.os_system_pickle(p)) for p in range(6)]
    samples += [
        ("pip.pkl", P.reduce_pickle("pip", "main", ("install",))),
        ("canary.pkl", P.canary_import_pickle()),
        ("canary_inst.pkl", P.inst_pickle(P.CANARY_MODULE, "boom")),
        ("canary_obj.pkl", P.obj_pickle(P.CANARY_MODULE, "boom")),
        ("canary_newobj.pkl", P.newobj_pickle(P.CANARY_MODULE, "boom")),
        ("noproto.xyz", P.stack_global_without_proto(P.CANARY_MODULE, "boom")),
        ("memo.pkl", P.memo_stack_global(P.CANARY_MODULE, "boom")),
        ("dotted.pkl", P.dotted_stack_global()),
        ("u8.pkl", P.binunicode8_stack_global(P.CANARY_MODULE)),
        ("ext.pkl", P.ext_pickle()),
        ("computed.pkl", P.computed_stack_global()),
        ("popped.pkl", P.popped_call(P.CANARY_MODULE)),
        ("broken.bin", P.broken_after_payload()),
        ("getattr.pkl", P.getattr_chain(P.CANARY_MODULE)),
        ("resolve.pkl", P.resolver_pickle(("pkgutil", "resolve_name"), f"{P.CANARY_MODULE}:boom")),
        ("methodcaller.pkl", P.methodcaller_pickle(target_module=P.CANARY_MODULE)),
        ("attrgetter.pkl", P.attrgetter_pickle()),
        ("numpy330.pkl", P.numpy_builtins_planting()),
        ("build.pkl", P.build_on_global()),
        ("swap.pkl", P.class_swap_build()),
        ("copyreg.pkl", P.copyreg_reconstructor(P.CANARY_MODULE, "Boom")),
        ("nested.pkl", P.nested_loads(inner)),
        ("nested_b64.pkl", P.nested_base64_loads(P.canary_import_pickle())),
        ("nested_torch.pkl", P.nested_torch_load(P.canary_import_pickle())),
        ("make_function.pkl", P.make_function_pickle()),
        ("multi.pt", P.multi_stream(4)),
        ("legacy.pt", P.legacy_torch_file(P.reduce_call(P.CANARY_MODULE, "boom", ("x",), 2))),
        (
            "joblib_dual.joblib",
            P.joblib_array_stream(P.reduce_call(P.CANARY_MODULE, "x", ("y",), 2) + b"0", alignment=None),
        ),
    ]
    for module, name in [
        ("pty", "spawn"),
        ("_pyrepl.pager", "pipe_pager"),
        ("uuid", "_get_command_stdout"),
        ("logging", "FileHandler"),
        ("torch.utils.collect_env", "run"),
        ("runpy", "run_path"),
        ("ctypes", "CDLL"),
        ("numpy.f2py", "compile"),
        ("webbrowser", "open"),
    ]:
        samples.append((f"{module}.pkl", P.reduce_pickle(module, name, ("/tmp/modelcert-test",))))
    return samples


class Recorder:
    """Audit hook that records watched events while armed (hooks cannot be removed once added)."""

    def __init__(self) -> None:
        self.armed = False
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if self.armed and (event in WATCHED or event.split(".", maxsplit=1)[0] in {"os", "subprocess"}):
            self.events.append((event, args))


_RECORDER = Recorder()
sys.addaudithook(_RECORDER)


def _scan_all(scan: Callable[[bytes, str], Any]) -> list[Any]:
    return [scan(data, name) for name, data in corpus()]


def _armed_scan() -> list[tuple[str, tuple[Any, ...]]]:
    _RECORDER.events.clear()
    _RECORDER.armed = True
    try:
        reports = _scan_all(P.scan)
    finally:
        _RECORDER.armed = False
    assert all(r.verdict.value != "clean" for r in reports)
    return list(_RECORDER.events)


def test_scanning_the_malicious_corpus_executes_nothing() -> None:
    analyzers()  # import every analyzer module before arming: their own start-up is not the corpus
    preloaded = set(sys.modules)
    # First pass: nothing runs, nothing is unpickled, no module the corpus names is imported. Lazy
    # imports of modelcert's own modules (exec/compile/marshal of their code) may happen here.
    events = _armed_scan()
    names = {event for event, _ in events}
    assert not names & {
        "subprocess.Popen",
        "os.system",
        "pickle.find_class",
        "ctypes.dlopen",
        "socket.connect",
        "webbrowser.open",
    }, events
    assert not [e for e in names if e.startswith(("os.exec", "os.spawn", "os.posix_spawn", "os.fork"))]
    imported = {str(args[0]) for event, args in events if event == "import"}
    assert not {m for m in imported if m in NAMED_MODULES and m not in preloaded}, imported
    assert P.CANARY_MODULE not in imported and P.CANARY_MODULE not in sys.modules
    opened = [args for event, args in events if event == "open" and "modelcert-test" in str(args[0])]
    assert not opened
    # Second pass, everything warm: no code is compiled, executed or unmarshalled at all.
    events = _armed_scan()
    names = {event for event, _ in events}
    assert not names & {"exec", "compile", "marshal.loads", "marshal.load", "import"}, events


def test_recorder_sees_what_it_watches() -> None:
    """The hook works: a harmless compile while armed is recorded (so silence above means something)."""
    _RECORDER.events.clear()
    _RECORDER.armed = True
    try:
        compile("1 + 1", "<modelcert-test>", "eval")
    finally:
        _RECORDER.armed = False
    assert any(event == "compile" for event, _ in _RECORDER.events)
