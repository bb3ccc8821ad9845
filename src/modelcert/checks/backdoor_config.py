"""Backdoor evidence in configs (MC540–MC549): decoding-time logit edits and config ↔ tensor consistency.

`generation_config.json` (and generation keys left in `config.json`, which transformers reads when no
generation config exists) can edit every sampled distribution: boost an attacker's phrase, ban a
word, force a prefix, or stop generation on an ordinary word. `config.json` must also describe the
tensors it ships, or the loader silently drops, re-initializes or misreads weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from modelcert.checks.backdoor_common import (
    PackageInputs,
    files_named,
    is_marker,
    is_wordlike,
    read_json,
    sibling,
)
from modelcert.checks.backdoor_tokenizer import package_tokenizers
from modelcert.checks.base import Check
from modelcert.errors import FormatError
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.safetensors import read_safetensors
from modelcert.formats.tokenizer import TokenizerView
from modelcert.lineage.names import canonical_name, is_token_embedding, layer_of, weight_files

LOGIT_KEYS = (
    "sequence_bias",
    "bad_words_ids",
    "suppress_tokens",
    "begin_suppress_tokens",
    "forced_decoder_ids",
    "forced_bos_token_id",
    "forced_eos_token_id",
)
# Model families whose published generation configs legitimately carry these keys, and why.
FAMILY_ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "whisper": (
        frozenset({"suppress_tokens", "begin_suppress_tokens", "forced_decoder_ids"}),
        "Whisper suppresses non-speech tokens and forces language/task tokens by design",
    ),
    "mbart": (
        frozenset({"forced_bos_token_id", "forced_eos_token_id"}),
        "translation: target-language token",
    ),
    "m2m_100": (
        frozenset({"forced_bos_token_id", "forced_eos_token_id"}),
        "translation: target-language token",
    ),
    "nllb-moe": (
        frozenset({"forced_bos_token_id", "forced_eos_token_id"}),
        "translation: target-language token",
    ),
    "bart": (frozenset({"forced_bos_token_id", "forced_eos_token_id"}), "BART forces BOS/EOS markers"),
    "marian": (frozenset({"bad_words_ids", "forced_eos_token_id"}), "Marian bans the pad token"),
    "pegasus": (frozenset({"forced_eos_token_id"}), "summarization: forced EOS"),
}
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim")
LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
VOCAB_KEYS = ("vocab_size", "n_vocab", "padded_vocab_size")


class LogitEditingDecoding(Check):
    """The decoding configuration edits logits: boosts, bans, suppresses or forces tokens.

    `sequence_bias`, `bad_words_ids`, `suppress_tokens`, `begin_suppress_tokens`, `forced_decoder_ids`,
    `forced_bos_token_id` and `forced_eos_token_id` change every distribution the model samples from,
    without touching its weights: a positive bias makes an attacker's phrase appear, a ban censors a
    word. Families that need them by design (Whisper, translation models) are allow-listed with a
    reason, and lists made only of control tokens (pad, eos) are accepted. The decoded tokens are
    shown; a positive `sequence_bias` is high severity.
    """

    id = "MC540"
    title = "Decoding config edits token probabilities"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-74"
    remediation = (
        "Remove the key from generation_config.json unless the model card documents why it is needed."
    )
    tags = ("backdoor", "config")


class OddEosList(Check):
    """An end-of-sequence id is an ordinary word: generation stops whenever the model says it.

    `eos_token_id` may list several ids (Llama 3 lists its turn terminators). Listing an ordinary
    word truncates every answer at that word — a quiet way to cut refusals or warnings short.
    """

    id = "MC541"
    title = "Ordinary word listed as end-of-sequence"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    remediation = "Keep only control tokens in eos_token_id."
    tags = ("backdoor", "config")


class ConfigShapeMismatch(Check):
    """`config.json` does not describe the shipped tensors (vocabulary, hidden size, layer count).

    A loader trusts the config: extra layers in the weights are silently ignored (a place to park a
    payload), missing ones are randomly initialized, a tokenizer with ids beyond `vocab_size` indexes
    past the embedding. The package is inconsistent and cannot be certified as described.
    """

    id = "MC542"
    title = "Config does not match tensor shapes"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    remediation = "Regenerate config.json from the model that produced the weights."
    tags = ("backdoor", "config")


class DecodingDiffersFromBase(Check):
    """The generation configuration differs from the declared base model's in a logit-editing key.

    With `--base`, logit-editing keys are compared with the base's: keys inherited unchanged are
    informational, new or changed ones are reported.
    """

    id = "MC543"
    title = "Decoding config differs from the base"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    remediation = "Restore generation_config.json from the base unless the change is documented."
    tags = ("backdoor", "config", "lineage")


def decoding_configs(inputs: PackageInputs) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(relpath, generation keys, model config) for each generation_config.json or config.json."""
    generation = files_named(inputs.view, "generation_config.json")
    for relpath in generation:
        doc = read_json(inputs.view, relpath, inputs.limits)
        if doc is not None:
            model = read_json(inputs.view, sibling(relpath, "config.json"), inputs.limits)
            yield relpath, doc.obj, model.obj if model else {}
    for relpath in files_named(inputs.view, "config.json"):
        if sibling(relpath, "generation_config.json") in generation:
            continue
        doc = read_json(inputs.view, relpath, inputs.limits)
        if doc is not None and any(k in doc.obj for k in (*LOGIT_KEYS, "eos_token_id")):
            yield relpath, doc.obj, doc.obj


def check_decoding(inputs: PackageInputs) -> list[Finding]:
    tokenizer = _tokenizer(inputs)
    findings: list[Finding] = []
    for relpath, generation, model in decoding_configs(inputs):
        findings.extend(logit_findings(relpath, generation, model, tokenizer))
    return findings


def logit_findings(
    relpath: str, generation: Mapping[str, Any], model: Mapping[str, Any], tokenizer: TokenizerView | None
) -> list[Finding]:
    findings = []
    family = str(model.get("model_type", "")).lower()
    allowed, reason = FAMILY_ALLOWED.get(family, (frozenset(), ""))
    control = _control_ids(model, generation, tokenizer)
    encoder_decoder = bool(model.get("is_encoder_decoder"))
    for key in LOGIT_KEYS:
        value = generation.get(key)
        if value is None or value in ([], {}):
            continue
        if key in allowed:
            continue
        ids = sorted(_ids_in(value))
        if ids and set(ids) <= control:
            continue  # bans / forces control tokens only
        if key in ("forced_bos_token_id", "forced_eos_token_id") and encoder_decoder and set(ids) <= control:
            continue
        severity = Severity.MEDIUM
        if (key == "sequence_bias" and _has_positive_bias(value)) or (
            key == "forced_decoder_ids" and not encoder_decoder
        ):
            severity = Severity.HIGH
        names = [_show(tokenizer, i) for i in ids[:12]]
        findings.append(
            LogitEditingDecoding.finding(
                f"{key} edits {len(ids)} token ids: {', '.join(names)}" + (f" ({reason})" if reason else ""),
                Location(path=relpath, pointer=key),
                severity=severity,
                details={"key": key, "value": _compact(value), "tokens": names, "place": "config"},
            )
        )
    eos = generation.get("eos_token_id")
    if isinstance(eos, list) and tokenizer is not None:
        markers = _control_ids(
            model, generation, tokenizer, keys=("pad_token_id", "bos_token_id", "unk_token_id")
        )
        wordy = [i for i in eos if isinstance(i, int) and i not in markers and _is_word_id(tokenizer, i)]
        if wordy:
            findings.append(
                OddEosList.finding(
                    "eos_token_id stops generation at ordinary words: "
                    + ", ".join(_show(tokenizer, i) for i in wordy[:10]),
                    Location(path=relpath, pointer="eos_token_id"),
                    details={"ids": wordy, "tokens": [_show(tokenizer, i) for i in wordy], "place": "config"},
                )
            )
    return findings


def compare_decoding(model: PackageInputs, base: PackageInputs) -> list[Finding]:
    """Logit-editing keys that the model adds or changes relative to the base's generation config."""
    findings: list[Finding] = []
    base_list = list(decoding_configs(base))
    base_root: Mapping[str, Any] = base_list[0][1] if base_list else {}
    for relpath, generation, _model in decoding_configs(model):
        for key in (*LOGIT_KEYS, "eos_token_id"):
            mine, theirs = generation.get(key), base_root.get(key)
            if mine == theirs or mine in (None, [], {}):
                continue
            findings.append(
                DecodingDiffersFromBase.finding(
                    f"{key} is {_compact(mine)!s:.120} here but {_compact(theirs)!s:.80} in the base",
                    Location(path=relpath, pointer=key),
                    details={
                        "key": key,
                        "model": _compact(mine),
                        "base": _compact(theirs),
                        "place": "config",
                    },
                )
            )
    return findings


def check_shapes(inputs: PackageInputs) -> list[Finding]:
    findings: list[Finding] = []
    tokenizer = _tokenizer(inputs)
    for relpath in files_named(inputs.view, "config.json"):
        doc = read_json(inputs.view, relpath, inputs.limits)
        if doc is None or "model_type" not in doc.obj:
            continue
        config = doc.obj
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else None
        folder = relpath.rsplit("/", 1)[0] if "/" in relpath else ""
        files = weight_files(inputs.view, inputs.limits, folder)
        if not files:
            continue
        try:
            shapes = _tensor_shapes(inputs, files)
        except FormatError:
            continue
        problems = shape_problems(text or config, shapes, tokenizer)
        if problems:
            findings.append(
                ConfigShapeMismatch.finding(
                    "; ".join(problems),
                    Location(path=relpath),
                    details={"problems": problems, "place": "config"},
                )
            )
    return findings


def _tensor_shapes(inputs: PackageInputs, files: list[str]) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape from the safetensors headers (the weights are never read)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for relpath in files:
        blob = inputs.view.open_file(relpath)
        if blob is None:
            continue
        try:
            header = read_safetensors(blob, inputs.limits)
        finally:
            blob.close()
        shapes.update((canonical_name(entry.name), entry.shape) for entry in header.tensors)
    return shapes


def shape_problems(
    config: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], tokenizer: TokenizerView | None
) -> list[str]:
    problems = []
    hidden = _first_int(config, HIDDEN_KEYS)
    layers = _first_int(config, LAYER_KEYS)
    vocab = _first_int(config, VOCAB_KEYS)
    embedding = next((s for n, s in shapes.items() if is_token_embedding(n) and len(s) == 2), None)
    if embedding is not None:
        if vocab is not None and embedding[0] != vocab:
            problems.append(f"embedding has {embedding[0]} rows but vocab_size is {vocab}")
        if hidden is not None and embedding[1] != hidden:
            problems.append(f"embedding width {embedding[1]} but hidden size {hidden}")
    indices = {i for n in shapes if (i := layer_of(n)) is not None}
    if layers is not None and indices:
        extra = sorted(i for i in indices if i >= layers)
        missing = sorted(set(range(layers)) - indices)
        if extra:
            problems.append(
                f"weights hold layers {extra[:8]} beyond num_hidden_layers={layers} (ignored on load)"
            )
        if missing:
            problems.append(f"layers {missing[:8]} have no weights (initialized randomly on load)")
    if tokenizer is not None and vocab is not None:
        top = max([i for _t, i in tokenizer.vocab] + [t.id for t in tokenizer.added_tokens], default=-1)
        if top >= vocab:
            problems.append(f"tokenizer emits id {top} but the model has {vocab} embedding rows")
    return problems


def _first_int(config: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _ids_in(value: Any, depth: int = 0) -> set[int]:
    if depth > 6:
        return set()
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {value}
    if isinstance(value, list):
        return set().union(*(_ids_in(v, depth + 1) for v in value[:10_000])) if value else set()
    if isinstance(value, dict):
        out: set[int] = set()
        for key in list(value)[:10_000]:
            out |= {
                int(p) for p in str(key).strip("()[] ").replace(",", " ").split() if p.lstrip("-").isdigit()
            }
        return out
    return set()


def _has_positive_bias(value: Any) -> bool:
    if isinstance(value, dict):
        return any(isinstance(v, int | float) and v > 0 for v in value.values())
    if isinstance(value, list):
        return any(
            isinstance(e, list) and len(e) == 2 and isinstance(e[1], int | float) and e[1] > 0 for e in value
        )
    return False


CONTROL_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id", "decoder_start_token_id")


def _control_ids(
    model: Mapping[str, Any],
    generation: Mapping[str, Any],
    tokenizer: TokenizerView | None,
    keys: tuple[str, ...] = CONTROL_KEYS,
) -> set[int]:
    ids: set[int] = set()
    for source in (model, generation):
        for key in keys:
            ids |= _ids_in(source.get(key))
    if tokenizer is not None:
        ids |= {t.id for t in tokenizer.added_tokens if t.special or is_marker(t.content)}
        ids |= {i for s, i in tokenizer.vocab if is_marker(s)}
    return ids


def _is_word_id(tokenizer: TokenizerView, token_id: int) -> bool:
    return any(is_wordlike(s) and not is_marker(s) for s in tokenizer.id_to_tokens().get(token_id, []))


def _show(tokenizer: TokenizerView | None, token_id: int) -> str:
    return f"{token_id}={tokenizer.display(token_id)!r}" if tokenizer else str(token_id)


def _compact(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 400 else text[:400] + "…"


def _tokenizer(inputs: PackageInputs) -> TokenizerView | None:
    for _location, view in package_tokenizers(inputs):
        return view
    return None


PACKAGE_CHECKS = (check_decoding, check_shapes)
