"""Formats that put raw data *inside* a pickle stream: joblib's numpy arrays.

joblib (`joblib/numpy_pickle.py`) pickles a `NumpyArrayWrapper` and, right after its BUILD, writes
the array bytes into the same file: since joblib 1.2 a padding-length byte and that many 0xFF
bytes (16-byte alignment) come first; object arrays are a complete nested pickle stream instead.
`joblib.load` consumes those bytes and resumes unpickling after them. The reader mirrors that, so
real joblib dumps parse to the end, and it also checks what `pickle.load` (which knows nothing of
the layout) would make of the same bytes: data that doubles as opcodes is a dual-interpretation
trick.
"""

from __future__ import annotations

import re
from math import prod

from modelcert.errors import LimitExceeded
from modelcert.formats.pickle_ops import ByteSource, StreamBreak
from modelcert.formats.pickle_values import Call, DictV, Global, Lit, Opaque, Seq, Value, text_of
from modelcert.formats.pickle_view import Budget, BuildEvent, SkippedRegion
from modelcert.formats.pickle_vm import PickleVM

JOBLIB_ARRAY_WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",  # joblib vendored by sklearn < 0.23
    }
)
COPYREG_CONSTRUCTORS = frozenset(
    {"copyreg._reconstructor", "copy_reg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"}
)
NUMPY_DTYPE = frozenset({"numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"})
MAX_OBJECT_ARRAY_NESTING = 8
SHADOW_OPCODES = 10_000
_NPY_ITEM_HASOBJECT = 0x01
_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z])(\d{0,9})$")


def _global_name(value: Value) -> str | None:
    return value.dotted if isinstance(value, Global) else None


def _constructed_class(value: Value) -> str | None:
    """The class a Call instantiates: NEWOBJ/REDUCE on it, or copyreg's helpers (protocols 0-1)."""
    if not isinstance(value, Call):
        return None
    name = _global_name(value.func)
    if name in COPYREG_CONSTRUCTORS and isinstance(value.args, Seq) and value.args.items:
        return _global_name(value.args.items[0])
    return name


def joblib_build_hook(vm: PickleVM, event: BuildEvent) -> None:
    """After BUILD on a NumpyArrayWrapper, consume the array bytes the way joblib.load does."""
    target = event.target
    if _constructed_class(target) not in JOBLIB_ARRAY_WRAPPERS:
        return
    state = _str_keyed(event.state)
    if state is None:
        raise vm._fail("joblib array wrapper state is not a dict")
    elsize, count, has_object = _array_size(vm, state)
    src = vm.src
    if has_object:
        if vm.depth >= MAX_OBJECT_ARRAY_NESTING:
            raise LimitExceeded("joblib object arrays nested too deep", src.pos)
        inner = PickleVM(src, vm.budget, vm.view.number, build_hook=joblib_build_hook, depth=vm.depth + 1)
        inner.view.kind = "joblib-object-array"
        sub = inner.run()
        vm.view.substreams.append(sub)
        if sub.end_kind == "limit":
            raise LimitExceeded(sub.end_message, sub.end_offset)
        if not sub.complete:
            raise StreamBreak(f"object array stream: {sub.end_message}", sub.end_offset or src.pos)
    else:
        _shadow_parse(vm)
        alignment = state.get("numpy_array_alignment_bytes")
        if alignment is not None and not (isinstance(alignment, Lit) and alignment.value is None):
            _skip_padding(vm, alignment)
        nbytes = elsize * count
        start = src.pos
        src.skip(nbytes)
        vm.view.skipped.append(SkippedRegion(start, nbytes, "joblib array data"))
    vm.stack[-1] = Opaque("numpy array (joblib)")


def _skip_padding(vm: PickleVM, alignment: Value) -> None:
    src = vm.src
    width = alignment.value if isinstance(alignment, Lit) and isinstance(alignment.value, int) else None
    if width is None or width <= 0 or width > 4096:
        raise vm._fail("joblib alignment is not a small positive int")
    pad = src.read(1)[0]
    padding = src.read(pad)
    if pad == 0 or pad > width or padding.strip(b"\xff"):
        vm.anomaly(
            "joblib-padding",
            f"joblib alignment padding of {pad} byte(s) does not match what joblib writes",
        )


def _array_size(vm: PickleVM, state: dict[str, Value]) -> tuple[int, int, bool]:
    shape = state.get("shape")
    if not isinstance(shape, Seq) or shape.kind != "tuple":
        raise vm._fail("joblib array shape is not a tuple")
    dims: list[int] = []
    for dim in shape.items:
        if not (isinstance(dim, Lit) and isinstance(dim.value, int) and not isinstance(dim.value, bool)):
            raise vm._fail("joblib array shape holds a non-integer")
        if dim.value < 0:
            raise vm._fail("joblib array shape is negative")
        dims.append(dim.value)
    count = prod(dims) if dims else 1
    dtype = state.get("dtype")
    elsize, has_object = _dtype_layout(vm, dtype)
    if count * elsize > vm.src.remaining:
        raise StreamBreak(
            f"joblib array of {count * elsize} bytes runs past the end", vm.src.pos, truncated=True
        )
    return elsize, count, has_object


def _dtype_layout(vm: PickleVM, dtype: Value | None) -> tuple[int, bool]:
    """Item size and whether it holds objects, from a pickled numpy.dtype (REDUCE + BUILD)."""
    if not (isinstance(dtype, Call) and _global_name(dtype.func) in NUMPY_DTYPE):
        raise vm._fail("joblib array dtype is not a numpy.dtype")
    args = dtype.args
    typestr = text_of(args.items[0]) if isinstance(args, Seq) and args.items else None
    match = _TYPESTR.match(typestr or "")
    if match is None:
        raise vm._fail(f"unsupported numpy dtype spelling {typestr!r}")
    kind, digits = match.group(1), match.group(2)
    state = next((b.state for b in reversed(vm.view.builds) if b.target is dtype), None)
    elsize, flags = -1, 0
    if isinstance(state, Seq) and len(state.items) >= 8:
        size_v, flags_v = state.items[5], state.items[7]
        if isinstance(size_v, Lit) and isinstance(size_v.value, int):
            elsize = size_v.value
        if isinstance(flags_v, Lit) and isinstance(flags_v.value, int):
            flags = flags_v.value
    has_object = kind == "O" or bool(flags & _NPY_ITEM_HASOBJECT)
    if elsize <= 0:
        if not digits:
            raise vm._fail(f"numpy dtype {typestr!r} has no item size")
        elsize = int(digits)
    if elsize > 1 << 32:
        raise vm._fail("numpy dtype item size is implausible")
    return elsize, has_object


def _str_keyed(value: Value) -> dict[str, Value] | None:
    if not isinstance(value, DictV):
        return None
    out: dict[str, Value] = {}
    for key, item in value.items:
        text = text_of(key)
        if text is not None:
            out[text] = item
    return out


def _shadow_parse(vm: PickleVM) -> None:
    """Run the next bytes as plain `pickle.load` would (it does not know joblib's layout).

    Real joblib data fails at once (the padding byte is not an opcode, array bytes rarely form
    opcodes); anything the shadow run imports is kept as its own stream view for the checks. The
    run is bounded by its own small opcode allowance, not by a byte window: a big BINBYTES would
    otherwise carry a payload past the window.
    """
    src = vm.src
    budget = Budget(vm.limits, opcodes=max(0, vm.limits.max_pickle_opcodes - SHADOW_OPCODES))
    shadow = PickleVM(ByteSource(src.blob, src.pos, vm.limits), budget, vm.view.number, depth=vm.depth + 1)
    shadow.stack = list(vm.stack)
    shadow.marks = list(vm.marks)
    shadow.memo = dict(vm.memo)
    shadow.view.kind = "joblib-array-as-opcodes"
    view = shadow.run()
    if view.globals or view.calls:
        vm.view.substreams.append(view)
