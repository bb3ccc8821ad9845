"""Placeholder: the analyzers of this family land with their issue."""

from __future__ import annotations

from modelcert.checks.base import AnalyzerSpec

ANALYZERS: tuple[AnalyzerSpec, ...] = ()
