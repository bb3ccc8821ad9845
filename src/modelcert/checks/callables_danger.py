"""The DANGEROUS catalogue: what a pickle may name that does harm when loaded, and why.

Module entries cover the module, every submodule and every attribute under it (CVE-2025-10157:
`asyncio.unix_events._UnixSubprocessTransport._start` passed an exact-match denylist). C-module
twins are listed next to their public names (`_operator`/`operator`, `_io`/`io`, `posix`/`os`).
Exact entries name single callables inside otherwise harmless modules. The catalogue only explains
and grades: anything not allowlisted is already at least suspicious.
"""

from __future__ import annotations

from typing import Final

from modelcert.records import Record


class Danger(Record):
    """Why a callable is dangerous: a category, a verb phrase for messages, and a CWE."""

    __slots__ = ("category", "explanation")
    category: Final[str]
    explanation: Final[str]

    def __init__(self, category: str, explanation: str) -> None:
        self.category = category
        self.explanation = explanation

    @property
    def cwe(self) -> str:
        return CATEGORY_CWE.get(self.category, "CWE-502")


CATEGORY_CWE = {
    "code-execution": "CWE-94",
    "code-object": "CWE-94",
    "process": "CWE-78",
    "file-access": "CWE-73",
    "network": "CWE-918",
    "import-resolver": "CWE-470",
    "deserializer": "CWE-502",
    "package-install": "CWE-829",
    "native-code": "CWE-111",
    "introspection": "CWE-749",
    "global-state": "CWE-471",
    "indirect-call": "CWE-94",
}

MODULES: dict[str, Danger] = {}
EXACT: dict[str, Danger] = {}


def _modules(category: str, explanation: str, *names: str) -> None:
    for name in names:
        MODULES[name] = Danger(category, explanation)


def _exact(category: str, explanation: str, *paths: str) -> None:
    for path in paths:
        EXACT[path] = Danger(category, explanation)


# --- code execution -------------------------------------------------------------------------------
_exact(
    "code-execution",
    "evaluates Python code from a string",
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.execfile",
    "builtins.breakpoint",
    "builtins.input",
    "builtins.help",
    "pandas.eval",
    "pandas.core.computation.eval.eval",
    "numpy.lib.utils.source",
    "torch.fx.graph_module.reduce_graph_module",
    "torch.fx.graph_module._forward_from_src",
    "torch.fx.graph_module.reduce_package_graph_module",
)
_modules(
    "code-execution", "runs Python code it is given (interpreters, profilers, doctest, compilers)",
    "code", "codeop", "runpy", "timeit", "cProfile", "profile", "trace", "pdb", "bdb", "doctest",
    "IPython", "numexpr", "sympy", "jinja2", "mako", "numpy.f2py", "torch.jit", "torch._dynamo",
    "torch._inductor", "torch.compiler", "torch.utils.benchmark", "torch.utils.cpp_extension",
    "torch.package", "torch.fx", "torch.export", "torch.library", "torch._export", "idlelib",
    "lib2to3", "unittest", "test", "keras", "tensorflow", "tf_keras", "jax",
    "transformers.dynamic_module_utils",
)  # fmt: skip
# --- code objects ---------------------------------------------------------------------------------
_modules(
    "code-object",
    "builds functions or classes from raw bytecode",
    "types",
    "marshal",
    "cloudpickle",
    "dill",
    "new",
    "opcode",
    "dis",
)
_exact("code-object", "creates classes at load time (metaclass machinery)", "builtins.type", "builtins.super")
# --- processes and native code --------------------------------------------------------------------------
_modules(
    "process", "runs operating-system commands or controls processes",
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "pty", "pipes", "commands", "popen2",
    "multiprocessing", "_multiprocessing", "concurrent", "asyncio", "_winapi", "msvcrt", "winreg",
    "_winreg", "webbrowser", "antigravity", "platform", "_osx_support", "_aix_support", "_pyrepl",
    "mailcap", "psutil", "sh", "pexpect", "plumbum", "fabric", "invoke", "paramiko", "signal",
    "resource", "torch.utils.collect_env", "torch.multiprocessing", "torch.distributed",
    "torch.testing", "sklearn.utils._testing", "mlflow", "distutils.spawn", "sysconfig",
)  # fmt: skip
_exact(
    "process", "executes a shell command",
    *(f"{m}.{n}" for m in ("os", "posix", "nt") for n in ("system", "popen")),
    "subprocess.getoutput", "subprocess.getstatusoutput", "commands.getoutput", "platform.popen",
)  # fmt: skip
_exact(
    "process", "starts a process",
    *(f"subprocess.{n}" for n in ("Popen", "run", "call", "check_call", "check_output")),
    *(f"{m}.{n}" for m in ("os", "posix", "nt") for n in (
        "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl",
        "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "posix_spawn",
        "posix_spawnp", "fork", "forkpty", "startfile",
    )),
    "pty.spawn", "pty.fork", "multiprocessing.util.spawnv_passfds", "torch.utils.collect_env.run",
)  # fmt: skip
_exact(
    "file-access", "deletes or rewrites files",
    *(f"{m}.{n}" for m in ("os", "posix", "nt") for n in (
        "remove", "unlink", "rmdir", "removedirs", "rename", "replace", "truncate", "chmod", "chown", "write",
    )),
    "shutil.rmtree", "shutil.move", "shutil.copyfile", "shutil.copy", "shutil.copytree",
)  # fmt: skip
_exact(
    "file-access",
    "opens a file",
    "builtins.open",
    "io.open",
    "_io.open",
    "io.FileIO",
    "_io.FileIO",
    "os.open",
)
_exact(
    "process",
    "runs a shell command (stdlib helper outside the usual denylists)",
    "uuid._get_command_stdout",
    "uuid._popen",
    "imaplib.IMAP4_stream",
    "pydoc.pipepager",
    "pydoc.tempfilepager",
    "pydoc.pager",
    "pydoc.getpager",
    "ctypes.util.find_library",
)
_modules(
    "native-code", "loads native libraries or calls C functions directly",
    "ctypes", "_ctypes", "cffi", "numpy.ctypeslib",
)  # fmt: skip
_exact(
    "native-code",
    "loads a native library into the process",
    "torch.ops.load_library",
    "torch.classes.load_library",
)
# --- threads, callbacks, interpreter state ----------------------------------------------------------------
_modules(
    "global-state", "changes interpreter-wide state or schedules callbacks",
    "sys", "threading", "_thread", "sched", "atexit", "gc", "faulthandler", "tracemalloc", "locale",
    "site", "builtins.__dict__", "copyreg", "sklearn._config", "warnings",
)  # fmt: skip
_exact(
    "global-state",
    "calls a function later, outside the unpickler",
    "weakref.finalize",
    "torch.nn.modules.module.register_module_forward_hook",
    "torch.nn.modules.module.register_module_forward_pre_hook",
    "torch.nn.modules.module.register_module_full_backward_hook",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.globals",
    "builtins.locals",
    "builtins.vars",
    "builtins.exit",
    "builtins.quit",
)
_exact(
    "indirect-call",
    "calls the functions it is given (a way to invoke a gadget without REDUCE)",
    "builtins.map",
    "builtins.filter",
    "builtins.sorted",
    "builtins.min",
    "builtins.max",
    "builtins.iter",
    "builtins.next",
    "builtins.any",
    "builtins.all",
    "builtins.sum",
    "builtins.zip",
    "builtins.enumerate",
    "builtins.reversed",
)
_exact(
    "code-object",
    "turns functions into descriptors or classes at load time",
    "builtins.classmethod",
    "builtins.staticmethod",
    "builtins.property",
)
# --- import machinery and generic resolvers ---------------------------------------------------------------
_modules(
    "import-resolver", "imports modules or resolves any callable by name (defeats every denylist)",
    "importlib", "imp", "_imp", "pkgutil", "pydoc", "zipimport", "_frozen_importlib",
    "_frozen_importlib_external", "modulefinder", "inspect", "operator", "_operator", "functools",
    "_functools", "itertools", "pkg_resources", "importlib_metadata", "importlib_resources",
)  # fmt: skip
_exact(
    "import-resolver",
    "imports a module or fetches an attribute named by a string",
    "builtins.__import__",
    "builtins.getattr",
    "numpy.core._ufunc_reconstruct",
    "numpy._core._ufunc_reconstruct",
    "torch.serialization.normalize_storage_type",
    "torch._utils._import_dotted_name",
    "numpy.testing._private.utils.import_nose",
)
# --- deserializers (nested payloads) ----------------------------------------------------------------------
_modules(
    "deserializer", "deserializes a nested payload (another pickle, a model, YAML objects)",
    "pickle", "_pickle", "cPickle", "_compat_pickle", "shelve", "joblib", "sklearn.externals.joblib",
    "jsonpickle", "yaml", "ruamel", "torch.serialization", "torch.hub", "numpy.lib.format",
    "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.lib.format_impl", "skops", "onnx",
    "safetensors", "srsly", "msgpack_numpy",
)  # fmt: skip
_exact(
    "deserializer",
    "loads a nested model or pickle (torch.load / np.load run pickle)",
    "torch.load",
    "numpy.load",
    "numpy.loads",
    "pandas.read_pickle",
    "pandas.io.pickle.read_pickle",
    "numpy.core.multiarray._reconstruct_from_pickle",
)
# --- files ----------------------------------------------------------------------------------------------
_modules(
    "file-access", "reads, writes or deletes files",
    "io", "_io", "_pyio", "shutil", "tempfile", "glob", "fileinput", "linecache", "filecmp",
    "zipfile", "tarfile", "gzip", "bz2", "lzma", "dbm", "sqlite3", "logging", "distutils", "tokenize",
    "traceback", "netrc", "mimetypes", "pwd", "grp", "spwd", "getpass", "difflib", "configparser",
    "plistlib", "xml", "numpy.lib._datasource", "numpy.testing", "numpy.distutils", "pandas.io",
    "sklearn.datasets", "scipy.io", "torch.utils.tensorboard", "torch.utils.data.datapipes", "fsspec",
    "pathlib._abc",
    "genericpath", "posixpath", "ntpath", "macpath", "filelock", "h5py", "aiofiles", "posix_ipc", "mmap",
)  # fmt: skip
_exact(
    "file-access", "reads or writes files",
    "codecs.open", "codecs.EncodedFile", "torch.save", "torch.from_file",
    "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.loadtxt",
    "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.DataSource", "numpy.fromregex",
    "numpy.core.memmap.memmap", "numpy._core.memmap.memmap", "numpy.ndarray.tofile", "numpy.ndarray.dump",
    *(f"pandas.read_{k}" for k in (
        "csv", "json", "html", "excel", "parquet", "feather", "sql", "sql_table", "sql_query", "hdf",
        "table", "fwf", "xml", "orc", "sas", "spss", "stata", "clipboard", "gbq",
    )),
    *(f"pathlib.{c}.{m}" for c in ("Path", "PosixPath", "WindowsPath") for m in (
        "open", "read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir", "mkdir",
        "touch", "rename", "replace", "chmod", "symlink_to", "hardlink_to", "iterdir", "glob", "rglob",
    )),
)  # fmt: skip
# --- network ------------------------------------------------------------------------------------------------
_modules(
    "network", "opens network connections (download, exfiltration, SSRF)",
    "socket", "_socket", "ssl", "_ssl", "http", "urllib", "urllib2", "urllib3", "requests", "httpx",
    "aiohttp", "httplib", "httplib2", "ftplib", "smtplib", "smtpd", "imaplib", "poplib", "telnetlib",
    "nntplib", "xmlrpc", "xmlrpclib", "socketserver", "SocketServer", "asyncore", "asynchat",
    "select", "selectors", "wsgiref", "huggingface_hub", "boto3", "botocore", "s3fs", "gcsfs",
    "websocket", "websockets", "grpc", "zmq", "torch.utils.model_zoo", "keras.utils.data_utils",
)  # fmt: skip
# --- package installation -----------------------------------------------------------------------------------
_modules(
    "package-install",
    "installs or builds packages (runs their setup code)",
    "pip",
    "_pip",
    "setuptools",
    "ensurepip",
    "venv",
    "virtualenv",
    "conda",
    "pipx",
    "uv",
)

# Inside dangerous modules but harmless alone: judged unknown (suspicious), not dangerous, so that
# `torch.load(io.BytesIO(...))` reports torch.load, not a file read.
NOT_DANGEROUS = frozenset({"io.BytesIO", "_io.BytesIO", "io.StringIO", "_io.StringIO"})

# Final attribute names that make an otherwise unknown callable unsafe: gadget hunters look for
# exactly these in any module (re-exports like `some_lib.os.system`, `x.subprocess.run`).
DANGEROUS_NAMES = frozenset(
    {
        "system", "popen", "popen2", "popen3", "popen4", "Popen", "spawn", "spawnl", "spawnle",
        "spawnlp", "spawnv", "spawnve", "spawnvp", "spawnvpe", "execl", "execle", "execlp", "execv",
        "execve", "execvp", "execvpe", "fork", "forkpty", "startfile", "posix_spawn", "posix_spawnp",
        "check_call", "check_output", "getoutput", "getstatusoutput", "call", "run", "eval", "exec",
        "execfile", "compile", "__import__", "import_module", "load_module", "exec_module",
        "getattr", "setattr", "delattr", "open", "urlopen", "urlretrieve", "load", "loads", "unpickle",
        "remove", "unlink", "rmtree", "rmdir", "removedirs", "rename", "write", "write_text",
        "write_bytes", "writelines", "read_text", "read_bytes", "chmod", "chown", "kill", "killpg",
        "dlopen", "LoadLibrary", "CDLL", "PyDLL", "WinDLL", "resolve_name", "locate", "pipepager",
        "start_new_thread", "interact", "run_path", "run_module", "runctx", "runcall", "sympify",
        "load_library", "_run_entry_point", "get_file", "_get_command_stdout", "spawnv_passfds",
        "subimport", "dynamic_subimport", "CodeType", "FunctionType", "runsource", "runcode",
        "fromfile", "tofile", "loadtxt", "savetxt", "genfromtxt", "load_source", "read_pickle",
    }
)  # fmt: skip

# Module names that, met as an *attribute* inside a dotted path (`tempfile._os.system`,
# `numpy.testing.os.popen`), mean the path goes through a re-exported dangerous module.
REEXPORTED_ROOTS = frozenset(name for name in MODULES if "." not in name) | {"builtins", "__builtins__"}
