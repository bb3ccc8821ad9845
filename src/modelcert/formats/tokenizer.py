"""Bounded reader of tokenizers: HF `tokenizer.json` and GGUF `tokenizer.ggml.*` metadata → one inert view.

A tokenizer decides which ids the model sees for a text, so it is a place to hide a backdoor (remap a
word to another id, rewrite letters in the normalizer, add a token that shadows a word). The view keeps
what those checks need, in file order and with duplicates preserved (a duplicated vocabulary key or a
repeated GGUF token is itself evidence): model type, vocabulary, merges, normalizer, pre-tokenizer,
post-processor, decoder and added tokens. Components are kept as parsed JSON (dicts), never executed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.json_doc import load_json
from modelcert.limits import Limits
from modelcert.records import Record

# GGUF token types (llama.cpp `llama_token_type`): what an id is for.
GGUF_NORMAL, GGUF_UNKNOWN, GGUF_CONTROL, GGUF_USER_DEFINED, GGUF_UNUSED, GGUF_BYTE = 1, 2, 3, 4, 5, 6


class AddedToken(Record):
    """An entry of `added_tokens` (matched before the model runs) or a GGUF control/user-defined token."""

    __slots__ = ("content", "id", "normalized", "special")
    id: Final[int]
    content: Final[str]
    special: Final[bool]
    normalized: Final[bool | None]

    def __init__(self, id: int, content: str, special: bool, normalized: bool | None = None) -> None:
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized


class TokenizerView(Record):
    """What a tokenizer maps; `vocab` keeps file order and duplicates (string, id)."""

    __slots__ = (
        "_by_id", "added_tokens", "byte_fallback", "decoder", "duplicate_vocab_keys", "merges", "model_type",
        "normalizer", "post_processor", "pre_tokenizer", "source", "special_ids", "vocab",
    )  # fmt: skip
    source: Final[str]  # "tokenizer.json" or "gguf"
    model_type: Final[str]  # BPE, WordPiece, Unigram, WordLevel; GGUF: gpt2, llama, bert, t5 ...
    vocab: Final[tuple[tuple[str, int], ...]]
    merges: Final[tuple[tuple[str, str], ...]]
    normalizer: Final[Any]
    pre_tokenizer: Final[Any]
    post_processor: Final[Any]
    decoder: Final[Any]
    added_tokens: Final[tuple[AddedToken, ...]]
    duplicate_vocab_keys: Final[tuple[str, ...]]  # JSON keys repeated inside model.vocab
    byte_fallback: Final[bool]
    special_ids: Final[Mapping[str, int]]  # GGUF bos/eos/unk/pad ids

    def __init__(
        self,
        source: str,
        model_type: str,
        vocab: tuple[tuple[str, int], ...],
        merges: tuple[tuple[str, str], ...] = (),
        normalizer: Any = None,
        pre_tokenizer: Any = None,
        post_processor: Any = None,
        decoder: Any = None,
        added_tokens: tuple[AddedToken, ...] = (),
        duplicate_vocab_keys: tuple[str, ...] = (),
        byte_fallback: bool = False,
        special_ids: Mapping[str, int] | None = None,
    ) -> None:
        self.source = source
        self.model_type = model_type
        self.vocab = vocab
        self.merges = merges
        self.normalizer = normalizer
        self.pre_tokenizer = pre_tokenizer
        self.post_processor = post_processor
        self.decoder = decoder
        self.added_tokens = added_tokens
        self.duplicate_vocab_keys = duplicate_vocab_keys
        self.byte_fallback = byte_fallback
        self.special_ids = {} if special_ids is None else special_ids
        self._by_id: dict[int, list[str]] | None = None  # not a field: a cache of id_to_tokens()

    @property
    def byte_level(self) -> bool:
        """True for GPT-2 style byte-level BPE (tokens spelled with the byte→unicode alphabet)."""
        return _mentions_type(self.pre_tokenizer, "ByteLevel") or self.model_type == "gpt2"

    def id_to_tokens(self) -> Mapping[int, list[str]]:
        """Every id and the strings that map to it (more than one = not a bijection).

        Built once per view (150k-token vocabularies are asked many times); callers only read it.
        """
        if self._by_id is None:
            out: dict[int, list[str]] = {}
            for token, idx in self.vocab:
                out.setdefault(idx, []).append(token)
            self._by_id = out
        return self._by_id

    def token_to_id(self) -> dict[str, int]:
        """String → id as a loader resolves it (the last duplicate wins, like Python's json)."""
        return dict(self.vocab)

    def special_contents(self) -> set[str]:
        return {t.content for t in self.added_tokens if t.special}

    def component_digests(self) -> dict[str, str]:
        """SHA-256 of each component, for an exact diff against a base tokenizer."""
        parts: dict[str, Any] = {
            "vocab": sorted(self.vocab, key=lambda item: (item[1], item[0])),
            "merges": list(self.merges),
            "normalizer": self.normalizer,
            "pre_tokenizer": self.pre_tokenizer,
            "post_processor": self.post_processor,
            "decoder": self.decoder,
            "added_tokens": sorted((t.id, t.content, t.special) for t in self.added_tokens),
        }
        return {
            name: hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
            for name, value in parts.items()
        }

    def display(self, token_id: int) -> str:
        """A readable rendering of one id for reports (decoded byte-level / sentencepiece spelling)."""
        strings = self.id_to_tokens().get(token_id)
        if not strings:
            return f"<id {token_id}>"
        return readable_token(strings[0], byte_level=self.byte_level)


def load_tokenizer_json(blob: Blob, limits: Limits) -> TokenizerView:
    """Parse a HF `tokenizer.json` within the JSON limits; FormatError when it is not one."""
    doc = load_json(blob, limits)
    root = doc.obj
    model = root.get("model")
    if not isinstance(model, dict):
        raise FormatError("tokenizer.json has no 'model' object")
    model_type = str(model.get("type") or _guess_model_type(model))
    vocab = _parse_vocab(model.get("vocab"), model_type, limits)
    merges = _parse_merges(model.get("merges"), limits)
    added = _parse_added_tokens(root.get("added_tokens"), limits)
    duplicates = tuple(d.key for d in doc.duplicate_keys if d.pointer == "/model/vocab")
    return TokenizerView(
        source="tokenizer.json",
        model_type=model_type,
        vocab=vocab,
        merges=merges,
        normalizer=root.get("normalizer"),
        pre_tokenizer=root.get("pre_tokenizer"),
        post_processor=root.get("post_processor"),
        decoder=root.get("decoder"),
        added_tokens=added,
        duplicate_vocab_keys=duplicates,
        byte_fallback=bool(model.get("byte_fallback")),
    )


def tokenizer_from_gguf(metadata: Mapping[str, Any], limits: Limits) -> TokenizerView | None:
    """The tokenizer a GGUF file carries in its `tokenizer.ggml.*` keys, or None when it has none."""
    tokens = metadata.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, Sequence) or isinstance(tokens, str | bytes):
        return None
    if len(tokens) > limits.max_count:
        raise LimitExceeded(f"GGUF vocabulary of {len(tokens)} tokens exceeds the count limit")
    types = metadata.get("tokenizer.ggml.token_type")
    type_list = list(types) if isinstance(types, Sequence) and not isinstance(types, str | bytes) else []
    vocab = tuple((_as_text(tok), idx) for idx, tok in enumerate(tokens))
    added = tuple(
        AddedToken(id=idx, content=text, special=type_list[idx] == GGUF_CONTROL)
        for text, idx in vocab
        if idx < len(type_list) and type_list[idx] in (GGUF_CONTROL, GGUF_USER_DEFINED)
    )
    merges = _parse_merges(metadata.get("tokenizer.ggml.merges"), limits)
    special = {
        name: int(value)
        for name in ("bos", "eos", "unknown", "padding", "eot", "eom")
        if isinstance(value := metadata.get(f"tokenizer.ggml.{name}_token_id"), int)
    }
    return TokenizerView(
        source="gguf",
        model_type=str(metadata.get("tokenizer.ggml.model") or "unknown"),
        vocab=vocab,
        merges=merges,
        pre_tokenizer={"type": "gguf", "pre": metadata.get("tokenizer.ggml.pre")},
        added_tokens=added,
        special_ids=special,
    )


GGUF_TOKENIZER_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type")


def read_gguf_tokenizer_metadata(blob: Blob, limits: Limits) -> dict[str, Any]:
    """A GGUF file's scalar metadata (chat templates included) plus its full tokenizer arrays.

    The header reader keeps only a preview of arrays; the tokenizer arrays are re-read here from the
    offsets it recorded, with every count checked against the bytes that remain.
    """
    from modelcert.formats.gguf import ArrayValue, read_gguf

    header = read_gguf(blob, limits)
    out: dict[str, Any] = {}
    wide = "<Q" if header.byte_order == "<" else ">Q"
    if header.version == 1:
        wide = wide[0] + "I"
    for kv in header.kvs:
        if not isinstance(kv.value, ArrayValue):
            out[kv.key] = kv.value
        elif kv.key in GGUF_TOKENIZER_ARRAYS:
            out[kv.key] = _gguf_array_at(blob, kv.offset, wide, limits)
    return out


def _gguf_array_at(blob: Blob, offset: int, wide: str, limits: Limits) -> list[Any]:
    order = wide[0]
    len_size = struct.calcsize(wide)
    reader = _Reader(blob, offset, limits)
    key_length = reader.unpack(wide)
    reader.skip(key_length)
    reader.unpack(order + "I")  # the value type: array
    item_type = reader.unpack(order + "I")
    count = reader.unpack(wide)
    if count > limits.max_count:
        raise LimitExceeded(f"GGUF array of {count} items exceeds the count limit", offset)
    if item_type == 8:  # strings
        if count * len_size > blob.size - reader.pos:
            raise FormatError("GGUF string array runs past the end of the file", offset)
        items: list[Any] = []
        for _ in range(count):
            length = reader.unpack(wide)
            items.append(reader.take(length).decode("utf-8", "replace"))
        return items
    formats = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    fmt = formats.get(item_type)
    if fmt is None:
        raise FormatError(f"GGUF tokenizer array of item type {item_type}", offset)
    data = reader.take(count * struct.calcsize(fmt))
    return list(struct.unpack(f"{order}{count}{fmt}", data))


class _Reader:
    """Positioned sequential reads that refuse to run past the blob or the string limit."""

    def __init__(self, blob: Blob, pos: int, limits: Limits) -> None:
        self.blob = blob
        self.pos = pos
        self.limits = limits
        self._buf = b""
        self._start = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.blob.size:
            raise FormatError("GGUF value runs past the end of the file", self.pos)
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(f"GGUF value of {n} bytes exceeds the string limit", self.pos)
        rel = self.pos - self._start
        if rel < 0 or rel + n > len(self._buf):
            self._buf = self.blob.read_at(self.pos, max(n, 1 << 20))
            self._start, rel = self.pos, 0
        self.pos += n
        return self._buf[rel : rel + n]

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.blob.size:
            raise FormatError("GGUF key runs past the end of the file", self.pos)
        self.pos += n

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]


def readable_token(token: str, *, byte_level: bool) -> str:
    """Undo the byte→unicode spelling of byte-level BPE and SentencePiece's ▁ for display."""
    if byte_level:
        decoded = bytes(_UNICODE_TO_BYTE.get(ch, ord(ch) & 0xFF) for ch in token)
        return decoded.decode("utf-8", errors="replace")
    return token.replace("\u2581", " ")


def byte_level_alphabet() -> dict[int, str]:
    """GPT-2's reversible byte → printable character map (bytes_to_unicode)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


_UNICODE_TO_BYTE = {ch: b for b, ch in byte_level_alphabet().items()}


def _parse_vocab(raw: Any, model_type: str, limits: Limits) -> tuple[tuple[str, int], ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        if len(raw) > limits.max_count:
            raise LimitExceeded(f"vocabulary of {len(raw)} entries exceeds the count limit")
        out = []
        for token, idx in raw.items():
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise FormatError(f"{model_type} vocabulary entry {token!r} has a non-integer id")
            out.append((token, idx))
        return tuple(out)
    if isinstance(raw, list):  # Unigram: [[piece, score], ...], the id is the position
        if len(raw) > limits.max_count:
            raise LimitExceeded(f"vocabulary of {len(raw)} entries exceeds the count limit")
        out = []
        for idx, entry in enumerate(raw):
            piece = entry[0] if isinstance(entry, list) and entry else entry
            if not isinstance(piece, str):
                raise FormatError(f"Unigram vocabulary entry {idx} is not [piece, score]")
            out.append((piece, idx))
        return tuple(out)
    raise FormatError("tokenizer model vocabulary is neither an object nor a list")


def _parse_merges(raw: Any, limits: Limits) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise FormatError("BPE merges are not a list")
    if len(raw) > limits.max_count:
        raise LimitExceeded(f"{len(raw)} merges exceed the count limit")
    out = []
    for rank, merge in enumerate(raw):
        if isinstance(merge, str | bytes):
            parts = _as_text(merge).split(" ")
        elif isinstance(merge, list):
            parts = [_as_text(p) for p in merge]
        else:
            raise FormatError(f"merge #{rank} is neither 'a b' nor [a, b]")
        if len(parts) != 2:
            raise FormatError(f"merge #{rank} does not have exactly two parts")
        out.append((parts[0], parts[1]))
    return tuple(out)


def _parse_added_tokens(raw: Any, limits: Limits) -> tuple[AddedToken, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise FormatError("added_tokens is not a list")
    if len(raw) > limits.max_count:
        raise LimitExceeded(f"{len(raw)} added tokens exceed the count limit")
    out = []
    for entry in raw:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("id"), int)
            or not isinstance(entry.get("content"), str)
        ):
            raise FormatError("an added token lacks an integer id or a string content")
        normalized = entry.get("normalized")
        out.append(
            AddedToken(
                id=entry["id"],
                content=entry["content"],
                special=bool(entry.get("special")),
                normalized=normalized if isinstance(normalized, bool) else None,
            )
        )
    return tuple(out)


def _guess_model_type(model: dict[str, Any]) -> str:
    if "merges" in model:
        return "BPE"
    if isinstance(model.get("vocab"), list):
        return "Unigram"
    if "continuing_subword_prefix" in model or "max_input_chars_per_word" in model:
        return "WordPiece"
    return "WordLevel"


def _mentions_type(component: Any, type_name: str) -> bool:
    """True when a (possibly Sequence-nested) component has a step of this type."""
    stack = [component]
    seen = 0
    while stack and seen < 10_000:
        seen += 1
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == type_name:
                return True
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
