"""Hand-written pickle opcode streams for tests: malicious shapes with harmless payloads.

Nothing here pickles or unpickles: every builder emits raw opcodes, so a test can say exactly
which opcode spelling (protocol 0..5, GLOBAL vs STACK_GLOBAL, memo tricks, EXT codes, ...) it
exercises. Payload arguments are harmless strings such as HARMLESS_COMMAND; the callables are only
*named*, never run. Other helpers may import these builders.

Primitive emitters (`op_*`) return opcode bytes for one value; `reduce_call` and friends compose
them; `pickle_of(body, proto)` wraps a body with PROTO and STOP.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence

from modelcert.findings import ArtifactReport
from modelcert.formats.blob import BytesBlob
from modelcert.limits import Limits
from modelcert.scan import scan_blob

HARMLESS_COMMAND = "echo modelcert-test"
CANARY_MODULE = "modelcert_canary_mod"
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

Arg = str | int | bytes | None | float


# --- primitive emitters ---------------------------------------------------------------------------


def op_proto(proto: int) -> bytes:
    """PROTO opcode (protocols 2+ start with it; 0 and 1 have none)."""
    return b"\x80" + bytes([proto]) if proto >= 2 else b""


def op_str(text: str, proto: int = 4) -> bytes:
    """A str literal in the spelling a CPython pickler of `proto` uses."""
    raw = text.encode("utf-8")
    if proto == 0:
        return b"V" + text.encode("raw-unicode-escape") + b"\n"
    if proto >= 4 and len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def op_binunicode8(text: str) -> bytes:
    """BINUNICODE8: the 8-byte-length string opcode scanners forgot (modelaudit ffb5ec1c)."""
    raw = text.encode("utf-8")
    return b"\x8d" + struct.pack("<Q", len(raw)) + raw


def op_bytes(data: bytes, proto: int = 4) -> bytes:
    """A bytes literal: BINBYTES/SHORT_BINBYTES (protocol 3+), or a latin-1 BINSTRING below that."""
    if proto >= 3:
        if len(data) < 256:
            return b"C" + bytes([len(data)]) + data
        return b"B" + struct.pack("<I", len(data)) + data
    return b"T" + struct.pack("<i", len(data)) + data


def op_int(value: int, proto: int = 4) -> bytes:
    if proto == 0:
        return b"I" + str(value).encode() + b"\n"
    if 0 <= value < 256:
        return b"K" + bytes([value])
    return b"J" + struct.pack("<i", value)


def op_arg(value: Arg, proto: int = 4) -> bytes:
    """Any simple literal."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"\x88" if value else b"\x89"
    if isinstance(value, int):
        return op_int(value, proto)
    if isinstance(value, float):
        return b"G" + struct.pack(">d", value) if proto >= 1 else b"F" + repr(value).encode() + b"\n"
    if isinstance(value, bytes):
        return op_bytes(value, proto)
    return op_str(value, proto)


def op_global(module: str, name: str, proto: int = 4) -> bytes:
    """Import `module.name`: GLOBAL below protocol 4, STACK_GLOBAL from 4 (as CPython writes them)."""
    if proto < 4:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    return op_str(module, proto) + op_str(name, proto) + b"\x93"


def op_tuple(items: Sequence[bytes], proto: int = 4) -> bytes:
    """A tuple of already-emitted values."""
    if proto >= 2 and len(items) <= 3:
        return b"".join(items) + (b")", b"\x85", b"\x86", b"\x87")[len(items)]
    return b"(" + b"".join(items) + b"t"


def pickle_of(body: bytes, proto: int = 4) -> bytes:
    """Wrap a body that leaves one value on the stack into a full stream."""
    return op_proto(proto) + body + b"."


# --- calls ----------------------------------------------------------------------------------------------


def reduce_call(module: str, name: str, args: Sequence[Arg] = (HARMLESS_COMMAND,), proto: int = 2) -> bytes:
    """`module.name(*args)` via GLOBAL/STACK_GLOBAL + REDUCE (a body, no PROTO/STOP)."""
    return op_global(module, name, proto) + op_tuple([op_arg(a, proto) for a in args], proto) + b"R"


def reduce_pickle(module: str, name: str, args: Sequence[Arg] = (HARMLESS_COMMAND,), proto: int = 2) -> bytes:
    """A complete pickle whose result is `module.name(*args)`: the classic payload."""
    return pickle_of(reduce_call(module, name, args, proto), proto)


def os_system_pickle(proto: int = 2, command: str = HARMLESS_COMMAND) -> bytes:
    """The classic `os.system(command)` payload for protocol `proto` (0..5)."""
    return reduce_pickle("os", "system", (command,), proto)


def inst_pickle(module: str, name: str, args: Sequence[Arg] = (HARMLESS_COMMAND,)) -> bytes:
    """Protocol 0 INST: `module.name(*args)` without REDUCE."""
    return (
        b"(" + b"".join(op_arg(a, 0) for a in args) + b"i" + module.encode() + b"\n" + name.encode() + b"\n."
    )


def obj_pickle(module: str, name: str, args: Sequence[Arg] = (HARMLESS_COMMAND,), proto: int = 1) -> bytes:
    """Protocol 1 OBJ: MARK callable args OBJ (fickling GHSA-mxhj-88fx-4pcv)."""
    body = b"(" + op_global(module, name, min(proto, 3)) + b"".join(op_arg(a, proto) for a in args) + b"o"
    return pickle_of(body, proto)


def newobj_pickle(module: str, name: str, args: Sequence[Arg] = (HARMLESS_COMMAND,), proto: int = 2) -> bytes:
    """NEWOBJ: `cls.__new__(cls, *args)`."""
    body = op_global(module, name, proto) + op_tuple([op_arg(a, proto) for a in args], proto) + b"\x81"
    return pickle_of(body, proto)


def stack_global_without_proto(module: str = "os", name: str = "system") -> bytes:
    """STACK_GLOBAL whose module string is opcode 0 (no PROTO): GHSA-9gvj-pp9x-gcfr."""
    body = op_str(module, 4) + op_str(name, 4) + b"\x93" + op_str(HARMLESS_COMMAND, 4) + b"\x85R"
    return body + b"."


def memo_stack_global(module: str = "os", name: str = "system", *, opcode: str = "BINGET") -> bytes:
    """STACK_GLOBAL whose operands come from memo slots (picklescan #10/#23 "memo exploit").

    The strings are memoised next to harmless values and fetched back with GET/BINGET/LONG_BINGET,
    so no string literal sits right before STACK_GLOBAL.
    """
    get = {
        "GET": lambda i: b"g" + str(i).encode() + b"\n",
        "BINGET": lambda i: b"h" + bytes([i]),
        "LONG_BINGET": lambda i: b"j" + struct.pack("<I", i),
    }[opcode]
    body = (
        op_str(module) + b"q\x07" + b"0"  # memo[7] = module; POP
        + op_str(name) + b"\x94" + b"0"  # MEMOIZE -> memo[1] (second entry); POP
        + op_str("decoy") + b"0"
        + get(7) + get(1) + b"\x93"
        + op_tuple([op_str(HARMLESS_COMMAND)]) + b"R"
    )  # fmt: skip
    return pickle_of(body, 4)


def dotted_stack_global(module: str = "tempfile", dotted: str = "_os.system") -> bytes:
    """STACK_GLOBAL with a dotted name through a re-exported module (GHSA-5j3x-jp52-966f)."""
    return reduce_pickle(module, dotted, (HARMLESS_COMMAND,), proto=4)


def binunicode8_stack_global(module: str = "os", name: str = "system") -> bytes:
    """STACK_GLOBAL operands spelled with BINUNICODE8 (modelaudit ffb5ec1c)."""
    body = (
        op_binunicode8(module) + op_binunicode8(name) + b"\x93" + op_tuple([op_str(HARMLESS_COMMAND)]) + b"R"
    )
    return pickle_of(body, 4)


def ext_pickle(code: int = 0x1234, width: int = 2) -> bytes:
    """Callable from the copyreg extension registry: EXT1/EXT2/EXT4 (modelaudit a8462f3b)."""
    op = {1: b"\x82" + bytes([code & 0xFF]), 2: b"\x83" + struct.pack("<H", code & 0xFFFF),
          4: b"\x84" + struct.pack("<i", code)}[width]  # fmt: skip
    return pickle_of(op + op_tuple([op_str(HARMLESS_COMMAND)]) + b"R", 2)


def computed_stack_global() -> bytes:
    """STACK_GLOBAL whose module operand is computed by a call (`str.join` result)."""
    module = reduce_call("builtins", "str", ("os",), proto=4)
    body = module + op_str("system") + b"\x93" + op_tuple([op_str(HARMLESS_COMMAND)]) + b"R"
    return pickle_of(body, 4)


def popped_call(module: str = "os", name: str = "system") -> bytes:
    """A payload call whose result is discarded with POP, then a harmless result (fickling decompiler bug)."""
    return pickle_of(reduce_call(module, name, (HARMLESS_COMMAND,), 4) + b"0" + op_int(1), 4)


def broken_after_payload(proto: int = 2) -> bytes:
    """nullifAI: the payload REDUCE runs, then the stream breaks (no STOP, a stray byte)."""
    return op_proto(proto) + reduce_call("os", "system", (HARMLESS_COMMAND,), proto) + b"\xff\x00\x00"


def truncated_after_payload(proto: int = 2) -> bytes:
    """The payload runs, then the data simply ends."""
    return op_proto(proto) + reduce_call("os", "system", (HARMLESS_COMMAND,), proto)


def getattr_chain(module: str = "os", attribute: str = "system", proto: int = 4) -> bytes:
    """`getattr(importlib.import_module(module), attribute)(command)` (modelscan#331)."""
    imported = reduce_call("importlib", "import_module", (module,), proto)
    getter = op_global("builtins", "getattr", proto) + imported + op_str(attribute, proto) + b"\x86R"
    return pickle_of(getter + op_tuple([op_str(HARMLESS_COMMAND, proto)], proto) + b"R", proto)


def resolver_pickle(resolver: tuple[str, str], target: str, proto: int = 4) -> bytes:
    """`resolver(target)(command)`, e.g. pkgutil.resolve_name('os:system') (GHSA-vvpj-8cmc-gx39)."""
    resolved = reduce_call(resolver[0], resolver[1], (target,), proto)
    return pickle_of(resolved + op_tuple([op_str(HARMLESS_COMMAND, proto)], proto) + b"R", proto)


def methodcaller_pickle(
    operator_module: str = "_operator", method: str = "system", target_module: str = "os"
) -> bytes:
    """`methodcaller('system', cmd)(<module object>)` (GHSA-955r-x9j8-7rhh / GHSA-46h3-79wf-xr6c)."""
    caller = reduce_call(operator_module, "methodcaller", (method, HARMLESS_COMMAND), 4)
    module_obj = reduce_call("importlib", "import_module", (target_module,), 4)
    return pickle_of(caller + op_tuple([module_obj]) + b"R", 4)


def attrgetter_pickle(operator_module: str = "_operator", dotted: str = "os.system") -> bytes:
    """`attrgetter('os.system')(os.path)(cmd)`: a dotted attribute chain through a re-exported module."""
    getter = reduce_call(operator_module, "attrgetter", (dotted,), 4)
    base = op_global("os", "path", 4)
    fn = getter + op_tuple([base]) + b"R"
    return pickle_of(fn + op_tuple([op_str(HARMLESS_COMMAND)]) + b"R", 4)


def numpy_builtins_planting() -> bytes:
    """protectai/modelscan#330: only `numpy` globals, yet it reaches eval.

    `numpy.__builtins__` comes in via STACK_GLOBAL, BUILD plants it on `numpy.size` as an attribute,
    then `numpy.size(obj, 'eval')` would hand back the planted builtin.
    """
    builtins_dict = op_global("numpy", "__builtins__")
    planted = (
        op_global("numpy", "size") + b"N" + b"}" + op_str("__builtins__") + builtins_dict + b"s" + b"\x86b"
    )
    call = planted + op_tuple([b"N", op_str("eval")]) + b"R"
    return pickle_of(call + op_tuple([op_str("1+1")]) + b"R", 4)


def build_on_global(module: str = "numpy", name: str = "size") -> bytes:
    """BUILD setting attributes on an imported function object (attribute planting)."""
    body = op_global(module, name) + b"}" + op_str("attr") + op_str("value") + b"sb"
    return pickle_of(body, 4)


def class_swap_build(module: str = "collections", name: str = "OrderedDict") -> bytes:
    """An allowlisted object whose BUILD state sets `__class__` (swaps the object's type)."""
    obj = reduce_call(module, name, (), 4)
    state = b"N}" + op_str("__class__") + op_global("os", "_wrap_close") + b"s\x86"
    return pickle_of(obj + state + b"b", 4)


def copyreg_reconstructor(module: str, name: str, proto: int = 1) -> bytes:
    """`copyreg._reconstructor(module.name, object, None)` as protocol 0/1 pickles construct objects."""
    body = (
        op_global("copy_reg", "_reconstructor", min(proto, 3))
        + b"(" + op_global(module, name, min(proto, 3)) + op_global("__builtin__", "object", min(proto, 3))
        + b"Nt" + b"R"
    )  # fmt: skip
    return pickle_of(body, proto)


def nested_loads(inner: bytes, loader: tuple[str, str] = ("pickle", "loads"), proto: int = 4) -> bytes:
    """`loader(inner_bytes)`: a pickle that unpickles a second, embedded pickle (modelscan#267)."""
    return pickle_of(op_global(*loader, proto) + op_tuple([op_bytes(inner, proto)], proto) + b"R", proto)


def nested_base64_loads(inner: bytes) -> bytes:
    """`pickle.loads(base64.b64decode('<inner>'))`: the inner payload hidden behind a decoder."""
    decoded = reduce_call("base64", "b64decode", (base64.b64encode(inner).decode(),), 4)
    return pickle_of(op_global("_pickle", "loads") + decoded + b"\x85R", 4)


def nested_torch_load(inner: bytes) -> bytes:
    """`torch.load(io.BytesIO(inner))`."""
    buffer = reduce_call("io", "BytesIO", (inner,), 4)
    return pickle_of(op_global("torch", "load") + buffer + b"\x85R", 4)


def make_function_pickle() -> bytes:
    """cloudpickle `_make_function(types.CodeType(...))` shape (GHSA-9m3x-qqw2-h32h), harmless bytecode."""
    code = reduce_call("types", "CodeType", (0, 0, 0, 0, 0, 0, b"\x97\x00y\x00", None), 4)
    fn = op_global("cloudpickle.cloudpickle", "_make_function") + code + b"}" + b"\x86R"
    return pickle_of(fn, 4)


def multi_stream(payload_index: int, count: int = 5, proto: int = 2) -> bytes:
    """`count` streams back to back; stream `payload_index` is the os.system payload."""
    streams = [
        os_system_pickle(proto) if i == payload_index else pickle_of(op_int(i, proto), proto)
        for i in range(count)
    ]
    return b"".join(streams)


def legacy_torch_file(
    model_body: bytes | None = None, storage_bytes: bytes = b"\x80\x02" + b"\x00" * 30
) -> bytes:
    """The legacy (non-zip) torch.save layout: 5 streams, then raw storage bytes.

    `model_body` replaces the model stream (default: an empty dict); the raw storage starts with
    bytes that look like a pickle header on purpose, since real storage data can.
    """
    magic = pickle_of(b"\x8a\x0a" + TORCH_LEGACY_MAGIC.to_bytes(10, "little"), 2)
    version = pickle_of(b"M\xe9\x03", 2)
    sys_info = pickle_of(b"}" + op_str("protocol_version", 2) + b"M\xe9\x03s", 2)
    model = pickle_of(model_body if model_body is not None else b"}", 2)
    keys = pickle_of(b"]" + op_str("0", 2) + b"a", 2)
    return magic + version + sys_info + model + keys + struct.pack("<q", 8) + storage_bytes


def joblib_array_stream(
    data: bytes, *, alignment: int | None = 16, pad: bytes | None = None, typestr: str = "u1"
) -> bytes:
    """A joblib-style stream: NumpyArrayWrapper + BUILD, then `data` inline as array bytes, then STOP.

    With `alignment` the padding byte and 0xFF padding come first (joblib >= 1.2); `pad` overrides
    them (to build layouts joblib never writes). Used for the dual-interpretation trick: bytes that
    joblib.load reads as array data but pickle.load runs as opcodes.
    """
    itemsize = int(typestr[1:] or 1)
    minus_one = b"J\xff\xff\xff\xff"
    dtype = (
        op_global("numpy", "dtype", 2) + op_tuple([op_str(typestr, 2), b"\x89", b"\x88"], 2) + b"R"
        + b"(" + op_int(3, 2) + op_str("|", 2) + b"NNN" + minus_one + minus_one + op_int(0, 2) + b"tb"
    )  # fmt: skip
    state = (
        b"}(" + op_str("subclass", 2) + op_global("numpy", "ndarray", 2)
        + op_str("shape", 2) + op_tuple([op_int(len(data) // itemsize, 2)], 2)
        + op_str("order", 2) + op_str("C", 2) + op_str("dtype", 2) + dtype
        + op_str("allow_mmap", 2) + b"\x89"
        + (op_str("numpy_array_alignment_bytes", 2) + op_int(alignment, 2) if alignment is not None else b"")
        + b"u"
    )  # fmt: skip
    head = op_proto(2) + op_global("joblib.numpy_pickle", "NumpyArrayWrapper", 2) + b")\x81" + state + b"b"
    if pad is None and alignment is not None:
        pad_len = alignment - ((len(head) + 1) % alignment)
        pad = bytes([pad_len]) + b"\xff" * pad_len
    return head + (pad or b"") + data + b"."


def canary_import_pickle() -> bytes:
    """Imports a made-up module: scanning must never import it (checked with an audit hook)."""
    return reduce_pickle(CANARY_MODULE, "boom", (HARMLESS_COMMAND,), proto=2)


# --- scanning helpers for tests -----------------------------------------------------------------------


def scan(data: bytes, name: str = "model.pkl") -> ArtifactReport:
    """Scan bytes as one artifact named `name` through the real scanner (detection included)."""
    return scan_blob(BytesBlob(data, name), name)


def scan_with_limits(data: bytes, limits: Limits, name: str = "model.pkl") -> ArtifactReport:
    """Scan with non-default limits."""
    return scan_blob(BytesBlob(data, name), name, limits)


def check_ids(report: ArtifactReport) -> set[str]:
    """Every check ID found in the report, members included."""
    return {f.check_id for f in report.all_findings()}


def reached(report: ArtifactReport, check_id: str | None = None) -> set[str]:
    """Every callable path (as named, and as really reached) the findings mention."""
    out: set[str] = set()
    for finding in report.all_findings():
        if check_id is None or finding.check_id == check_id:
            for key in ("callable", "reached"):
                if key in finding.details:
                    out.add(str(finding.details[key]))
    return out
