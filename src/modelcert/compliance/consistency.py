"""Declared vs actual: what the documentation says against what the package's files are.

Each requirement is met, not met (a contradiction the certifier can show), or not measurable
(nothing declared, or nothing to compare with). Comparisons are deliberately tolerant where
documentation is legitimately approximate — "1.2B" parameters means 1.15–1.25 B, and a context of
"8k" is 8,000 or 8,192 — and strict where a mismatch means the card describes another model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from modelcert.compliance.artifacts import ArtifactFacts
from modelcert.compliance.card import PRESENT, Card, classify, declared_value
from modelcert.compliance.doc_schema import BY_ID
from modelcert.compliance.results import MET, NOT_MEASURABLE, NOT_MET, RequirementResult

SCALE = {
    "": 1,
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "million": 10**6,
    "b": 10**9,
    "billion": 10**9,
    "t": 10**12,
    "trillion": 10**12,
}
COUNT = re.compile(r"~?\s*(\d+(?:[.,]\d+)*)\s*(k|m|b|t|thousand|million|billion|trillion)?\b", re.IGNORECASE)
PARAMS_IN_TEXT = re.compile(
    r"(\d+(?:\.\d+)?)\s*(k|m|b|t|thousand|million|billion|trillion)?\s+(?:total\s+)?param(?:eter)?s?\b", re.I
)
FAMILIES = (
    "llama",
    "mistral",
    "mixtral",
    "qwen",
    "gemma",
    "phi",
    "gpt2",
    "gptneox",
    "gptj",
    "falcon",
    "bloom",
    "mpt",
    "t5",
    "bert",
    "mamba",
    "rwkv",
    "deepseek",
    "starcoder",
    "olmo",
    "stablelm",
    "opt",
    "baichuan",
    "chatglm",
    "internlm",
    "yi",
    "granite",
    "cohere",
    "command",
)
DERIVATIVE_TAGS = {
    "finetune",
    "fine-tuned",
    "finetuned",
    "quantized",
    "gguf",
    "lora",
    "peft",
    "merge",
    "adapter",
    "qlora",
    "awq",
    "gptq",
    "exl2",
    "abliterated",
}
DERIVED_TEXT = re.compile(
    r"fine-?tuned (?:version )?(?:of|from)|quanti[sz]ed (?:version )?of|merge of"
    r"|based on the \S+ (?:base )?model"
    r"|finetuned from model|adapter (?:for|on top of)",
    re.IGNORECASE,
)
LICENCE_FINGERPRINTS = {
    "apache-2.0": ("apache license", "version 2.0"),
    "mit": ("permission is hereby granted, free of charge",),
    "bsd-3-clause": ("redistribution and use in source and binary forms", "neither the name"),
    "bsd-2-clause": ("redistribution and use in source and binary forms",),
    "gpl-3.0": ("gnu general public license", "version 3"),
    "gpl-2.0": ("gnu general public license", "version 2"),
    "lgpl-3.0": ("gnu lesser general public license",),
    "agpl-3.0": ("gnu affero general public license",),
    "mpl-2.0": ("mozilla public license", "2.0"),
    "cc-by-4.0": ("creative commons", "attribution 4.0"),
    "cc-by-sa-4.0": ("creative commons", "sharealike 4.0"),
    "cc-by-nc-4.0": ("creative commons", "noncommercial 4.0"),
    "cc0-1.0": ("cc0 1.0",),
    "openrail": ("responsible ai license",),
    "llama2": ("llama 2 community license",),
    "llama3": ("llama 3 community license",),
    "llama3.1": ("llama 3.1 community license",),
    "llama3.2": ("llama 3.2 community license",),
    "gemma": ("gemma terms of use",),
}


def parse_count(value: Any) -> tuple[float, float] | None:
    """(number, rounding tolerance) from 1234567, "1.2B", "124 million", "7,241,732,096"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value), 0.0
    text = str(value).strip()
    match = (
        COUNT.match(text) or PARAMS_IN_TEXT.search(text) or (COUNT.search(text) if len(text) <= 40 else None)
    )
    if not match:
        return None
    digits, unit = match.group(1), (match.group(2) or "").lower()
    scale = SCALE[unit]
    if "," in digits and "." not in digits:
        digits = digits.replace(",", "")
    try:
        number = float(digits)
    except ValueError:
        return None
    decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
    granularity = 0.5 * scale * 10 ** (-decimals) if scale > 1 else 0.0
    return number * scale, granularity


def _declared(card: Card, field_id: str, extra_text: re.Pattern[str] | None = None) -> tuple[Any, str] | None:
    located = declared_value(card, BY_ID[field_id])
    if located is not None:
        return located.value, located.where
    if extra_text is not None:
        match = extra_text.search(card.text)
        if match:
            return match.group(0), "card text"
    return None


def _result(
    rid: str, status: str, reason: str, declared: Any = None, actual: Any = None
) -> RequirementResult:
    return RequirementResult(
        rid,
        status,
        reason,
        "E1",
        None if declared is None else str(declared)[:120],
        None if actual is None else str(actual)[:120],
    )


def check_parameters(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    declared = _declared(card, "model_size", PARAMS_IN_TEXT)
    if declared is None:
        return _result("parameters", NOT_MEASURABLE, "no parameter count declared")
    parsed = parse_count(declared[0])
    if parsed is None:
        return _result("parameters", NOT_MEASURABLE, f"cannot read a number in {declared[1]}", declared[0])
    if facts.parameters is None:
        return _result("parameters", NOT_MEASURABLE, "no readable weight headers to count", declared[0])
    number, granularity = parsed
    allowed = max(tolerance * number, granularity)
    if abs(facts.parameters - number) <= allowed:
        return _result(
            "parameters",
            MET,
            f"{facts.parameters:,} in {facts.parameter_source}",
            declared[0],
            facts.parameters,
        )
    return _result(
        "parameters",
        NOT_MET,
        f"declared {number:,.0f} ({declared[1]}) but the {facts.parameter_source} hold {facts.parameters:,}",
        declared[0],
        facts.parameters,
    )


def _context_options(value: Any) -> set[int]:
    parsed = parse_count(value)
    if parsed is None:
        return set()
    number, _ = parsed
    text = str(value).lower()
    options = {round(number)}
    if re.search(r"\d\s*k\b", text):
        options.add(round(number / 1000 * 1024))
    return options


def check_context_length(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    actual = facts.context_length
    declared = _declared(card, "context_length")
    if declared is None:
        if actual is not None and facts.position_rows is not None and facts.position_rows != actual:
            return _result(
                "context_length",
                NOT_MET,
                f"{facts.context_source} is {actual} but the position embeddings have "
                f"{facts.position_rows} rows",
                actual,
                facts.position_rows,
            )
        return _result(
            "context_length", NOT_MEASURABLE, "no context length declared in the documentation", None, actual
        )
    options = _context_options(declared[0])
    if actual is None or not options:
        return _result("context_length", NOT_MEASURABLE, "nothing to compare with", declared[0], actual)
    raw_scaling = facts.config.get("rope_scaling")
    scaling: dict[str, Any] = raw_scaling if isinstance(raw_scaling, dict) else {}
    factor = scaling.get("factor") if isinstance(scaling.get("factor"), int | float) else None
    accepted = {actual} | ({round(actual * factor)} if factor else set())
    if options & accepted:
        return _result("context_length", MET, f"matches {facts.context_source}", declared[0], actual)
    return _result(
        "context_length",
        NOT_MET,
        f"declared in {declared[1]}, {facts.context_source} says {actual}",
        declared[0],
        actual,
    )


def check_vocab_size(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    rows, config, tok = facts.embedding_rows, facts.vocab_declared, facts.tokenizer_size
    label = (
        card.labels.get("vocabulary size")
        or card.labels.get("vocab size")
        or card.front_matter.get("vocab_size")
    )
    problems = []
    if rows is not None and config is not None and rows != config:
        problems.append(f"config vocab_size {config} but the embedding matrix has {rows} rows")
    if rows is not None and tok is not None and tok > rows:
        problems.append(f"the tokenizer has {tok} token IDs but the embedding matrix only {rows} rows")
    parsed = parse_count(label) if label is not None else None
    if parsed is not None and (rows or config) is not None and round(parsed[0]) not in {rows, config, tok}:
        problems.append(f"the card declares {label} tokens")
    if problems:
        return _result("vocab_size", NOT_MET, "; ".join(problems), label or config, rows)
    if rows is None or (config is None and tok is None and parsed is None):
        return _result("vocab_size", NOT_MEASURABLE, "nothing to compare", label or config, rows)
    return _result("vocab_size", MET, "config, tokenizer and embedding agree", label or config, rows)


def families(name: str) -> set[str]:
    """The known model families a name mentions, from whole tokens: "GPT2LMHeadModel" and "GPT-2" are
    gpt2, "Qwen2.5" is qwen, but "optimized" is not opt."""
    parts = [p.lower() for p in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)]
    candidates: set[str] = set()
    for size in (1, 2, 3):
        for i in range(len(parts) - size + 1):
            joined = "".join(parts[i : i + size])
            candidates.update({joined, joined.rstrip("0123456789")})
    return candidates & set(FAMILIES)


def family(name: str) -> str | None:
    found = families(name)
    return max(sorted(found), key=len) if found else None


def check_architecture(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    declared = _declared(card, "architecture")
    actual = facts.architecture
    if declared is None or actual is None:
        where = declared[0] if declared else None
        return _result(
            "architecture", NOT_MEASURABLE, "architecture not declared or not readable", where, actual
        )
    mine, theirs = families(str(declared[0])[:300]), family(actual)
    if not mine or theirs is None:
        return _result(
            "architecture", NOT_MEASURABLE, "no known model family named on one side", declared[0], actual
        )
    if theirs in mine:
        return _result(
            "architecture", MET, f"{theirs} family in {facts.architecture_source}", declared[0], actual
        )
    reason = f"card says {', '.join(sorted(mine))}, {facts.architecture_source} says {actual}"
    return _result("architecture", NOT_MET, reason, declared[0], actual)


def check_chat_template(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    declared = next(
        (
            card.front_matter[k]
            for k in ("chat_template_digest", "chat_template_sha256")
            if isinstance(card.front_matter.get(k), str)
        ),
        None,
    )
    actual = sorted(set(facts.chat_templates.values()))
    if declared is None:
        status = NOT_MEASURABLE
        reason = f"no digest declared; the package has {len(actual)} template(s), recorded as evidence"
        return _result("chat_template", status, reason, None, ", ".join(actual) or None)
    want = declared if declared.startswith("sha256:") else "sha256:" + declared
    if want.lower() in actual:
        return _result("chat_template", MET, "declared digest matches the shipped template", declared, want)
    return _result(
        "chat_template",
        NOT_MET,
        "no shipped chat template has the declared digest",
        declared,
        ", ".join(actual) or "no template",
    )


def check_license_file(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    key = card.front_matter.get("license")
    if not isinstance(key, str) or classify(key) != PRESENT:
        return _result("license_file", NOT_MEASURABLE, "no licence key in the front matter")
    key = key.strip().lower()
    if key == "other":
        name, link = card.front_matter.get("license_name"), card.front_matter.get("license_link")
        if not name or not (link or facts.licence_files):
            return _result(
                "license_file",
                NOT_MET,
                "license: other needs license_name and a license_link or file",
                key,
                ", ".join(facts.licence_files) or None,
            )
    if not facts.licence_files:
        return _result(
            "license_file",
            NOT_MET,
            f"licence {key!r} declared but no LICENSE/COPYING file is shipped",
            key,
            None,
        )
    fingerprint = LICENCE_FINGERPRINTS.get(key)
    if fingerprint is None:
        return _result(
            "license_file",
            MET,
            "licence file present (no fingerprint known for this key)",
            key,
            ", ".join(facts.licence_files),
        )
    texts = [" ".join(t.lower().split()) for t in facts.licence_files.values()]
    if any(all(phrase in text for phrase in fingerprint) for text in texts):
        return _result(
            "license_file", MET, "licence file matches the declared key", key, ", ".join(facts.licence_files)
        )
    return _result(
        "license_file",
        NOT_MET,
        f"no shipped licence file reads like {key}",
        key,
        ", ".join(facts.licence_files),
    )


def check_base_model(card: Card, facts: ArtifactFacts, tolerance: float) -> RequirementResult:
    tags = card.front_matter.get("tags")
    tag_set = {str(t).lower() for t in tags} if isinstance(tags, list) else set()
    reasons = []
    if card.front_matter.get("base_model_relation"):
        reasons.append("base_model_relation is set")
    if tag_set & DERIVATIVE_TAGS:
        reasons.append(f"tags {sorted(tag_set & DERIVATIVE_TAGS)}")
    if facts.adapter_base:
        reasons.append("adapter_config.json")
    if facts.gguf_base_models:
        reasons.append("GGUF general.base_model.*")
    if DERIVED_TEXT.search(card.text):
        reasons.append("the card describes a derivative")
    base = card.front_matter.get("base_model")
    if not reasons:
        return _result("base_model", MET, "not a declared derivative", base)
    if classify(base) != PRESENT:
        return _result(
            "base_model",
            NOT_MET,
            f"a derivative ({'; '.join(reasons)}) without base_model",
            None,
            facts.adapter_base,
        )
    bases = [str(b) for b in (base if isinstance(base, list) else [base])]
    if facts.adapter_base and not any(_same_repo(b, facts.adapter_base) for b in bases):
        return _result(
            "base_model", NOT_MET, "adapter_config.json names another base model", base, facts.adapter_base
        )
    return _result("base_model", MET, f"derivative of {', '.join(bases)}", base, facts.adapter_base)


def _same_repo(a: str, b: str) -> bool:
    return a.strip("/").lower().split("/")[-2:] == b.strip("/").lower().split("/")[-2:]


Requirement = Callable[[Card, ArtifactFacts, float], RequirementResult]
REQUIREMENTS: dict[str, Requirement] = {
    "parameters": check_parameters,
    "context_length": check_context_length,
    "vocab_size": check_vocab_size,
    "architecture": check_architecture,
    "chat_template": check_chat_template,
    "license_file": check_license_file,
    "base_model": check_base_model,
}
