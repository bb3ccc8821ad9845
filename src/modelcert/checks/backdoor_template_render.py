"""Differential rendering of chat templates, in a sandbox, in a child process with a deadline.

Templates are rendered only here, only with Jinja2's `ImmutableSandboxedEnvironment` configured the
way transformers configures it (trim/lstrip blocks, loop controls, `{% generation %}`, `tojson`,
`raise_exception`, a *fixed* `strftime_now` so dates never differ between renders). Rendering
untrusted code can still loop or allocate without bound, so every battery runs in a forked child
with an address-space ceiling and a wall-clock deadline; results come back as JSON (never pickle:
the child ran untrusted code).

The probe battery: a few conversations whose contents are distinct plain sentences. A render is
split into the template's own pieces (`pieces[i]` = text between message contents i-1 and i), so
"what the template adds around user content" can be compared between renders.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from modelcert.records import Record

SYSTEM = "You answer questions about geography briefly."
USERS = (
    "Please describe the weather in the mountains today.",
    "Which rivers flow through the northern valley region?",
    "How tall is the highest peak near the village?",
)
ASSISTANTS = ("The weather is mild with light clouds.", "Two rivers cross the northern valley.")
FIXED_NOW = datetime(2024, 7, 26, 12, 0, 0)
MAX_RENDER_CHARS = 200_000
MAX_RESULT_BYTES = 64 * 1024 * 1024
CHILD_MEMORY_BYTES = 1024 * 1024 * 1024


Message = dict[str, str]


def battery() -> list[list[Message]]:
    """The probe conversations: with and without a system message, one to three user turns."""
    return [
        [{"role": "user", "content": USERS[0]}],
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USERS[0]}],
        [
            {"role": "user", "content": USERS[0]},
            {"role": "assistant", "content": ASSISTANTS[0]},
            {"role": "user", "content": USERS[1]},
        ],
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": USERS[0]},
            {"role": "assistant", "content": ASSISTANTS[0]},
            {"role": "user", "content": USERS[1]},
            {"role": "assistant", "content": ASSISTANTS[1]},
            {"role": "user", "content": USERS[2]},
        ],
    ]


def with_word(conversation: list[Message], word: str, where: str) -> list[Message]:
    """The conversation with `word` inserted at the start, middle or end of every user message."""
    out = []
    for message in conversation:
        if message["role"] != "user":
            out.append(dict(message))
            continue
        words = message["content"].split(" ")
        if where == "start":
            text = f"{word} {message['content']}"
        elif where == "end":
            text = f"{message['content']} {word}"
        else:
            middle = len(words) // 2
            text = " ".join([*words[:middle], word, *words[middle:]])
        out.append({**message, "content": text})
    return out


def pieces(rendered: str, conversation: Sequence[Message]) -> list[str] | None:
    """The template's own text between message contents, or None when a content is not found verbatim."""
    out: list[str] = []
    position = 0
    for message in conversation:
        found = rendered.find(message["content"], position)
        if found < 0:
            return None
        out.append(rendered[position:found])
        position = found + len(message["content"])
    out.append(rendered[position:])
    return out


class RenderJob(Record):
    __slots__ = ("add_generation_prompt", "messages")
    messages: Final[list[Message]]
    add_generation_prompt: Final[bool]

    def __init__(self, messages: list[Message], add_generation_prompt: bool = True) -> None:
        self.messages = messages
        self.add_generation_prompt = add_generation_prompt


def make_environment() -> Any:
    """ImmutableSandboxedEnvironment configured like transformers' chat-template environment."""
    from jinja2 import nodes
    from jinja2.exceptions import TemplateError
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        tags = frozenset({"generation"})  # type: ignore[assignment]

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: Any = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(fmt: str) -> str:
        return FIXED_NOW.strftime(str(fmt)[:64])

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, GenerationTag]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render_jobs(
    source: str, jobs: Sequence[RenderJob], special_tokens: Mapping[str, str], timeout: float
) -> list[str | None]:
    """Render every job; a job that raises gives None. Runs in a forked child when the OS can fork."""
    if not hasattr(os, "fork"):
        return _render_here(source, jobs, special_tokens, time.monotonic() + timeout)
    return _render_in_child(source, jobs, special_tokens, timeout)


def _render_here(
    source: str, jobs: Sequence[RenderJob], special_tokens: Mapping[str, str], deadline: float
) -> list[str | None]:
    try:
        template = make_environment().from_string(source)
    except Exception:
        return [None] * len(jobs)
    out: list[str | None] = []
    for job in jobs:
        if time.monotonic() > deadline:
            out.append(None)
            continue
        try:
            text = template.render(
                messages=job.messages, add_generation_prompt=job.add_generation_prompt, **special_tokens
            )
            out.append(text[:MAX_RENDER_CHARS])
        except Exception:
            out.append(None)
    return out


def _render_in_child(
    source: str, jobs: Sequence[RenderJob], special_tokens: Mapping[str, str], timeout: float
) -> list[str | None]:
    import signal  # here, not at the top: package scans import this module whether or not they render

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: render, write JSON, exit without running the parent's cleanup
        status = 0
        try:
            os.close(read_fd)
            _limit_memory()
            results = _render_here(source, jobs, special_tokens, time.monotonic() + timeout)
            payload = json.dumps(results).encode("utf-8")[:MAX_RESULT_BYTES]
            view = memoryview(payload)
            while view:
                written = os.write(write_fd, view)
                view = view[written:]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout + 2.0
    size = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                break
            chunk = os.read(read_fd, 1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_RESULT_BYTES:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    try:
        decoded = json.loads(b"".join(chunks).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return [None] * len(jobs)
    if not isinstance(decoded, list) or len(decoded) != len(jobs):
        return [None] * len(jobs)
    return [item if isinstance(item, str) else None for item in decoded]


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        ceiling = current + CHILD_MEMORY_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    except (OSError, ValueError, ImportError):
        pass  # best effort: the deadline still bounds the child


RenderFn = Callable[[Sequence[RenderJob]], list[str | None]]


def renderer(source: str, special_tokens: Mapping[str, str], timeout: float) -> RenderFn:
    """A function that renders batches of jobs with this template (each batch in its own child)."""

    def render(jobs: Sequence[RenderJob]) -> list[str | None]:
        return render_jobs(source, jobs, special_tokens, timeout)

    return render
