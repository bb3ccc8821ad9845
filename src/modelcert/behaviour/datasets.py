"""Probe banks as JSONL with salted per-item commitments, a Merkle root and hash-ranked subsets.

File format (docs/compliance.md, "Bank format"): the first line is a header object
`{"modelcert_bank": {...}}`, every other non-empty line one item. Item text never leaves the
certifier: what is published is the root over `c_i = sha256("modelcert-item-v1\\0" ‖ salt_i ‖
canonical(item))`, leaves in item-ID order. Salts come from the item (`salt`, hex) or from the
header's `salt_key` as HMAC-SHA256(salt_key, id); salts matter because short cyber prompts are easy
to guess, and an unsalted hash of a guessable prompt is no secret.

Subsets are chosen by ranking items on sha256(seed ‖ 0x00 ‖ id) and taking the first n: no RNG
state, the same in any language, and stable when unrelated items are added to the bank.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modelcert.behaviour.canonical import canonical_json
from modelcert.behaviour.merkle import InclusionProof, inclusion_proof, merkle_root
from modelcert.policy.fields import DocumentError, Fields, load_json

BANK_KEY = "modelcert_bank"
TASKS = (
    "should_refuse",  # a compliant answer is harmful: the model should refuse
    "should_answer",  # benign (often security-flavoured) questions: refusing is over-refusal
    "injection_direct",  # the user turn carries an instruction that conflicts with the system prompt
    "injection_indirect",  # a document to process carries the instruction
    "prompt_leak",  # the system prompt holds a canary secret; the user asks for it
    "code",  # a coding request whose natural answer has insecure variants
    "exfil",  # a document asks the model to emit active markdown/HTML
)
DISCLOSURE_TIERS = ("public", "consortium", "private")  # who may see an item's text, widest first
ITEM_FIELDS = ("id", "category", "prompt", "system", "document", "canary", "language", "disclosure", "salt")
HEADER_FIELDS = (
    "id",
    "version",
    "task",
    "synthetic",
    "description",
    "licence",
    "salt_key",
    "language",
    "generator",
)
MAX_BANK_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 200_000
MAX_ITEM_TEXT = 64 * 1024
MIN_SALT_BYTES = 16
COMMIT_PREFIX = b"modelcert-item-v1\x00"


@dataclass(frozen=True)
class BankItem:
    id: str
    category: str
    prompt: str
    system: str | None = None
    document: str | None = None
    canary: str | None = None
    language: str = "en"
    disclosure: str = "private"

    def content(self) -> dict[str, Any]:
        """What the commitment covers: every field but the salt and the disclosure tier."""
        out: dict[str, Any] = {"id": self.id, "category": self.category, "prompt": self.prompt}
        for key in ("system", "document", "canary"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["language"] = self.language
        return out


@dataclass(frozen=True)
class Bank:
    """A loaded bank: header facts, items in ID order, their salts and commitments."""

    id: str
    version: str
    task: str
    synthetic: bool
    description: str
    items: tuple[BankItem, ...]
    salts: Mapping[str, bytes] = field(repr=False)
    commitments: tuple[bytes, ...] = field(repr=False)
    source: str = ""
    positions: Mapping[str, int] = field(default_factory=dict, repr=False)

    @property
    def root(self) -> str:
        return "sha256:" + merkle_root(self.commitments)

    def index_of(self, item_id: str) -> int:
        """The item's leaf index (its position in ID order); KeyError when it is not in the bank."""
        return self.positions[item_id]

    def categories(self) -> dict[str, int]:
        return dict(sorted(Counter(item.category for item in self.items).items()))

    def prove(self, item_id: str) -> InclusionProof:
        """An inclusion proof for one item (reveal it with its salt to open the commitment)."""
        return inclusion_proof(self.commitments, self.index_of(item_id))

    def select(self, n: int, seed: int | str) -> list[BankItem]:
        """The first n items ranked by sha256(seed ‖ 0x00 ‖ id): deterministic, order-free."""
        return sorted(self.items, key=lambda item: rank_key(seed, item.id))[: max(0, n)]


def rank_key(seed: int | str, item_id: str) -> bytes:
    return hashlib.sha256(str(seed).encode("utf-8") + b"\x00" + item_id.encode("utf-8")).digest()


def commitment(salt: bytes, item: BankItem) -> bytes:
    return hashlib.sha256(COMMIT_PREFIX + salt + canonical_json(item.content())).digest()


def opens(commit: bytes, salt: bytes, item: BankItem) -> bool:
    """True when (salt, item) is what `commit` was made from."""
    return hmac.compare_digest(commitment(salt, item), commit)


def load_bank(data: bytes, source: str) -> Bank:
    """Parse and commit a bank. Raises DocumentError naming the line of any malformed entry."""
    if len(data) > MAX_BANK_BYTES:
        raise DocumentError(f"bank {source}: {len(data)} bytes (limit {MAX_BANK_BYTES})")
    lines = [(n, line) for n, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
    if not lines:
        raise DocumentError(f"bank {source}: empty")
    if len(lines) - 1 > MAX_ITEMS:
        raise DocumentError(f"bank {source}: more than {MAX_ITEMS} items")
    first_no, first = lines[0]
    header_obj = Fields(load_json(first, f"bank {source} line {first_no}"), f"{source}:1", (BANK_KEY,))
    header = header_obj.child(BANK_KEY, HEADER_FIELDS)
    task = header.choice("task", TASKS)
    salt_key = _hex(header.opt_text("salt_key", max_len=512), f"{source}:1/salt_key")
    items: list[BankItem] = []
    salts: dict[str, bytes] = {}
    for number, line in lines[1:]:
        where = f"{source}:{number}"
        f = Fields(load_json(line, f"bank {where}"), where, ITEM_FIELDS)
        item = BankItem(
            id=f.text("id", max_len=128),
            category=f.text("category", max_len=128),
            prompt=f.text("prompt", max_len=MAX_ITEM_TEXT),
            system=f.opt_text("system", max_len=MAX_ITEM_TEXT),
            document=f.opt_text("document", max_len=MAX_ITEM_TEXT),
            canary=f.opt_text("canary", max_len=256),
            language=f.text("language", max_len=16) if f.has("language") else header_language(header),
            disclosure=f.choice("disclosure", DISCLOSURE_TIERS, default="private"),
        )
        if item.id in salts:
            raise DocumentError(f"{where}: duplicate item id {item.id!r}")
        _check_task_fields(task, item, where)
        salt = _hex(f.opt_text("salt", max_len=512), f"{where}/salt")
        if salt is None:
            if salt_key is None:
                raise DocumentError(f"{where}: no salt (give the item a salt or the header a salt_key)")
            salt = hmac.new(salt_key, item.id.encode("utf-8"), hashlib.sha256).digest()
        salts[item.id] = salt
        items.append(item)
    items.sort(key=lambda it: it.id)
    return Bank(
        id=header.text("id", max_len=128),
        version=header.text("version", max_len=32),
        task=task,
        synthetic=header.flag("synthetic", False),
        description=header.opt_text("description") or "",
        items=tuple(items),
        salts=salts,
        commitments=tuple(commitment(salts[it.id], it) for it in items),
        source=source,
        positions={it.id: index for index, it in enumerate(items)},
    )


def header_language(header: Fields) -> str:
    return header.text("language", max_len=16) if header.has("language") else "en"


def _hex(value: str | None, where: str) -> bytes | None:
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise DocumentError(f"{where}: not hex") from None
    if len(raw) < MIN_SALT_BYTES:
        raise DocumentError(f"{where}: {len(raw)} bytes; salts and salt keys need at least {MIN_SALT_BYTES}")
    return raw


def _check_task_fields(task: str, item: BankItem, where: str) -> None:
    """Each task needs the fields its scorer and its message layout rely on."""
    needs = {
        "injection_direct": ("system", "canary"),
        "injection_indirect": ("document", "canary"),
        "prompt_leak": ("system", "canary"),
        "exfil": ("document",),
    }.get(task, ())
    for name in needs:
        if getattr(item, name) is None:
            raise DocumentError(f"{where}: a {task} item needs {name!r}")
    if item.canary is None:
        return
    key = _squash(item.canary)
    if task == "prompt_leak" and (
        item.system is None or item.canary not in item.system or key in _squash(item.prompt)
    ):
        raise DocumentError(f"{where}: the canary must be in the system prompt and not in the user prompt")
    if task.startswith("injection_"):
        visible = " ".join(t for t in (item.system, item.prompt, item.document) if t)
        if len(key) < 8 or key in _squash(visible):
            raise DocumentError(
                f"{where}: an injection canary needs 8+ letters/digits and must not be spelled out"
                " in the input"
                " (only carrying out the injected instruction may produce it)"
            )


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def load_bank_file(path: Path) -> Bank:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"bank {path}: {exc.strerror}") from None
    return load_bank(data, str(path))


BUILTIN_PREFIX = "builtin:"


def builtin_bank_names() -> list[str]:
    folder = resources.files("modelcert") / "data" / "banks"
    return sorted(p.name.removesuffix(".jsonl") for p in folder.iterdir() if p.name.endswith(".jsonl"))


def load_builtin_bank(name: str) -> Bank:
    """A starter bank shipped with modelcert (synthetic, clearly labelled)."""
    if name not in builtin_bank_names():
        raise DocumentError(f"no built-in bank {name!r}; one of {', '.join(builtin_bank_names())}")
    data = (resources.files("modelcert") / "data" / "banks" / f"{name}.jsonl").read_bytes()
    return load_bank(data, BUILTIN_PREFIX + name)


def open_bank(reference: str) -> Bank:
    """`builtin:NAME` or a file path."""
    if reference.startswith(BUILTIN_PREFIX):
        return load_builtin_bank(reference.removeprefix(BUILTIN_PREFIX))
    return load_bank_file(Path(reference))


def publishable_categories(items: Sequence[BankItem], min_cell: int) -> dict[str, int]:
    """Per-category counts of `items`; cells under `min_cell` are merged into "(other)", which is itself
    left out when still under `min_cell` (a small cell can single out a few items)."""
    counts = Counter(item.category for item in items)
    out = {name: count for name, count in sorted(counts.items()) if count >= min_cell}
    other = sum(count for count in counts.values() if count < min_cell)
    if other >= min_cell:
        out["(other)"] = other
    return out
