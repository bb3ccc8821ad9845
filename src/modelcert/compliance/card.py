"""Reading a model's documentation: README front matter, sections, `Label: value` lines, CycloneDX modelCard.

Nothing is rendered or executed: the card is split into YAML front matter (parsed strictly) and
Markdown headings with their text. `field_value` finds a schema field wherever the union schema says
it may be, and `classify` says whether the text found is real content or a template placeholder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelcert.compliance.doc_schema import FieldDef
from modelcert.compliance.yaml_doc import load_yaml
from modelcert.errors import ModelcertError

CARD_NAMES = ("readme.md", "model_card.md", "modelcard.md")
MAX_CARD_BYTES = 4 * 1024 * 1024
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LABEL = re.compile(r"^\s*(?:[-*+]\s*)?\**\s*([A-Za-z][\w /()&'.-]{0,60}?)\s*\**\s*:\s*\**\s*(.*)$")
PLACEHOLDER = re.compile(
    r"\[?\s*more information needed\s*\]?|\[?\s*needs? more information\s*\]?"
    r"|\b(?:tbd|tba|todo|fixme|wip|n/?a)\b|to be (?:added|determined|completed|announced)|coming soon"
    r"|lorem ipsum|insert [\w ]{0,40} here|your [\w ]{0,30} here|\bx{3,}\b|\{\{.*?\}\}"
    r"|<\s*(?:fill|add|insert)[^>]*>|\[\s*(?:add|insert|fill)[^\]]*\]",
    re.IGNORECASE,
)
MAX_DEPTH = 32
MIN_WORDS = 3  # a section with fewer real words than this is not documentation
PRESENT, PLACEHOLDER_TEXT, MISSING = "present", "placeholder", "missing"


@dataclass(frozen=True)
class Section:
    level: int
    title: str
    words: tuple[str, ...]  # normalised heading words
    body: str  # text up to the next heading of the same or a higher level (subsections included)


@dataclass(frozen=True)
class Card:
    path: str | None
    front_matter: dict[str, Any]
    sections: tuple[Section, ...]
    labels: dict[str, str]  # first value of each normalised label
    text: str
    problems: tuple[str, ...] = ()
    cyclonedx: dict[str, Any] = field(default_factory=dict)  # the first machine-learning-model modelCard
    files: dict[str, str] = field(default_factory=dict)  # lower-case stem -> text of side documents


def words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower().replace("-", " ")))


def parse_card(text: str, path: str | None) -> Card:
    problems: list[str] = []
    front: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        end = re.search(r"^---\s*$", text[3:], re.MULTILINE)
        if end is not None:
            raw = text[3 : 3 + end.start()]
            body = text[3 + end.end() :]
            try:
                loaded = load_yaml(raw.encode("utf-8"), "front matter")
            except ModelcertError as exc:
                problems.append(f"front matter is not valid YAML: {exc}")
                loaded = None
            if isinstance(loaded, Mapping):
                front = {str(k): v for k, v in loaded.items()}
            elif loaded is not None:
                problems.append("front matter is not a mapping")
    return Card(path, front, _sections(body), _labels(body), body, tuple(problems))


def _sections(body: str) -> tuple[Section, ...]:
    lines = body.splitlines()
    heads: list[tuple[int, int, str]] = []
    in_fence = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match:
            heads.append((index, len(match.group(1)), match.group(2)))
    sections = []
    for pos, (index, level, title) in enumerate(heads):
        end = len(lines)
        for later_index, later_level, _ in heads[pos + 1 :]:
            if later_level <= level:
                end = later_index
                break
        text = "\n".join(lines[index + 1 : end])
        sections.append(Section(level, title, words(title), text))
    return tuple(sections)


def _labels(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in body.splitlines():
        match = LABEL.match(line)
        if match and not line.lstrip().startswith("#"):
            key = " ".join(words(match.group(1)))
            if key and key not in out:
                out[key] = match.group(2).strip().strip("*").strip()
    return out


def classify(value: Any, depth: int = 0) -> str:
    """present / placeholder / missing for a front-matter value or a piece of text."""
    if depth > MAX_DEPTH:
        return PRESENT  # deeply nested front matter is odd but not a placeholder
    if value is None:
        return MISSING
    if isinstance(value, bool | int | float):
        return PRESENT
    if isinstance(value, list | tuple | dict):
        if not value:
            return MISSING
        items = list(value.values()) if isinstance(value, dict) else list(value)
        kinds = [classify(v, depth + 1) for v in items[:1000]]
        return PRESENT if PRESENT in kinds else (PLACEHOLDER_TEXT if PLACEHOLDER_TEXT in kinds else MISSING)
    text = str(value)
    if not text.strip():
        return MISSING
    # headings and `Label:` prefixes are scaffolding, not content
    lines = [
        LABEL.sub(lambda m: m.group(2), ln) for ln in text.splitlines() if not ln.lstrip().startswith("#")
    ]
    cleaned = PLACEHOLDER.sub(" ", "\n".join(lines))
    cleaned = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", cleaned)  # links keep their text
    if len(re.findall(r"[^\W\d_]{2,}|\d+", cleaned)) >= MIN_WORDS:
        return PRESENT
    if PLACEHOLDER.search(text):
        return PLACEHOLDER_TEXT
    return PRESENT if re.search(r"[^\W_]", cleaned) else PLACEHOLDER_TEXT


def heading_matches(section: Section, synonym: str) -> bool:
    want = words(synonym)
    if len(want) == 1:
        return section.words == want
    n = len(want)
    return any(section.words[i : i + n] == want for i in range(len(section.words) - n + 1))


@dataclass(frozen=True)
class Located:
    status: str  # present / placeholder / missing
    where: str  # "front matter: license", "section: Uses", …
    value: Any


def field_candidates(card: Card, spec: FieldDef) -> list[Located]:
    """Every place the card documents a field, in schema order (front matter, labels, sections, …)."""
    candidates: list[Located] = []
    for key in spec.front_matter:
        if key in card.front_matter:
            value = card.front_matter[key]
            candidates.append(Located(classify(value), f"front matter: {key}", value))
    for label in spec.labels:
        key = " ".join(words(label))
        if key in card.labels:
            candidates.append(Located(classify(card.labels[key]), f"label: {label}", card.labels[key]))
    for synonym in spec.headings:
        for section in card.sections:
            if heading_matches(section, synonym):
                candidates.append(Located(classify(section.body), f"section: {section.title}", section.body))
    for dotted in spec.cyclonedx:
        value = _dig(card.cyclonedx, dotted.split("."))
        if value is not None:
            candidates.append(Located(classify(value), f"CycloneDX modelCard.{dotted}", value))
    for stem in spec.files:
        if stem in card.files:
            candidates.append(Located(classify(card.files[stem]), f"file: {stem}", card.files[stem]))
    return candidates


def field_value(card: Card, spec: FieldDef) -> Located:
    """Where a field is documented. A placeholder left anywhere the field lives (a template section, a
    `License: [More Information Needed]` line) wins over real content elsewhere: it is reported, not
    papered over, because readers meet the placeholder too."""
    candidates = field_candidates(card, spec)
    for status in (PLACEHOLDER_TEXT, PRESENT):
        for candidate in candidates:
            if candidate.status == status:
                return candidate
    return Located(MISSING, "not found", None)


def declared_value(card: Card, spec: FieldDef) -> Located | None:
    """The first real (non-placeholder) statement of a field, for declared-vs-actual comparisons."""
    return next((c for c in field_candidates(card, spec) if c.status == PRESENT), None)


def _dig(obj: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def cyclonedx_model_card(data: bytes) -> dict[str, Any]:
    """The modelCard of the first `machine-learning-model` component of a CycloneDX JSON BOM ({} if none)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    components = doc.get("components") if isinstance(doc, dict) else None
    metadata_component = _dig(doc, ["metadata", "component"])
    for component in [metadata_component, *(components if isinstance(components, list) else [])]:
        if isinstance(component, dict) and component.get("type") == "machine-learning-model":
            card = component.get("modelCard")
            if isinstance(card, dict):
                return card
    return {}
