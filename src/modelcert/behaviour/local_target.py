"""A local causal LM as a target: greedy decoding, the package's own chat template, no hub.

`CausalLMTarget` wraps any Hugging-Face-style pair: a model that has `generate(input_ids, ...)` or
whose forward pass on a (1, T) tensor of token IDs gives logits (a tensor, or an object with
`.logits`), and a tokenizer with `encode`/`decode` (and, optionally, `apply_chat_template`).
`TransformersTarget(path)` loads such a pair from a local folder with `transformers` when it is
installed (`local_files_only=True`, `trust_remote_code=False`, safetensors only): transformers is
never required, and never reaches the network.

Prompts are built with the tokenizer's own `apply_chat_template` when it has one, otherwise with the
template source given here (rendered in modelcert's sandboxed, forked renderer), otherwise as a plain
transcript; which one was used, and the template digest, are part of `info` because templates move
refusal rates.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelcert.behaviour.target import GenerationParams, Message, TargetError, TargetInfo

RENDER_TIMEOUT = 10.0


class CausalLMTarget:
    """Greedy generation with a local model object; every failure becomes a TargetError."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "local-causal-lm",
        chat_template: str | None = None,
        special_tokens: Mapping[str, str] | None = None,
        max_positions: int | None = None,
        binding: str = "in-process",
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._template = chat_template
        self._special = dict(special_tokens or {})
        self._max_positions = max_positions or _declared_positions(model)
        if hasattr(model, "eval"):
            model.eval()
        own = getattr(tokenizer, "chat_template", None) if hasattr(tokenizer, "apply_chat_template") else None
        self._template_kind = "tokenizer" if own else ("package" if chat_template else "plain")
        source = own if own else chat_template
        digest = hashlib.sha256(str(source).encode("utf-8")).hexdigest() if source else None
        details: dict[str, Any] = {"chatTemplate": self._template_kind}
        if digest:
            details["chatTemplateDigest"] = "sha256:" + digest
        if self._max_positions:
            details["maxPositions"] = self._max_positions
        self._info = TargetInfo(kind="causal-lm", name=name, binding=binding, details=details)

    @property
    def info(self) -> TargetInfo:
        return self._info

    def prompt_text(self, messages: Sequence[Message]) -> str:
        """The conversation as the model sees it, ending where the assistant's reply starts."""
        dicts = [m.to_dict() for m in messages]
        if self._template_kind == "tokenizer":
            text = self._tokenizer.apply_chat_template(dicts, tokenize=False, add_generation_prompt=True)
            if not isinstance(text, str):
                raise TargetError("apply_chat_template did not return text")
            return text
        if self._template_kind == "package" and self._template is not None:
            from modelcert.checks.backdoor_template_render import RenderJob, render_jobs

            rendered = render_jobs(self._template, [RenderJob(dicts)], self._special, RENDER_TIMEOUT)[0]
            if rendered is None:
                raise TargetError("the chat template failed to render this conversation")
            return rendered
        lines = [f"{m.role}: {m.content}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def chat(self, messages: Sequence[Message], params: GenerationParams) -> str:
        import torch

        ids = self._encode(self.prompt_text(messages))
        if not ids:
            raise TargetError("the prompt encodes to no tokens")
        new_tokens = params.max_tokens
        if self._max_positions:
            room = self._max_positions - len(ids)
            if room <= 0:
                raise TargetError(f"prompt of {len(ids)} tokens does not fit {self._max_positions} positions")
            new_tokens = min(new_tokens, room)
        torch.manual_seed(params.seed)
        try:
            with torch.no_grad():
                out = self._generate(torch, ids, new_tokens)
            return str(self._decode(out))
        except TargetError:
            raise
        except Exception as exc:  # the model is foreign code: any failure is a failed call, not a crash
            raise TargetError(f"generation failed: {type(exc).__name__}: {str(exc)[:200]}") from None

    def _encode(self, text: str) -> list[int]:
        try:
            ids = self._tokenizer.encode(text, add_special_tokens=False)
        except TypeError:  # a minimal tokenizer without HF keyword arguments
            ids = self._tokenizer.encode(text)
        return [int(i) for i in ids]

    def _decode(self, ids: list[int]) -> str:
        try:
            return str(self._tokenizer.decode(ids, skip_special_tokens=True))
        except TypeError:
            return str(self._tokenizer.decode(ids))

    def _eos(self) -> int | None:
        value = getattr(self._tokenizer, "eos_token_id", None)
        return value if isinstance(value, int) else None

    def _generate(self, torch: Any, ids: list[int], new_tokens: int) -> list[int]:
        input_ids = torch.tensor([ids], dtype=torch.long)
        eos = self._eos()
        if callable(getattr(self._model, "generate", None)):
            out = self._model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=eos,
            )
            return [int(t) for t in out[0, len(ids) :].tolist()]
        generated: list[int] = []
        current = input_ids
        for _ in range(new_tokens):
            output = self._model(current)
            logits = getattr(output, "logits", output)
            if isinstance(logits, tuple):
                logits = logits[0]
            token = int(torch.argmax(logits[0, -1]).item())
            if eos is not None and token == eos:
                break
            generated.append(token)
            current = torch.cat([current, torch.tensor([[token]], dtype=torch.long)], dim=1)
        return generated


def _declared_positions(model: Any) -> int | None:
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


class TransformersTarget(CausalLMTarget):
    """A model folder loaded with `transformers` (installed separately): local files only, no remote code."""

    def __init__(self, path: Path | str, *, binding: str = "package") -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise TargetError(f"{folder} is not a model folder (a hub name is never fetched)")
        try:
            transformers = importlib.import_module("transformers")  # optional dependency
        except ImportError:
            raise TargetError("the local target needs `transformers` (pip install transformers)") from None
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=False
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=False, use_safetensors=True
            )
        except Exception as exc:  # transformers raises many types for a folder it cannot load
            raise TargetError(f"cannot load {folder}: {type(exc).__name__}: {str(exc)[:200]}") from None
        super().__init__(model, tokenizer, name=folder.name, binding=binding)
