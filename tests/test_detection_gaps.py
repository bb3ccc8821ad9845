"""Detection gaps found by the held-out corpus, closed with general mechanisms.

Python: a dangerous callable used as a *value* (stored in a container, passed, a default, returned,
named by a string that something resolves) is reported like the call, and calls through
containers, defaults, class attributes and local functions resolve to the callable.
Jinja: string filters and str methods are computed with Jinja2's own semantics; anything not modelled
is unresolved (fail closed), never a harmless constant. Nothing here is executed or rendered except
benign constant expressions rendered by Jinja2's sandbox as the oracle for the folder.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from builders import hf
from builders import templates as T
from modelcert.findings import ArtifactReport, Finding, Severity, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.jinja_template import ConstantFolder, iter_nodes, parse_template
from modelcert.limits import Limits
from modelcert.scan import scan_blob

CMD = hf.CMD


def review(source: str, name: str = "modeling_x.py") -> ArtifactReport:
    return scan_blob(BytesBlob(source.encode(), name), name)


def found(report: ArtifactReport, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check_id == check_id]


def dump(report: ArtifactReport) -> list[dict[str, object]]:
    return [f.to_dict() for f in report.all_findings()]


# ---- Python: the corpus samples ----------------------------------------------------------------

_CORPUS_PYTHON = {
    "list item": f"import os\n[os.system][0]({CMD!r})\n",
    "alias dict": 'import os\nrunners = {"go": os.execv}\n'
    'runners["go"]("/bin/sh", ["sh", "-c", "echo modelcert-test"])\n',
    "default argument": f"import os\n\n\ndef run(c, f=os.system):\n    f(c)\n\n\nrun({CMD!r})\n",
    "PYTHONBREAKPOINT hook": 'import os\nos.environ["PYTHONBREAKPOINT"] = "os.system"\n'
    f"breakpoint({CMD!r})\n",
}


@pytest.mark.parametrize("name", sorted(_CORPUS_PYTHON))
def test_corpus_python_samples_are_unsafe_process_execution(name: str) -> None:
    report = review(_CORPUS_PYTHON[name])
    assert report.verdict is Verdict.UNSAFE, dump(report)
    calls = [f for f in found(report, "MC413") if not f.details.get("reference")]
    assert calls, dump(report)  # the call itself is resolved, not only the reference
    assert all(f.severity >= Severity.HIGH for f in calls)


def test_list_item_call_keeps_the_command_preview() -> None:
    finding = next(f for f in found(review(_CORPUS_PYTHON["list item"]), "MC413"))
    assert finding.details["target"] == "os.system" and finding.details["command"] == CMD


# ---- Python: calls through containers, defaults, class attributes, results -----------------------

_RESOLVED_CALLS = [
    f"import os\nfns = (os.system,)\nfns[0]({CMD!r})",
    f"import os\nfns = [print, os.system]\nfns[-1]({CMD!r})",
    f'import os\nt = {{"a": {{"b": os.system}}}}\nt["a"]["b"]({CMD!r})',
    f'import os\n{{**{{"a": os.system}}}}["a"]({CMD!r})',
    f'import os\nd = {{}}\nd["x"] = os.system\nd["x"]({CMD!r})',
    f'import os\nd = dict(run=os.system)\nd["run"]({CMD!r})',
    f'import os\ng = {{"run": os.system}}.get("run")\ng({CMD!r})',
    f'import os\nr = {{}}\nr.setdefault("x", os.system)\nr["x"]({CMD!r})',
    f'import os\nr = {{}}\nr.update(x=os.system)\nr["x"]({CMD!r})',
    f"import os\nhooks = []\nhooks.append(os.popen)\nhooks[0]({CMD!r})",
    f"import os\nhooks = []\nhooks += [os.popen]\nhooks[0]({CMD!r})",
    f"import os\nfor f in [os.system]:\n    f({CMD!r})",
    f"import os\nfor i, f in enumerate([os.system]):\n    f({CMD!r})",
    f"import os\nfor k, f in {{'a': os.system}}.items():\n    f({CMD!r})",
    f"import os\nnext(iter([os.system]))({CMD!r})",
    f"import os\nsorted([os.system], key=id)[0]({CMD!r})",
    f"import os, operator\noperator.getitem([os.system], 0)({CMD!r})",
    f"import os\ndef pick():\n    return os.system\npick()({CMD!r})",
    f'import os\ndef table():\n    return {{"go": os.system}}\ntable()["go"]({CMD!r})',
    f"import os\nf = lambda c, g=os.system: g(c)\nf({CMD!r})",
    "import os\ndef run(c, *, f=os.system):\n    f(c)",
    f"import os\ndef run(c, f):\n    f(c)\nrun({CMD!r}, os.system)",
    f"import os\ndef run(c, f=None):\n    f(c)\nrun({CMD!r}, f=os.system)",
    f"import os\nclass R:\n    go = os.system\nR.go({CMD!r})",
    f"import os\nclass R:\n    go = os.system\n    def run(self):\n        self.go({CMD!r})",
    f"import os\nclass A:\n    def __init__(self, runner=os.system):\n        self.runner = runner\n"
    f"    def go(self):\n        self.runner({CMD!r})",
    f"import os, sys\nsys.breakpointhook = os.system\nbreakpoint({CMD!r})",
    f'import os\nos.putenv("PYTHONBREAKPOINT", "os.system")\nbreakpoint({CMD!r})',
    f'import os\nos.environ.update(PYTHONBREAKPOINT="subprocess.getoutput")\nbreakpoint({CMD!r})',
    'import os\nos.environ |= {"PYTHONBREAKPOINT": "posix:system"}\n'
    f"import builtins\nbuiltins.breakpoint({CMD!r})",
    f'import os\nk = "PYTHON" + "BREAKPOINT"\nos.environ[k] = "os." + "system"\nbreakpoint({CMD!r})',
    f'import pydoc\nx = pydoc.locate("subprocess.check_output")\nx([{CMD!r}])',
]


@pytest.mark.parametrize("source", _RESOLVED_CALLS)
def test_calls_through_values_resolve_to_the_callable(source: str) -> None:
    report = review(source)
    calls = [f for f in found(report, "MC413") if not f.details.get("reference")]
    assert calls and report.verdict is Verdict.UNSAFE, dump(report)


def test_breakpoint_call_says_why_it_runs_the_command() -> None:
    report = review(_CORPUS_PYTHON["PYTHONBREAKPOINT hook"])
    by_line = {f.location.line: f for f in found(report, "MC413")}
    assert "breakpoint()" in by_line[3].message and by_line[3].details["command"] == CMD
    assert "PYTHONBREAKPOINT" in by_line[2].message and by_line[2].details["value"] == "os.system"


def test_breakpoint_disabled_by_zero_is_clean() -> None:
    report = review('import os\nos.environ["PYTHONBREAKPOINT"] = "0"\nbreakpoint()\n')
    assert report.verdict is Verdict.CLEAN, dump(report)


def test_breakpoint_hook_set_at_run_time_is_tampering() -> None:
    report = review('import os\nos.environ["PYTHONBREAKPOINT"] = os.environ.get("HOOK", "pdb.set_trace")\n')
    assert found(report, "MC421") and report.verdict is Verdict.SUSPICIOUS, dump(report)


# ---- Python: references used as values ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "check", "wording"),
    [
        ("import os\nRUNNERS = {'go': os.execv}\n", "MC413", "stored in a container"),
        ("import os\nhooks = [os.system]\n", "MC413", "stored in a container"),
        ("import os\nrunner = os.system\n", "MC413", "assigned"),
        ("import os\ndef run(c, f=os.system):\n    return c\n", "MC413", "parameter default"),
        ("import os\ndef pick():\n    return os.popen\n", "MC413", "returned"),
        ("import subprocess\nclass P(subprocess.Popen):\n    pass\n", "MC413", "subclassed"),
        ("T = [exec, eval]\n", "MC410", "stored in a container"),
        ("import ctypes\nLOADERS = {'c': ctypes.CDLL}\n", "MC419", "stored in a container"),
        ("import pickle\nDECODE = (pickle.loads,)\n", "MC420", "stored in a container"),
        ("import importlib\nIMPORTERS = [importlib.import_module]\n", "MC418", "stored in a container"),
        ("import pkgutil\nf = pkgutil.resolve_name('subprocess:Popen')\n", "MC413", "assigned"),
    ],
)
def test_reference_used_as_a_value_is_reported_like_the_call(source: str, check: str, wording: str) -> None:
    report = review(source)
    refs = [f for f in found(report, check) if f.details.get("reference")]
    assert refs, dump(report)
    assert wording in refs[0].message and "reference to" in refs[0].message
    default = next(f for f in found(report, check)).severity
    assert refs[0].severity <= default  # same or one step lower than the call


def test_reference_passed_to_a_call_keeps_the_full_severity() -> None:
    report = review(f"import os, threading\nthreading.Thread(target=os.system, args=({CMD!r},)).start()\n")
    finding = found(report, "MC413")[0]
    assert "passed as a callable" in finding.message and finding.severity is Severity.HIGH


@pytest.mark.parametrize(
    ("source", "check"),
    [
        ('import os\nos.environ["MODEL_FACTORY"] = "subprocess:Popen"\n', "MC413"),
        ('import os\nos.putenv("LOADER", "builtins.exec")\n', "MC410"),
        ('import os\nos.environ.setdefault("UNPICKLER", "pickle.loads")\n', "MC420"),
        ('LOGGING = {"handlers": {"h": {"()": "os.system"}}}\n', "MC413"),
    ],
)
def test_strings_naming_dangerous_callables_are_findings(source: str, check: str) -> None:
    report = review(source)
    assert found(report, check), dump(report)
    assert report.verdict is not Verdict.CLEAN


# ---- Python: benign modelling idioms stay clean ---------------------------------------------------

_BENIGN_MODELLING = """
import functools, subprocess, types
from typing import Optional
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

ACT2FN = {"gelu": F.gelu, "relu": F.relu, "silu": nn.SiLU, "tanh": torch.tanh}
INIT = [nn.init.normal_, nn.init.zeros_]


class Block(nn.Module):
    norm_class = nn.LayerNorm

    def __init__(self, config, act=nn.GELU):
        super().__init__()
        self.act = nn.GELU
        self.act_fn = ACT2FN[config.hidden_act]
        self.fallback = act()
        self.norm = self.norm_class(config.hidden_size)
        self.approx = functools.partial(F.gelu, approximate="tanh")
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])

    def forward(self, x, proc: Optional[subprocess.Popen] = None):
        for layer in self.layers:
            x = checkpoint(layer, x, use_reentrant=False)
        if type(self.act) is types.FunctionType:
            x = self.act(x)
        return self.act_fn(self.norm(x))


def run_probe():
    try:
        return torch.cuda.is_available()
    except subprocess.CalledProcessError:
        return False


def pick(name="gelu"):
    return ACT2FN.get(name, F.gelu)


HANDLERS = {types.FunctionType: repr}
"""


def test_references_to_harmless_callables_are_clean() -> None:
    report = review(_BENIGN_MODELLING)
    assert report.verdict is Verdict.CLEAN, dump(report)
    assert all(f.severity is Severity.INFO for f in report.all_findings())


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("configuration_toy.py", hf.CONFIGURATION_TOY),
        ("modeling_toy.py", hf.MODELING_TOY),
        ("tokenization_toy.py", hf.TOKENIZATION_SENTENCEPIECE),
        ("tokenization_toy_tiktoken.py", hf.TOKENIZATION_TIKTOKEN),
    ],
)
def test_realistic_modelling_files_stay_clean(name: str, source: str) -> None:
    assert review(source, name).verdict is Verdict.CLEAN


def test_environment_write_of_a_plain_setting_is_clean() -> None:
    source = 'import os\nos.environ["TOKENIZERS_PARALLELISM"] = "false"\nos.environ["MODE"] = "exec"\n'
    report = review(source)
    assert report.verdict is Verdict.CLEAN, dump(report)


# ---- Python: property — however the callable is wrapped and fetched back, the call resolves -------

_WRAPPERS = {
    "list": ("[{v}]", "[0]"),
    "tuple": ("({v},)", "[-1]"),
    "dict": ('{{"k": {v}}}', '["k"]'),
    "dict()": ("dict(k={v})", '.get("k")'),
    "nested": ('{{"a": [{v}]}}', '["a"][0]'),
    "sorted": ("sorted([{v}], key=id)", "[0]"),
}


@pytest.mark.property
@settings(max_examples=40, deadline=None)
@given(
    chain=st.lists(st.sampled_from(sorted(_WRAPPERS)), min_size=1, max_size=4),
    through_names=st.booleans(),
    target=st.sampled_from(["os.system", "os.popen", "subprocess.getoutput"]),
)
def test_wrapped_callable_calls_always_resolve(chain: list[str], through_names: bool, target: str) -> None:
    lines = ["import os, subprocess"]
    value = target
    for index, kind in enumerate(chain):
        value = _WRAPPERS[kind][0].format(v=value)
        if through_names:
            lines.append(f"v{index} = {value}")
            value = f"v{index}"
    access = "".join(_WRAPPERS[kind][1] for kind in reversed(chain))
    lines.append(f"{value}{access}({CMD!r})")
    report = review("\n".join(lines) + "\n")
    calls = [f for f in found(report, "MC413") if not f.details.get("reference")]
    assert calls and calls[0].details["target"] == target, ("\n".join(lines), dump(report))


# ---- Jinja: the corpus sample and filter disguises --------------------------------------------------


def scan_template(source: str) -> ArtifactReport:
    return scan_blob(BytesBlob(source.encode(), "chat_template.jinja"), "chat_template.jinja")


def test_corpus_center_filter_disguise_is_unsafe() -> None:
    report = scan_template("{{ messages|attr('class'|center(9)|replace(' ', '_')) }}")
    finding = found(report, "MC182")[0]
    assert report.verdict is Verdict.UNSAFE and finding.details["name"] == "__class__"


@pytest.mark.parametrize(
    "expr",
    [
        "('class'|indent(2, true)|replace(' ', '_')) ~ '__'",
        "'__CLASS__'|lower",
        "dict(__class__=x)|first",
        "'{0:_^9}'.format('class')",
        "'%c%c'|format(95, 95) ~ 'class' ~ '%c%c'|format(95, 95)",
        "'class'.ljust(7, '_').rjust(9, '_')",
        "'class'.center(9, '_')",
        "'_'.join(['', '', 'class', '', ''])",
        "'<b>__class__</b>'|striptags",
        "'ssalc__'|reverse ~ '__'",
        "'__class__ is here'|truncate(9, true, '')",
        "'__class__ tail'.split()|first",
        "'__class__ tail'.partition(' ')[0]",
        "['_', '_', 'c', 'l', 'a', 's', 's', '_', '_']|batch(9)|first|join",
        "'%-7s'|format('__class')|replace(' ', '_') ~ '__'",
        "'%(a)s'|format(a='__class__')",
        "('class'|attr('center'))(9, '_')",
        "['__cla', 'ss__']|join",
        "'__class__'|title",
        "('_' * 2) ~ 'class' ~ ('_' * 2)",
        "'__class__'|wordwrap(20)",
        "'__class__'|urlencode",
        "'__class__'|e",
    ],
)
def test_dunders_built_through_filters_and_methods_resolve(expr: str) -> None:
    report = scan_template("{{ messages|attr(" + expr + ") }}")
    names = [f.details.get("name") for f in found(report, "MC182")]
    assert "__class__" in names and report.verdict is Verdict.UNSAFE, dump(report)


@pytest.mark.parametrize(
    "expr",
    [
        "'class'|frobnicate",  # a filter this scanner does not know
        "'class'|center(9)|frobnicate('_')",
        "('_' * 2)|frob ~ 'class' ~ '__'",
        "'class'.frob(9, '_')",  # a method it does not model
        "'class'|center(99999)|replace(' ', '_')",  # too large to compute: not a constant
        "'%0300s'|format('class')",
        "'_' * 5000",
        "'class'|tojson",
    ],
)
def test_unmodelled_filters_and_methods_fail_closed(expr: str) -> None:
    report = scan_template("{{ messages|attr(" + expr + ") }}")
    assert found(report, "MC183") or found(report, "MC182"), dump(report)
    assert report.verdict is not Verdict.CLEAN


def test_underscore_assembly_through_an_unknown_filter_is_unsafe() -> None:
    report = scan_template("{{ messages[('_' * 2)|frob ~ 'class' ~ '__'] }}")
    finding = found(report, "MC183")[0]
    assert finding.verdict is Verdict.UNSAFE and finding.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    "source",
    [
        "{{ messages[0]['content']|trim|center(80) }}",
        "{% set sep = '\\n'|indent(2) %}{{ sep }}{{ message['content']|wordwrap(70) }}",
        "{% for m in messages %}{{ roles[m['role']|lower|trim] }}{% endfor %}",
        "{{ tools|map(attribute='name')|join(', ') }}{{ (tools|first)['name']|title }}",
        "{% set names = ['user', 'assistant']|map('upper')|list %}{{ labels[names|first] }}",
        "{{ message['content']|frobnicate }}",
        "{{ ('<|' ~ role|default('user') ~ '|>')|replace('|', '') }}",
    ],
)
def test_templates_using_string_filters_on_data_stay_clean(source: str) -> None:
    assert scan_template(source).verdict is Verdict.CLEAN


@pytest.mark.parametrize("name", sorted(T.BENIGN_TEMPLATES))
def test_real_shaped_templates_stay_clean(name: str) -> None:
    assert scan_template(T.BENIGN_TEMPLATES[name]).verdict is Verdict.CLEAN


# ---- Jinja: the folder computes what Jinja2 itself renders -----------------------------------------

_ORACLE = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
_TEXT = st.text(alphabet="ab_ -\nC<>%.", max_size=12)
_CHAINS = [
    "|center({n})", "|replace(' ', '_')", "|replace('_', '', {n})", "|indent({n})", "|indent({n}, true)",
    "|title", "|capitalize", "|upper", "|lower", "|trim", "|trim('_')", "|reverse", "|list|join",
    "|list|reverse|join('-')", "|string", "|e", "|truncate({m}, true, '')", "|truncate({m})",
    "|wordwrap({m})", "|urlencode", "|striptags", "|first", "|last", "|list|unique|join",
    "|list|sort|join", ".ljust({n}, '_')", ".rjust({n})", ".center({n}, '_')", ".zfill({n})",
    ".strip('_')", ".swapcase()", ".split('_')|join('.')", ".partition('_')|join", "|length",
    "|wordcount", ".upper().lower()", "|format", " ~ '_' * {n}", "[1:]", "[::-1]", "[{n}]",
    "|list|batch({m})|list|string", "|list|slice(2)|first|join", "|list|max", "|list|min",
    "|list|sort(reverse=true)|join", "|replace('a', '__', {n})", ".replace('_', 'a_a')",
    ".expandtabs({n})", "|wordwrap({m}, true, '_')", "|indent('_')", "|indent('_', blank=true)",
    "|center", ".title()", ".casefold()", ".removeprefix('_')", ".splitlines()|join('|')",
    " % ()", "|list|map('upper')|join", "|list|select|join", "|list|reject|list|length",
    ".format()", ".count('_')", ".find('a')", "|forceescape", "|safe|e", "|filesizeformat",
    "|int", "|float|round", "|list|unique(true)|join", "|list + ['x']", "|list * 2",
]


def _fold_output(source: str) -> object:
    tree = parse_template(source, Limits())
    output = next(n for n in iter_nodes(tree) if isinstance(n, nodes.Output))
    return ConstantFolder(tree).fold(output.nodes[0])


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    text=_TEXT,
    steps=st.lists(st.sampled_from(_CHAINS), min_size=1, max_size=3),
    n=st.integers(min_value=0, max_value=14),
    m=st.integers(min_value=3, max_value=14),
)
def test_folded_filters_match_jinja_rendering(text: str, steps: list[str], n: int, m: int) -> None:
    expr = "(" + repr(text) + ")"
    for step in steps:
        expr = "(" + expr + step.format(n=n, m=m) + ")"
    source = "{{ " + expr + " }}"
    folded = _fold_output(source)
    try:
        rendered = _ORACLE.from_string(source).render()
    except Exception:  # the template itself fails: the folder must not invent a value
        assert not getattr(folded, "values", ()), (source, folded)
        return
    if "0x" in rendered:
        return  # the text of an object address, which differs from run to run
    texts = {str(v) for v in getattr(folded, "values", frozenset())}
    if getattr(folded, "complete", False):
        assert texts == {rendered}, (source, folded, rendered)
    else:
        assert not texts or rendered in texts, (source, folded, rendered)
