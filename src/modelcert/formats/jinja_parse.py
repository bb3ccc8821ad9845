"""Jinja2 chat templates as inert ASTs: parsed by Jinja2's own parser, never rendered."""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension, do, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from modelcert.errors import FormatError, LimitExceeded
from modelcert.limits import Limits


class TemplateSyntaxFailure(FormatError):
    """Jinja2's parser rejected the template (a loader would fail the same way)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _GenerationTag(Extension):
    """Parse-only stand-in for transformers' `{% generation %}` block (AssistantTracker)."""

    tags = frozenset({"generation"})  # type: ignore[assignment]

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def parse_template(source: str, limits: Limits) -> nodes.Template:
    """The template's AST, parsed the way transformers configures Jinja2 (plus `do`, which is lenient)."""
    if len(source) > limits.max_text_bytes:
        raise LimitExceeded(f"template of {len(source)} characters exceeds {limits.max_text_bytes}")
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, do, _GenerationTag]
    )
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateSyntaxFailure(f"Jinja2 syntax error: {exc.message}", exc.lineno) from None
    except RecursionError:
        raise LimitExceeded("template nests deeper than the parser's recursion limit") from None
    except Exception as exc:  # third-party parser on untrusted text: any failure means "unparseable"
        raise FormatError(f"Jinja2 parser failed: {type(exc).__name__}: {str(exc)[:200]}") from None


def iter_nodes(root: nodes.Node) -> Iterator[nodes.Node]:
    """Every node under `root` (pre-order, iterative so deep trees cannot exhaust the stack)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        children = list(node.iter_child_nodes())
        children.reverse()
        stack.extend(children)
