"""Chat templates (Jinja2): parsed with Jinja2's own parser, never rendered; AST walked for sandbox escapes."""

from __future__ import annotations

from modelcert.checks.base import AnalysisContext, AnalyzerSpec
from modelcert.findings import Location


def check_template_source(source: str, ctx: AnalysisContext, location: Location, *, origin: str) -> None:
    """Analyse one chat template's source and record findings through ctx.add (body lands shortly)."""
    del source, ctx, location, origin


ANALYZERS: tuple[AnalyzerSpec, ...] = ()
