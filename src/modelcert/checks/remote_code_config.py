"""Hugging Face configs as code wiring: which shipped `.py` files a loader imports, and shard indexes.

`auto_map` / `custom_pipelines` (transformers), `modules.json` (sentence-transformers) and
`model_index.json` (diffusers) name `module.Class` references that `from_pretrained(...,
trust_remote_code=True)` resolves to `<module>.py` next to the config and imports. transformers
splits a reference exactly as `repo--module.Class` (`split("--")`, then `split(".")` into two), so
the same parse is used here; anything else is malformed for the loader.

The same wiring is computed from the Python side (`wiring_for`), because files are analysed in
parallel and a `.py` file cannot wait for its config's analysis.
"""

from __future__ import annotations

import importlib
import posixpath
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from modelcert.checks.base import AnalysisContext, PackageView
from modelcert.checks.remote_code_checks import (
    DuplicateJsonKey,
    MalformedReference,
    MissingShard,
    PackagePathEscape,
    RemoteCodeFromOtherRepo,
    RemoteCodeMissingModule,
    RemoteCodeWiring,
)
from modelcert.checks.remote_code_python import Wiring
from modelcert.errors import FormatError
from modelcert.findings import Location
from modelcert.formats.json_doc import JsonDocument, parse_json_bytes, pointer_label
from modelcert.formats.pycode import relative_imports
from modelcert.limits import Limits
from modelcert.records import Record

MAX_REPORTED = 50  # findings of one kind per file; the rest are counted in the last one
MAX_WIRING_FILES = 64  # sibling files read to work out wiring of one Python file
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
_KNOWN_LIBRARIES = frozenset({"diffusers", "transformers", "onnxruntime", "sentence_transformers", None})

Pointer = tuple[str | int, ...]


class CodeReference(Record):
    """One `module.Class` reference found in a config."""

    __slots__ = (
        "class_name", "key", "module", "only_if_shipped", "pointer", "problem", "raw", "repo", "source",
    )  # fmt: skip
    source: Final[str]  # auto_map | custom_pipelines | modules.json | model_index.json
    key: Final[str]
    pointer: Final[Pointer]
    raw: Final[str]
    repo: Final[str | None]
    module: Final[str | None]
    class_name: Final[str | None]
    problem: Final[str | None]
    only_if_shipped: Final[bool]  # library-or-local references (sentence-transformers, diffusers)

    def __init__(
        self,
        source: str,
        key: str,
        pointer: Pointer,
        raw: str,
        repo: str | None = None,
        module: str | None = None,
        class_name: str | None = None,
        problem: str | None = None,
        only_if_shipped: bool = False,
    ) -> None:
        self.source = source
        self.key = key
        self.pointer = pointer
        self.raw = raw
        self.repo = repo
        self.module = module
        self.class_name = class_name
        self.problem = problem
        self.only_if_shipped = only_if_shipped

    @property
    def module_file(self) -> str | None:
        return f"{self.module}.py" if self.module else None


def is_config_name(basename: str) -> bool:
    return basename.endswith(".json") and (
        "config" in basename or basename in {"modules.json", "model_index.json"}
    )


def parse_reference(source: str, key: str, pointer: Pointer, raw: Any) -> CodeReference:
    """Parse `repo--module.Class` the way transformers' get_class_from_dynamic_module does."""
    if not isinstance(raw, str):
        return CodeReference(source, key, pointer, repr(raw)[:80], problem="not a string")
    repo = None
    rest = raw
    if "--" in raw:
        pieces = raw.split("--")
        if len(pieces) != 2:
            return CodeReference(source, key, pointer, raw, problem="more than one '--'")
        repo, rest = pieces
    parts = rest.split(".")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return CodeReference(source, key, pointer, raw, repo=repo, problem="not of the form module.Class")
    return CodeReference(source, key, pointer, raw, repo=repo or None, module=parts[0], class_name=parts[1])


def code_references(root: Any, basename: str) -> list[CodeReference]:
    """Every code reference a loader would follow in this JSON document."""
    refs: list[CodeReference] = []
    if isinstance(root, dict):
        refs += _auto_map(root.get("auto_map"))
        refs += _custom_pipelines(root.get("custom_pipelines"))
        if basename == "model_index.json":
            refs += _diffusers_components(root)
    if basename == "modules.json" and isinstance(root, list):
        refs += _sentence_transformer_modules(root)
    return refs


def _auto_map(value: Any) -> Iterator[CodeReference]:
    if value is None:
        return
    if isinstance(value, list):  # legacy tokenizer form: [slow, fast]
        value = {"AutoTokenizer": value}
    if not isinstance(value, dict):
        yield CodeReference("auto_map", "auto_map", ("auto_map",), repr(value)[:80], problem="not an object")
        return
    for key, target in value.items():
        if isinstance(target, list | tuple):
            for index, item in enumerate(target):
                if item is not None:
                    yield parse_reference("auto_map", key, ("auto_map", key, index), item)
        else:
            yield parse_reference("auto_map", key, ("auto_map", key), target)


def _custom_pipelines(value: Any) -> Iterator[CodeReference]:
    if value is None:
        return
    if not isinstance(value, dict):
        yield CodeReference(
            "custom_pipelines",
            "custom_pipelines",
            ("custom_pipelines",),
            repr(value)[:80],
            problem="not an object",
        )
        return
    for task, spec in value.items():
        if isinstance(spec, dict) and "impl" in spec:
            yield parse_reference("custom_pipelines", task, ("custom_pipelines", task, "impl"), spec["impl"])
        else:
            yield CodeReference(
                "custom_pipelines",
                task,
                ("custom_pipelines", task),
                repr(spec)[:80],
                problem="pipeline entry without an 'impl' reference",
            )


def _sentence_transformer_modules(entries: list[Any]) -> Iterator[CodeReference]:
    for index, entry in enumerate(entries):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if isinstance(kind, str) and not kind.startswith("sentence_transformers."):
            ref = parse_reference("modules.json", str(entry.get("name", index)), (index, "type"), kind)
            if ref.problem is None:
                yield ref.replace(only_if_shipped=True)


def _diffusers_components(root: dict[str, Any]) -> Iterator[CodeReference]:
    for key, value in root.items():
        if key.startswith("_") and key != "_class_name":
            continue
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str | None) for v in value):
            library, class_name = value
            if library in _KNOWN_LIBRARIES or not class_name or "." in library:
                continue
            module = library if key == "_class_name" else f"{key}/{library}"
            yield CodeReference(
                "model_index.json",
                key,
                (key,),
                f"{library}.{class_name}",
                module=module,
                class_name=class_name,
                only_if_shipped=True,
            )


def escapes_package(path: str) -> bool:
    """True for absolute paths, drive letters, NUL bytes and any `..` component."""
    if not path or "\x00" in path or path.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(path):
        return True
    return ".." in re.split(r"[/\\]", path)


# ---- the JSON analyzer ------------------------------------------------------------------------


def review_json(doc: JsonDocument, ctx: AnalysisContext) -> None:
    """Apply the checks that concern this document, chosen by its name and content."""
    basename = posixpath.basename(ctx.relpath).lower()
    _duplicates(doc, ctx)
    refs = code_references(doc.root, basename)
    if refs:
        _wiring(refs, ctx)
    root = doc.root
    if isinstance(root, dict) and "weight_map" in root:
        _shard_index(root["weight_map"], ctx)
    if isinstance(root, dict) and "chat_template" in root:
        # tokenizer_config.json, chat_template.json, processor / preprocessor configs, and whatever
        # name a future loader reads: a template is checked wherever a JSON file carries one.
        _chat_templates(root["chat_template"], basename, ctx)
    if basename == "adapter_config.json" and isinstance(root, dict):
        base = root.get("base_model_name_or_path")
        if isinstance(base, str):
            ctx.note("base_model", {"file": ctx.relpath, "base_model_name_or_path": base})


def _at(ctx: AnalysisContext, pointer: Pointer) -> Location:
    return ctx.location.at(pointer=pointer_label(pointer))


def _duplicates(doc: JsonDocument, ctx: AnalysisContext) -> None:
    for dup in doc.duplicate_keys[:MAX_REPORTED]:
        where = dup.pointer or "the top-level object"
        ctx.add(
            DuplicateJsonKey.finding(
                f"key {dup.key!r} appears {dup.count} times in {where}: parsers disagree on which value wins",
                ctx.location.at(pointer=(dup.pointer.lstrip("/") + "/" if dup.pointer else "") + dup.key),
                details={
                    "key": dup.key,
                    "count": dup.count,
                    "object": dup.pointer,
                    "total_duplicates": len(doc.duplicate_keys),
                },
            )
        )


def _local_package(ctx: AnalysisContext) -> PackageView | None:
    """The package view, only for files on disk (members of archives have no sibling files)."""
    return ctx.package if ctx.depth == 0 else None


def _wiring(refs: list[CodeReference], ctx: AnalysisContext) -> None:
    package = _local_package(ctx)
    relpaths = set(package.relpaths()) if package is not None else None
    directory = posixpath.dirname(ctx.relpath)
    wired: dict[str, list[str]] = {}
    missing: dict[str, list[CodeReference]] = {}
    for ref in refs:
        location = _at(ctx, ref.pointer)
        if ref.problem:
            ctx.add(
                MalformedReference.finding(f"{ref.source} {ref.key!r} = {ref.raw!r}: {ref.problem}", location)
            )
        elif ref.repo:
            ctx.add(
                RemoteCodeFromOtherRepo.finding(
                    f"{ref.source} {ref.key!r} loads {ref.module}.py from repository {ref.repo!r} "
                    "at load time",
                    location,
                    details={"reference": ref.raw, "repo": ref.repo, "module": ref.module},
                )
            )
        elif ref.module and escapes_package(ref.module):
            ctx.add(
                PackagePathEscape.finding(
                    f"{ref.source} {ref.key!r} imports {ref.module}.py, outside the package",
                    location,
                    details={"reference": ref.raw},
                )
            )
        elif ref.module_file is not None:
            path = posixpath.normpath(posixpath.join(directory, ref.module_file))
            if relpaths is not None and path not in relpaths:
                if not ref.only_if_shipped:
                    missing.setdefault(path, []).append(ref)
                continue
            wired.setdefault(path, []).append(f"{ref.source}[{ref.key}]")
    for path, needing in sorted(missing.items()):
        keys = ", ".join(f"{r.source}[{r.key}]" for r in needing[:4])
        ctx.add(
            RemoteCodeMissingModule.finding(
                f"{keys} need {path}, which the package does not contain",
                _at(ctx, needing[0].pointer),
                details={"file": path, "references": [r.raw for r in needing[:MAX_REPORTED]]},
            )
        )
    if wired:
        listing = "; ".join(f"{path} ({', '.join(keys[:4])})" for path, keys in sorted(wired.items()))
        ctx.add(
            RemoteCodeWiring.finding(
                f"loading with trust_remote_code=True imports shipped code: {listing}",
                ctx.location,
                details={"modules": dict(sorted(wired.items()))},
            )
        )
    ctx.note(
        "auto_map",
        {
            "config": ctx.relpath,
            "references": [
                {
                    "source": r.source,
                    "key": r.key,
                    "reference": r.raw,
                    "repo": r.repo,
                    "module": r.module,
                    "class": r.class_name,
                    "problem": r.problem,
                }
                for r in refs[:500]
            ],
            "wired_files": sorted(wired),
        },
    )


def _shard_index(weight_map: Any, ctx: AnalysisContext) -> None:
    if not isinstance(weight_map, dict):
        ctx.add(MalformedReference.finding("weight_map is not an object", _at(ctx, ("weight_map",))))
        return
    shards: dict[str, str] = {}
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str):
            ctx.add(
                MalformedReference.finding(
                    f"weight_map[{tensor!r}] is not a file name", _at(ctx, ("weight_map", tensor))
                )
            )
            continue
        shards.setdefault(shard, tensor)
    package = _local_package(ctx)
    relpaths = set(package.relpaths()) if package is not None else None
    directory = posixpath.dirname(ctx.relpath)
    missing: list[str] = []
    escaping = 0
    for shard, tensor in sorted(shards.items()):
        if escapes_package(shard):
            escaping += 1
            if escaping <= MAX_REPORTED:
                ctx.add(
                    PackagePathEscape.finding(
                        f"weight_map sends tensor {tensor!r} to {shard!r}, outside the package: "
                        "the loader reads (and for pickle shards, unpickles) that file",
                        _at(ctx, ("weight_map", tensor)),
                        details={"shard": shard},
                    )
                )
        elif relpaths is not None and posixpath.normpath(posixpath.join(directory, shard)) not in relpaths:
            missing.append(shard)
    if missing:
        ctx.add(
            MissingShard.finding(
                f"{len(missing)} shard(s) named by weight_map are not in the package: "
                f"{', '.join(missing[:10])}",
                _at(ctx, ("weight_map",)),
                details={"missing": missing[:MAX_REPORTED], "count": len(missing)},
            )
        )


def _chat_templates(value: Any, basename: str, ctx: AnalysisContext) -> None:
    templates: list[tuple[Pointer, str, str]] = []
    if isinstance(value, str):
        templates.append((("chat_template",), value, "default"))
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                templates.append(
                    (("chat_template", index, "template"), entry["template"], str(entry.get("name", index)))
                )
            else:
                ctx.add(
                    MalformedReference.finding(
                        "chat_template entry is not {name, template}", _at(ctx, ("chat_template", index))
                    )
                )
    elif isinstance(value, dict):
        templates += [(("chat_template", k), v, k) for k, v in value.items() if isinstance(v, str)]
    elif value is not None:
        ctx.add(
            MalformedReference.finding(
                "chat_template is not a string or a list", _at(ctx, ("chat_template",))
            )
        )
    checker = _template_checker()
    if checker is None:
        if templates:
            ctx.note("chat_template_unchecked", {"file": ctx.relpath, "count": len(templates)})
        return
    for pointer, source, name in templates:
        checker(source, ctx, _at(ctx, pointer), origin=f"{basename}:{name}")


def _template_checker() -> Callable[..., None] | None:
    """The Jinja template checker (another check family); looked up lazily so families stay decoupled."""
    try:
        module = importlib.import_module("modelcert.checks.templates")
    except ImportError:
        return None
    checker = getattr(module, "check_template_source", None)
    return checker if callable(checker) else None


# ---- wiring seen from a Python file ------------------------------------------------------------


def wiring_for(ctx: AnalysisContext) -> Wiring:
    """Why this Python file runs when the package is loaded, from the configs next to it."""
    package = _local_package(ctx)
    if package is None:
        return Wiring()
    relpath = ctx.relpath
    if relpath == "custom_generate/generate.py" or relpath.endswith("/custom_generate/generate.py"):
        return Wiring(("custom_generate (model.generate(custom_generate=repo, trust_remote_code=True))",))
    relpaths = set(package.relpaths())
    direct = _direct_wiring(package, posixpath.dirname(relpath), relpaths, ctx.limits)
    if relpath in direct:
        return Wiring((direct[relpath],))
    # Relative imports of wired files are copied next to them and imported too.
    queue = sorted(direct)
    seen = set(queue)
    budget = MAX_WIRING_FILES
    while queue and budget > 0:
        current = queue.pop(0)
        budget -= 1
        text = _read_text(package, current, ctx.limits)
        for module in relative_imports(text or ""):
            folder = posixpath.dirname(current)
            for candidate in {f"{module}.py", module.replace(".", "/") + ".py"}:
                target = posixpath.normpath(posixpath.join(folder, candidate))
                if target == relpath:
                    root = direct.get(current, f"a file wired through {current}")
                    return Wiring((f"{root}, through a relative import in {current}",))
                if target in relpaths and target not in seen:
                    seen.add(target)
                    direct.setdefault(target, direct.get(current, current))
                    queue.append(target)
    return Wiring()


def _direct_wiring(
    package: PackageView, directory: str, relpaths: set[str], limits: Limits
) -> dict[str, str]:
    """Python files that configs in `directory` (and a diffusers index one level up) wire directly."""
    parent = posixpath.dirname(directory) if directory else None
    candidates = [
        p
        for p in sorted(relpaths)
        if posixpath.dirname(p) == directory and is_config_name(posixpath.basename(p).lower())
    ]
    if parent is not None:
        index = posixpath.join(parent, "model_index.json") if parent else "model_index.json"
        if index in relpaths:
            candidates.append(index)
    wired: dict[str, str] = {}
    for config in candidates[:MAX_WIRING_FILES]:
        text = _read_bytes(package, config, limits)
        if text is None:
            continue
        try:
            doc = parse_json_bytes(text, config, limits)
        except FormatError:  # includes LimitExceeded; the JSON analyzer reports it
            continue
        folder = posixpath.dirname(config)
        for ref in code_references(doc.root, posixpath.basename(config).lower()):
            if (
                ref.module
                and ref.module_file
                and not ref.repo
                and not ref.problem
                and not escapes_package(ref.module)
            ):
                path = posixpath.normpath(posixpath.join(folder, ref.module_file))
                wired.setdefault(path, f"{config} {ref.source}[{ref.key}] (trust_remote_code)")
    return wired


def _read_bytes(package: PackageView, relpath: str, limits: Limits) -> bytes | None:
    blob = package.open_file(relpath)
    if blob is None:
        return None
    try:
        return blob.read_all(min(limits.max_json_bytes, limits.max_text_bytes))
    except (FormatError, OSError):
        return None
    finally:
        blob.close()


def _read_text(package: PackageView, relpath: str, limits: Limits) -> str | None:
    data = _read_bytes(package, relpath, limits)
    return data.decode("utf-8", "replace") if data is not None else None
