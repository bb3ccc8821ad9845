"""Jinja2 chat templates as inert ASTs: parsed by Jinja2's own parser (never rendered) + constant folding.

This module is the stable import point for template readers and checks; the work lives in
`jinja_parse` (parsing, node iteration), `jinja_values` (the abstract values folding works over),
`jinja_folding` (`ConstantFolder`: which values each expression can take, without rendering),
`jinja_calls` (filters and method calls during folding) and `jinja_filters` (Jinja2's own filter
and `str` method implementations applied to known values, bounded; anything else is not modelled).
"""

from __future__ import annotations

from modelcert.formats.jinja_folding import MAX_PASSES, ConstantFolder
from modelcert.formats.jinja_parse import TemplateSyntaxFailure, iter_nodes, parse_template
from modelcert.formats.jinja_values import (
    BOOLS,
    BUILT,
    DATA,
    GLOBAL_OBJECTS,
    LOOP_NUMERIC_ATTRS,
    MAX_HINTS,
    MAX_PRODUCT,
    MAX_VALUE_CHARS,
    MAX_VALUES,
    NUMERIC,
    OBJECT,
    PACKAGE_NAMES,
    DictValue,
    Folded,
    GeneratorValue,
    ListValue,
    Opaque,
    Origin,
    as_text,
)

__all__ = [
    "BOOLS",
    "BUILT",
    "DATA",
    "GLOBAL_OBJECTS",
    "LOOP_NUMERIC_ATTRS",
    "MAX_HINTS",
    "MAX_PASSES",
    "MAX_PRODUCT",
    "MAX_VALUES",
    "MAX_VALUE_CHARS",
    "NUMERIC",
    "OBJECT",
    "PACKAGE_NAMES",
    "ConstantFolder",
    "DictValue",
    "Folded",
    "GeneratorValue",
    "ListValue",
    "Opaque",
    "Origin",
    "TemplateSyntaxFailure",
    "as_text",
    "iter_nodes",
    "parse_template",
]
