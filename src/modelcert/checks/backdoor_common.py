"""What the backdoor-evidence checks share: the package inputs they read, sibling-file helpers, notes.

Backdoor checks are package-level: they compare files with each other (template vs base template,
config vs tensor shapes) and with a declared base package. They receive a `PackageInputs`, which the
scanner's `PackageContext` satisfies structurally (this module sits below `modelcert.scan` in the
import layers, so it names the shape, not the class). A base package given with `--base` is opened
as a `LocalPackage`, which satisfies the same protocol.

ID ranges of the family (MC5xx): MC500–519 chat templates, MC520–539 tokenizers, MC540–559 configs
and generation configs, MC560–569 graphs, MC570–589 lineage and adapters, MC590–599 behavioural scan
and evidence level.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from modelcert.checks.base import PackageView
from modelcert.errors import FormatError, ModelcertError
from modelcert.findings import ArtifactReport, Finding
from modelcert.formats.json_doc import JsonDocument, load_json
from modelcert.formats.tokenizer import read_gguf_tokenizer_metadata
from modelcert.limits import Limits
from modelcert.package import ModelPackage, PackageFiles
from modelcert.records import MutableRecord


class PackageInputs(Protocol):
    """The package a backdoor check reads: its files, the facts analyzers noted, the limits."""

    @property
    def view(self) -> PackageView: ...

    @property
    def files(self) -> Sequence[ArtifactReport]: ...

    @property
    def notes(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def limits(self) -> Limits: ...


PackageCheckFn = Callable[[PackageInputs], Iterable[Finding]]


class LocalPackage(MutableRecord):
    """A package opened outside a scan (the declared base): satisfies PackageInputs, has no notes."""

    __slots__ = ("files", "limits", "notes", "root", "view")
    root: Path
    view: PackageView
    limits: Limits
    files: Sequence[ArtifactReport]
    notes: Mapping[str, Mapping[str, Any]]

    def __init__(
        self,
        root: Path,
        view: PackageView,
        limits: Limits,
        files: Sequence[ArtifactReport] = (),
        notes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.root = root
        self.view = view
        self.limits = limits
        self.files = files
        self.notes = {} if notes is None else notes

    @classmethod
    def open(cls, root: Path, limits: Limits) -> LocalPackage:
        package = ModelPackage.open(root, limits)
        if not package.is_dir:
            raise ModelcertError(f"the base {root} must be a model folder")
        return cls(root=root, view=PackageFiles(package), limits=limits)


def files_named(view: PackageView, *names: str) -> list[str]:
    """Relative paths whose base name is one of `names`, shallowest first (the root copy first)."""
    wanted = set(names)
    found = [p for p in view.relpaths() if PurePosixPath(p).name in wanted]
    return sorted(found, key=lambda p: (p.count("/"), p))


def first_file(view: PackageView, *names: str) -> str | None:
    found = files_named(view, *names)
    return found[0] if found else None


def sibling(relpath: str, name: str) -> str:
    """The path of `name` in the same folder as `relpath`."""
    parent = PurePosixPath(relpath).parent
    return name if str(parent) in ("", ".") else f"{parent}/{name}"


def read_json(view: PackageView, relpath: str, limits: Limits) -> JsonDocument | None:
    """A sibling JSON file, or None when absent or unparseable (its own analyzer reports that)."""
    blob = view.open_file(relpath)
    if blob is None:
        return None
    try:
        return load_json(blob, limits)
    except FormatError:
        return None
    finally:
        blob.close()


def read_text(view: PackageView, relpath: str, limits: Limits) -> str | None:
    blob = view.open_file(relpath)
    if blob is None:
        return None
    try:
        if blob.size > limits.max_text_bytes:
            return None
        return blob.read_all(limits.max_text_bytes).decode("utf-8", errors="replace")
    finally:
        blob.close()


def gguf_metadata(inputs: PackageInputs) -> dict[str, dict[str, Any]]:
    """Scalar metadata and full tokenizer arrays of every GGUF file of the package (read once per view)."""
    try:
        cached = _GGUF.get(inputs.view)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    found: dict[str, dict[str, Any]] = {}
    detected = [a.path for a in inputs.files if a.format == "gguf"]
    named = [p for p in inputs.view.relpaths() if p.lower().endswith(".gguf")]
    for relpath in sorted({*detected, *named}):
        blob = inputs.view.open_file(relpath)
        if blob is None:
            continue
        try:
            if blob.head(4) in (b"GGUF", b"FUGG"):
                found[relpath] = read_gguf_tokenizer_metadata(blob, inputs.limits)
        except FormatError:
            continue  # the GGUF analyzer reports unreadable files
        finally:
            blob.close()
    with contextlib.suppress(TypeError):
        _GGUF[inputs.view] = found
    return found


_GGUF: weakref.WeakKeyDictionary[Any, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def short(text: str, limit: int = 160) -> str:
    """A one-line excerpt for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_MARKER_EDGES = (("<", ">"), ("[", "]"), ("{", "}"), ("«", "»"))
_SPACE_MARKS = " \t\n\u2581\u0120\u010a"  # space, ▁ (SentencePiece), Ġ / Ċ (byte-level space / newline)


def is_marker(text: str) -> bool:
    """True for control-token spellings: <s>, </s>, [CLS], <|im_start|>, <｜User｜>, <extra_id_0>."""
    core = text.strip(_SPACE_MARKS)
    if len(core) < 3:
        return False
    return any(core.startswith(a) and core.endswith(b) for a, b in _MARKER_EDGES)


def is_wordlike(text: str) -> bool:
    """True for an ordinary word piece (letters, at least two), as opposed to markup or punctuation."""
    core = text.strip(_SPACE_MARKS)
    return (
        len(core) >= 2 and not is_marker(core) and sum(ch.isalpha() for ch in core) >= max(2, len(core) // 2)
    )
