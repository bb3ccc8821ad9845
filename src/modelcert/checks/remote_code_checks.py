"""Checks MC400–MC449: Hugging Face config wiring, JSON integrity, and shipped Python code."""

from __future__ import annotations

from modelcert.checks.base import Check
from modelcert.findings import Confidence, Severity, Verdict

_TRUST = (
    "Load the model without `trust_remote_code=True`, or pin `revision=` to a commit whose code "
    "you reviewed; prefer an architecture that ships in the library itself."
)

# ---- configs and JSON ------------------------------------------------------------------------


class RemoteCodeWiring(Check):
    """The configuration makes a loader import Python code shipped in the package.

    `auto_map` (in `config.json`, `tokenizer_config.json`, processor and feature-extractor configs),
    `custom_pipelines`, sentence-transformers `modules.json` entries and diffusers `model_index.json`
    components name `module.Class` references. With `trust_remote_code=True`, `from_pretrained`
    downloads `module.py` (and every file it imports relatively) and **imports it**: whatever the file
    does at import time or in the class runs with the user's rights. This finding is informational:
    custom architectures are legitimate, and the wired files are reviewed by MC410–MC423, whose
    severity is raised one step for wired files.
    """

    id = "MC400"
    title = "Config wires shipped Python code (trust_remote_code)"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    cwe = "CWE-829"
    remediation = _TRUST
    tags = ("remote-code",)


class RemoteCodeFromOtherRepo(Check):
    """A config reference pulls code from another repository (`org/repo--module.Class`).

    transformers splits `repo--module.Class` and fetches `module.py` from `org/repo` at load time,
    from whatever revision that repository has then. The code is not in this package, so neither
    this scan nor a signature over the package covers it, and its owner can change it at any time.
    """

    id = "MC401"
    title = "Config loads code from another repository"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Vendor the referenced module into the package (then it is scanned and signed), or drop it."
    tags = ("remote-code",)


class RemoteCodeMissingModule(Check):
    """A config reference names a module file that the package does not contain.

    Loading from the Hub would fetch the file from the repository at load time, so code that this scan
    never saw runs; loading from a folder fails. Either way the package as scanned is not what runs.
    """

    id = "MC402"
    title = "Wired code file missing from package"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Add the module file to the package so it is scanned, or remove the reference."
    tags = ("remote-code",)


class MalformedReference(Check):
    """A wiring or index entry has an unexpected shape (not a string, several `--`, not `module.Class`).

    Loaders of different versions parse these fields differently; an entry that one version rejects
    and another accepts is a way to show a scanner one thing and a loader another.
    """

    id = "MC403"
    title = "Malformed config reference"
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-20"
    remediation = "Fix the entry to the documented `module.Class` (or `[slow, fast]`) form."


class PackagePathEscape(Check):
    """A config names a file outside the package: an absolute path or one that climbs with `..`.

    Loaders join these names onto the model folder: `os.path.join(folder, "/abs/x.py")` is `/abs/x.py`.
    A shard index (`weight_map`) entry of `../../x.bin` makes `from_pretrained` read (and for `.bin`,
    unpickle) a file chosen by the package author anywhere on disk; an `auto_map` module of `/tmp/x`
    imports `/tmp/x.py`. Same class of bug as the ONNX external-data traversals CVE-2022-25882 and
    CVE-2024-27318.
    """

    id = "MC404"
    title = "Config path escapes the package"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-22"
    remediation = "Reference files by a relative path inside the package only."


class MissingShard(Check):
    """A shard index (`*.index.json` `weight_map`) names a shard that is not in the package.

    The model cannot load as published, or a loader fetches the missing shard from elsewhere: the
    weights that run are not the ones that were scanned.
    """

    id = "MC405"
    title = "Indexed weight shard missing"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-20"
    remediation = "Ship every shard the index names, or regenerate the index."


class DuplicateJsonKey(Check):
    """A JSON object repeats a key.

    Python's `json` keeps the last value; other parsers (serde in `tokenizers`, JavaScript, Go) keep
    the first, or refuse the document. A duplicate key lets a file show a reviewer or scanner one
    value and a loader another — a classic smuggling trick (CWE-436, interpretation conflict).
    """

    id = "MC406"
    title = "Duplicate key in JSON"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-436"
    remediation = "Regenerate the file with its library (serialisers never write duplicate keys)."


# ---- shipped Python --------------------------------------------------------------------------


class DynamicCodeExecution(Check):
    """Shipped Python runs code built from data: `exec`, `eval`, `compile`, `runpy`, `types.FunctionType`...

    Model code has no need to evaluate strings; these calls turn whatever data reaches them into a
    program, and hide that program from review. Constant arguments are decoded and scanned as
    members. When the argument is decoded or downloaded first, MC411/MC412 report it instead.
    References to these callables used as values (`RUNNERS = [exec]`, `f=eval` defaults) and strings
    naming them (`"builtins.exec"` in an environment variable) are reported as well, as for MC413.
    """

    id = "MC410"
    title = "Dynamic code execution in shipped Python"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-95"
    remediation = _TRUST
    tags = ("remote-code",)


class ObfuscatedCodeExecution(Check):
    """Shipped Python decodes data (base64, hex, zlib/bz2/lzma, marshal, rot13, `chr()` chains, XOR)
    and executes or unpickles the result.

    Encoding a payload before `exec` has one purpose: to hide it from reviewers and scanners. The
    payload, when it is a constant, is decoded with bounded pure functions and scanned as a member.
    """

    id = "MC411"
    title = "Obfuscated code execution"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-506"
    remediation = "Do not load this package; report it to the hosting platform."
    tags = ("remote-code", "obfuscation")


class DownloadedCodeExecution(Check):
    """Shipped Python runs code fetched at load time: `exec(requests.get(url).text)`, `torch.hub.load`,
    importing a file from `hf_hub_download`, unpickling a download.

    The code that runs is not in the package, is chosen by whoever controls the URL at load time, and
    no scan or signature covers it.
    """

    id = "MC412"
    title = "Downloaded code execution"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-494"
    remediation = "Do not load this package; vendor reviewed code instead of downloading it at load time."
    tags = ("remote-code",)


class ProcessExecution(Check):
    """Shipped Python starts processes: `os.system`, `subprocess.*`, `os.exec*`/`spawn*`, `pty.spawn`,
    `asyncio.create_subprocess_*`, `pip.main`, and stdlib helpers that run commands
    (`torch.utils.collect_env.run`, `uuid._get_command_stdout`, `pydoc.pipepager`, ...).

    A model's code computes tensors; a shell command run from it executes anything with the user's
    rights. Aliases (`import subprocess as sp`), `from os import system as s`, `getattr(os, "system")`,
    `__import__("os")` and callables passed as values (`Thread(target=os.system)`) are resolved, and
    so are calls through containers (`[os.system][0](c)`, `{"go": os.execv}["go"](...)`), parameter
    defaults (`def run(c, f=os.system)`), class attributes and local functions that return the callable.
    A reference used as a value (stored, assigned, a default, returned, subclassed) is reported one
    severity step lower than a call, and so is a string naming the callable (`"subprocess:Popen"`);
    `PYTHONBREAKPOINT="os.system"` (or `sys.breakpointhook = os.system`) makes every `breakpoint()` a
    call of it, reported at the full severity.
    """

    id = "MC413"
    title = "Process execution in shipped Python"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-78"
    remediation = "Do not load this package with trust_remote_code; remove the command execution."
    tags = ("remote-code",)


class NetworkAccess(Check):
    """Shipped Python talks to the network: sockets, `urllib`, `requests`, `httpx`, `http.client`,
    `ftplib`, `smtplib`, `paramiko`, DNS, or Hub downloads/uploads at load time.

    Loading a model should not need the network beyond the library's own download. Calls here can
    fetch code or data that was never scanned, or send data out. Fetching a code-bearing file
    (`.py`, `.so`, `.pkl`, `.bin`) raises the severity.
    """

    id = "MC414"
    title = "Network access in shipped Python"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Review where the file connects and why; ship needed files inside the package."
    tags = ("remote-code",)


class SecretExfiltration(Check):
    """Shipped Python sends the environment or secrets over the network.

    Environment variables hold `HF_TOKEN`, cloud keys and CI secrets. Data flow from `os.environ`
    (whole, or secret-named variables) or from credential files into a network call is reported with
    high confidence; a whole-environment read in a file that also talks to the network, with medium.
    """

    id = "MC415"
    title = "Environment or secrets sent over the network"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-526"
    remediation = "Do not load this package; rotate any secret present where it was loaded."
    tags = ("remote-code", "exfiltration")


class SensitiveFileAccess(Check):
    """Shipped Python writes to startup, system or interpreter locations, reads credentials, or
    deletes home/root: `~/.ssh/authorized_keys`, shell rc files, crontabs, systemd units,
    `site-packages` (`.pth`, `sitecustomize.py`), `/etc`; `~/.aws/credentials`, SSH keys, the HF token.

    Paths are evaluated symbolically (`os.path.expanduser`, `Path.home() / ...`, `os.environ["HOME"]`,
    f-strings, `site.getsitepackages()`), so persistence and credential theft are recognised however
    the path is spelled.
    """

    id = "MC416"
    title = "Access to sensitive host files"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-668"
    remediation = "Do not load this package; check the listed paths on machines where it was loaded."
    tags = ("remote-code",)


class FileSystemChange(Check):
    """Shipped Python deletes files, changes permissions, or writes outside the model folder.

    Writing the package's own files (tokenizer vocabularies, caches under a given directory) is
    normal; writes to fixed absolute or home paths, setting execute bits, and deleting fixed paths
    outside the package are not. Deletions and permission changes of computed paths are informational.
    """

    id = "MC417"
    title = "File-system change outside the model folder"
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-732"
    remediation = "Review the path and purpose; model code should only write where the caller asks."
    tags = ("remote-code",)


class DynamicImport(Check):
    """Shipped Python chooses what to import at run time: `__import__`/`importlib.import_module` with a
    computed name, `pkgutil.resolve_name`/`pydoc.locate` (GHSA-vvpj-8cmc-gx39), `getattr` with a
    computed name on `os`/`subprocess`/`builtins`/..., or a module loaded from a file path.

    A reviewer cannot tell from the source which function runs. Constant names are resolved and
    their uses checked like ordinary imports.
    """

    id = "MC418"
    title = "Dynamic import or reflection"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-470"
    remediation = "Replace reflection with explicit imports so the code can be reviewed."
    tags = ("remote-code",)


class NativeCodeLoading(Check):
    """Shipped Python loads native code: `ctypes.CDLL`, `cffi` `dlopen`, `torch.utils.cpp_extension.load`,
    `torch.ops.load_library`, raw memory access through ctypes.

    Native code escapes every Python-level review; a shared library shipped in the package or built at
    load time can do anything.
    """

    id = "MC419"
    title = "Native code loading in shipped Python"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Review the native code and its build; prefer kernels from a reviewed package."
    tags = ("remote-code",)


class DeserializationOfData(Check):
    """Shipped Python deserialises with loaders that run code: `pickle`/`dill`/`cloudpickle`/`joblib`
    loads, `torch.load(weights_only=False)`, `numpy.load(allow_pickle=True)` (CVE-2019-6446),
    `yaml.load` without a safe Loader, `marshal.loads`, `torch.jit.load` (CVE-2025-32434).

    The data decides what runs. Constant payloads are scanned as members; decoded or downloaded
    data makes this MC411/MC412.
    """

    id = "MC420"
    title = "Unsafe deserialisation in shipped Python"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-502"
    remediation = "Use safetensors or `torch.load(weights_only=True)`; `yaml.safe_load`."
    tags = ("remote-code",)


class RuntimeTampering(Check):
    """Shipped Python changes the interpreter or other libraries for everyone: `sys.settrace`, import
    hooks (`sys.meta_path`), replacing builtins or `sys.modules` entries, monkeypatching `os`,
    `subprocess`, `torch.load`, transformers' loader, or setting `LD_PRELOAD`, `PYTHONPATH`,
    `HF_ENDPOINT`, proxy/CA variables, `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`.

    These outlive the model: later loads, downloads and safety checks in the same process are
    silently changed.
    """

    id = "MC421"
    title = "Interpreter or library tampering"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-913"
    remediation = "Remove the patching; model code must not change global interpreter state."
    tags = ("remote-code",)


class ImportTimeCode(Check):
    """Calls that run when the module is imported, beyond definitions, imports, constants, logger
    creation, feature probes, decorators and auto-class registration.

    Informational: import-time code runs as soon as `from_pretrained` imports a wired file, before any
    model is built. Dangerous calls reachable at import time (directly, through local functions,
    decorators or class instantiation) carry the `import-time` tag on their own findings.
    """

    id = "MC422"
    title = "Code runs at import time"
    severity = Severity.INFO
    confidence = Confidence.MEDIUM
    verdict = Verdict.CLEAN
    remediation = "Review the listed calls; keep module level to definitions, imports and constants."
    tags = ("remote-code",)


class EncodedPayload(Check):
    """A long string or bytes literal that is base64, hex or high-entropy binary: an opaque payload.

    Model code has little reason to embed kilobytes of encoded data; it is how packed code, compiled
    kernels and encrypted stages are smuggled past review. The literal is decoded (and decompressed
    when it is zlib/gzip/bz2/xz) with bounded functions and the result scanned as a member.
    """

    id = "MC423"
    title = "Encoded payload in shipped Python"
    severity = Severity.LOW
    confidence = Confidence.LOW
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Ship data as files of a reviewed format, not as encoded literals in code."
    tags = ("remote-code", "obfuscation")


class CompiledPython(Check):
    """The package ships compiled Python bytecode (`.pyc`).

    Bytecode cannot be reviewed like source and can differ from any `.py` next to it; Python imports a
    sourceless `.pyc` that sits where a module is expected. It is not decompiled (unmarshalling
    untrusted data is itself unsafe), so the file is suspicious.
    """

    id = "MC424"
    title = "Compiled Python bytecode in package"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Ship source files only; delete `.pyc` and `__pycache__`."
    tags = ("remote-code",)
