"""Nested pickles: payloads handed to loaders (`pickle.loads`, `torch.load(BytesIO(...))`, decoder
chains; protectai/modelscan#267) and complete pickles embedded as bytes literals.

Each is handed back to the scanner as a member (`ctx.scan_member`), so its findings appear under
the outer file and its verdict propagates; depth is bounded by `max_nested_pickle_depth`.
"""

from __future__ import annotations

from modelcert.checks import pickle_checks as mc
from modelcert.checks.base import AnalysisContext
from modelcert.checks.callables import judge_path
from modelcert.checks.pickle_resolve import PayloadError, Resolver, global_path, payload
from modelcert.errors import FormatError
from modelcert.findings import Severity, Verdict
from modelcert.formats.blob import Blob, BytesBlob
from modelcert.formats.pickle import PickleFile, read_pickle
from modelcert.formats.pickle_ops import BigBytes
from modelcert.formats.pickle_values import Call, Global, Lit, Seq, Site, Value, describe, walk
from modelcert.formats.pickle_view import PICKLE_MAGIC_PROTOCOLS

NESTED_PREFIXES = ("pickle-payload@", "embedded-pickle@")
MAX_EMBEDDED = 16
# Allowlisted loaders: the payload must be a literal, and it is analysed as a member.
ALLOWED_LOADERS = frozenset({"torch.storage._load_from_bytes"})
_PICKLE_FAMILY = ("pickle.", "_pickle.", "cPickle.", "dill.", "cloudpickle.", "_compat_pickle.")
_CODEC_ENCODE = frozenset({"_codecs.encode", "codecs.encode"})


def nested_depth(ctx: AnalysisContext) -> int:
    return sum(1 for member in ctx.location.member if member.startswith(NESTED_PREFIXES))


def scan_nested(blob: Blob, ctx: AnalysisContext, parsed: PickleFile, resolver: Resolver) -> None:
    """Hand loader payloads and embedded pickles of `parsed` to the scanner as members."""
    used: set[int] = set()
    views = [v for v in parsed.all_views() if v.kind != "joblib-array-as-opcodes"]
    for view in views:
        for call in view.calls:
            target = _loader(call, resolver)
            if target is not None:
                _loader_payload(blob, ctx, call, target, used)
    candidates: list[tuple[Blob, Site]] = []
    for view in views:
        for embedded in view.embedded:
            if id(embedded.value) not in used:
                data = payload(embedded.value, blob, ctx.limits.max_pickle_bytes)
                if data is not None:
                    candidates.append((data, embedded.site))
        for call in view.calls:
            encoded = _codec_bytes(call, blob, ctx)
            if encoded is not None and id(call) not in used:
                candidates.append((encoded, call.site))
    for data, site in candidates[:MAX_EMBEDDED]:
        if _complete_pickle(data, ctx):
            _scan(ctx, f"embedded-pickle@{site.offset}", data, "pickle", site)


def _loader(call: Call, resolver: Resolver) -> str | None:
    """The dotted name of the deserializer `call` invokes, if it invokes one."""
    if isinstance(call.func, Global):
        path = global_path(call.func)
    else:
        target, _ = resolver.invoked(call)
        if target is None:
            return None
        path = target.path
    if path in ALLOWED_LOADERS or judge_path(path).category == "deserializer":
        return path
    return None


def _loader_payload(blob: Blob, ctx: AnalysisContext, call: Call, target: str, used: set[int]) -> None:
    first: Value | None = call.args.items[0] if isinstance(call.args, Seq) and call.args.items else None
    location = ctx.location.at(offset=call.site.offset, opcode_index=call.site.index)
    if first is None:
        return
    try:
        data = payload(first, blob, ctx.limits.max_pickle_bytes)
    except (PayloadError, FormatError) as exc:
        ctx.add(mc.NestedPayloadUnread.finding(f"payload of {target} cannot be decoded: {exc}", location))
        return
    if data is None:
        if target in ALLOWED_LOADERS:
            ctx.add(mc.ConstructorMisuse.finding(
                f"pickle hands {target} a computed payload ({describe(first)}): it loads whatever that is "
                "with torch.load(weights_only=False)", location, details={"callable": target},
            ))  # fmt: skip
        return
    for value in walk(first, max_nodes=1000):
        used.add(id(value))
    used.add(id(call))
    hint = _hint(target, data)
    _scan(ctx, f"pickle-payload@{call.site.offset}", data, hint, call.site)


def _hint(target: str, data: Blob) -> str | None:
    """How the loader reads the payload: pickle loaders always as pickle, torch as zip or legacy pickle."""
    if target.startswith(_PICKLE_FAMILY):
        return "pickle"
    if target.startswith("torch."):
        return None if data.read_at(0, 2) == b"PK" else "pickle"
    return None  # joblib / numpy / others: the content decides


def _codec_bytes(call: Call, blob: Blob, ctx: AnalysisContext) -> Blob | None:
    """Protocol 2 spells bytes as `_codecs.encode(text, 'latin1')`: the bytes, if they start a pickle."""
    if not (isinstance(call.func, Global) and global_path(call.func) in _CODEC_ENCODE):
        return None
    items = call.args.items if isinstance(call.args, Seq) else []
    if not items or not isinstance(items[0], Lit):
        return None
    raw = items[0].value
    if isinstance(raw, BigBytes) and raw.kind == "str":
        text = raw.prefix[:8].decode("utf-8", "ignore")
    elif isinstance(raw, str):
        text = raw
    else:
        return None
    if len(text) < 2 or ord(text[0]) != 0x80 or ord(text[1]) not in PICKLE_MAGIC_PROTOCOLS:
        return None
    try:
        return payload(call, blob, ctx.limits.max_pickle_bytes)
    except (PayloadError, FormatError):
        return None


def _complete_pickle(data: Blob, ctx: AnalysisContext) -> bool:
    """Bytes that merely start like a pickle (array data often does) are only scanned when they are one."""
    parsed = read_pickle(data, ctx.limits)
    return bool(parsed.streams) and parsed.streams[0].complete and parsed.trailing is None


def _scan(ctx: AnalysisContext, name: str, data: Blob, hint: str | None, site: Site) -> None:
    if nested_depth(ctx) >= ctx.limits.max_nested_pickle_depth:
        ctx.add(mc.NestedPayloadUnread.finding(
            f"nested pickle deeper than {ctx.limits.max_nested_pickle_depth} levels: not analysed",
            ctx.location.at(offset=site.offset, opcode_index=site.index),
            severity=Severity.MEDIUM, verdict=Verdict.UNSCANNABLE,
        ))  # fmt: skip
        return
    if isinstance(data, BytesBlob) and data.size == 0:
        return
    ctx.scan_member(name, data, format_hint=hint)
