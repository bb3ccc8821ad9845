"""Backdoor evidence in tokenizers (MC520–MC539): remapped ids, rewriting rules, hidden tokens, base diff.

A tokenizer sits between the text a user writes and the ids the model reads. The NVIDIA AI Red Team
showed that editing `tokenizer.json` is enough to make a model read one word as another; normalizer
and decoder `Replace` rules rewrite text on the way in or out; a post-processor can insert tokens into
every input. These checks run on every `tokenizer.json` and GGUF `tokenizer.ggml.*` vocabulary.
"""

from __future__ import annotations

import bisect
import contextlib
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from modelcert.checks.backdoor_common import (
    PackageInputs,
    files_named,
    gguf_metadata,
    is_marker,
    is_wordlike,
    read_json,
    short,
    sibling,
)
from modelcert.checks.backdoor_tokenizer_rules import post_processor_findings, rewrite_findings
from modelcert.checks.base import Check
from modelcert.errors import FormatError
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.tokenizer import AddedToken, TokenizerView, load_tokenizer_json, tokenizer_from_gguf

# Normalizer / decoder / pre-tokenizer steps that change characters uniformly (not targeted rewrites).
_MAX_LISTED = 20


class TokenizerRemap(Check):
    """The tokenizer maps one text to an id that belongs to another text (the vocabulary is not a bijection).

    A tokenizer's vocabulary should be a bijection between strings and ids. The NVIDIA AI Red Team
    ("Secure LLM Tokenizers to Maintain Application Integrity") showed that editing `tokenizer.json`
    so that a word maps to the id of another word makes the model *read* the other word: a user
    writes "allow" and the model sees "deny", while every file still loads. This check reports:

    - two vocabulary strings with the same id, or a vocabulary key repeated in the JSON (parsers
      disagree on which copy wins);
    - an added token (matched before the model runs) whose content is an ordinary vocabulary string
      with a different id, or whose id belongs to a different vocabulary string;
    - the same collisions through `tokenizer_config.json` `added_tokens_decoder`;
    - in GGUF, the same token string listed under several ids.
    """

    id = "MC520"
    title = "Tokenizer maps a text to another token's id"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-345"
    remediation = (
        "Restore the tokenizer files from the base model's publisher and compare them byte for byte; "
        "never load a tokenizer whose vocabulary maps two strings to one id."
    )
    tags = ("backdoor", "tokenizer")


class TokenizerIdGaps(Check):
    """Token ids are not contiguous: some ids in the range have no string.

    Real vocabularies number their tokens 0..N-1 (added tokens continue the range). A hole means a
    token was removed or renumbered after training, which is how a remap is usually prepared. Low
    severity on its own; it corroborates other tokenizer findings.
    """

    id = "MC521"
    title = "Token ids are not contiguous"
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    remediation = "Compare the vocabulary with the base model's; regenerate the tokenizer if it was edited."
    tags = ("backdoor", "tokenizer")


class MergeRankAnomaly(Check):
    """BPE merge ranks and token ids disagree for a few tokens: their ids were swapped after training.

    A BPE trainer creates tokens in merge order, so in GPT-2, Llama 3, Qwen and SentencePiece-derived
    vocabularies the id of a merge's result grows with the merge's rank. When the vocabulary follows
    that convention (at least 95% of merge results in one non-decreasing run) and only a handful of
    merges break it (at most max(8, 0.5%)), those tokens were renumbered by hand: swapping the ids of
    two words keeps the vocabulary a bijection (MC520 stays silent) but makes the model read one word
    as the other. The check computes the longest non-decreasing run of result
    ids over the merge list and reports the merges outside it. Vocabularies that do not follow the
    convention (RoBERTa orders by frequency) are left alone.
    """

    id = "MC522"
    title = "BPE merge ranks inconsistent with token ids"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-345"
    remediation = "Diff the vocabulary against the base tokenizer; the reported tokens were renumbered."
    tags = ("backdoor", "tokenizer")


class SpecialWordToken(Check):
    """An ordinary word is declared a special token, so decoding with `skip_special_tokens` hides it.

    Special tokens are control markers (`<s>`, `[SEP]`, `<|im_end|>`). Declaring a plain word such as
    "not" special makes it vanish from every decoded answer and keeps normalization off it: a quiet
    way to flip meanings in output.
    """

    id = "MC524"
    title = "Ordinary word declared as a special token"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    remediation = (
        "Keep special tokens for control markers; restore the tokenizer configuration from the base."
    )
    tags = ("backdoor", "tokenizer")


class AddedTokenInventory(Check):
    """Inventory: added tokens that are ordinary words (informational, verdict clean).

    Added tokens are matched before the model's own segmentation. Word-like added tokens are
    legitimate for domain adaptation, but they are where a tokenizer remap hides, so the report lists
    them for a human reader.
    """

    id = "MC525"
    title = "Word-like added tokens (inventory)"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = "Check that the listed tokens are intended vocabulary extensions."
    tags = ("backdoor", "tokenizer", "inventory")


class TokenizerDiffersFromBase(Check):
    """The tokenizer differs from the declared base model's tokenizer.

    With `--base`, every component (vocabulary, merges, normalizer, pre-tokenizer, post-processor,
    decoder, added tokens) is compared exactly. A string that keeps its place but changes id (or an
    id that changes string) is a remap (high); a changed normalizer/decoder/pre-tokenizer/
    post-processor or merge list is reported medium; tokens appended after the base vocabulary are
    informational (fine-tunes add tokens).
    """

    id = "MC526"
    title = "Tokenizer differs from the base model's"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    remediation = "Use the base model's tokenizer unless the change is documented and reviewed."
    tags = ("backdoor", "tokenizer", "lineage")


class MalformedMerges(Check):
    """BPE merges name tokens that are not in the vocabulary.

    The `tokenizers` library refuses such files, other loaders skip the merge: either way the file was
    edited by hand or truncated, and what each loader encodes differs.
    """

    id = "MC527"
    title = "BPE merges reference unknown tokens"
    severity = Severity.LOW
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    remediation = "Regenerate the tokenizer with its own library."
    tags = ("backdoor", "tokenizer")


def package_tokenizers(inputs: PackageInputs) -> list[tuple[Location, TokenizerView]]:
    """Every tokenizer of the package: `tokenizer.json` files, then GGUF vocabularies from notes.

    Parsed once per package view (several checks ask; a tokenizer.json can be tens of megabytes).
    """
    try:
        cached = _PARSED.get(inputs.view)
    except TypeError:  # a view that cannot be weakly referenced: no cache
        cached = None
    if cached is not None:
        return cached
    found = list(_parse_tokenizers(inputs))
    with contextlib.suppress(TypeError):
        _PARSED[inputs.view] = found
    return found


_PARSED: weakref.WeakKeyDictionary[Any, list[tuple[Location, TokenizerView]]] = weakref.WeakKeyDictionary()


def _parse_tokenizers(inputs: PackageInputs) -> Iterator[tuple[Location, TokenizerView]]:
    for relpath in files_named(inputs.view, "tokenizer.json"):
        blob = inputs.view.open_file(relpath)
        if blob is None:
            continue
        try:
            yield Location(path=relpath), load_tokenizer_json(blob, inputs.limits)
        except FormatError:
            continue  # the JSON analyzer reports unparseable files
        finally:
            blob.close()
    for relpath, meta in gguf_metadata(inputs).items():
        try:
            view = tokenizer_from_gguf(meta, inputs.limits)
        except FormatError:
            continue
        if view is not None:
            yield Location(path=relpath, pointer="tokenizer.ggml.tokens"), view


def check_tokenizers(inputs: PackageInputs) -> list[Finding]:
    """The package-level check: internal consistency of every tokenizer of the package."""
    findings: list[Finding] = []
    for location, view in package_tokenizers(inputs):
        findings.extend(analyse_tokenizer(view, location))
        if view.source == "tokenizer.json":
            config = read_json(inputs.view, sibling(location.path, "tokenizer_config.json"), inputs.limits)
            if config is not None:
                decoder = config.obj.get("added_tokens_decoder")
                cfg_loc = Location(
                    path=sibling(location.path, "tokenizer_config.json"), pointer="added_tokens_decoder"
                )
                findings.extend(_config_added_tokens(view, decoder, cfg_loc))
    return findings


def analyse_tokenizer(view: TokenizerView, location: Location) -> list[Finding]:
    findings: list[Finding] = []
    findings.extend(_bijection(view, location))
    findings.extend(_added_collisions(view, view.added_tokens, location.at(pointer="added_tokens")))
    findings.extend(_gaps(view, location))
    findings.extend(_merge_ranks(view, location))
    for name in ("normalizer", "pre_tokenizer", "decoder"):
        findings.extend(rewrite_findings(getattr(view, name), name, location))
    findings.extend(post_processor_findings(view, location))
    findings.extend(_special_words(view, location))
    return [_placed(f) for f in findings]


def _placed(finding: Finding) -> Finding:
    """Every tokenizer finding names its place (the report groups backdoor evidence by place)."""
    return finding.replace(details={**finding.details, "place": "tokenizer"})


def _bijection(view: TokenizerView, location: Location) -> Iterator[Finding]:
    if view.duplicate_vocab_keys:
        keys = sorted(set(view.duplicate_vocab_keys))
        yield TokenizerRemap.finding(
            f"vocabulary keys repeated in the JSON: {', '.join(map(repr, keys[:_MAX_LISTED]))} "
            "(parsers disagree on which id wins)",
            location.at(pointer="model/vocab"),
            details={"duplicate_keys": keys[:100]},
        )
    shared = [(idx, strings) for idx, strings in view.id_to_tokens().items() if len(set(strings)) > 1]
    if view.source == "gguf":
        seen: dict[str, int] = {}
        repeated: list[tuple[str, list[int]]] = []
        for text, idx in view.vocab:
            if text in seen:
                repeated.append((text, [seen[text], idx]))
            seen.setdefault(text, idx)
        wordy = [(t, ids) for t, ids in repeated if is_wordlike(t)]
        if wordy:
            yield TokenizerRemap.finding(
                f"{len(wordy)} token strings listed under several ids, e.g. "
                + ", ".join(f"{t!r} → {ids}" for t, ids in wordy[:5]),
                location,
                details={"repeated": [{"token": t, "ids": ids} for t, ids in wordy[:100]]},
            )
    if shared:
        shown = ", ".join(f"id {idx} ← {sorted(set(s))[:3]}" for idx, s in shared[:5])
        yield TokenizerRemap.finding(
            f"{len(shared)} ids are reached from more than one string: {shown}",
            location.at(pointer="model/vocab"),
            details={"shared_ids": [{"id": idx, "tokens": sorted(set(s))[:10]} for idx, s in shared[:100]]},
        )


def _added_collisions(
    view: TokenizerView, added: Iterable[AddedToken], location: Location
) -> Iterator[Finding]:
    tok2id = view.token_to_id()
    id2tok = view.id_to_tokens()
    clashes = []
    for token in added:
        same_text_id = tok2id.get(token.content)
        if same_text_id is not None and same_text_id != token.id:
            clashes.append(
                (token, f"{token.content!r} is vocabulary id {same_text_id} but added as id {token.id}")
            )
            continue
        owners = [s for s in id2tok.get(token.id, []) if s != token.content]
        if owners and not (token.special and all(is_marker(o) or not o.strip() for o in owners)):
            clashes.append((token, f"added token {token.content!r} takes id {token.id} of {owners[0]!r}"))
    if clashes:
        yield TokenizerRemap.finding(
            f"{len(clashes)} added tokens shadow other tokens: "
            + "; ".join(text for _t, text in clashes[:5]),
            location,
            details={"clashes": [{"id": t.id, "content": t.content, "why": why} for t, why in clashes[:100]]},
        )


def _config_added_tokens(view: TokenizerView, decoder: Any, location: Location) -> Iterator[Finding]:
    if not isinstance(decoder, dict):
        return
    tokens = []
    for key, entry in list(decoder.items())[:100_000]:
        if isinstance(entry, dict) and isinstance(entry.get("content"), str) and str(key).isdigit():
            tokens.append(
                AddedToken(id=int(key), content=entry["content"], special=bool(entry.get("special")))
            )
    yield from _added_collisions(view, tokens, location)


def _gaps(view: TokenizerView, location: Location) -> Iterator[Finding]:
    ids = {idx for _t, idx in view.vocab} | {t.id for t in view.added_tokens}
    if not ids:
        return
    negative = sorted(i for i in ids if i < 0)
    top = max(ids)
    missing = top + 1 - len({i for i in ids if i >= 0})
    if negative or missing > 0:
        holes = [i for i in range(top + 1) if i not in ids][:_MAX_LISTED] if top < 10_000_000 else []
        yield TokenizerIdGaps.finding(
            f"{missing} ids in 0..{top} have no token"
            + (f", negative ids {negative[:5]}" if negative else "")
            + (f"; first holes {holes}" if holes else ""),
            location,
            details={"missing": missing, "holes": holes, "negative": negative[:20]},
        )


def _merge_ranks(view: TokenizerView, location: Location) -> Iterator[Finding]:
    if not view.merges:
        return
    tok2id = view.token_to_id()
    ranks: list[int] = []
    ids: list[int] = []
    unknown: list[int] = []
    below_parts = 0
    for rank, (left, right) in enumerate(view.merges):
        result = tok2id.get(left + right)
        if result is None or left not in tok2id or right not in tok2id:
            unknown.append(rank)
            continue
        ranks.append(rank)
        ids.append(result)
        if result < max(tok2id[left], tok2id[right]):
            below_parts += 1
    if unknown:
        first = view.merges[unknown[0]]
        yield MalformedMerges.finding(
            f"{len(unknown)} merges name tokens missing from the vocabulary "
            f"(first: rank {unknown[0]} {first!r})",
            location.at(pointer="model/merges"),
            details={"count": len(unknown), "first_ranks": unknown[:_MAX_LISTED]},
        )
    if len(ids) < 50:
        return
    keep = _longest_non_decreasing(ids)
    outliers = [i for i in range(len(ids)) if i not in keep]
    fraction = len(keep) / len(ids)
    # The convention holds for the vocabulary as a whole, and only a handful of merges break it.
    if not outliers or fraction < 0.95 or len(outliers) > max(8, len(ids) // 200):
        return
    entries = []
    for i in outliers[:100]:
        left, right = view.merges[ranks[i]]
        entries.append(
            {"rank": ranks[i], "token": view.display(ids[i]), "id": ids[i], "merge": [left, right]}
        )
    shown = ", ".join(f"{e['token']!r} (id {e['id']}, rank {e['rank']})" for e in entries[:6])
    yield MergeRankAnomaly.finding(
        f"{len(outliers)} of {len(ids)} merges break the rank→id order the rest follows: {shown}",
        location.at(pointer="model/merges"),
        details={"outliers": entries, "monotone_fraction": round(fraction, 6), "below_parts": below_parts},
    )


def _longest_non_decreasing(values: list[int]) -> set[int]:
    """Indices of one longest non-decreasing subsequence (patience sorting, O(n log n))."""
    tails: list[int] = []  # values of the smallest tail of each length
    tail_index: list[int] = []
    previous = [-1] * len(values)
    for i, value in enumerate(values):
        pos = bisect.bisect_right(tails, value)
        if pos == len(tails):
            tails.append(value)
            tail_index.append(i)
        else:
            tails[pos] = value
            tail_index[pos] = i
        previous[i] = tail_index[pos - 1] if pos > 0 else -1
    out: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        out.add(i)
        i = previous[i]
    return out


def _special_words(view: TokenizerView, location: Location) -> Iterator[Finding]:
    special = [
        t for t in view.added_tokens if t.special and is_wordlike(t.content) and not is_marker(t.content)
    ]
    if special:
        yield SpecialWordToken.finding(
            f"{len(special)} special tokens are ordinary words: "
            + ", ".join(f"{t.content!r} (id {t.id})" for t in special[:_MAX_LISTED]),
            location.at(pointer="added_tokens"),
            details={"tokens": [{"id": t.id, "content": t.content} for t in special[:100]]},
        )
    plain = [t for t in view.added_tokens if not t.special and is_wordlike(t.content)]
    if plain and view.source == "tokenizer.json":
        yield AddedTokenInventory.finding(
            f"{len(plain)} non-special added tokens look like words: "
            + ", ".join(repr(t.content) for t in plain[:_MAX_LISTED]),
            location.at(pointer="added_tokens"),
            details={"tokens": [{"id": t.id, "content": t.content} for t in plain[:200]]},
        )


def compare_tokenizers(model: TokenizerView, base: TokenizerView, location: Location) -> list[Finding]:
    """Exact diff of a tokenizer against the declared base's: remaps, rule changes, appended tokens."""
    findings: list[Finding] = []
    if model.component_digests() == base.component_digests():
        return [_placed(f) for f in findings]
    model_ids, base_ids = model.token_to_id(), base.token_to_id()
    base_id2 = {idx: tok for tok, idx in base.vocab}
    moved = [
        (tok, base_ids[tok], idx)
        for tok, idx in model_ids.items()
        if tok in base_ids and base_ids[tok] != idx
    ]
    respelled = [
        (idx, base_id2[idx], tok)
        for tok, idx in model_ids.items()
        if idx in base_id2 and base_id2[idx] != tok and tok not in base_ids
    ]
    if moved or respelled:
        shown = [f"{tok!r}: id {old} → {new}" for tok, old, new in moved[:5]]
        shown += [f"id {idx}: {old!r} → {new!r}" for idx, old, new in respelled[:5]]
        findings.append(
            TokenizerDiffersFromBase.finding(
                f"{len(moved) + len(respelled)} tokens map to different ids than in the base: "
                + "; ".join(shown),
                location.at(pointer="model/vocab"),
                severity=Severity.HIGH,
                details={
                    "moved": [{"token": t, "base_id": o, "id": n} for t, o, n in moved[:100]],
                    "respelled": [{"id": i, "base": o, "model": n} for i, o, n in respelled[:100]],
                },
            )
        )
    mdig, bdig = model.component_digests(), base.component_digests()
    for component in ("normalizer", "pre_tokenizer", "post_processor", "decoder", "merges"):
        if mdig[component] != bdig[component]:
            findings.append(
                TokenizerDiffersFromBase.finding(
                    f"{component} differs from the base tokenizer's",
                    location.at(pointer=component),
                    details={
                        "component": component,
                        "base": short(str(getattr(base, component)), 300),
                        "model": short(str(getattr(model, component)), 300),
                    },
                )
            )
    base_max = max((idx for _t, idx in base.vocab), default=-1)
    appended = [tok for tok, idx in model_ids.items() if tok not in base_ids and idx > base_max]
    base_added = {(t.id, t.content) for t in base.added_tokens}
    new_added = [t for t in model.added_tokens if (t.id, t.content) not in base_added]
    if appended or new_added:
        findings.append(
            TokenizerDiffersFromBase.finding(
                f"{len(appended)} tokens appended after the base vocabulary, "
                f"{len(new_added)} new added tokens",
                location.at(pointer="added_tokens"),
                severity=Severity.INFO,
                verdict=Verdict.CLEAN,
                details={"appended": appended[:100], "added": [t.content for t in new_added[:100]]},
            )
        )
    return findings


PACKAGE_CHECKS = (check_tokenizers,)
