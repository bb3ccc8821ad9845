"""What shipped Python may call, as data: each table maps a qualified name or module prefix to why it matters.

Names are canonical dotted paths after import-alias resolution (`sp.run` → `subprocess.run`).
A module entry covers the module and everything under it (parent-module wildcard: a submodule of a
listed module is listed too, the lesson of CVE-2025-10157). An entry with `()` names a method of an
object built by a call (`cffi.FFI().dlopen`).
"""

from __future__ import annotations

import re

# Modules whose C implementation or old name is another spelling of the same thing.
CANONICAL_MODULES = {
    "posix": "os",
    "nt": "os",
    "_io": "io",
    "_operator": "operator",
    "_pickle": "pickle",
    "cPickle": "pickle",
    "__builtin__": "builtins",
    "_socket": "socket",
    "_posixsubprocess": "subprocess",
    "_frozen_importlib": "importlib",
    "_frozen_importlib_external": "importlib",
    "_imp": "imp",
    "urllib2": "urllib.request",
    "httplib": "http.client",
    "_ctypes": "ctypes",
    "pathlib2": "pathlib",
    "_thread": "threading",
}
CANONICAL_NAMES = {
    "io.open": "builtins.open",
    "codecs.open": "builtins.open",
    "os.environ.__getitem__": "os.environ.get",
    "urllib.urlopen": "urllib.request.urlopen",
    "urllib.urlretrieve": "urllib.request.urlretrieve",
}

# Code built from data and run: the argument is the program.
EXEC = {
    "builtins.exec": "runs a string or code object as Python",
    "builtins.eval": "evaluates a string as Python",
    "builtins.compile": "turns a string into a code object for exec/eval",
    "builtins.execfile": "runs a file as Python",
    "runpy.run_path": "runs a file as a script",
    "runpy.run_module": "runs a module as a script",
    "code.InteractiveInterpreter": "interprets Python source",
    "code.InteractiveConsole": "interprets Python source",
    "code.interact": "opens an interpreter",
    "types.FunctionType": "builds a function from a code object",
    "types.CodeType": "builds a code object from raw bytecode",
    "timeit.timeit": "executes a statement string",
    "timeit.repeat": "executes a statement string",
    "timeit.Timer": "executes a statement string",
    "cProfile.run": "executes a statement string",
    "cProfile.runctx": "executes a statement string",
    "profile.run": "executes a statement string",
    "profile.runctx": "executes a statement string",
    "pdb.run": "executes a statement string",
    "pdb.runeval": "evaluates a string",
    "numpy.f2py": "compiles and imports Fortran/C code",
}

# New processes: a shell command or another program runs with the user's rights.
PROCESS = {
    "os.system": "runs a shell command",
    "os.popen": "runs a shell command",
    "os.popen2": "runs a shell command",
    "os.popen3": "runs a shell command",
    "os.popen4": "runs a shell command",
    "os.execl": "replaces the process with a program",
    "os.execle": "replaces the process with a program",
    "os.execlp": "replaces the process with a program",
    "os.execlpe": "replaces the process with a program",
    "os.execv": "replaces the process with a program",
    "os.execve": "replaces the process with a program",
    "os.execvp": "replaces the process with a program",
    "os.execvpe": "replaces the process with a program",
    "os.spawnl": "starts a program",
    "os.spawnle": "starts a program",
    "os.spawnlp": "starts a program",
    "os.spawnlpe": "starts a program",
    "os.spawnv": "starts a program",
    "os.spawnve": "starts a program",
    "os.spawnvp": "starts a program",
    "os.spawnvpe": "starts a program",
    "os.posix_spawn": "starts a program",
    "os.posix_spawnp": "starts a program",
    "os.startfile": "opens a file with its associated program",
    "os.forkpty": "forks a process on a pseudo-terminal",
    "pty": "spawns programs on a pseudo-terminal",
    "subprocess": "starts programs",
    "asyncio.create_subprocess_exec": "starts a program",
    "asyncio.create_subprocess_shell": "runs a shell command",
    "asyncio.subprocess": "starts programs",
    "commands": "runs shell commands (Python 2)",
    "popen2": "runs shell commands (Python 2)",
    "platform.popen": "runs a shell command",
    "pexpect": "spawns and drives programs",
    "sh": "runs programs as functions",
    "plumbum": "runs programs as functions",
    "invoke.run": "runs a shell command",
    "fabric": "runs shell commands (locally or over SSH)",
    "distutils.spawn.spawn": "starts a program",
    "multiprocessing.util.spawnv_passfds": "starts a program",
    "torch.utils.collect_env.run": "runs a shell command",
    "uuid._get_command_stdout": "runs a program",
    "pydoc.pipepager": "pipes text to a shell command",
    "pydoc.tempfilepager": "runs a shell command on a file",
    "imaplib.IMAP4_stream": "runs a command as its transport",
    "_pyrepl.pager": "pipes text to a shell command",
    "_osx_support": "runs shell commands",
    "_aix_support": "runs shell commands",
    "pip.main": "installs packages (runs their build code)",
    "pip._internal": "installs packages (runs their build code)",
    "setuptools.sandbox.run_setup": "runs a setup.py",
}

# Network: data leaves the machine or arrives from elsewhere at load time.
NETWORK = {
    "socket": "opens network connections",
    "ssl.create_connection": "opens a network connection",
    "ssl.wrap_socket": "opens a network connection",
    "asyncio.open_connection": "opens a network connection",
    "urllib.request": "fetches URLs",
    "urllib3": "fetches URLs",
    "requests": "fetches URLs",
    "httpx": "fetches URLs",
    "aiohttp": "fetches URLs",
    "http.client": "fetches URLs",
    "ftplib": "transfers files over FTP",
    "smtplib": "sends e-mail",
    "poplib": "reads e-mail",
    "nntplib": "talks NNTP",
    "telnetlib": "opens a telnet session",
    "xmlrpc.client": "calls a remote server",
    "paramiko": "opens SSH sessions",
    "websocket": "opens a websocket",
    "websockets": "opens a websocket",
    "pycurl": "fetches URLs",
    "dns.resolver": "sends DNS queries (a covert channel)",
    "wget": "downloads files",
    "gdown": "downloads files",
    "boto3": "talks to cloud storage",
    "huggingface_hub.hf_hub_download": "downloads a file from the Hub at load time",
    "huggingface_hub.snapshot_download": "downloads a repository from the Hub at load time",
    "huggingface_hub.cached_download": "downloads a file at load time",
    "huggingface_hub.upload_file": "uploads a file to the Hub",
    "huggingface_hub.upload_folder": "uploads a folder to the Hub",
    "huggingface_hub.HfApi": "talks to the Hub API",
    "huggingface_hub.file_download": "downloads files at load time",
    "torch.hub.download_url_to_file": "downloads a file at load time",
    "torch.hub.load_state_dict_from_url": "downloads weights at load time",
    "torchvision.datasets.utils.download_url": "downloads a file at load time",
}
# Harmless look-ups inside network modules, common in distributed-training code.
NETWORK_HARMLESS = frozenset({"socket.gethostname", "socket.AF_INET", "socket.SOCK_STREAM"})

# Code fetched from elsewhere and run.
REMOTE_CODE = {
    "torch.hub.load": "downloads a GitHub repository and runs its hubconf.py",
    "torch.hub.list": "downloads a GitHub repository and imports its hubconf.py",
    "torch.hub.help": "downloads a GitHub repository and imports its hubconf.py",
    "transformers.dynamic_module_utils.get_class_from_dynamic_module": "imports code from another repository",
    "transformers.dynamic_module_utils.get_cached_module_file": "fetches code from another repository",
}

NATIVE = {
    "ctypes.CDLL": "loads a native library",
    "ctypes.cdll": "loads a native library",
    "ctypes.PyDLL": "loads a native library",
    "ctypes.pydll": "loads a native library",
    "ctypes.WinDLL": "loads a native library",
    "ctypes.windll": "loads a native library",
    "ctypes.OleDLL": "loads a native library",
    "ctypes.oledll": "loads a native library",
    "ctypes.LibraryLoader": "loads native libraries",
    "ctypes.CFUNCTYPE": "calls raw machine code",
    "ctypes.PYFUNCTYPE": "calls raw machine code",
    "ctypes.cast": "reinterprets raw memory",
    "ctypes.memmove": "writes raw memory",
    "ctypes.memset": "writes raw memory",
    "ctypes.string_at": "reads raw memory",
    "ctypes.pythonapi": "calls the interpreter's C API",
    "cffi.FFI().dlopen": "loads a native library",
    "cffi.FFI().verify": "compiles and loads C code",
    "torch.utils.cpp_extension.load": "compiles and loads C++/CUDA code",
    "torch.utils.cpp_extension.load_inline": "compiles and loads C++/CUDA code",
    "torch.ops.load_library": "loads a native operator library",
    "torch.classes.load_library": "loads a native library",
    "importlib.machinery.ExtensionFileLoader": "loads a native extension module",
    "imp.load_dynamic": "loads a native extension module",
    "numpy.ctypeslib.load_library": "loads a native library",
}

# Readers that rebuild arbitrary objects (and so call arbitrary code) from bytes.
DESERIALIZE = {
    "pickle.load": "unpickles (runs any callable named in the data)",
    "pickle.loads": "unpickles (runs any callable named in the data)",
    "pickle.Unpickler": "unpickles (runs any callable named in the data)",
    "dill.load": "unpickles (runs any callable named in the data)",
    "dill.loads": "unpickles (runs any callable named in the data)",
    "cloudpickle.load": "unpickles (runs any callable named in the data)",
    "cloudpickle.loads": "unpickles (runs any callable named in the data)",
    "joblib.load": "unpickles (runs any callable named in the data)",
    "pandas.read_pickle": "unpickles (runs any callable named in the data)",
    "shelve.open": "unpickles stored values",
    "jsonpickle.decode": "rebuilds arbitrary objects",
    "marshal.load": "rebuilds code objects from bytes",
    "marshal.loads": "rebuilds code objects from bytes",
    "yaml.unsafe_load": "YAML with Python object tags",
    "yaml.full_load": "YAML with Python object tags (CVE-2020-14343)",
    "torch.jit.load": "loads TorchScript (code, whatever the loader flag; CVE-2025-32434)",
    "torch.package.PackageImporter": "imports code packaged with the data",
}
# Conditional ones: dangerous only with the keyword that disables their safe mode (checked by the rules).
DESERIALIZE_CONDITIONAL = {
    "torch.load": "unpickles with weights_only=False",
    "numpy.load": "unpickles object arrays with allow_pickle=True (CVE-2019-6446)",
    "yaml.load": "YAML without a safe Loader runs Python object tags",
}
YAML_SAFE_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"})

DYNAMIC_IMPORT = {
    "builtins.__import__": "imports a module named at run time",
    "importlib.import_module": "imports a module named at run time",
    "importlib.__import__": "imports a module named at run time",
    "pkgutil.resolve_name": "resolves any callable from a string (GHSA-vvpj-8cmc-gx39)",
    "pydoc.locate": "resolves any object from a string",
}
# Loading a source file by path bypasses the import system (and what this scanner saw as "wired").
LOAD_BY_PATH = {
    "importlib.util.spec_from_file_location": "imports a Python file by path",
    "importlib.machinery.SourceFileLoader": "imports a Python file by path",
    "importlib.machinery.SourcelessFileLoader": "imports compiled bytecode by path",
    "imp.load_source": "imports a Python file by path",
    "imp.load_compiled": "imports compiled bytecode by path",
    "imp.load_module": "imports a module from an open file",
    "zipimport.zipimporter": "imports code from a zip file",
}
# getattr(module, <computed>) on these hides which function is called.
REFLECTION_SENSITIVE = frozenset(
    {
        "os",
        "subprocess",
        "builtins",
        "sys",
        "importlib",
        "socket",
        "ctypes",
        "pty",
        "shutil",
        "pickle",
        "marshal",
        "io",
        "runpy",
        "code",
        "pydoc",
        "pkgutil",
        "operator",
        "posix",
        "nt",
        "requests",
        "urllib",
        "http",
        "base64",
        "codecs",
        "zlib",
    }
)

TAMPER_CALLS = {
    "sys.settrace": "installs a tracer that sees (and can change) every executed frame",
    "sys.setprofile": "installs a profiler hook on every call",
    "threading.settrace": "installs a tracer in every new thread",
    "threading.setprofile": "installs a profiler hook in every new thread",
    "sys.addaudithook": "hooks the interpreter's audit events",
    "sys.meta_path.insert": "installs an import hook",
    "sys.meta_path.append": "installs an import hook",
    "sys.path_hooks.insert": "installs an import hook",
    "sys.path_hooks.append": "installs an import hook",
    "site.addsitedir": "processes .pth files of a directory (they can run code)",
    "sys.remote_exec": "injects code into another Python process",
}
# Module attributes whose replacement changes how other code behaves.
MONKEYPATCH_MODULES = frozenset(
    {
        "builtins",
        "os",
        "subprocess",
        "socket",
        "ssl",
        "importlib",
        "pickle",
        "marshal",
        "io",
        "shutil",
        "site",
        "requests",
        "urllib",
        "http",
        "huggingface_hub",
        "safetensors",
        "json",
        "posix",
        "nt",
        "zipfile",
        "tarfile",
    }
)
MONKEYPATCH_NAMES = (
    "sys.modules",
    "sys.meta_path",
    "sys.path_hooks",
    "sys.path_importer_cache",
    "sys.excepthook",
    "sys.displayhook",
    "sys.breakpointhook",
    "sys.settrace",
    "sys.setprofile",
    "sys.audit",
    "sys.addaudithook",
    "torch.load",
    "torch.save",
    "torch.serialization",
    "torch._weights_only_unpickler",
    "torch.hub",
    "transformers.dynamic_module_utils",
    "transformers.utils.hub",
    "transformers.modeling_utils.load_state_dict",
    "transformers.trainer_utils",
)
# Environment variables that change what the process loads, trusts or where it connects.
DANGEROUS_ENV = re.compile(
    r"^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_.*|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PYTHONUSERBASE|"
    r"PYTHONINSPECT|PATH|BROWSER|PAGER|EDITOR|GIT_SSH_COMMAND|GIT_ASKPASS|SSH_ASKPASS|HF_ENDPOINT|"
    r"HUGGINGFACE_CO_RESOLVE_ENDPOINT|REQUESTS_CA_BUNDLE|SSL_CERT_FILE|SSL_CERT_DIR|CURL_CA_BUNDLE|"
    r"(HTTP|HTTPS|ALL|FTP)_PROXY|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|PIP_TRUSTED_HOST|"
    r"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD|TORCH_FORCE_WEIGHTS_ONLY_LOAD|TRUST_REMOTE_CODE|"
    r"HF_HUB_TRUST_REMOTE_CODE|TRANSFORMERS_TRUST_REMOTE_CODE|HF_HUB_DISABLE_TELEMETRY)$",
    re.IGNORECASE,
)
SECRET_ENV = re.compile(
    r"TOKEN|SECRET|PASSW|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE|CREDENTIAL|AUTH|SESSION|COOKIE|"
    r"^AWS_|^AZURE_|^GCP_|^GOOGLE_APPLICATION|^OPENAI|^ANTHROPIC|^GITHUB_|^GH_|^SSH_|^WANDB_API",
    re.IGNORECASE,
)

# File operations: (path argument index, keyword, kind). Kinds: read, write, delete, chmod, rw (mode decides).
FILE_OPS: dict[str, tuple[int, str, str]] = {
    "builtins.open": (0, "file", "rw"),
    "os.open": (0, "path", "rw"),
    "os.remove": (0, "path", "delete"),
    "os.unlink": (0, "path", "delete"),
    "os.rmdir": (0, "path", "delete"),
    "os.removedirs": (0, "name", "delete"),
    "os.truncate": (0, "path", "delete"),
    "shutil.rmtree": (0, "path", "delete"),
    "os.chmod": (0, "path", "chmod"),
    "os.lchmod": (0, "path", "chmod"),
    "os.chown": (0, "path", "chmod"),
    "os.lchown": (0, "path", "chmod"),
    "shutil.chown": (0, "path", "chmod"),
    "os.rename": (1, "dst", "write"),
    "os.renames": (1, "new", "write"),
    "os.replace": (1, "dst", "write"),
    "os.symlink": (1, "dst", "write"),
    "os.link": (1, "dst", "write"),
    "os.mkdir": (0, "path", "write"),
    "os.makedirs": (0, "name", "write"),
    "shutil.copy": (1, "dst", "write"),
    "shutil.copy2": (1, "dst", "write"),
    "shutil.copyfile": (1, "dst", "write"),
    "shutil.copytree": (1, "dst", "write"),
    "shutil.move": (1, "dst", "write"),
    "urllib.request.urlretrieve": (1, "filename", "write"),
}
# pathlib methods (on Path(...) objects): what they do to the receiver's path.
PATH_METHODS = {
    "write_text": "write",
    "write_bytes": "write",
    "touch": "write",
    "mkdir": "write",
    "symlink_to": "write",
    "hardlink_to": "write",
    "open": "rw",
    "read_text": "read",
    "read_bytes": "read",
    "unlink": "delete",
    "rmdir": "delete",
    "chmod": "chmod",
    "lchmod": "chmod",
    "rename": "delete",
    "replace": "delete",
}
PATH_CONSTRUCTORS = frozenset(
    {"pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePath", "pathlib.PurePosixPath"}
)

# Where a write changes how the machine or Python behaves, or a read takes secrets. Matched on
# the normalised path ("~" is the home directory, "<site-packages>" any interpreter library dir).
STARTUP_OR_SYSTEM_PATHS = re.compile(
    r"(^|/)\.ssh(/|$)|(^|/)\.(bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv|"
    r"zlogin|cshrc|tcshrc|kshrc|pam_environment|xinitrc|xprofile)$|\.config/fish/|^/etc/|crontab|/cron|"
    r"/var/spool/|\.config/autostart|systemd|LaunchAgents|LaunchDaemons|site-packages|dist-packages|"
    r"<site-packages>|sitecustomize\.py$|usercustomize\.py$|\.pth$|\.git/hooks|^/usr/|^/bin/|^/sbin/|"
    r"^/lib|^/boot/|\.local/bin|\.local/lib/python|ipython/profile_[^/]+/startup|\.config/pip|"
    r"\.pip/pip\.conf|\.pypirc$|\.condarc$|\.npmrc$|\.gitconfig$|/root/|^/dev/(sd|nvme|mem|kmem)",
    re.IGNORECASE,
)
CREDENTIAL_PATHS = re.compile(
    r"(^|/)\.ssh/|id_(rsa|dsa|ecdsa|ed25519)|\.aws/|\.netrc$|\.git-credentials|\.docker/config\.json|"
    r"\.kube/config|huggingface/token|\.huggingface/|stored_tokens|\.gnupg|\.config/gcloud|\.azure/|"
    r"\.pypirc$|\.npmrc$|/etc/shadow|/etc/passwd|/etc/sudoers|/proc/self/environ|/proc/\d+/environ|"
    r"\.bash_history|\.zsh_history|\.python_history|wallet\.dat|\.mozilla/|google-chrome|\.config/chromium",
    re.IGNORECASE,
)

# Calls that run at import time without consequence. Each prefix carries the reason it is harmless.
IMPORT_TIME_HARMLESS: dict[str, str] = {
    "builtins": "pure built-ins (the dangerous ones are classified before this list is consulted)",
    "logging": "logger creation and configuration",
    "warnings": "warning filters",
    "typing": "type annotations",
    "typing_extensions": "type annotations",
    "dataclasses": "class decoration",
    "enum": "enum definitions",
    "collections": "container constructors",
    "functools": "function wrappers",
    "itertools": "iterator helpers",
    "abc": "abstract base classes",
    "re.compile": "regular expressions",
    "math": "arithmetic",
    "os.environ.get": "reading a setting",
    "os.getenv": "reading a setting",
    "os.path": "path arithmetic",
    "importlib.util.find_spec": "optional-dependency probe",
    "importlib.metadata": "installed-version probe",
    "packaging.version": "version comparison",
    "inspect.signature": "feature probe of an optional dependency",
    "torch": "tensor library API (dangerous torch calls are classified first)",
    "numpy": "array library API",
    "einops": "tensor reshaping helpers",
    "transformers": "the library that loads the file (feature probes, registration, docstrings)",
    "diffusers": "the library that loads the file",
    "tokenizers": "tokenizer library API",
    "sentencepiece": "tokenizer library API",
    "tiktoken": "tokenizer library API",
    "flash_attn": "optional attention kernels",
    "triton": "kernel decorators",
    "accelerate": "device placement helpers",
    "safetensors": "tensor file API",
    "peft": "adapter library API",
}
REGISTRATION_SUFFIXES = (".register", ".register_for_auto_class", ".get_logger", ".getLogger")
