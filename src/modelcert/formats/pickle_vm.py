"""The symbolic pickle VM: runs one stream's opcodes over symbolic values and records every import,
invocation, BUILD and mutation, with CPython's stack discipline (marks fence the stack).

It never imports or calls anything. A stream that breaks (truncated, invalid opcode, underflow)
keeps everything recorded before the break: `pickle.load` has already executed those REDUCEs
when it hits the broken byte (the nullifAI technique).
"""

from __future__ import annotations

from collections.abc import Callable

from modelcert.errors import LimitExceeded
from modelcert.formats.pickle_ops import (
    HIGHEST_PROTOCOL,
    BigBytes,
    ByteSource,
    Op,
    OpReader,
    Py2String,
    StreamBreak,
)
from modelcert.formats.pickle_values import (
    Call,
    DictV,
    Global,
    Lit,
    Opaque,
    PersRef,
    Seq,
    Site,
    Unresolved,
    Value,
    bytes_of,
    text_of,
)
from modelcert.formats.pickle_view import (
    PICKLE_MAGIC_PROTOCOLS,
    Anomaly,
    Budget,
    BuildEvent,
    Embedded,
    Mutation,
    StreamView,
)

BuildHook = Callable[["PickleVM", BuildEvent], None]


class PickleVM:
    """Runs one stream from `src.pos`; `build_hook` lets format layouts (joblib) consume inline data."""

    def __init__(
        self,
        src: ByteSource,
        budget: Budget,
        number: int,
        *,
        build_hook: BuildHook | None = None,
        depth: int = 0,
    ) -> None:
        self.src = src
        self.budget = budget
        self.limits = budget.limits
        self.reader = OpReader(src, budget.limits)
        self.view = StreamView(number=number, start=src.pos)
        self.stack: list[Value] = []
        self.marks: list[int] = []
        self.memo: dict[int, Value] = {}
        self.build_hook = build_hook
        self.depth = depth
        self.op: Op | None = None

    # --- driver -------------------------------------------------------------------------------

    def run(self) -> StreamView:
        view = self.view
        budget = self.budget
        ceiling = self.limits.max_pickle_opcodes
        next_op = self.reader.next
        dispatch = _DISPATCH
        try:
            while True:
                op = next_op()
                self.op = op
                budget.opcodes += 1
                if budget.opcodes > ceiling:
                    raise LimitExceeded(f"more than {ceiling} pickle opcodes", op.offset)
                if dispatch[op.name](self, op):
                    break
        except StreamBreak as exc:
            view.end_kind = "truncated" if exc.truncated else "invalid"
            view.end_message = str(exc)
            view.end_offset = exc.offset
        except LimitExceeded as exc:
            view.end_kind = "limit"
            view.end_message = str(exc)
            view.end_offset = exc.offset if exc.offset is not None else self.src.pos
        view.op_count = self.reader.index
        view.end = self.src.pos
        return view

    # --- helpers ------------------------------------------------------------------------------

    @property
    def site(self) -> Site:
        assert self.op is not None
        return Site(self.op.offset, self.op.ordinal, self.op.name, self.view.number)

    def _fail(self, message: str) -> StreamBreak:
        assert self.op is not None
        return StreamBreak(f"{self.op.name}: {message}", self.op.offset)

    @property
    def fence(self) -> int:
        return self.marks[-1] if self.marks else 0

    def push(self, value: Value) -> None:
        if len(self.stack) >= self.limits.max_pickle_stack_depth:
            raise LimitExceeded(
                f"pickle stack deeper than {self.limits.max_pickle_stack_depth}", self.src.pos
            )
        self.stack.append(value)

    def pop(self) -> Value:
        if len(self.stack) <= self.fence:
            raise self._fail("stack underflow")
        return self.stack.pop()

    def top(self) -> Value:
        if len(self.stack) <= self.fence:
            raise self._fail("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Value]:
        if not self.marks:
            raise self._fail("no MARK on the stack")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def literal(self, value: Lit) -> None:
        self.push(value)
        raw = value.value
        if isinstance(raw, (bytes, Py2String)) or (isinstance(raw, BigBytes) and raw.kind != "str"):
            head = raw.prefix[:2] if isinstance(raw, BigBytes) else bytes_of(value) or b""
            if len(head) >= 2 and head[0] == 0x80 and head[1] in PICKLE_MAGIC_PROTOCOLS:
                self.view.embedded.append(Embedded(value, self.site))

    def anomaly(self, code: str, message: str) -> None:
        if len(self.view.anomalies) < 100:
            self.view.anomalies.append(Anomaly(code, message, self.site))

    def add_global(self, value: Global | Unresolved) -> None:
        if len(self.view.globals) >= self.limits.max_count:
            raise LimitExceeded("too many imports in one pickle", self.src.pos)
        self.view.globals.append(value)

    def call(self, func: Value, args: Value, kwargs: Value | None, kind: str) -> None:
        if isinstance(func, (Global, Unresolved)):
            func.invoked = True
        result = Call(func, args, kwargs, kind, self.site)
        self.view.calls.append(result)
        self.push(result)


# --- opcode handlers: return True on STOP ---------------------------------------------------------


def _lit(vm: PickleVM, op: Op) -> bool:
    """Numbers and str: no nested-pickle sniffing needed."""
    stack = vm.stack
    if len(stack) >= vm.limits.max_pickle_stack_depth:
        vm.push(Lit(None))  # raises the limit
    stack.append(Lit(op.arg))
    return False


def _lit_bytes(vm: PickleVM, op: Op) -> bool:
    vm.literal(Lit(op.arg))
    return False


def _const(value: object) -> Callable[[PickleVM, Op], bool]:
    def handler(vm: PickleVM, op: Op) -> bool:
        vm.push(Lit(value))  # type: ignore[arg-type]
        return False

    return handler


def _empty(kind: str) -> Callable[[PickleVM, Op], bool]:
    def handler(vm: PickleVM, op: Op) -> bool:
        vm.push(DictV() if kind == "dict" else Seq(kind))
        return False

    return handler


def _proto(vm: PickleVM, op: Op) -> bool:
    if op.arg > HIGHEST_PROTOCOL:
        raise vm._fail(f"unsupported pickle protocol {op.arg}")
    if vm.view.protocol is not None:
        vm.anomaly("duplicate-proto", f"second PROTO opcode (protocol {op.arg})")
    elif op.ordinal != 0:
        vm.anomaly("late-proto", "PROTO is not the first opcode")
    vm.view.protocol = op.arg
    return False


def _frame(vm: PickleVM, op: Op) -> bool:
    if op.arg > vm.src.remaining:
        raise StreamBreak(f"FRAME of {op.arg} bytes runs past the end", op.offset, truncated=True)
    return False


def _stop(vm: PickleVM, op: Op) -> bool:
    vm.view.root = vm.pop()
    if vm.stack or vm.marks:
        vm.anomaly(
            "leftover-stack",
            f"{len(vm.stack)} value(s) and {len(vm.marks)} mark(s) left on the stack at STOP",
        )
    return True


def _mark(vm: PickleVM, op: Op) -> bool:
    vm.marks.append(len(vm.stack))
    return False


def _pop(vm: PickleVM, op: Op) -> bool:
    if len(vm.stack) > vm.fence:
        vm.stack.pop()
    elif vm.marks:
        vm.marks.pop()  # CPython: POP with nothing above the mark discards the mark
    else:
        raise vm._fail("stack underflow")
    return False


def _pop_mark(vm: PickleVM, op: Op) -> bool:
    vm.pop_mark()
    return False


def _dup(vm: PickleVM, op: Op) -> bool:
    vm.push(vm.top())
    return False


def _tuple_n(n: int) -> Callable[[PickleVM, Op], bool]:
    def handler(vm: PickleVM, op: Op) -> bool:
        items = [vm.pop() for _ in range(n)][::-1]
        vm.push(Seq("tuple", items))
        return False

    return handler


def _from_mark(kind: str) -> Callable[[PickleVM, Op], bool]:
    def handler(vm: PickleVM, op: Op) -> bool:
        vm.push(Seq(kind, vm.pop_mark()))
        return False

    return handler


def _dict(vm: PickleVM, op: Op) -> bool:
    items = vm.pop_mark()
    if len(items) % 2:
        raise vm._fail("odd number of items for DICT")
    vm.push(DictV(list(zip(items[::2], items[1::2], strict=True))))
    return False


def _append(vm: PickleVM, op: Op) -> bool:
    value = vm.pop()
    _extend(vm, vm.top(), [value], "append")
    return False


def _appends(vm: PickleVM, op: Op) -> bool:
    items = vm.pop_mark()
    _extend(vm, vm.top(), items, "append")
    return False


def _extend(vm: PickleVM, target: Value, items: list[Value], kind: str) -> None:
    if isinstance(target, Seq) and target.kind == ("set" if kind == "add" else "list"):
        target.items.extend(items)
        if len(target.items) > vm.limits.max_count:
            raise LimitExceeded("container with too many items", vm.src.pos)
    elif isinstance(target, (Seq, DictV, Lit)):
        raise vm._fail(f"cannot {kind} to a {type(target).__name__.lower()}")
    else:
        vm.view.mutations.append(Mutation(target, kind, vm.site))


def _setitem(vm: PickleVM, op: Op) -> bool:
    value = vm.pop()
    key = vm.pop()
    _set_items(vm, vm.top(), [(key, value)])
    return False


def _setitems(vm: PickleVM, op: Op) -> bool:
    items = vm.pop_mark()
    if len(items) % 2:
        raise vm._fail("odd number of items for SETITEMS")
    _set_items(vm, vm.top(), list(zip(items[::2], items[1::2], strict=True)))
    return False


def _set_items(vm: PickleVM, target: Value, pairs: list[tuple[Value, Value]]) -> None:
    if isinstance(target, DictV):
        target.items.extend(pairs)
        if len(target.items) > vm.limits.max_count:
            raise LimitExceeded("dict with too many items", vm.src.pos)
    elif isinstance(target, Seq) and target.kind == "list":
        pass  # list[index] = value: plain data
    elif isinstance(target, (Seq, Lit)):
        raise vm._fail("SETITEM on a value that does not support item assignment")
    else:
        vm.view.mutations.append(Mutation(target, "setitem", vm.site))


def _additems(vm: PickleVM, op: Op) -> bool:
    items = vm.pop_mark()
    _extend(vm, vm.top(), items, "add")
    return False


def _global(vm: PickleVM, op: Op) -> bool:
    module, name = op.arg
    value = Global(module, name, vm.site, op.name)
    vm.add_global(value)
    vm.push(value)
    return False


def _stack_global(vm: PickleVM, op: Op) -> bool:
    name_v = vm.pop()
    module_v = vm.pop()
    module, name = text_of(module_v), text_of(name_v)
    if module is not None and name is not None:
        value: Global | Unresolved = Global(module, name, vm.site, op.name)
    elif _never_str(module_v) or _never_str(name_v):
        raise vm._fail("STACK_GLOBAL requires str operands")
    else:
        value = Unresolved("STACK_GLOBAL operands are computed at load time", vm.site, (module_v, name_v))
    vm.add_global(value)
    vm.push(value)
    return False


def _never_str(value: Value) -> bool:
    """A literal or container that cannot be a str at load time (computed values might be)."""
    if isinstance(value, Lit) and isinstance(value.value, BigBytes):
        return value.value.kind not in {"str", "py2str"}  # a >1 MiB name: kept as unresolvable
    return isinstance(value, (Seq, DictV)) or (isinstance(value, Lit) and text_of(value) is None)


def _inst(vm: PickleVM, op: Op) -> bool:
    module, name = op.arg
    args = vm.pop_mark()
    cls = Global(module, name, vm.site, op.name)
    vm.add_global(cls)
    vm.call(cls, Seq("tuple", args), None, "inst")
    return False


def _obj(vm: PickleVM, op: Op) -> bool:
    items = vm.pop_mark()
    if not items:
        raise vm._fail("stack underflow")
    vm.call(items[0], Seq("tuple", items[1:]), None, "obj")
    return False


def _reduce(vm: PickleVM, op: Op) -> bool:
    args = vm.pop()
    func = vm.pop()
    vm.call(func, args, None, "reduce")
    return False


def _newobj(vm: PickleVM, op: Op) -> bool:
    args = vm.pop()
    cls = vm.pop()
    vm.call(cls, args, None, "newobj")
    return False


def _newobj_ex(vm: PickleVM, op: Op) -> bool:
    kwargs = vm.pop()
    args = vm.pop()
    cls = vm.pop()
    vm.call(cls, args, kwargs, "newobj_ex")
    return False


def _build(vm: PickleVM, op: Op) -> bool:
    state = vm.pop()
    target = vm.top()
    event = BuildEvent(target, state, vm.site)
    vm.view.builds.append(event)
    if vm.build_hook is not None:
        vm.build_hook(vm, event)
    return False


def _ext(vm: PickleVM, op: Op) -> bool:
    # copyreg's extension registry is empty in CPython unless a program calls copyreg.add_extension:
    # the callable an EXT code names is decided by the loading process, never by the file.
    if op.arg <= 0:
        raise vm._fail("extension code must be positive")
    value = Unresolved(f"copyreg extension code {op.arg}", vm.site, (Lit(op.arg),))
    vm.add_global(value)
    vm.push(value)
    return False


def _persid(vm: PickleVM, op: Op) -> bool:
    ref = PersRef(Lit(op.arg), vm.site)
    vm.view.persids.append(ref)
    vm.push(ref)
    return False


def _binpersid(vm: PickleVM, op: Op) -> bool:
    ref = PersRef(vm.pop(), vm.site)
    vm.view.persids.append(ref)
    vm.push(ref)
    return False


def _get(vm: PickleVM, op: Op) -> bool:
    value = vm.memo.get(op.arg)
    if value is None:
        raise vm._fail(f"memo slot {op.arg} was never stored")
    vm.push(value)
    return False


def _put(vm: PickleVM, op: Op) -> bool:
    _memo_store(vm, op.arg)
    return False


def _memoize(vm: PickleVM, op: Op) -> bool:
    _memo_store(vm, len(vm.memo))
    return False


def _memo_store(vm: PickleVM, index: int) -> None:
    if index < 0:
        raise vm._fail("negative memo index")
    value = vm.top()
    previous = vm.memo.get(index)
    if previous is not None and previous is not value:
        vm.anomaly("memo-overwrite", f"memo slot {index} is overwritten with a different value")
    if previous is None and len(vm.memo) >= vm.limits.max_count:
        raise LimitExceeded("memo larger than max_count", vm.src.pos)
    vm.memo[index] = value


def _next_buffer(vm: PickleVM, op: Op) -> bool:
    vm.push(Opaque("out-of-band buffer"))
    return False


def _readonly_buffer(vm: PickleVM, op: Op) -> bool:
    vm.top()
    return False


_DISPATCH: dict[str, Callable[[PickleVM, Op], bool]] = {
    "PROTO": _proto,
    "FRAME": _frame,
    "STOP": _stop,
    "MARK": _mark,
    "POP": _pop,
    "POP_MARK": _pop_mark,
    "DUP": _dup,
    "NONE": _const(None),
    "NEWTRUE": _const(True),
    "NEWFALSE": _const(False),
    "EMPTY_LIST": _empty("list"),
    "EMPTY_TUPLE": _empty("tuple"),
    "EMPTY_DICT": _empty("dict"),
    "EMPTY_SET": _empty("set"),
    "TUPLE": _from_mark("tuple"),
    "LIST": _from_mark("list"),
    "FROZENSET": _from_mark("frozenset"),
    "TUPLE1": _tuple_n(1),
    "TUPLE2": _tuple_n(2),
    "TUPLE3": _tuple_n(3),
    "DICT": _dict,
    "APPEND": _append,
    "APPENDS": _appends,
    "SETITEM": _setitem,
    "SETITEMS": _setitems,
    "ADDITEMS": _additems,
    "GLOBAL": _global,
    "STACK_GLOBAL": _stack_global,
    "INST": _inst,
    "OBJ": _obj,
    "REDUCE": _reduce,
    "NEWOBJ": _newobj,
    "NEWOBJ_EX": _newobj_ex,
    "BUILD": _build,
    "EXT1": _ext,
    "EXT2": _ext,
    "EXT4": _ext,
    "PERSID": _persid,
    "BINPERSID": _binpersid,
    "GET": _get,
    "BINGET": _get,
    "LONG_BINGET": _get,
    "PUT": _put,
    "BINPUT": _put,
    "LONG_BINPUT": _put,
    "MEMOIZE": _memoize,
    "NEXT_BUFFER": _next_buffer,
    "READONLY_BUFFER": _readonly_buffer,
}
for _name in (
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "UNICODE", "SHORT_BINUNICODE",
    "BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT",
):  # fmt: skip
    _DISPATCH[_name] = _lit
for _name in (
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
    "BYTEARRAY8",
):
    _DISPATCH[_name] = _lit_bytes
