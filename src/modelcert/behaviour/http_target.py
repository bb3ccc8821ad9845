"""An OpenAI-compatible chat endpoint as a target (vLLM, llama.cpp server, Ollama, text-generation-inference).

Loopback only unless the caller passes `allow_remote=True`: certification prompts are sensitive
(should-refuse banks), and a model served on this machine is the one whose weights were scanned.
Redirects are not followed (a loopback server must not bounce the prompts elsewhere), replies are
read up to a size bound, and every failure is a `TargetError` the runner counts as an error.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Sequence
from typing import Any

import httpx

from modelcert.behaviour.target import GenerationParams, Message, TargetError, TargetInfo

MAX_REPLY_BYTES = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def completions_url(base_url: str) -> httpx.URL:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https"):
        raise TargetError(f"{base_url!r}: only http and https endpoints are supported")
    if url.userinfo:
        raise TargetError("put credentials in an environment variable (api_key_env), not in the URL")
    path = url.path.rstrip("/")
    if path.endswith("/chat/completions"):
        return url
    if not path.endswith("/v1"):
        path += "/v1"
    return url.copy_with(path=path + "/chat/completions")


class OpenAICompatTarget:
    """POST /v1/chat/completions with greedy settings; returns choices[0].message.content."""

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        *,
        allow_remote: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        api_key_env: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = completions_url(base_url)
        self._loopback = is_loopback(self._url.host)
        if not self._loopback and not allow_remote:
            raise TargetError(
                f"{self._url.host} is not a loopback address; pass allow_remote to send prompts"
                " off this machine"
            )
        self._model = model
        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise TargetError(f"environment variable {api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=False, headers=headers, transport=transport, trust_env=False
        )

    @property
    def info(self) -> TargetInfo:
        return TargetInfo(
            kind="openai-compatible",
            name=self._model,
            binding="endpoint",
            details={"url": str(self._url), "loopback": self._loopback},
        )

    def close(self) -> None:
        self._client.close()

    def chat(self, messages: Sequence[Message], params: GenerationParams) -> str:
        body = {
            "model": self._model,
            "messages": [m.to_dict() for m in messages],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "seed": params.seed,
            "n": 1,
            "stream": False,
        }
        try:
            with self._client.stream("POST", self._url, json=body) as response:
                raw = _read_bounded(response)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise TargetError(f"request failed: {type(exc).__name__}") from None
        if status != 200:
            raise TargetError(f"HTTP {status} from the endpoint")
        return _content(raw)


def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise TargetError(f"reply larger than {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _content(raw: bytes) -> str:
    try:
        doc: Any = json.loads(raw)
        message = doc["choices"][0]["message"]
        content = message.get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise TargetError("the reply is not an OpenAI chat completion") from None
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    if content is None and isinstance(message.get("refusal"), str):
        return str(message["refusal"])  # the API's structured refusal field
    raise TargetError("the reply has no text content")
