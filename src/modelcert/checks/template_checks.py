"""The chat-template (Jinja2 SSTI) check classes: IDs, verdicts and documentation (MC180-MC188).

The audit that reports them lives in `templates`, which re-exports every class here.
"""

from __future__ import annotations

from modelcert.checks.base import Check
from modelcert.findings import Confidence, Severity, Verdict

_SSTI_CWE = "CWE-1336"
_SSTI_FIX = (
    "Do not load this template. Chat templates only format messages; replace it with the base "
    "model's template, and render templates only in jinja2.sandbox.ImmutableSandboxedEnvironment."
)


class TemplateSyntax(Check):
    """The chat template does not parse with Jinja2 (the parser transformers, vLLM and SGLang use).

    A loader would refuse it too, so it cannot run; but nothing in it was analysed, so the file is
    **unscannable** rather than clean. Templates are parsed the way transformers configures Jinja2
    (`trim_blocks`, `lstrip_blocks`, `loopcontrols`, `{% generation %}`) plus the `do` tag.
    """

    id = "MC180"
    title = "Chat template does not parse"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-20"
    remediation = "Fix the template syntax (or take the base model's template) and rescan."


class PythonInternalsAccess(Check):
    """The template reads a Python-internal attribute: a dunder (`x.__class__`, `x['__globals__']`,
    `x|attr('__init__')`, `map(attribute='__class__')`), a name-mangled private (`_Foo__bar`), or an
    interpreter internal (`mro`, `f_globals`, `gi_frame`, `func_globals`).

    These are the first step of every Jinja2 sandbox escape: from any object to its class, to
    `object.__subclasses__()` or a function's `__globals__`, to `os.popen`. llama-cpp-python rendered
    GGUF `tokenizer.chat_template` in an unsandboxed `Environment` (CVE-2024-34359, "Llama Drama"),
    and vLLM (2025) and SGLang (CVE-2026-5760) repeated it. No legitimate chat template needs these
    names, so this is **unsafe**. A single-underscore private attribute (`x._data`) is blocked by the
    sandbox and never needed either; it is reported as **suspicious**.
    """

    id = "MC181"
    title = "Template accesses Python internals"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = _SSTI_CWE
    remediation = _SSTI_FIX
    tags = ("ssti", "CVE-2024-34359")


class ObfuscatedAttribute(Check):
    """An attribute name is computed, and the computation resolves to a dangerous name.

    modelcert folds string expressions without rendering: concatenation (`"__cla" ~ "ss__"`, `+`),
    `%` and `|format` (`"%c%c"|format(95, 95)`), `join` (including `dict(__cla=1, ss__=1)|join`),
    `replace`, `reverse` and `[::-1]`, `lower`/`upper`, string methods, `{% set %}` variables,
    namespace attributes, loop variables over literal lists, macro arguments and bodies, and
    characters picked out of object reprs (`(()|select|string)[24]` is `_`). Escapes in literals
    (`"\\x5f\\x5f"`) are decoded by the parser. A name built this way is the template hiding what
    it reaches for, so this is **unsafe** with high confidence.
    """

    id = "MC182"
    title = "Obfuscated attribute name in template"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = _SSTI_CWE
    remediation = _SSTI_FIX
    tags = ("ssti", "obfuscation")


class UnresolvedAttribute(Check):
    """An attribute or item name is assembled in the template from parts modelcert cannot follow
    (or comes from package-supplied strings such as `bos_token`), so what it reaches is unknown.

    Keys that come straight from runtime data (`role_map[message.role]`, a loop over a tool's
    parameters) are normal and not reported; names constructed out of template pieces are how
    SSTI payloads dodge pattern scanners. **Suspicious**; when the pieces visibly assemble
    underscores it is reported as **unsafe** with medium confidence.
    """

    id = "MC183"
    title = "Unresolvable computed attribute name in template"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = _SSTI_CWE
    remediation = "Review the template by hand; a chat template should index data with plain keys."
    tags = ("ssti", "obfuscation")


class GadgetGlobal(Check):
    """The template names a global that chat templates never use but SSTI payloads start from:
    `lipsum`, `self`, `config`, `request`, `url_for`, `get_flashed_messages`, `g`, `session`, `os`,
    `sys`, `builtins`, `eval`, `getattr` ...

    `lipsum.__globals__` and `cycler.__init__.__globals__` reach the `os` module in an unsandboxed
    environment; Flask globals are the classic web SSTI roots. Transformers and llama.cpp provide
    only `raise_exception`, `strftime_now`, `namespace`, `range`, `dict`, `cycler`, `joiner` and the
    data variables, so the reference alone is **suspicious** (attribute access on it is reported
    by MC181/MC182).
    """

    id = "MC184"
    title = "Template references an SSTI gadget global"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = _SSTI_CWE
    remediation = "Review the template; remove references to globals a chat template does not need."
    tags = ("ssti",)


class CodeExecutionCall(Check):
    """The template calls a code-execution or file primitive: `eval`, `exec`, `__import__`, `open`,
    `getattr`, `.popen()`, `.system()`, `.check_output()`, `.import_module()`, `.load_module()` ...

    Such a call only works after an escape has reached the module that owns it, which is exactly
    what the CVE-2024-34359 payloads do (`...__globals__['os'].popen('id').read()`). **Unsafe**.
    """

    id = "MC185"
    title = "Template calls a code-execution primitive"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-94"
    remediation = _SSTI_FIX
    tags = ("ssti", "code-execution")


class TemplateLoadsTemplates(Check):
    """`{% include %}`, `{% import %}`, `{% from ... import %}` or `{% extends %}`: the template asks
    the environment to load another template.

    Chat templates are self-contained strings; a loader that has a file-system loader configured
    would read files chosen by the model author. **Suspicious**; a name with `..`, an absolute path
    or a URL scheme is a file-read attempt and **unsafe**.
    """

    id = "MC186"
    title = "Template loads other templates"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-73"
    remediation = "Inline what the template needs; chat templates must not include files."
    tags = ("ssti",)


class FormatStringAttribute(Check):
    """`str.format` / `format_map` is called on a format string whose fields walk attributes
    (`"{0.__class__.__init__.__globals__}".format(x)`): Python resolves those fields itself, which
    bypasses even Jinja2's attribute filtering in older sandboxes (CVE-2016-10745, CVE-2019-10906).
    **Unsafe** when a field names an internal attribute, **suspicious** when the format string is
    assembled from parts that cannot be resolved.
    """

    id = "MC187"
    title = "Format string walks attributes in template"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = _SSTI_CWE
    remediation = _SSTI_FIX
    tags = ("ssti", "CVE-2019-10906")


class TemplateResourceExhaustion(Check):
    """The template builds huge ranges or strings (`range(10**9)`, `"a" * 10**8`, large powers).

    Rendering happens on every request; Jinja2's sandbox caps ranges at 100,000 items, an
    unsandboxed renderer does not. **Suspicious** (denial of service, not code execution).
    """

    id = "MC188"
    title = "Template builds huge values"
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-400"
    remediation = "Review the template; chat templates loop over messages, not large ranges."
    tags = ("dos",)
