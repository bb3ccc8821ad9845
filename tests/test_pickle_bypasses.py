"""One regression test per published pickle-scanner bypass (scanner-threats.md §2), plus variants.

Every sample is built opcode by opcode with a harmless payload; nothing is unpickled.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from builders import pickles as P
from modelcert.findings import Verdict


def assert_unsafe(
    data: bytes, name: str = "model.pkl", *, reaches: str | None = None, check: str = "MC100"
) -> None:
    report = P.scan(data, name)
    assert report.verdict is Verdict.UNSAFE, [f.to_dict() for f in report.all_findings()]
    assert check in P.check_ids(report)
    if reaches is not None:
        assert reaches in P.reached(report), P.reached(report)


@pytest.mark.parametrize("proto", [0, 1, 2, 3, 4, 5])
def test_classic_os_system_every_protocol(proto: int) -> None:
    """The classic payload in every protocol spelling (protocol 0 and 1 have no PROTO opcode)."""
    data = P.os_system_pickle(proto)
    report = P.scan(data)
    assert report.format == "pickle"
    assert report.verdict is Verdict.UNSAFE
    finding = next(f for f in report.findings if f.check_id == "MC100")
    assert finding.details["reached"] == "os.system"
    assert finding.details["invoked"] is True
    assert "os.system" in finding.message and finding.location.offset is not None
    assert finding.location.opcode_index is not None


def test_cve_2025_1716_pip_main() -> None:
    """CVE-2025-1716: pip was missing from picklescan's denylist."""
    assert_unsafe(P.reduce_pickle("pip", "main", ("install",)), reaches="pip.main")
    assert_unsafe(
        P.reduce_pickle("pip._internal.cli.main", "main", ("install",)), reaches="pip._internal.cli.main.main"
    )


def test_cve_2025_1889_odd_extension_is_sniffed() -> None:
    """CVE-2025-1889: a pickle under a non-pickle extension is still a pickle (content decides)."""
    assert_unsafe(P.os_system_pickle(2), name="weights.xyz")


def test_cve_2025_1889_odd_extension_member_of_zip() -> None:
    """CVE-2025-1889: the same pickle as a zip member with an odd extension."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", P.pickle_of(b"}", 2))
        archive.writestr("archive/extra.xyz", P.os_system_pickle(2))
    report = P.scan(buffer.getvalue(), "model.zip")
    assert report.verdict is Verdict.UNSAFE
    assert "os.system" in P.reached(report)


@pytest.mark.parametrize("name", ["payload.pkl", "payload.xyz", "payload"])
def test_ghsa_9gvj_stack_global_is_first_opcode(name: str) -> None:
    """GHSA-9gvj-pp9x-gcfr: no PROTO, the module string is opcode 0 (picklescan's back-walk skipped it)."""
    assert_unsafe(P.stack_global_without_proto(), name=name, reaches="os.system")


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "model.pth", "model.ckpt"])
def test_cve_2025_10155_plain_pickle_with_torch_extension(name: str) -> None:
    """CVE-2025-10155: a plain pickle named like a torch file failed a magic check and was skipped."""
    assert_unsafe(P.os_system_pickle(2), name=name)


def test_cve_2025_10157_submodule_of_dangerous_module() -> None:
    """CVE-2025-10157: `asyncio.unix_events._UnixSubprocessTransport._start` passed exact matching."""
    data = P.reduce_pickle("asyncio.unix_events", "_UnixSubprocessTransport._start", ("x",), proto=4)
    assert_unsafe(data, reaches="asyncio.unix_events._UnixSubprocessTransport._start")


@pytest.mark.parametrize("opcode", ["GET", "BINGET", "LONG_BINGET"])
def test_picklescan_memo_tricks_resolve(opcode: str) -> None:
    """picklescan #10 / #23: STACK_GLOBAL operands fetched from memo slots are resolved."""
    assert_unsafe(P.memo_stack_global(opcode=opcode), reaches="os.system")


def test_picklescan_52_invalid_memo_is_not_clean() -> None:
    """picklescan #52: a GET of a slot never stored breaks the stream; it must never pass as clean."""
    data = P.pickle_of(b"h\x09" + P.op_str("system") + b"\x93" + P.op_tuple([P.op_str("x")]) + b"R", 4)
    report = P.scan(data)
    assert report.verdict is Verdict.UNSCANNABLE
    assert "MC107" in P.check_ids(report)


@pytest.mark.parametrize("module", ["_operator", "operator"])
def test_ghsa_955r_46h3_operator_aliases(module: str) -> None:
    """GHSA-955r-x9j8-7rhh / GHSA-46h3-79wf-xr6c: `_operator` twins of `operator` gadgets."""
    assert_unsafe(P.methodcaller_pickle(module), reaches=f"{module}.methodcaller")
    report = P.scan(P.methodcaller_pickle(module))
    assert "os.system" in P.reached(report)  # what methodcaller('system')(os) really calls
    assert_unsafe(P.attrgetter_pickle(module), reaches="os.path.os.system")
    assert_unsafe(P.reduce_pickle(module, "itemgetter", ("system",), proto=4), reaches=f"{module}.itemgetter")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("ctypes", "CDLL"),
        ("numpy.f2py", "compile"),
        ("numpy.f2py.crackfortran", "eval"),
        ("distutils.file_util", "write_file"),
        ("pty", "spawn"),
        ("pydoc", "locate"),
    ],
)
def test_picklescan_0_0_33_batch(module: str, name: str) -> None:
    """GHSA-m273/-4675/-84r2/-vqmv/-hgrh/-r8g5 (0.0.33): ctypes, numpy.f2py, distutils, pty, pydoc.locate."""
    assert_unsafe(P.reduce_pickle(module, name, ("x",)), reaches=f"{module}.{name}")


@pytest.mark.parametrize(("module", "name"), [("_io", "FileIO"), ("urllib.request", "urlopen")])
def test_ghsa_9726_fileio_and_urlopen(module: str, name: str) -> None:
    """GHSA-9726-w42j-3qjr: file access without builtins.open, and SSRF/exfiltration via urlopen."""
    assert_unsafe(P.reduce_pickle(module, name, ("/tmp/modelcert-test",)), reaches=f"{module}.{name}")


def test_ghsa_9m3x_cloudpickle_make_function_and_codetype() -> None:
    """GHSA-9m3x-qqw2-h32h: functions rebuilt from bytecode (`_make_function`, `types.CodeType`)."""
    report = P.scan(P.make_function_pickle())
    assert report.verdict is Verdict.UNSAFE
    assert {"types.CodeType", "cloudpickle.cloudpickle._make_function"} <= P.reached(report, "MC100")


def test_ghsa_vvpj_pkgutil_resolve_name() -> None:
    """GHSA-vvpj-8cmc-gx39: `pkgutil.resolve_name('os:system')` resolves any callable."""
    data = P.resolver_pickle(("pkgutil", "resolve_name"), "os:system")
    assert_unsafe(data, reaches="pkgutil.resolve_name")
    assert "os.system" in P.reached(P.scan(data))


def test_modelscan_331_import_module_plus_getattr() -> None:
    """protectai/modelscan#331: `getattr(importlib.import_module('os'), 'system')(cmd)`."""
    data = P.getattr_chain()
    assert_unsafe(data, reaches="importlib.import_module")
    assert {"builtins.getattr", "os.system"} <= P.reached(P.scan(data))


def test_cve_2026_56304_logging_filehandler() -> None:
    """CVE-2026-56304: `logging.FileHandler(path)` creates arbitrary files."""
    assert_unsafe(
        P.reduce_pickle("logging", "FileHandler", ("/tmp/modelcert-test",)), reaches="logging.FileHandler"
    )


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("uuid", "_get_command_stdout"),
        ("imaplib", "IMAP4_stream"),
        ("_pyrepl.pager", "pipe_pager"),
        ("_osx_support", "_read_output"),
        ("_aix_support", "_read_cmd_output"),
    ],
)
def test_cve_2026_56315_stdlib_command_runners(module: str, name: str) -> None:
    """CVE-2026-56315 (GHSA-g38g-8gr9-h9xp): stdlib helpers that run commands."""
    assert_unsafe(P.reduce_pickle(module, name, ("echo modelcert-test",)), reaches=f"{module}.{name}")


def test_modelscan_330_numpy_builtins_planting() -> None:
    """protectai/modelscan#330: only numpy globals, `numpy.__builtins__` planted on `numpy.size` by BUILD."""
    report = P.scan(P.numpy_builtins_planting())
    assert report.verdict is Verdict.UNSAFE
    ids = P.check_ids(report)
    assert {"MC103", "MC105"} <= ids
    assert "numpy.__builtins__" in P.reached(report, "MC103")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch.utils.collect_env", "run"),
        ("multiprocessing.util", "spawnv_passfds"),
        ("mlflow.projects.backend.local", "_run_entry_point"),
        ("pandas", "read_csv"),
        ("pandas.io.parsers.readers", "read_csv"),
    ],
)
def test_modelscan_338_alternative_primitives(module: str, name: str) -> None:
    """protectai/modelscan#338: execution/exfiltration primitives absent from denylists."""
    assert_unsafe(P.reduce_pickle(module, name, ("http://127.0.0.1/x",)), reaches=f"{module}.{name}")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pydoc", "pipepager"),
        ("venv", "create"),
        ("torch.serialization", "load"),
        ("functools", "partial"),
        ("torch._inductor.codecache", "compile_file"),
    ],
)
def test_ghsa_655q_missing_globals(module: str, name: str) -> None:
    """GHSA-655q-fx9r-782v (0.0.23): more globals missing from the denylist."""
    assert_unsafe(P.reduce_pickle(module, name, ("x",)), reaches=f"{module}.{name}")


def test_modelscan_267_nested_pickle_loads() -> None:
    """protectai/modelscan#267: `pickle.loads(inner)`; the outer call is flagged and the inner analysed."""
    inner = P.os_system_pickle(2)
    report = P.scan(P.nested_loads(inner))
    assert report.verdict is Verdict.UNSAFE
    assert "pickle.loads" in P.reached(report, "MC100")
    (member,) = report.members
    assert member.path.startswith("pickle-payload@")
    assert "os.system" in P.reached(member)


def test_nested_pickle_behind_base64_and_torch_load() -> None:
    """Nested payloads behind a decoder chain, or handed to torch.load(BytesIO(...)), are analysed too."""
    inner = P.reduce_pickle("subprocess", "check_output", ("echo",), proto=2)
    for data in (P.nested_base64_loads(inner), P.nested_torch_load(inner)):
        report = P.scan(data)
        assert report.verdict is Verdict.UNSAFE
        assert any("subprocess.check_output" in P.reached(m) for m in report.members)


def test_nested_pickles_stop_at_depth_limit() -> None:
    """Nested loads are followed up to max_nested_pickle_depth, then reported as unanalysed."""
    data = P.os_system_pickle(2)
    for _ in range(6):
        data = P.nested_loads(data)
    report = P.scan(data)
    assert report.verdict is Verdict.UNSAFE
    assert "MC110" in P.check_ids(report)


@pytest.mark.parametrize("proto", [1, 2, 4])
def test_ghsa_mxhj_obj_opcode(proto: int) -> None:
    """fickling GHSA-mxhj-88fx-4pcv: the OBJ opcode call path."""
    assert_unsafe(P.obj_pickle("os", "system", proto=proto), reaches="os.system")


def test_inst_opcode_protocol_0() -> None:
    """Protocol 0 INST calls without REDUCE."""
    assert_unsafe(P.inst_pickle("subprocess", "Popen"), reaches="subprocess.Popen")


def test_newobj_of_dangerous_class() -> None:
    """NEWOBJ constructs a class: a dangerous class is reported even without REDUCE."""
    assert_unsafe(P.newobj_pickle("subprocess", "Popen"), reaches="subprocess.Popen")


def test_ghsa_5j3x_dotted_stack_global() -> None:
    """fickling GHSA-5j3x-jp52-966f: `tempfile` + `_os.system` reaches os.system through a re-export."""
    report = P.scan(P.dotted_stack_global())
    assert report.verdict is Verdict.UNSAFE
    assert {"tempfile._os.system", "os.system"} <= P.reached(report)
    # Also for modules that are not dangerous themselves.
    assert_unsafe(P.dotted_stack_global("numpy.testing", "os.popen"), reaches="os.popen")
    assert_unsafe(P.dotted_stack_global("collections", "_sys.modules"), reaches="sys.modules")


@pytest.mark.parametrize(
    ("module", "name"),
    [
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
        ("pty", "spawn"),
        ("imp", "load_source"),
        ("pipes", "Template"),
        ("smtplib", "SMTP"),
        ("imaplib", "IMAP4"),
        ("ftplib", "FTP"),
    ],
)
def test_fickling_unsafe_imports_list(module: str, name: str) -> None:
    """fickling UNSAFE_IMPORTS expansions (GHSA-pc6j, -m6fh, -r48f, -5cxw, -5hwf, -mhc9, -q5qq …)."""
    assert_unsafe(P.reduce_pickle(module, name, ("x",)), reaches=f"{module}.{name}")


def test_fickling_popped_call_is_still_reported() -> None:
    """fickling decompiler bug: a call whose result is POPped vanished; here it is reported."""
    report = P.scan(P.popped_call())
    assert report.verdict is Verdict.UNSAFE
    assert "os.system" in P.reached(report, "MC100")


@pytest.mark.parametrize("width", [1, 2, 4])
def test_modelaudit_a8462f3b_ext_opcodes(width: int) -> None:
    """modelaudit a8462f3b: EXT1/EXT2/EXT4 name a callable through the copyreg extension registry."""
    assert_unsafe(P.ext_pickle(0x45, width), check="MC102")


def test_modelaudit_ffb5ec1c_binunicode8_operands() -> None:
    """modelaudit ffb5ec1c: BINUNICODE8 strings were missing from the string-opcode list."""
    assert_unsafe(P.binunicode8_stack_global(), reaches="os.system")


def test_modelaudit_e736ebbe_no_prefix_allowlisting() -> None:
    """modelaudit e736ebbe: `sklearn.*` prefix allowlisting let anything under sklearn pass."""
    report = P.scan(
        P.reduce_pickle("sklearn.utils._testing", "assert_run_python_script_without_output", ("x",))
    )
    assert report.verdict is Verdict.UNSAFE
    report = P.scan(P.reduce_pickle("collections.OrderedDict", "fromkeys", ("x",)))
    assert report.verdict is not Verdict.CLEAN


@pytest.mark.parametrize("builder", [P.broken_after_payload, P.truncated_after_payload])
def test_nullifai_broken_stream_reports_payload_and_break(builder) -> None:  # type: ignore[no-untyped-def]
    """nullifAI: the stream breaks right after the payload; both the payload and the break are findings."""
    report = P.scan(builder(2), "pytorch_model.bin")
    assert report.verdict is Verdict.UNSAFE
    assert {"MC100", "MC107"} <= P.check_ids(report)
    broken = next(f for f in report.findings if f.check_id == "MC107")
    assert "nullifAI" in broken.message


@pytest.mark.parametrize("index", [1, 4])
def test_payload_in_a_later_stream(index: int) -> None:
    """Multiple streams per file: the payload sits in the 2nd or the 5th stream."""
    report = P.scan(P.multi_stream(index), "model.pt")
    assert report.verdict is Verdict.UNSAFE
    finding = next(f for f in report.findings if f.check_id == "MC100")
    assert finding.details["stream"] == index


def test_legacy_torch_payload_in_model_stream() -> None:
    """Legacy torch.save layout with a payload in the model stream (stream 4 of 5)."""
    report = P.scan(P.legacy_torch_file(P.reduce_call("os", "system", ("x",), 2)), "model.pt")
    assert report.verdict is Verdict.UNSAFE
    assert report.format == "pytorch-legacy"


def test_computed_stack_global_operands() -> None:
    """STACK_GLOBAL operands computed by a call: the target is unknowable, so the file is unsafe."""
    report = P.scan(P.computed_stack_global())
    assert report.verdict is Verdict.UNSAFE
    assert "MC102" in P.check_ids(report)


def test_class_swap_through_build_state() -> None:
    """A BUILD state that sets `__class__` on an allowlisted object swaps what it is."""
    report = P.scan(P.class_swap_build())
    assert report.verdict is Verdict.UNSAFE
    assert "MC105" in P.check_ids(report)


def test_build_on_imported_function() -> None:
    """BUILD directly on an imported function object plants attributes on it."""
    report = P.scan(P.build_on_global())
    assert report.verdict is Verdict.UNSAFE
    assert "MC105" in P.check_ids(report)


def test_copyreg_reconstructor_with_dangerous_class() -> None:
    """copyreg._reconstructor is allowlisted only as a helper: the class it builds is judged on its own."""
    assert_unsafe(P.copyreg_reconstructor("subprocess", "Popen"), reaches="subprocess.Popen")
    report = P.scan(P.copyreg_reconstructor("collections", "OrderedDict"))
    assert report.verdict is Verdict.CLEAN


def test_python2_names_are_mapped() -> None:
    """`__builtin__.eval` is `builtins.eval` for the unpickler (protocol 0-2 name mapping)."""
    assert_unsafe(P.reduce_pickle("__builtin__", "eval", ("1+1",), proto=0), reaches="builtins.eval")
    assert_unsafe(P.reduce_pickle("commands", "getoutput", ("id",), proto=0))


def test_torch_rebuild_state_cannot_swap_classes() -> None:
    """torch._tensor._rebuild_from_type_v2 setattr()s its state: `__class__` there swaps the tensor's type."""
    state = b"}" + P.op_str("__class__") + P.op_global("collections", "OrderedDict") + b"s"
    body = (
        P.op_global("torch._tensor", "_rebuild_from_type_v2")
        + b"("
        + P.op_global("torch._utils", "_rebuild_tensor_v2")
        + P.op_global("torch", "Tensor")
        + b")"
        + state
        + b"tR"
    )
    report = P.scan(P.pickle_of(body, 4))
    assert report.verdict is Verdict.UNSAFE
    assert "MC105" in P.check_ids(report)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("_posixsubprocess", "fork_exec"),
        ("_winapi", "CreateProcess"),
        ("_sqlite3", "connect"),
        ("_io", "open"),
    ],
)
def test_fickling_ghsa_6ggj_private_stdlib_modules(module: str, name: str) -> None:
    """fickling GHSA-6ggj-6f2q-f7mx: private C twins of stdlib modules are not a way around the catalogue."""
    report = P.scan(P.reduce_pickle(module, name, ("x",)))
    assert report.verdict is Verdict.UNSAFE


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch._utils", "_rebuild_tensor_v2.__globals__"),
        ("numpy.core.multiarray", "_reconstruct.__builtins__"),
        ("collections", "OrderedDict.__init__.__globals__"),
        ("torch.nn.modules.linear", "Linear.__subclasses__"),
    ],
)
def test_fickling_ghsa_cffv_allowlist_shadowing(module: str, name: str) -> None:
    """fickling GHSA-cffv-grgg-g429: names under allowlisted ones must not inherit their trust."""
    report = P.scan(P.reduce_pickle(module, name, ("x",), proto=4))
    assert report.verdict is Verdict.UNSAFE
    assert "MC103" in P.check_ids(report)


def test_findings_carry_the_category_cwe() -> None:
    finding = next(f for f in P.scan(P.os_system_pickle(2)).findings if f.check_id == "MC100")
    assert finding.details["cwe"] == "CWE-78" and finding.details["category"] == "process"
