"""What the package actually is, read from headers only: parameter count, context, vocabulary, templates.

Weights are never loaded: safetensors and GGUF headers give every tensor's shape, `config.json` and
`tokenizer.json` the declared architecture and vocabulary, `tokenizer_config.json`/`*.jinja`/GGUF
metadata the chat templates, and root-level LICENSE/COPYING files the licence text. Unreadable files
are recorded as problems (the scanner reports them as findings); a fact that cannot be established
is None, never a guess.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from modelcert.errors import FormatError, ModelcertError
from modelcert.formats.blob import Blob, FileBlob
from modelcert.formats.gguf import ArrayValue, GGUFHeader, read_gguf
from modelcert.formats.json_doc import load_json
from modelcert.formats.safetensors import read_safetensors
from modelcert.formats.tokenizer import load_tokenizer_json
from modelcert.limits import Limits
from modelcert.package import ModelPackage, hash_package, oms_root_digest

EMBEDDING_SUFFIXES = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "tok_embeddings.weight")
POSITION_SUFFIXES = ("wpe.weight", "position_embeddings.weight", "embed_positions.weight")
CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "n_ctx",
    "max_sequence_length",
)
LICENCE_FILE = re.compile(r"^(?:.*[-_])?(?:licen[cs]e|copying|notice)(?:[-_.].*)?$", re.IGNORECASE)
MAX_LICENCE_CHARS = 16_384


class PackageFiles:
    """Regular files of a folder (or one file), opened lazily; symlinks are never followed."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self._package = ModelPackage.open(root, limits)

    def relpaths(self) -> list[str]:
        return [f.relpath for f in self._package.files]

    def root_digest(self) -> str:
        """The OMS v1.0 root digest: the subject a certificate for this package names."""
        return oms_root_digest(hash_package(self._package))

    def open_file(self, relpath: str) -> Blob | None:
        pf = self._package.get(relpath)
        return FileBlob(pf.abspath, pf.relpath) if pf is not None else None


@dataclass
class ArtifactFacts:
    parameters: int | None = None
    parameter_source: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    context_length: int | None = None
    context_source: str = ""
    position_rows: int | None = None
    vocab_declared: int | None = None  # config.json vocab_size or GGUF <arch>.vocab_size
    embedding_rows: int | None = None
    tokenizer_size: int | None = None
    architecture: str | None = None  # config architectures[0] or model_type, GGUF general.architecture
    architecture_source: str = ""
    chat_templates: dict[str, str] = field(default_factory=dict)  # where -> sha256 of the source
    licence_files: dict[str, str] = field(default_factory=dict)  # relpath -> opening text
    adapter_base: str | None = None
    gguf_base_models: int = 0
    card_texts: dict[str, str] = field(default_factory=dict)  # relpath -> text of markdown/CycloneDX docs
    problems: list[str] = field(default_factory=list)


def read_facts(files: PackageFiles, limits: Limits) -> ArtifactFacts:
    facts = ArtifactFacts()
    tensors: dict[str, tuple[int, ...]] = {}
    for relpath in files.relpaths():
        name = PurePosixPath(relpath).name
        lower = name.lower()
        try:
            blob = files.open_file(relpath)
        except OSError as exc:
            facts.problems.append(f"{relpath}: {exc.strerror}")
            continue
        if blob is None:
            continue
        try:
            if lower.endswith(".safetensors"):
                for entry in read_safetensors(blob, limits).tensors:
                    tensors.setdefault(entry.name, entry.shape)
            elif lower.endswith(".gguf"):
                _gguf(facts, read_gguf(blob, limits), relpath)
            elif relpath == "config.json":
                facts.config = dict(load_json(blob, limits).obj)
            elif lower == "tokenizer.json" and "/" not in relpath:
                view = load_tokenizer_json(blob, limits)
                ids = [i for _, i in view.vocab] + [t.id for t in view.added_tokens]
                facts.tokenizer_size = max(ids) + 1 if ids else 0
            elif (lower == "tokenizer_config.json" and "/" not in relpath) or lower == "chat_template.json":
                _templates(facts, load_json(blob, limits).obj.get("chat_template"), relpath)
            elif lower.endswith((".jinja", ".jinja2", ".j2")):
                facts.chat_templates[relpath] = _sha(
                    blob.read_all(limits.max_text_bytes).decode("utf-8", "replace")
                )
            elif lower == "adapter_config.json":
                base = load_json(blob, limits).obj.get("base_model_name_or_path")
                facts.adapter_base = base if isinstance(base, str) else None
            elif relpath.count("/") == 0 and LICENCE_FILE.match(name):
                facts.licence_files[relpath] = blob.read_at(0, MAX_LICENCE_CHARS).decode("utf-8", "replace")
            if lower.endswith((".md", ".cdx.json")) or lower in ("bom.json", "sbom.json"):
                facts.card_texts[relpath] = blob.read_all(limits.max_text_bytes).decode("utf-8", "replace")
        except (FormatError, ModelcertError, OSError, UnicodeError) as exc:
            facts.problems.append(f"{relpath}: {exc}")
            if lower.endswith(".safetensors"):
                tensors.clear()
                facts.parameter_source = "unreadable"
        finally:
            blob.close()
    if tensors and facts.parameter_source != "unreadable":
        facts.parameters = sum(_product(shape) for shape in tensors.values())
        facts.parameter_source = "safetensors headers"
        _shapes(facts, tensors)
    _config_facts(facts)
    return facts


def _product(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _templates(facts: ArtifactFacts, value: Any, relpath: str) -> None:
    if isinstance(value, str):
        facts.chat_templates[relpath] = _sha(value)
    elif isinstance(value, list):
        for entry in value[:64]:
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                facts.chat_templates[f"{relpath}#{entry.get('name', 'default')}"] = _sha(entry["template"])


def _shapes(facts: ArtifactFacts, tensors: dict[str, tuple[int, ...]]) -> None:
    for name, shape in sorted(tensors.items()):
        if name.endswith(EMBEDDING_SUFFIXES) and len(shape) == 2 and facts.embedding_rows is None:
            facts.embedding_rows = shape[0]
        if name.endswith(POSITION_SUFFIXES) and len(shape) == 2 and facts.position_rows is None:
            facts.position_rows = shape[0]


def _gguf(facts: ArtifactFacts, header: GGUFHeader, relpath: str) -> None:
    if header.failure is not None:
        facts.problems.append(f"{relpath}: {header.failure.message}")
        return
    count = sum(_product(t.dims) for t in header.tensors)
    if facts.parameters is None or facts.parameter_source.startswith("GGUF"):
        if facts.parameters is not None and facts.parameters != count:
            facts.problems.append(f"{relpath}: GGUF files disagree on the parameter count")
        facts.parameters, facts.parameter_source = count, f"GGUF header ({relpath})"
    arch_kv = header.get("general.architecture")
    arch = arch_kv.value if arch_kv is not None and isinstance(arch_kv.value, str) else None
    if arch:
        facts.architecture, facts.architecture_source = arch, f"GGUF general.architecture ({relpath})"
        context = header.get(f"{arch}.context_length")
        if context is not None and isinstance(context.value, int):
            facts.context_length, facts.context_source = context.value, f"GGUF {arch}.context_length"
        vocab = header.get(f"{arch}.vocab_size")
        if vocab is not None and isinstance(vocab.value, int):
            facts.vocab_declared = vocab.value
    tokens = header.get("tokenizer.ggml.tokens")
    if tokens is not None and isinstance(tokens.value, ArrayValue):
        facts.tokenizer_size = tokens.value.length
    template = header.get("tokenizer.chat_template")
    if template is not None and isinstance(template.value, str):
        facts.chat_templates[f"{relpath}#tokenizer.chat_template"] = _sha(template.value)
    base_count = header.get("general.base_model.count")
    if base_count is not None and isinstance(base_count.value, int):
        facts.gguf_base_models = max(facts.gguf_base_models, base_count.value)
    for info in header.tensors:
        if info.name == "token_embd.weight" and len(info.dims) == 2:
            facts.embedding_rows = info.dims[1]  # GGUF dims are fastest-varying first: (n_embd, n_vocab)


def _config_facts(facts: ArtifactFacts) -> None:
    config = facts.config
    if not config:
        return
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        facts.architecture, facts.architecture_source = archs[0], "config.json architectures"
    elif isinstance(config.get("model_type"), str):
        facts.architecture, facts.architecture_source = config["model_type"], "config.json model_type"
    text_config = config.get("text_config")
    inner: dict[str, Any] = text_config if isinstance(text_config, dict) else config
    for key in CONTEXT_KEYS:
        value = inner.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            facts.context_length, facts.context_source = value, f"config.json {key}"
            break
    vocab = inner.get("vocab_size")
    if isinstance(vocab, int) and not isinstance(vocab, bool):
        facts.vocab_declared = vocab
