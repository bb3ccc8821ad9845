"""Judging what a pickle imports: allowed, dangerous, private, or unknown — never by importing it.

Order of judgement for a name `module.qualname` (after Python 2 → 3 name mapping, as the unpickler
does for protocols 0-2):

1. exactly ALLOWLISTED (no prefix matching) → allowed;
2. in the DANGEROUS catalogue — the exact name, the module or any parent module, or a dangerous module
   reached through an attribute chain (`tempfile._os.system`, GHSA-5j3x-jp52-966f) → dangerous;
3. a dunder attribute chain (`numpy.__builtins__`, `__globals__`, `__subclasses__`) or a private
   name (`uuid._get_command_stdout`, a private top-level module like `_pyrepl`) → private (unsafe);
4. a name that gadget hunters use (`system`, `popen`, `load`, ...) in an unknown module → dangerous;
5. anything else → unknown (suspicious: it needs a human, or a library we do not list).
"""

from __future__ import annotations

import _compat_pickle
from functools import lru_cache
from typing import Final

from modelcert.checks.callables_allow import ALLOW, TORCHSCRIPT_PREFIX
from modelcert.checks.callables_danger import (
    DANGEROUS_NAMES,
    EXACT,
    MODULES,
    NOT_DANGEROUS,
    REEXPORTED_ROOTS,
    Danger,
)
from modelcert.checks.callables_generated import SKLEARN_CLASSES, TORCH_NN_CLASSES
from modelcert.records import Record

ALLOWED = "allowed"
DANGEROUS = "dangerous"
PRIVATE = "private"
UNKNOWN = "unknown"

_TORCH_NN_NAMES = frozenset(n for names in TORCH_NN_CLASSES.values() for n in names)
_SKLEARN_NAMES = frozenset(n for names in SKLEARN_CLASSES.values() for n in names)
# Modules that, met as an attribute inside a dotted path, are always the stdlib module re-exported.
STRONG_ROOTS = frozenset(
    {"os", "posix", "nt", "sys", "subprocess", "builtins", "pty", "importlib", "pickle", "marshal",
     "ctypes", "socket", "shutil", "runpy", "commands", "webbrowser", "multiprocessing", "cloudpickle",
     "dill", "_pickle", "cPickle"}
)  # fmt: skip
_SKLEARN_EXCLUDED_PARTS = frozenset({"tests", "_testing", "datasets", "externals", "callback", "_mocking"})


class Judgement(Record):
    """The verdict on one name: its kind, the path judged, and why."""

    __slots__ = ("category", "cwe", "explanation", "kind", "path", "reached")
    kind: Final[str]
    path: Final[str]  # as the pickle names it (after protocol 0-2 name mapping)
    reached: Final[str]  # what it really reaches (differs for re-exported modules)
    category: Final[str]
    explanation: Final[str]
    cwe: Final[str | None]

    def __init__(
        self, kind: str, path: str, reached: str, category: str, explanation: str, cwe: str | None = None
    ) -> None:
        self.kind = kind
        self.path = path
        self.reached = reached
        self.category = category
        self.explanation = explanation
        self.cwe = cwe

    @property
    def is_allowed(self) -> bool:
        return self.kind == ALLOWED


def normalise(module: str, name: str) -> tuple[str, str]:
    """Apply the Python 2 → 3 renames the unpickler applies (`__builtin__` → `builtins`, ...)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


@lru_cache(maxsize=8192)
def judge(module: str, name: str, *, context: str = "generic") -> Judgement:
    """Judge the global `module`/`name` as `find_class` would resolve it."""
    module, name = normalise(module, name)
    return judge_path(f"{module}.{name}", context=context, module=module)


@lru_cache(maxsize=8192)
def judge_path(path: str, *, context: str = "generic", module: str | None = None) -> Judgement:
    """Judge a dotted path (a global, or what a getattr/import chain resolves to)."""
    parts = path.split(".")
    top = module.split(".")[0] if module else parts[0]
    allow_reason = _allow_reason(path, parts, context)
    if allow_reason is not None:
        return Judgement(ALLOWED, path, path, "allowlisted", allow_reason)
    hit = _danger(parts)
    if hit is not None:
        reached, danger = hit
        return Judgement(DANGEROUS, path, reached, danger.category, danger.explanation, danger.cwe)
    if any(_is_dunder(p) for p in parts[1:]):
        return Judgement(
            PRIVATE, path, path, "dunder-chain",
            "reaches interpreter internals through a dunder attribute (__builtins__, __globals__, ...)",
            "CWE-749",
        )  # fmt: skip
    name_parts = parts[len(module.split(".")) :] if module else parts[1:]
    if (top.startswith("_") and not _is_dunder(top)) or any(p.startswith("_") for p in name_parts):
        return Judgement(
            PRIVATE, path, path, "private-name",
            "is a private name: not public API, a favourite place for command-running helpers",
            "CWE-749",
        )  # fmt: skip
    if parts[-1] in DANGEROUS_NAMES:
        return Judgement(
            DANGEROUS, path, path, "gadget-name",
            f"has the name of a command/code/file primitive ({parts[-1]}) in a module that is not known",
            "CWE-502",
        )  # fmt: skip
    return Judgement(UNKNOWN, path, path, "unknown", "is not a known-safe callable", "CWE-502")


def _is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def _allow_reason(path: str, parts: list[str], context: str) -> str | None:
    reason = ALLOW.get(path)
    if reason is not None:
        return reason
    if path.startswith(TORCHSCRIPT_PREFIX) and all(p.isidentifier() for p in parts):
        # TorchScript's unpickler resolves these to classes compiled from the archive's code/ (which
        # is analysed as TorchScript code); Python's pickle cannot import a `__torch__` module.
        return "TorchScript class compiled from the archive's own code/ (reviewed with that code)"
    if not all(p.isidentifier() for p in parts):
        return None
    name = parts[-1]
    if not name.lstrip("_")[:1].isupper() or any(_is_dunder(p) for p in parts):
        return None
    if any(p in REEXPORTED_ROOTS or p.lstrip("_") in REEXPORTED_ROOTS for p in parts[1:-1]):
        return None  # `sklearn.utils.os.X` is not sklearn's
    if (path.startswith(("torch.nn.modules.", "torch.ao.nn."))) and name in _TORCH_NN_NAMES:
        return "torch.nn module class name (class moved between torch versions)"
    if (
        path.startswith("sklearn.")
        and name in _SKLEARN_NAMES
        and not _SKLEARN_EXCLUDED_PARTS.intersection(parts)
    ):
        return "scikit-learn class name (class moved between scikit-learn versions)"
    return None


def _danger(parts: list[str]) -> tuple[str, Danger] | None:
    """The catalogue entry that covers `parts`: through a re-exported module first (what is really
    reached, `tempfile._os.system` → `os.system`), else directly."""
    for i in range(len(parts) - 2, 0, -1):  # the innermost re-export is what gets called
        root = "builtins" if parts[i] in {"__builtins__", "__builtin__"} else parts[i].lstrip("_")
        if parts[i] in REEXPORTED_ROOTS or root in REEXPORTED_ROOTS:
            rerooted = [root, *parts[i + 1 :]]
            hit = EXACT.get(".".join(rerooted))
            # A user package's own `pkg.types` / `pkg.io` module is not the stdlib one: re-root
            # through a module entry only for private aliases (`_os`), the modules gadget chains
            # use, or a primitive's name at the end.
            strong = parts[i].startswith("_") or root in STRONG_ROOTS or parts[-1] in DANGEROUS_NAMES
            if hit is None and strong:
                hit = _catalogue(rerooted) or (MODULES.get(root) if root != "builtins" else None)
            if hit is not None:
                return ".".join(rerooted), hit
    direct = _catalogue(parts)
    return (".".join(parts), direct) if direct is not None else None


def _catalogue(parts: list[str]) -> Danger | None:
    path = ".".join(parts)
    if path in NOT_DANGEROUS:
        return None
    exact = EXACT.get(path)
    if exact is not None:
        return exact
    for end in range(len(parts), 0, -1):
        entry = MODULES.get(".".join(parts[:end]))
        if entry is not None:
            return entry
    return None
