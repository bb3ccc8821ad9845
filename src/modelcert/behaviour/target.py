"""The model under test, as the behavioural runner sees it: chat messages in, one text reply out.

Three implementations: `OpenAICompatTarget` (an OpenAI-compatible HTTP server, loopback unless
remote is explicitly allowed), `CausalLMTarget`/`TransformersTarget` (a local causal LM, greedy, with
the package's own chat template) and `MockTarget` (a Python function, for tests and demos). Every
target describes itself (`info`) so the evidence records what answered, and raises `TargetError` for a
failed call: the runner counts it as an error, never as a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelcert.errors import ModelcertError

ROLES = ("system", "user", "assistant")


class TargetError(ModelcertError):
    """One call to the target failed (transport, HTTP status, malformed reply, generation error)."""


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. Greedy (temperature 0, no sampling) for every headline metric."""

    max_tokens: int = 256
    temperature: int = 0  # an integer on purpose: only 0 (greedy) is used for certification
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "do_sample": False,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class TargetInfo:
    """What answered. `binding` says how it is tied to the package being certified:
    "package" (weights loaded from the package), "other-folder" (loaded from another folder),
    "in-process" (a model object handed over by the caller), "endpoint" (a server trusted to serve
    it), "mock" (no model at all: a test double)."""

    kind: str
    name: str
    binding: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "binding": self.binding, **self.details}


class Target(Protocol):
    """Anything that answers a conversation."""

    @property
    def info(self) -> TargetInfo: ...

    def chat(self, messages: Sequence[Message], params: GenerationParams) -> str:
        """The assistant's reply to `messages`; raises TargetError when there is none."""
