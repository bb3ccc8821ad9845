"""Analyzer for the "pickle" format: reads every stream statically and reports what loading would do.

`analyze_pickle(blob, ctx, context=...)` is the entry point container analyzers call directly
(torch zip `data.pkl`, TorchScript constants, NumPy object arrays, joblib); the scanner calls
`_analyze` for any file or member detected as a pickle. Nothing is ever unpickled or imported.
"""

from __future__ import annotations

from typing import Any

from modelcert.checks import pickle_checks as mc
from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.checks.callables import ALLOWED, DANGEROUS, PRIVATE, Judgement, judge, judge_path
from modelcert.checks.callables_allow import NEW_ONLY
from modelcert.checks.pickle_nested import scan_nested
from modelcert.checks.pickle_resolve import Resolver, global_path, static_attribute_fetches
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import Severity, Verdict
from modelcert.formats.blob import Blob
from modelcert.formats.pickle import PickleFile, read_pickle
from modelcert.formats.pickle_layouts import JOBLIB_ARRAY_WRAPPERS
from modelcert.formats.pickle_values import (
    Call,
    DictV,
    Global,
    Lit,
    Opaque,
    Seq,
    Site,
    Unresolved,
    Value,
    describe,
    text_of,
)
from modelcert.formats.pickle_view import BuildEvent, Mutation, StreamView
from modelcert.records import MutableRecord

CONTEXTS = frozenset({"generic", "torch-data", "torchscript-constants", "numpy-object-array", "joblib"})

# Arguments of allowlisted constructors that must be a global the pickle names (a class/function).
CALLABLE_SLOTS: dict[str, tuple[int, ...]] = {
    "copyreg._reconstructor": (0, 1),
    "copyreg.__newobj__": (0,),
    "copyreg.__newobj_ex__": (0,),
    "torch._tensor._rebuild_from_type_v2": (0, 1),
    "torch._tensor._rebuild_from_type": (0, 1),
    "torch._utils._rebuild_wrapper_subclass": (0,),
    "numpy.core.multiarray._reconstruct": (0,),
    "numpy._core.multiarray._reconstruct": (0,),
    "collections.defaultdict": (0,),
    "numpy.random._pickle.__randomstate_ctor": (1,),
    "numpy.random._pickle.__generator_ctor": (1,),
    "pandas.core.indexes.base._new_Index": (0,),
}
# Allowlisted rebuild helpers that setattr() every key of one argument onto the rebuilt object.
ATTRIBUTE_STATE_ARGUMENT = {
    "torch._tensor._rebuild_from_type_v2": 3,
    "torch._utils._rebuild_parameter_with_state": 3,
}
_CLASS_SWAP_KEYS = frozenset({"__class__", "__dict__", "__builtins__", "__globals__", "__code__"})


def analyze_pickle(
    blob: Blob, ctx: AnalysisContext, *, context: str = "generic", start: int = 0
) -> PickleFile:
    """Analyse every pickle stream in `blob` (from `start`) and report into `ctx`.

    `context` says who is loading it: "torch-data" (persistent ids are storages),
    "torchscript-constants" (`__torch__.*` classes come from the archive's code),
    "numpy-object-array", "joblib", or "generic". Raises LimitExceeded after reporting what was
    found when a limit stops the reading.
    """
    if context not in CONTEXTS:
        raise ValueError(f"unknown pickle context {context!r}")
    parsed = read_pickle(blob, ctx.limits, start=start)
    if not parsed.streams:
        raise FormatError("no pickle stream (empty data)", start)
    report = _Report(ctx, context)
    for view in parsed.all_views():
        report.stream(view)
    report.flush()
    scan_nested(blob, ctx, parsed, report.resolver)
    if context == "generic":
        _label(ctx, parsed)
    if parsed.trailing is not None and parsed.trailing.kind == "unexplained":
        _trailing(blob, ctx, parsed)
    if parsed.limit_message:
        raise LimitExceeded(parsed.limit_message, parsed.limit_offset)
    return parsed


def _analyze(blob: Blob, ctx: AnalysisContext) -> None:
    analyze_pickle(blob, ctx)


ANALYZERS: tuple[AnalyzerSpec, ...] = (AnalyzerSpec(("pickle",), _analyze),)


class _Pending(MutableRecord):
    """One finding being accumulated: the first site, and how many sites share it."""

    __slots__ = ("check", "count", "details", "message", "severity", "site", "verdict")
    check: type[Check]
    message: str
    site: Site
    severity: Severity | None
    verdict: Verdict | None
    details: dict[str, Any]
    count: int

    def __init__(
        self,
        check: type[Check],
        message: str,
        site: Site,
        severity: Severity | None,
        verdict: Verdict | None,
        details: dict[str, Any],
        count: int = 1,
    ) -> None:
        self.check = check
        self.message = message
        self.site = site
        self.severity = severity
        self.verdict = verdict
        self.details = details
        self.count = count


class _Report(MutableRecord):
    """Turns stream views into findings, one per (check, name) with a count of the sites."""

    __slots__ = ("context", "ctx", "pending", "resolver")
    ctx: AnalysisContext
    context: str
    resolver: Resolver
    pending: dict[tuple[str, str], _Pending]

    def __init__(
        self,
        ctx: AnalysisContext,
        context: str,
        resolver: Resolver | None = None,
        pending: dict[tuple[str, str], _Pending] | None = None,
    ) -> None:
        self.ctx = ctx
        self.context = context
        self.resolver = Resolver() if resolver is None else resolver
        self.pending = {} if pending is None else pending

    def add(
        self,
        check: type[Check],
        key: str,
        message: str,
        site: Site,
        *,
        severity: Severity | None = None,
        verdict: Verdict | None = None,
        **details: Any,
    ) -> None:
        slot = (check.id, key)
        existing = self.pending.get(slot)
        if existing is not None:
            existing.count += 1
            if severity is not None and (existing.severity is None or severity > existing.severity):
                existing.severity, existing.message = severity, message
            return
        details.setdefault("stream", site.stream)
        details.setdefault("opcode", site.opcode)
        self.pending[slot] = _Pending(check, message, site, severity, verdict, details)

    def flush(self) -> None:
        for item in self.pending.values():
            details = dict(item.details)
            if item.count > 1:
                details["occurrences"] = item.count
            location = self.ctx.location.at(offset=item.site.offset, opcode_index=item.site.index)
            self.ctx.add(
                item.check.finding(
                    item.message, location, severity=item.severity, verdict=item.verdict, details=details
                )
            )
        self.pending.clear()

    # --- per stream ------------------------------------------------------------------------------

    def stream(self, view: StreamView) -> None:
        shadow = view.kind == "joblib-array-as-opcodes"
        prefix = "bytes joblib reads as array data, run by pickle.load, " if shadow else "pickle "
        fetches = set() if shadow else static_attribute_fetches(view, self._allowed)
        for imported in view.globals:
            # Array bytes read as opcodes are mostly noise: keep only real names, and extension
            # codes only when something calls them.
            if isinstance(imported, Global):
                if id(imported) in fetches:
                    continue  # getattr(AllowedClass, 'name'): judged by what the fetched value does
                if not shadow or _identifier_path(imported):
                    self.imported(imported, prefix)
            elif not shadow or imported.invoked:
                self.unresolved(imported, prefix)
        if shadow:
            return
        for call in view.calls:
            self.call(call)
        for build in view.builds:
            self.build(build)
        for mutation in view.mutations:
            self.mutation(mutation)
        for anomaly in view.anomalies:
            self.add(
                mc.StreamAnomaly,
                anomaly.code,
                f"pickle stream {anomaly.message}",
                anomaly.site,
                anomaly=anomaly.code,
            )
        if not view.complete and view.end_kind != "limit":
            self.broken(view)

    def _allowed(self, path: str) -> bool:
        return judge_path(path, context=self.context).kind == ALLOWED

    def imported(self, value: Global, prefix: str) -> None:
        verdict = judge(value.module, value.name, context=self.context)
        if verdict.is_allowed:
            return
        verb = "calls" if value.invoked else "imports"
        self.report_judgement(verdict, value.site, f"{prefix}{verb}", invoked=value.invoked, via=value.via)

    def report_judgement(self, verdict: Judgement, site: Site, lead: str, *, invoked: bool, via: str) -> None:
        reached = f" (reaches {verdict.reached})" if verdict.reached != verdict.path else ""
        details: dict[str, Any] = {
            "callable": verdict.path,
            "reached": verdict.reached,
            "category": verdict.category,
            "cwe": verdict.cwe,
            "invoked": invoked,
            "via": via,
        }
        if verdict.kind == DANGEROUS:
            severity = Severity.CRITICAL if invoked else Severity.HIGH
            message = f"{lead} {verdict.path}{reached} — {verdict.explanation} when loaded"
            self.add(mc.DangerousCallable, verdict.reached, message, site, severity=severity, **details)
        elif verdict.kind == PRIVATE:
            message = f"{lead} {verdict.path}, which {verdict.explanation}"
            self.add(mc.PrivateName, verdict.path, message, site, **details)
        else:
            message = f"{lead} {verdict.path}, which is not a known-safe callable; loading runs its code"
            self.add(mc.UnknownCallable, verdict.path, message, site, **details)

    def unresolved(self, value: Unresolved, prefix: str) -> None:
        operands = ", ".join(describe(v) for v in value.operands)
        message = (
            f"{prefix}imports a callable named at load time ({value.reason}: {operands}); "
            "it can be anything, os.system included"
        )
        self.add(mc.UnresolvableImport, value.reason, message, value.site, operands=operands)

    def call(self, call: Call) -> None:
        func = call.func
        if isinstance(func, Global):
            path = global_path(func)
            if path in NEW_ONLY and call.kind in {"reduce", "inst", "obj"}:
                self.add(
                    mc.ConstructorMisuse,
                    path,
                    f"pickle calls {path}(...), which its own pickling never does (it runs __init__)",
                    call.site,
                    severity=Severity.MEDIUM,
                    verdict=Verdict.SUSPICIOUS,
                    callable=path,
                )
            self.slots(path, call)
            if path in ATTRIBUTE_STATE_ARGUMENT and isinstance(call.args, Seq):
                index = ATTRIBUTE_STATE_ARGUMENT[path]
                if index < len(call.args.items):
                    self.state_keys(call.args.items[index], call, call.site)
            return
        if isinstance(func, Unresolved):
            return  # reported as an unresolvable import
        if isinstance(func, (Lit, Seq, DictV, Opaque)):
            self.add(
                mc.StreamAnomaly,
                "call-literal",
                f"pickle calls a literal value ({describe(func, 1)}): loading fails there",
                call.site,
                anomaly="call-literal",
            )
            return
        target, via = self.resolver.invoked(call)
        if target is None:
            message = (
                f"pickle calls a value computed at load time ({describe(func)}); "
                "the callee cannot be known statically"
            )
            self.add(mc.ComputedCallee, describe(func, 1), message, call.site, callee=describe(func))
            return
        verdict = judge_path(target.path, context=self.context)
        if verdict.kind == ALLOWED:
            return
        self.report_judgement(verdict, call.site, f"pickle calls (via {via})", invoked=True, via=via)

    def slots(self, path: str, call: Call) -> None:
        indices = CALLABLE_SLOTS.get(path)
        if not indices or not isinstance(call.args, Seq):
            return
        for index in indices:
            if index >= len(call.args.items):
                continue
            arg = call.args.items[index]
            if isinstance(arg, (Global, Unresolved)) or (
                isinstance(arg, Lit) and (arg.value is None or text_of(arg) is not None)
            ):
                continue
            self.add(
                mc.ConstructorMisuse,
                f"{path}#{index}",
                f"pickle passes a computed value ({describe(arg)}) to {path} where a class or function "
                "is expected: it runs whatever that value turns out to be",
                call.site,
                callable=path,
                argument=index,
            )

    def build(self, event: BuildEvent) -> None:
        target = event.target
        if isinstance(target, (Global, Unresolved)):
            name = target.dotted if isinstance(target, Global) else "an unresolvable global"
            self.add(
                mc.GlobalMutation,
                f"build:{name}",
                f"pickle BUILD sets attributes on {name} itself (a module, class or function): "
                "planted attributes change what later calls return",
                event.site,
                target=name,
            )
        self.state_keys(event.state, target, event.site)

    def state_keys(self, state: Value, target: Value, site: Site) -> None:
        """Dunder attribute names a state sets with setattr (BUILD, torch's _set_obj_state)."""
        for key in _state_keys(state):
            if not (key.startswith("__") and key.endswith("__")):
                continue
            swap = key in _CLASS_SWAP_KEYS
            self.add(
                mc.GlobalMutation,
                f"state:{key}",
                f"pickle state sets {key} on {describe(target, 1)}"
                + (": it swaps what the object is" if swap else ""),
                site,
                severity=None if swap else Severity.MEDIUM,
                verdict=None if swap else Verdict.SUSPICIOUS,
                attribute=key,
            )

    def mutation(self, event: Mutation) -> None:
        target = event.target
        if isinstance(target, (Global, Unresolved)):
            name = target.dotted if isinstance(target, Global) else "an unresolvable global"
            self.add(
                mc.GlobalMutation,
                f"{event.kind}:{name}",
                f"pickle {event.kind.upper()} modifies {name} itself (calls its "
                f"{'__setitem__' if event.kind == 'setitem' else event.kind} method)",
                event.site,
                target=name,
            )

    def broken(self, view: StreamView) -> None:
        before = sum(
            1
            for p in self.pending.values()
            if p.site.stream == view.number and p.check.verdict is Verdict.UNSAFE
        )
        message = f"pickle stream {view.number} breaks at offset {view.end_offset}: {view.end_message}"
        if before:
            message += "; pickle.load has already executed what precedes the break (nullifAI)"
        site = Site(
            view.end_offset if view.end_offset is not None else view.end, view.op_count, "break", view.number
        )
        self.add(
            mc.BrokenStream,
            f"break:{view.number}:{view.end_offset}",
            message,
            site,
            severity=Severity.HIGH if before else None,
            reason=view.end_kind,
        )


def _state_keys(state: Value) -> list[str]:
    """Attribute names a BUILD state sets: a dict, or (dict, slotstate)."""
    parts: list[Value] = [state]
    if isinstance(state, Seq) and state.kind == "tuple" and len(state.items) == 2:
        parts = list(state.items)
    keys: list[str] = []
    for part in parts:
        if isinstance(part, DictV):
            keys.extend(k for k in (text_of(key) for key, _ in part.items) if k is not None)
    return keys


def _identifier_path(value: Global) -> bool:
    return all(p.isidentifier() for p in f"{value.module}.{value.name}".split("."))


def _label(ctx: AnalysisContext, parsed: PickleFile) -> None:
    if parsed.legacy_torch:
        ctx.set_format("pytorch-legacy")
    elif any(
        isinstance(g, Global) and g.dotted in JOBLIB_ARRAY_WRAPPERS
        for v in parsed.all_views()
        for g in v.globals
    ):
        ctx.set_format("joblib")


def _trailing(blob: Blob, ctx: AnalysisContext, parsed: PickleFile) -> None:
    trailing = parsed.trailing
    assert trailing is not None
    head = blob.read_at(trailing.offset, 4)
    location = ctx.location.at(offset=trailing.offset)
    ctx.add(
        mc.TrailingData.finding(
            f"{trailing.length} byte(s) follow the last pickle stream and no loader reads them"
            + (" (they start a zip archive: a polyglot file)" if head.startswith(b"PK") else ""),
            location,
            details={"length": trailing.length},
        )
    )
    if head.startswith(b"PK"):
        ctx.scan_member(
            f"trailing-data@{trailing.offset}", blob.window(trailing.offset, trailing.length, "trailing")
        )
