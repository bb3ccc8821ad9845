"""Tokenizer rules that rewrite text (MC523): normalizer, pre-tokenizer and decoder steps, post-processors.

A `Replace` step whose pattern or replacement holds letters or digits, a `Prepend` of words, a `Split`
that removes matched words, or a post-processor template that inserts ordinary word tokens changes
what the model reads or what the user sees. Uniform transformations are allowed, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from modelcert.checks.backdoor_common import is_wordlike, short
from modelcert.checks.base import Check
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.tokenizer import TokenizerView

UNIFORM_STEPS = {
    "NFC": "Unicode normalization form",
    "NFD": "Unicode normalization form",
    "NFKC": "Unicode normalization form",
    "NFKD": "Unicode normalization form",
    "Lowercase": "lowercases every letter alike",
    "StripAccents": "removes combining marks from every letter alike",
    "Strip": "trims whitespace at the ends",
    "BertNormalizer": "BERT's standard cleaning (control characters, CJK spacing, optional lowercase)",
    "Precompiled": "SentencePiece's compiled normalization map (NFKC-based); decoding it is a known gap",
    "ByteLevel": "GPT-2's reversible byte alphabet",
    "Metaspace": "SentencePiece's ▁ for spaces",
    "ByteFallback": "bytes <0xNN> back to characters",
    "Fuse": "joins decoded pieces",
    "WordPiece": "removes the ## continuation prefix",
    "BPEDecoder": "removes the end-of-word suffix",
    "CTC": "collapses repeated CTC outputs",
}
_LETTER_OR_DIGIT = re.compile(r"[^\W_]", re.UNICODE)


class RewritingRule(Check):
    """A normalizer, pre-tokenizer, decoder or post-processor rule rewrites, deletes or inserts words.

    `Replace` steps whose pattern or replacement contains letters or digits change what the model
    reads (normalizer) or what the user sees (decoder): `Replace("Paris", "Berlin")`, a regex that
    turns "not " into "", a `Prepend` of an instruction, a `Split` pre-tokenizer with behaviour
    `Removed` that deletes matched words, or a post-processor template that inserts ordinary word
    tokens into every input. Uniform transformations (Unicode normalization, lowercase, accent
    stripping, SentencePiece ▁ / byte-level spelling, whitespace collapse) are allowed, each with its
    reason in `UNIFORM_STEPS`.
    """

    id = "MC523"
    title = "Tokenizer rule rewrites or inserts words"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-74"
    remediation = (
        "Remove the rule or restore the tokenizer from the base model; real tokenizers do not rewrite words."
    )
    tags = ("backdoor", "tokenizer")


def rewrite_rules(component: Any) -> list[tuple[str, str]]:
    """Every step of a component that rewrites, deletes or inserts letters/digits: (step type, why)."""
    out: list[tuple[str, str]] = []
    stack: list[Any] = [component]
    visited = 0
    while stack and visited < 10_000:
        visited += 1
        step = stack.pop()
        if isinstance(step, list):
            stack.extend(step)
            continue
        if not isinstance(step, dict):
            continue
        kind = str(step.get("type", ""))
        for key in ("normalizers", "pretokenizers", "decoders", "processors"):
            if isinstance(step.get(key), list):
                stack.extend(step[key])
        if kind == "Replace":
            pattern = step.get("pattern")
            literal = pattern.get("String") or pattern.get("Regex") if isinstance(pattern, dict) else pattern
            content = step.get("content", "")
            if _wordy(literal) or _wordy(content):
                out.append((kind, f"replaces {short(str(literal), 60)!r} with {short(str(content), 60)!r}"))
        elif kind in ("Prepend", "Append"):
            text = step.get("prepend", step.get("append", ""))
            if _wordy(text):
                out.append((kind, f"adds {short(str(text), 60)!r} to every input"))
        elif kind == "Split" and str(step.get("behavior", "")).lower() == "removed":
            pattern = step.get("pattern")
            literal = pattern.get("String") or pattern.get("Regex") if isinstance(pattern, dict) else pattern
            if _wordy(literal):
                out.append((kind, f"deletes text matching {short(str(literal), 60)!r}"))
        elif kind in ("Metaspace",) and _wordy(step.get("replacement", "")):
            out.append((kind, f"spells spaces as {step.get('replacement')!r}"))
    return out


def _wordy(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    # Regex syntax (\s, \d, \p{L} classes) names character classes, not words: drop escapes first.
    stripped = re.sub(r"\\[A-Za-z](\{[^}]*\})?", "", value)
    return bool(_LETTER_OR_DIGIT.search(stripped))


def rewrite_findings(component: Any, name: str, location: Location) -> Iterator[Finding]:
    rules = rewrite_rules(component)
    if rules:
        yield RewritingRule.finding(
            f"{name}: " + "; ".join(f"{kind} {why}" for kind, why in rules[:5]),
            location.at(pointer=name),
            details={"component": name, "rules": [{"type": k, "effect": w} for k, w in rules[:50]]},
        )


def post_processor_findings(view: TokenizerView, location: Location) -> Iterator[Finding]:
    processor = view.post_processor
    if not isinstance(processor, dict):
        return
    inserted: list[tuple[str, int | None]] = []
    steps = (
        [processor, *(processor.get("processors") or [])]
        if isinstance(processor.get("processors"), list)
        else [processor]
    )
    for step in steps:
        if not isinstance(step, dict):
            continue
        specials = step.get("special_tokens")
        if isinstance(specials, dict):
            for entry in specials.values():
                if isinstance(entry, dict):
                    for text, idx in zip(entry.get("tokens") or [], entry.get("ids") or [], strict=False):
                        inserted.append((str(text), idx if isinstance(idx, int) else None))
        for key in ("cls", "sep"):
            pair = step.get(key)
            if isinstance(pair, list) and len(pair) == 2:
                inserted.append((str(pair[0]), pair[1] if isinstance(pair[1], int) else None))
    special_ids = {t.id for t in view.added_tokens if t.special}
    id2tok = view.id_to_tokens()
    wordy = [
        (text, idx)
        for text, idx in inserted
        if (idx is None or idx not in special_ids)
        and (is_wordlike(text) or any(is_wordlike(s) for s in id2tok.get(idx if idx is not None else -1, [])))
    ]
    if wordy:
        yield RewritingRule.finding(
            "post_processor inserts ordinary tokens into every input: "
            + ", ".join(f"{t!r} (id {i})" for t, i in wordy[:5]),
            location.at(pointer="post_processor"),
            details={"component": "post_processor", "tokens": [{"token": t, "id": i} for t, i in wordy[:50]]},
        )
