"""Chat templates: SSTI regressions (CVE-2024-34359, vLLM 2025, SGLang CVE-2026-5760), computed-name
disguises, benign real-shaped templates, and the check_template_source contract. Nothing is rendered."""

from __future__ import annotations

import pytest

from builders import templates as T
from builders.templates import RecordingContext
from modelcert.checks.templates import check_template_source
from modelcert.findings import Location, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.scan import scan_blob


def scan_template(source: str, name: str = "chat_template.jinja"):
    return scan_blob(BytesBlob(source.encode("utf-8"), name), name)


def check(source: str) -> RecordingContext:
    ctx = RecordingContext()
    check_template_source(source, ctx, Location(path="tokenizer_config.json", pointer="chat_template"),
                          origin="tokenizer_config.json:chat_template")
    return ctx


# -- benign templates stay clean --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(T.BENIGN_TEMPLATES))
def test_real_shaped_templates_are_clean(name: str) -> None:
    report = scan_template(T.BENIGN_TEMPLATES[name])
    assert report.format == "jinja"
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.all_findings()]


@pytest.mark.parametrize(
    "source",
    [
        "{{ message['_id'] }}",  # item lookup with a private-looking key is a dict lookup
        "{{ roles[message.role] }}{{ params[key] }}",  # keys from runtime data
        "{% for k, v in tool.parameters.properties.items() %}{{ props[k] }}{% endfor %}",
        "{{ messages[loop.index0 + 1]['content'] }}{{ messages[-1].content[::-1] }}",
        "{{ 'system' }}{{ '__init__ is printed text, not an attribute' }}",
        "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ messages[ns.n] }}"
        "{% endfor %}",
    ],
)
def test_benign_constructs_are_clean(source: str) -> None:
    ctx = check(source)
    assert ctx.findings == []


# -- published advisories ---------------------------------------------------------------------------


def test_cve_2024_34359_payload_in_jinja_file() -> None:
    """CVE-2024-34359 (llama-cpp-python): the published subclasses/__builtins__/popen payload."""
    report = scan_template(T.CVE_2024_34359)
    assert report.verdict is Verdict.UNSAFE
    ids = {f.check_id for f in report.all_findings()}
    assert {"MC181", "MC185"} <= ids
    assert any("popen" in f.message for f in report.all_findings())


def test_cve_2024_34359_variants_lipsum_self_mro() -> None:
    """CVE-2024-34359 variants through the other Jinja2 gadget roots."""
    for source in (T.LIPSUM_GLOBALS, T.SELF_CONTEXT, T.MRO_CALL):
        ctx = check(source)
        assert Verdict.UNSAFE.value in ctx.verdicts(), source
    assert "MC184" in check(T.LIPSUM_GLOBALS).ids()
    assert any(f.details.get("name") == "mro" for f in check(T.MRO_CALL).findings)


def test_vllm_2025_chat_template_class_hierarchy_escape() -> None:
    """vLLM (2025): chat template walking __class__.__mro__ to __globals__['popen']."""
    ctx = check(T.VLLM_SHAPE)
    assert {"MC181", "MC185"} <= ctx.ids()


def test_sglang_cve_2026_5760_cycler_globals() -> None:
    """SGLang CVE-2026-5760: template reaching os through cycler.__init__.__globals__."""
    ctx = check(T.SGLANG_SHAPE)
    assert Verdict.UNSAFE.value in ctx.verdicts()
    assert "MC185" in ctx.ids()


@pytest.mark.parametrize("name", sorted(T.DISGUISES))
def test_computed_name_disguises_are_unsafe(name: str) -> None:
    """Computed attribute names (CVE-2024-34359 class, obfuscated) resolve to what they reach."""
    ctx = check(T.DISGUISES[name])
    unsafe = [f for f in ctx.findings if f.verdict is Verdict.UNSAFE]
    assert unsafe, [f.message for f in ctx.findings]
    assert ctx.ids() & {"MC181", "MC182", "MC185", "MC187"}


def test_disguise_reports_resolved_name() -> None:
    ctx = check(T.DISGUISES["percent_c_format"])
    finding = next(f for f in ctx.findings if f.check_id == "MC182")
    assert finding.details["name"] == "__class__"


def test_unresolvable_name_built_from_package_tokens_is_suspicious() -> None:
    ctx = check("{{ messages[bos_token] }}")
    assert ctx.ids() == {"MC183"}
    assert ctx.verdicts() == {Verdict.SUSPICIOUS.value}


def test_unresolvable_name_assembling_underscores_is_unsafe() -> None:
    ctx = check("{{ messages[custom ~ '__'] }}")
    assert ctx.ids() == {"MC183"}
    assert ctx.verdicts() == {Verdict.UNSAFE.value}


def test_dunder_completed_by_runtime_input_is_unsafe() -> None:
    ctx = check(T.DATA_COMPLETED_DUNDER)
    assert ctx.ids() == {"MC183"} and ctx.verdicts() == {Verdict.UNSAFE.value}


def test_data_keys_joined_with_plain_constants_are_clean() -> None:
    assert check("{{ special_tokens['<' ~ message.role ~ '>'] }}").findings == []


def test_very_long_binding_chain_fails_closed() -> None:
    source = "".join(f"{{% set v{i} = v{i - 1} ~ '_' %}}" for i in range(1, 400)) + "{{ y[v399] }}"
    assert "MC183" in check(source).ids()


def test_attr_filter_with_data_name_is_suspicious() -> None:
    ctx = check("{{ message|attr(field_name) }}")
    assert ctx.ids() == {"MC183"}


def test_gadget_global_reference_is_suspicious() -> None:
    ctx = check("{{ lipsum }}{{ config }}")
    assert ctx.ids() == {"MC184"}
    assert len(ctx.findings) == 2


def test_locally_bound_gadget_name_is_not_a_global() -> None:
    assert check("{% for g in groups %}{{ g.name }}{% endfor %}").findings == []


def test_include_with_traversal_is_unsafe_plain_include_suspicious() -> None:
    traversal = check("{% include '../../etc/passwd' %}")
    assert traversal.ids() == {"MC186"} and traversal.verdicts() == {Verdict.UNSAFE.value}
    plain = check("{% import 'macros.j2' as m %}")
    assert plain.ids() == {"MC186"} and plain.verdicts() == {Verdict.SUSPICIOUS.value}


def test_format_string_attribute_walk_is_unsafe() -> None:
    """CVE-2019-10906 class: str.format resolving attribute fields itself."""
    ctx = check("{{ '{0.__init__.__globals__}'.format(cycler) }}")
    assert "MC187" in ctx.ids()


def test_huge_range_is_resource_exhaustion() -> None:
    ctx = check("{% for i in range(10 ** 9) %}x{% endfor %}{{ 'a' * 100000000 }}")
    assert ctx.ids() == {"MC188"}
    assert ctx.verdicts() == {Verdict.SUSPICIOUS.value}


def test_syntax_error_is_unscannable_with_line() -> None:
    ctx = check("{% for m in messages %}\n{{ m.content }\n")
    assert ctx.ids() == {"MC180"}
    finding = ctx.findings[0]
    assert finding.verdict is Verdict.UNSCANNABLE
    assert finding.location.line == 2
    assert "would fail" in finding.message


def test_non_utf8_template_file_is_unscannable() -> None:
    report = scan_blob(BytesBlob(b"{{ x }}\xff\xfe", "t.jinja"), "t.jinja")
    assert report.verdict is Verdict.UNSCANNABLE


def test_findings_keep_pointer_and_get_line() -> None:
    ctx = check("{% if true %}\n\n{{ x.__class__ }}{% endif %}")
    finding = ctx.findings[0]
    assert finding.location.pointer == "chat_template"
    assert finding.location.line == 3


def test_note_records_digest_and_origin() -> None:
    ctx = check(T.CHATML)
    (note,) = ctx.notes["chat_template"]
    assert note["origin"] == "tokenizer_config.json:chat_template"
    assert len(note["sha256"]) == 64


def test_recursive_macro_does_not_hang() -> None:
    ctx = check("{% macro f(x) %}{{ f(x ~ '_') }}{% endmacro %}{{ y|attr(f('a')) }}")
    assert "MC183" in ctx.ids()


def test_findings_are_capped_per_template() -> None:
    source = "".join(f"{{{{ x.__a{i}__ }}}}\n" for i in range(200))
    assert len(check(source).findings) <= 50


# -- property tests -----------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
TEMPLATE_ALPHABET = "{}%#()[]|~+'\"_.,= abcx0123456789\n-*"


@pytest.mark.property
@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.text(alphabet=st.sampled_from(list(TEMPLATE_ALPHABET)), max_size=200))
def test_arbitrary_text_never_raises(source: str) -> None:
    ctx = check(source)
    assert all(f.check_id.startswith("MC") for f in ctx.findings)


@pytest.mark.property
@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(st.sampled_from(sorted(T.BENIGN_TEMPLATES)), st.integers(0, 10_000), st.text(max_size=8))
def test_mutated_real_templates_never_raise(name: str, position: int, insert: str) -> None:
    source = T.BENIGN_TEMPLATES[name]
    position %= len(source)
    ctx = check(source[:position] + insert + source[position + len(insert):])
    assert "MC903" not in ctx.ids()
