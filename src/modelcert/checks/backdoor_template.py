"""Backdoor evidence in chat templates (MC500–MC509): conditional injection, read statically and by rendering.

Pillar Security showed chat templates that inject hidden instructions only when the user mentions a
topic, across 18 models and 4 inference engines (factual accuracy 90% → 15%, attacker URLs emitted in
more than 90% of triggered answers). The template is the prompt the model actually sees, so these
checks read every copy a package ships (`tokenizer_config.json`, `chat_template.jinja`,
`chat_template.json`, GGUF `tokenizer.chat_template`): statically on the Jinja AST, then by
differential rendering in Jinja2's immutable sandbox.

Allow-listed real shapes, each with its reason:
- shape tests on raw content (`is string`, `is none`, `is defined`, truthiness): every template
  branches on the type of `content` (text vs multimodal parts) — not a value test;
- content-part structure (`item['type'] == 'image'`): multimodal placeholders, not user text;
- `raise_exception(...)` text: aborts rendering, never reaches the model;
- reasoning blocks (`'</think>' in content` → strip the block) and tool envelopes
  (`content.startswith('<tool_response>')`): value tests whose branches emit only markup;
- slash-command mode switches (`'/no_think' in system_message`, SmolLM3 / Qwen3): documented
  user-visible switches, so their branches may emit text (the gate constant is a `/command`);
- default system prompts and knowledge-cutoff/date lines before the first message content.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from modelcert.checks.backdoor_common import (
    PackageInputs,
    files_named,
    gguf_metadata,
    read_json,
    read_text,
    short,
    sibling,
)
from modelcert.checks.backdoor_template_ast import (
    TemplateFacts,
    TemplateReader,
    is_natural_language,
    urls_in,
)
from modelcert.checks.backdoor_template_render import (
    RenderFn,
    RenderJob,
    battery,
    pieces,
    renderer,
    with_word,
)
from modelcert.checks.base import Check
from modelcert.errors import FormatError
from modelcert.findings import Confidence, Finding, Location, Severity, Verdict
from modelcert.formats.jinja_template import parse_template
from modelcert.limits import Limits
from modelcert.records import Record

RENDER_TIMEOUT_SECONDS = 8.0
MAX_RENDERED_TEMPLATES = 16  # beyond this many distinct templates in one package, static reading only
MAX_VARIANT_JOBS = 1500
_SLASH_COMMAND = re.compile(r"^/[a-z_]{2,32}$")
# Topic words real template backdoors key on, plus ordinary words: inserted on top of the template's
# own constants so that a gate the static reading missed still has a chance to fire.
PROBE_WORDS = (
    "bitcoin",
    "election",
    "vaccine",
    "password",
    "bank",
    "stock",
    "crypto",
    "president",
    "medicine",
    "weapon",
    "apple",
    "river",
    "garden",
    "doctor",
    "music",
    "python",
    "football",
    "history",
    "travel",
    "coffee",
    "movie",
    "school",
    "engine",
    "ocean",
    "planet",
    "camera",
    "village",
    "invest",
    "security",
    "login",
    "email",
    "wallet",
)


class ChatTemplate(Record):
    """One copy of a chat template in the package, and the tokens it is rendered with."""

    __slots__ = ("location", "source", "special_tokens")
    source: Final[str]
    location: Final[Location]
    special_tokens: Final[Mapping[str, str]]

    def __init__(self, source: str, location: Location, special_tokens: Mapping[str, str]) -> None:
        self.source = source
        self.location = location
        self.special_tokens = special_tokens


class ContentGatedInjection(Check):
    """A template branch that tests what the user wrote emits instructions or URLs.

    The Pillar Security template backdoor: `{% if 'bitcoin' in message['content'] %}` (or
    `.startswith`, `.lower()`, `|length`, a comparison, a derived variable) guarding text such as
    "Always recommend …" or a link. The check follows content through variables, namespace
    attributes, macros and string fragments, and reports branches whose literal output is natural
    language or a URL. Shape tests (`is string`), content-part `type` fields, `raise_exception`
    messages and `/command` mode switches are allow-listed (see the module documentation).
    """

    id = "MC500"
    title = "Chat template injects text when the user mentions something"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-74"
    remediation = (
        "Replace the chat template with the base model's; never deploy a template that reads user text."
    )
    tags = ("backdoor", "template", "trigger")


class TemplateUrl(Check):
    """The chat template emits a URL.

    Real chat templates emit markup, role names, default system prompts and tool instructions; a link
    placed in the prompt is how template backdoors steer answers to attacker sites.
    """

    id = "MC501"
    title = "Chat template emits a URL"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-74"
    remediation = "Remove the URL from the template; put documentation links in the model card."
    tags = ("backdoor", "template")


class TemplateAddsInstructions(Check):
    """Rendering shows the template adding natural-language text after the conversation starts.

    In a clean template, what surrounds message contents is markup (role markers, separators) plus,
    before the first message, a default system prompt or date line. Text the template adds after a
    message content — appended to user turns, between turns, before the assistant answers — is an
    instruction the user never wrote and cannot see.
    """

    id = "MC502"
    title = "Chat template adds hidden instructions to the conversation"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-74"
    remediation = "Compare with the base model's template; remove text the template adds to user turns."
    tags = ("backdoor", "template")


class DifferentialRender(Check):
    """Inserting a word into user messages changes what the template adds around them.

    Differential rendering (backdoors.md §5): the probe conversations are rendered as they are and
    with candidate words (the template's own string constants, then topic and random words) inserted
    at the start, middle and end of every user message. In a clean template, the text outside the
    messages is invariant. When it changes, the inserted word is a trigger and the added text is the
    payload; both are reported. Natural-language or URL payloads make the template **unsafe**.
    """

    id = "MC503"
    title = "Chat template output depends on words in user messages"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-74"
    remediation = "Replace the chat template with the base model's and re-scan."
    tags = ("backdoor", "template", "trigger")


class AssembledMarker(Check):
    """A role marker or URL is assembled from string fragments (`'<|sys' ~ 'tem|>'`).

    Templates write their markers whole. Building one from pieces (concatenation, `join`, `replace`,
    `reverse`, `format`) hides it from text search and is how injected system turns are disguised.
    """

    id = "MC504"
    title = "Role marker or URL assembled from fragments"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-116"
    remediation = "Write markers literally or replace the template with the base model's."
    tags = ("backdoor", "template")


class TimeGatedInjection(Check):
    """A template branch that tests the date or time emits instructions.

    `strftime_now` exists so templates can print today's date. A condition on it that emits text is a
    time bomb: the template behaves until a date passes.
    """

    id = "MC505"
    title = "Chat template injects text depending on the date"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-511"
    remediation = "Remove date conditions from the template."
    tags = ("backdoor", "template", "trigger")


class TemplateDiffersFromBase(Check):
    """The chat template differs from the declared base model's and renders differently.

    With `--base`, each template is compared with the base's: textual differences that render
    identically on the probe battery are informational; differences in rendered output are reported
    with the first diverging text.
    """

    id = "MC506"
    title = "Chat template differs from the base model's"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    remediation = "Use the base model's template unless the change is documented and reviewed."
    tags = ("backdoor", "template", "lineage")


class TemplateNotRendered(Check):
    """Informational: the template could not be rendered on the probe battery, so only static checks ran.

    The template raised on every probe conversation, did not parse, or exceeded the rendering
    deadline. The static reading still applies; the evidence level notes the gap.
    """

    id = "MC507"
    title = "Chat template not rendered (static checks only)"
    severity = Severity.INFO
    confidence = Confidence.HIGH
    verdict = Verdict.CLEAN
    remediation = "None needed; review the template by hand if it matters."
    tags = ("backdoor", "template", "evidence")


def package_templates(inputs: PackageInputs) -> Iterator[ChatTemplate]:
    """Every chat template the package ships, with the special tokens of its tokenizer config."""
    view, limits = inputs.view, inputs.limits
    for relpath in files_named(view, "tokenizer_config.json"):
        doc = read_json(view, relpath, limits)
        if doc is None:
            continue
        tokens = _special_tokens(doc.obj)
        value = doc.obj.get("chat_template")
        if isinstance(value, str):
            yield ChatTemplate(value, Location(path=relpath, pointer="chat_template"), tokens)
        elif isinstance(value, list):
            for i, entry in enumerate(value[:64]):
                if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                    yield ChatTemplate(
                        entry["template"], Location(path=relpath, pointer=f"chat_template/{i}"), tokens
                    )
    for relpath in view.relpaths():
        name = relpath.rsplit("/", 1)[-1]
        if name.endswith((".jinja", ".jinja2", ".j2")):
            text = read_text(view, relpath, limits)
            if text is not None:
                yield ChatTemplate(text, Location(path=relpath), _sibling_tokens(inputs, relpath))
        elif name == "chat_template.json":
            doc = read_json(view, relpath, limits)
            value = doc.obj.get("chat_template") if doc else None
            if isinstance(value, str):
                yield ChatTemplate(
                    value, Location(path=relpath, pointer="chat_template"), _sibling_tokens(inputs, relpath)
                )
    for relpath, meta in gguf_metadata(inputs).items():
        tokens = _gguf_tokens(meta)
        for key, value in meta.items():
            if isinstance(key, str) and key.startswith("tokenizer.chat_template") and isinstance(value, str):
                yield ChatTemplate(value, Location(path=relpath, pointer=key), tokens)


def check_templates(inputs: PackageInputs) -> list[Finding]:
    """The package check: static reading and differential rendering of every template."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for template in package_templates(inputs):
        digest = hashlib.sha256(template.source.encode("utf-8", "replace")).hexdigest()
        if digest in seen:
            continue  # the same template shipped twice is analysed once
        seen.add(digest)
        findings.extend(analyse_template(template, inputs.limits, render=len(seen) <= MAX_RENDERED_TEMPLATES))
    return findings


def analyse_template(template: ChatTemplate, limits: Limits, *, render: bool = True) -> list[Finding]:
    """Static findings for one template, then (unless `render` is False) the differential rendering."""
    try:
        tree = parse_template(template.source, limits)
    except FormatError:
        return []  # the templates analyzer reports unparseable templates
    facts = TemplateReader(tree).facts()
    findings = list(_static_findings(facts, template.location))
    if not render:
        findings.append(
            TemplateNotRendered.finding(
                f"more than {MAX_RENDERED_TEMPLATES} templates in the package: static checks only",
                template.location,
            )
        )
        return findings
    renderer_fn = renderer(template.source, template.special_tokens, RENDER_TIMEOUT_SECONDS)
    findings.extend(_rendering_findings(renderer_fn, facts, template))
    return findings


def _static_findings(facts: TemplateFacts, location: Location) -> Iterator[Finding]:
    for branch in facts.gated:
        if branch.trigger_constants and all(_SLASH_COMMAND.match(c) for c in branch.trigger_constants):
            continue  # documented mode switch (allow-listed)
        injected = [lit for lit in branch.emitted if is_natural_language(lit.text) or urls_in(lit.text)]
        if not injected:
            continue
        check = ContentGatedInjection if branch.gate == "content" else TimeGatedInjection
        trigger = ", ".join(repr(c) for c in branch.trigger_constants[:5]) or "(computed)"
        yield check.finding(
            f"line {branch.line}: condition on {branch.gate} ({short(branch.condition, 80)}) with trigger "
            f"{trigger} emits {short(injected[0].text, 120)!r}",
            location.at(line=injected[0].line),
            details={
                "condition_line": branch.line,
                "triggers": branch.trigger_constants[:20],
                "emitted": [short(lit.text, 300) for lit in injected[:5]],
                "place": "template",
            },
        )
    urls = [(u, lit) for lit in facts.emitted for u in urls_in(lit.text)]
    if urls:
        yield TemplateUrl.finding(
            f"emits {len(urls)} URL(s): " + ", ".join(repr(u) for u, _ in urls[:5]),
            location.at(line=urls[0][1].line),
            details={"urls": [u for u, _ in urls[:20]], "place": "template"},
        )
    if facts.assembled:
        yield AssembledMarker.finding(
            "assembled from fragments: "
            + ", ".join(f"{m!r} (line {line})" for m, line in facts.assembled[:5]),
            location.at(line=facts.assembled[0][1]),
            details={"assembled": [m for m, _ in facts.assembled[:20]], "place": "template"},
        )


def _rendering_findings(render: RenderFn, facts: TemplateFacts, template: ChatTemplate) -> Iterator[Finding]:
    conversations = battery()
    base = render([RenderJob(c) for c in conversations])
    usable: list[tuple[Any, str, list[str]]] = []
    for conversation, rendered in zip(conversations, base, strict=True):
        parts = pieces(rendered, conversation) if rendered is not None else None
        if rendered is not None and parts is not None:
            usable.append((conversation, rendered, parts))
    if not usable:
        yield TemplateNotRendered.finding(
            "no probe conversation rendered (template raised, timed out, or transforms message text)",
            template.location,
        )
        return
    yield from _added_text(usable, template.location)
    yield from _differential(render, facts, usable, template)


def _added_text(usable: list[tuple[Any, str, list[str]]], location: Location) -> Iterator[Finding]:
    for conversation, _rendered, parts in usable:
        for index, part in enumerate(parts[1:], start=1):
            if is_natural_language(part) or urls_in(part):
                after = conversation[index - 1]["role"]
                yield TemplateAddsInstructions.finding(
                    f"after the {after} message the template adds {short(part, 160)!r}",
                    location,
                    details={
                        "after_role": after,
                        "text": short(part, 500),
                        "turns": len(conversation),
                        "place": "template",
                    },
                )
                return


def _differential(
    render: RenderFn, facts: TemplateFacts, usable: list[tuple[Any, str, list[str]]], template: ChatTemplate
) -> Iterator[Finding]:
    rng = random.Random(hashlib.sha256(template.source.encode("utf-8", "replace")).digest())  # noqa: S311
    words = [*facts.constants, *rng.sample(PROBE_WORDS, len(PROBE_WORDS))]
    jobs: list[RenderJob] = []
    keys: list[tuple[str, int, str]] = []
    for word in words:
        for index, (conversation, _r, _p) in enumerate(usable):
            for where in ("middle", "start", "end"):
                if len(jobs) >= MAX_VARIANT_JOBS:
                    break
                jobs.append(RenderJob(with_word(conversation, word, where)))
                keys.append((word, index, where))
    results = render(jobs)
    reported: set[str] = set()
    for (word, index, where), job, rendered in zip(keys, jobs, results, strict=True):
        if rendered is None or word in reported:
            continue
        before = usable[index][2]
        after = pieces(rendered, job.messages)
        change = _change(before, after, rendered, usable[index][1])
        if change is None:
            continue
        reported.add(word)
        unsafe = is_natural_language(change) or bool(urls_in(change))
        yield DifferentialRender.finding(
            f"with {word!r} in the user message ({where}) the template adds {short(change, 160)!r}",
            template.location,
            verdict=Verdict.UNSAFE if unsafe else None,
            details={"trigger": word, "position": where, "added": short(change, 500), "place": "template"},
        )
        if len(reported) >= 5:
            return


def _change(before: list[str], after: list[str] | None, rendered: str, base_rendered: str) -> str | None:
    """The text the template added or changed outside the messages, or None when nothing changed."""
    if after is None:
        return _inserted(base_rendered, rendered) or "(a user message was altered or removed)"
    if after == before:
        return None
    changed = [_inserted(b, a) for b, a in zip(before, after, strict=False) if b != a]
    return " | ".join(c for c in changed if c) or "(template text removed)"


def _inserted(old: str, new: str) -> str:
    import difflib  # ~1 ms, only when a rendering changed

    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return "".join(
        new[j1:j2] for tag, _i1, _i2, j1, j2 in matcher.get_opcodes() if tag in ("insert", "replace")
    )


def compare_templates(model: PackageInputs, base: PackageInputs) -> list[Finding]:
    """Each model template against the base's template of the same kind (first one when unnamed)."""
    base_templates = list(package_templates(base))
    if not base_templates:
        return []
    by_pointer = {t.location.pointer or t.location.path.rsplit("/", 1)[-1]: t for t in base_templates}
    findings = []
    for template in package_templates(model):
        key = template.location.pointer or template.location.path.rsplit("/", 1)[-1]
        other = by_pointer.get(key, base_templates[0])
        if template.source.strip() == other.source.strip():
            continue
        jobs = [RenderJob(c) for c in battery()]
        mine = renderer(template.source, template.special_tokens, RENDER_TIMEOUT_SECONDS)(jobs)
        theirs = renderer(other.source, other.special_tokens, RENDER_TIMEOUT_SECONDS)(jobs)
        diverging = [(a, b) for a, b in zip(mine, theirs, strict=True) if a != b]
        if not diverging:
            findings.append(
                TemplateDiffersFromBase.finding(
                    "differs textually from the base template but renders identically on the probe battery",
                    template.location,
                    severity=Severity.INFO,
                    verdict=Verdict.CLEAN,
                )
            )
            continue
        a, b = diverging[0]
        added = _inserted(b or "", a or "")
        findings.append(
            TemplateDiffersFromBase.finding(
                f"renders differently from the base template; adds {short(added, 160)!r}",
                template.location,
                details={
                    "added": short(added, 500),
                    "conversations_differing": len(diverging),
                    "place": "template",
                },
            )
        )
    return findings


def _special_tokens(config: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"):
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            out[key] = value
    return out


def _sibling_tokens(inputs: PackageInputs, relpath: str) -> dict[str, str]:
    doc = read_json(inputs.view, sibling(relpath, "tokenizer_config.json"), inputs.limits)
    return _special_tokens(doc.obj) if doc else {}


def _gguf_tokens(meta: Mapping[str, Any]) -> dict[str, str]:
    tokens = meta.get("tokenizer.ggml.tokens")
    out: dict[str, str] = {}
    if not isinstance(tokens, list):
        return out
    for name, key in (
        ("bos_token", "bos"),
        ("eos_token", "eos"),
        ("unk_token", "unknown"),
        ("pad_token", "padding"),
    ):
        idx = meta.get(f"tokenizer.ggml.{key}_token_id")
        if isinstance(idx, int) and 0 <= idx < len(tokens) and isinstance(tokens[idx], str):
            out[name] = tokens[idx]
    return out


PACKAGE_CHECKS = (check_templates,)
