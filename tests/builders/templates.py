"""Chat-template builders: real-shaped benign templates (written from scratch) and SSTI payloads.

Payloads are harmless: the command string is always "echo modelcert-test" and nothing is rendered.
Real chat templates are long single-line strings, so line length is not enforced in this file.
"""
# ruff: noqa: E501

from __future__ import annotations

CMD = "echo modelcert-test"

# -- benign, real-shaped -------------------------------------------------------------------------

LLAMA3_TOOLS = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- if tools_in_user_message and not tools is none %}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
    {%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
            {%- endfor %}
            {{- ")" }}
        {%- else %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

QWEN25_TOOLS = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object within <tool_call></tool_call>:\\n<|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

QWEN3_THINKING = """{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""

QWEN3_CODER_PARAMS = """{% macro render_extra_keys(json_dict, handled_keys) %}
    {%- if json_dict is mapping %}
        {%- for json_key in json_dict if json_key not in handled_keys %}
            {%- if json_dict[json_key] is mapping or (json_dict[json_key] is sequence and json_dict[json_key] is not string) %}
                {{- '\\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | tojson | safe) ~ '</' ~ json_key ~ '>' }}
            {%- else %}
                {{-'\\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | string) ~ '</' ~ json_key ~ '>' }}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}
{%- for tool in tools %}
    {%- if tool.function is defined %}{%- set tool = tool.function %}{%- endif %}
    {{- "\\n<function>\\n<name>" ~ tool.name ~ "</name>" }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- '\\n<parameter>\\n<name>' ~ param_name ~ '</name>' }}
        {%- set handled_keys = ['name', 'type', 'description'] %}
        {{- render_extra_keys(param_fields, handled_keys) }}
        {{- '\\n</parameter>' }}
    {%- endfor %}
{%- endfor %}
"""

MISTRAL_INST = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

CHATML = """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"""

GEMMA = """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"""

DEEPSEEK_R1 = """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls'] %}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"""

PHI3 = """{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"""

# Exercises the constructs HF templates use: generation blocks, break/continue, macros with
# defaults, namespace counters, dict literals indexed by data, slicing, tests, joiner/cycler.
FEATURES = """{%- macro render_content(content, sep='\\n') -%}
{%- if content is string -%}{{ content }}{%- else -%}
{%- for part in content if part['type'] == 'text' -%}{{ part['text'] }}{{ sep if not loop.last }}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- set role_prefix = {'user': '<|user|>', 'assistant': '<|assistant|>', 'system': '<|system|>'} -%}
{%- set ns = namespace(count=0, seen_system=false) -%}
{%- set comma = joiner(', ') -%}
{%- set row = cycler('odd', 'even') -%}
{%- for message in messages -%}
  {%- if loop.index0 > 50 %}{% break %}{% endif -%}
  {%- if message.role not in role_prefix %}{{ raise_exception('unknown role ' ~ message.role) }}{% endif -%}
  {%- if message.role == 'system' and ns.seen_system %}{% continue %}{% endif -%}
  {%- set ns.count = ns.count + 1 -%}
  {{- role_prefix[message.role] }}{{ row.next() }}{{ comma() }}
  {%- if message.role == 'assistant' -%}
    {% generation %}{{ render_content(message.content) }}{% endgeneration %}
  {%- else -%}
    {{ render_content(message['content'], sep=' ') | trim }}
  {%- endif -%}
  {{- messages[loop.index0]['role'][:1] | upper }}{{ message.content[-20:] if message.content is string }}
  {%- if message.tool_calls is defined -%}
    {%- for call in message.tool_calls -%}{{ call.function.name }}{{ call.function.arguments | tojson(indent=2) }}{%- endfor -%}
  {%- endif -%}
{%- endfor -%}
{{- (messages | map(attribute='role') | join(',')) }}{{ messages | selectattr('role', 'equalto', 'user') | list | length }}
{{- (messages | sort(attribute='role') | first).role }}{{ strftime_now('%Y-%m-%d') }}{{ ns.count }}{{ range(3) | list }}
"""

BENIGN_TEMPLATES: dict[str, str] = {
    "llama3_tools": LLAMA3_TOOLS,
    "qwen25_tools": QWEN25_TOOLS,
    "qwen3_thinking": QWEN3_THINKING,
    "qwen3_coder_params": QWEN3_CODER_PARAMS,
    "mistral_inst": MISTRAL_INST,
    "chatml": CHATML,
    "gemma": GEMMA,
    "deepseek_r1": DEEPSEEK_R1,
    "phi3": PHI3,
    "features": FEATURES,
}

# -- malicious -----------------------------------------------------------------------------------

# CVE-2024-34359 (llama-cpp-python): the published PoC shape, with a harmless command.
CVE_2024_34359 = (
    "{% for x in ().__class__.__base__.__subclasses__() %}{% if \"warning\" in x.__name__ %}"
    "{{ x()._module.__builtins__['__import__']('os').popen(\"" + CMD + "\") }}{% endif %}{% endfor %}"
)
# vLLM (2025): chat template reached os through an object's class hierarchy and __globals__.
VLLM_SHAPE = (
    "{{ ''.__class__.__mro__[1].__subclasses__()[140].__init__.__globals__['popen']('" + CMD + "').read() }}"
)
# SGLang CVE-2026-5760: a GGUF-embedded template rendered for /v1/rerank; same escape via cycler.
SGLANG_SHAPE = (
    "{% set g = cycler.__init__.__globals__ %}{{ g.os.popen('" + CMD + "').read() }}"
    "{% for message in messages %}{{ message.content }}{% endfor %}"
)
LIPSUM_GLOBALS = "{{ lipsum.__globals__['os'].popen('" + CMD + "').read() }}"
SELF_CONTEXT = "{{ self._TemplateReference__context.joiner.__init__.__globals__.os.popen('" + CMD + "').read() }}"
MRO_CALL = "{{ ().__class__.mro()[1].__subclasses__() }}"

# Computed attribute names: each resolves to a dunder without a literal one in the source.
DISGUISES: dict[str, str] = {
    "tilde_concat": "{{ messages['__cla' ~ 'ss__'] }}",
    "plus_concat": "{{ messages|attr('__cla' + 'ss__') }}",
    "percent_c_format": "{{ messages|attr('%c%cclass%c%c'|format(95, 95, 95, 95)) }}",
    "percent_operator": "{{ messages|attr('%sclass%s' % ('__', '__')) }}",
    "dict_join": "{{ messages|attr(dict(__cla=1, ss__=1)|join) }}",
    "reverse_slice": "{{ messages|attr('__ssalc__'[::-1]) }}",
    "reverse_filter": "{{ messages|attr('__ssalc__'|reverse) }}",
    "lower_filter": "{{ messages|attr('__CLASS__'|lower) }}",
    "replace_filter": "{{ messages|attr('..class..'|replace('.', '_')) }}",
    "list_join": "{{ messages|attr(['__', 'class', '__']|join) }}",
    "str_join_method": "{{ messages[''.join(['_', '_class_', '_'])] }}",
    "set_variables": "{% set a = '__cla' %}{% set b = a ~ 'ss__' %}{{ messages|attr(b) }}",
    "namespace_accumulator": (
        "{% set ns = namespace(n='') %}{% for c in ['__', 'class', '__'] %}{% set ns.n = ns.n ~ c %}"
        "{% endfor %}{{ messages|attr(ns.n) }}"
    ),
    "repr_underscore": "{% set u = (()|select|string)[24] %}{{ messages|attr(u ~ u ~ 'class' ~ u ~ u) }}",
    "macro_argument": "{% macro n(p) %}{{ p }}{% endmacro %}{{ messages|attr(n('__class__')) }}",
    "set_block": "{% set a %}__class__{% endset %}{{ messages|attr(a) }}",
    "map_attribute": "{{ messages|map(attribute='__cla' ~ 'ss__')|list }}",
    "map_attr_filter": "{{ messages|map('attr', '__cl' ~ 'ass__')|list }}",
    "dyn_kwargs": "{{ messages|map(**{'attribute': '__class__'})|list }}",
    "upper_method": "{{ messages['__CLASS__'.lower()] }}",
    "hex_escape": "{{ messages|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "unicode_escape": "{{ messages|attr('\\u005f\\u005fglobals\\u005f\\u005f') }}",
    "for_loop_var": "{% for n in ['__globals__'] %}{{ lipsum|attr(n) }}{% endfor %}",
    "with_block": "{% with n = '__' ~ 'init' ~ '__' %}{{ cycler|attr(n) }}{% endwith %}",
    "cond_expr": "{{ messages|attr('__class__' if true else 'x') }}",
    "format_method": "{{ '{0.__class__.__init__.__globals__}'.format(messages) }}",
    "computed_popen_call": "{{ x|attr('po' ~ 'pen')('" + CMD + "') }}",
    "dict_items_loop": "{% for k, v in {'__class__': 1}.items() %}{{ messages[k] }}{% endfor %}",
    "items_filter_loop": "{% for k, v in {'__class__': 1}|items %}{{ messages[k] }}{% endfor %}",
    "select_generator": "{% for k in ['__class__']|select %}{{ messages|attr(k) }}{% endfor %}",
    "map_string_filter": "{{ messages|attr(['__CLASS__']|map('lower')|first) }}",
    "format_kwargs": "{{ messages|attr('%(u)sclass%(u)s'|format(u='__')) }}",
    "percent_dict": "{{ messages|attr('%(u)sclass%(u)s' % {'u': '__'}) }}",
    "loop_cycle": "{% for m in messages %}{{ m|attr(loop.cycle('__class__', 'role')) }}{% endfor %}",
    "namespace_dict_arg": "{% set ns = namespace({'a': '__class__'}) %}{{ messages|attr(ns.a) }}",
    "long_set_chain": "{% set a1 = '__cla' %}"
    + "".join(f"{{% set a{i} = a{i - 1} %}}" for i in range(2, 12))
    + "{% set z = a11 ~ 'ss__' %}{{ messages|attr(z) }}",
    "late_binding": "{% if false %}{{ messages|attr(z) }}{% endif %}{% set z = a ~ 'ss__' %}{% set a = '__cla' %}",
    "string_repeat": "{{ messages|attr('_' * 2 ~ 'class' ~ '_' * 2) }}",
}

# A planted backdoor: the template completes a dunder with runtime input (the attacker's prompt).
DATA_COMPLETED_DUNDER = "{% set k = '__' ~ message.content ~ '__' %}{{ messages[k] }}"


def jinja_file(source: str) -> bytes:
    return source.encode("utf-8")


# -- a recording AnalysisContext for calling check functions directly -----------------------------


class RecordingContext:
    """Implements the AnalysisContext protocol; keeps findings, notes and members for assertions."""

    def __init__(self, relpath: str = "model/tokenizer_config.json", package: object | None = None) -> None:
        from modelcert.findings import Location
        from modelcert.limits import DEFAULT_LIMITS

        self.limits = DEFAULT_LIMITS
        self.location = Location(path=relpath)
        self.depth = 0
        self.package = package
        self.relpath = relpath
        self.findings: list = []
        self.notes: dict[str, list] = {}
        self.members: list[tuple[str, object]] = []
        self.format: str | None = None

    def add(self, finding: object) -> None:
        self.findings.append(finding)

    def set_format(self, fmt: str) -> None:
        self.format = fmt

    def scan_member(self, name: str, blob: object, *, format_hint: str | None = None) -> None:
        self.members.append((name, blob))

    def note(self, key: str, value: object) -> None:
        self.notes.setdefault(key, []).append(value)

    def ids(self) -> set[str]:
        return {f.check_id for f in self.findings}

    def verdicts(self) -> set[str]:
        return {f.verdict.value for f in self.findings}
