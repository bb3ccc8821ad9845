"""The MC1xx checks: what a pickle stream does when `pickle.load` / `torch.load` / `joblib.load` runs it.

Each class is a check with a stable ID; its docstring is its documentation page.
"""

from __future__ import annotations

from modelcert.checks.base import Check
from modelcert.findings import Confidence, Severity, Verdict

_REPLACE = (
    "Do not load this file. Re-export the model in a format that carries no code (safetensors, GGUF, "
    "ONNX) from a trusted environment, or load it only with torch.load(weights_only=True) after review."
)


class DangerousCallable(Check):
    """The pickle imports or calls a callable that does harm when the file is loaded.

    Unpickling imports every global the stream names (`GLOBAL`, `STACK_GLOBAL`, `INST`) and calls
    what `REDUCE`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX` and `BUILD` ask for. A name from the
    dangerous catalogue — command execution (`os.system`, `subprocess`, `pty.spawn`, `pip.main`),
    code evaluation (`builtins.eval`, `runpy`, `timeit`, `numpy.f2py`), code objects
    (`types.CodeType`, cloudpickle `_make_function`), file and network access (`_io.FileIO`,
    `logging.FileHandler`, `urllib.request.urlopen`), import machinery and generic resolvers
    (`importlib.import_module`, `pkgutil.resolve_name`, `pydoc.locate`, `getattr`, `operator` and
    `_operator`), nested loaders (`pickle.loads`, `torch.load`) — makes the file **unsafe**:
    critical when it is called, high when it is only imported (an import alone runs module code
    and hands the callable to later opcodes).

    Matching covers submodules (CVE-2025-10157), C-module aliases (GHSA-955r-x9j8-7rhh,
    GHSA-46h3-79wf-xr6c), attribute chains through re-exported modules (`tempfile` + `_os.system`,
    GHSA-5j3x-jp52-966f) and names reached through getattr/attrgetter/methodcaller/import_module
    chains (modelscan#331). Covered advisories include CVE-2025-1716, GHSA-655q-fx9r-782v,
    GHSA-9726-w42j-3qjr, GHSA-9m3x-qqw2-h32h, GHSA-vvpj-8cmc-gx39, CVE-2026-56304, CVE-2026-56315,
    modelscan#338 and fickling's UNSAFE_IMPORTS additions.

    One shape of `getattr` is not reported by itself: `getattr(<allowlisted class>, '<literal>')`,
    used for nothing but that fetch, is how Python pickles a class's method (a time-zone-aware
    datetime pickles through `zoneinfo.ZoneInfo._unpickle`). It is judged as the dotted name it
    reaches, and calling, BUILD-ing or handing on the fetched value is judged by what it resolves to.
    """

    id = "MC100"
    title = "Pickle calls a dangerous callable"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-502"
    remediation = _REPLACE


class UnknownCallable(Check):
    """The pickle imports a callable that is neither known-safe nor known-dangerous.

    Loading the file runs that library's code (`__new__`, `__init__`, `__setstate__`, or the
    function itself). Scanners that only denylist miss every gadget nobody listed yet, so modelcert
    allowlists what real checkpoints contain (torch tensors and nn modules, NumPy, scikit-learn,
    collections, ...) and reports everything else as **suspicious**: a model class of your own
    project (`__main__.Net`) lands here too, which is expected for whole-model saves.
    """

    id = "MC101"
    title = "Pickle imports an unknown callable"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-502"
    remediation = (
        "Check that the named class or function belongs to a library you trust at a pinned version; "
        "prefer saving a state_dict (weights only) instead of whole objects."
    )


class UnresolvableImport(Check):
    """The pickle imports a name that is only known at load time.

    `STACK_GLOBAL` whose module/name operands are computed by earlier calls, or an `EXT1/2/4`
    copyreg extension code (modelaudit a8462f3b), names a callable the file does not spell out.
    CPython's pickler never writes either for ordinary objects, and the target can be anything
    (`os.system` included), so the file is **unsafe**.
    """

    id = "MC102"
    title = "Pickle imports a callable it does not name"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-470"
    remediation = _REPLACE


class PrivateName(Check):
    """The pickle reaches a private name (`_x`) or a dunder attribute chain.

    Private helpers are where gadget hunters find command runners the denylists forgot
    (`uuid._get_command_stdout`, `_osx_support`, `_pyrepl.pager`; fickling GHSA-6ggj-6f2q-f7mx),
    and dunder chains (`numpy.__builtins__`, `__globals__`, `__subclasses__`) reach the interpreter's
    internals (protectai/modelscan#330). Known-safe private reconstructors (`torch._utils._rebuild_*`,
    `numpy.core.multiarray._reconstruct`) are allowlisted; anything else private is **unsafe**.
    """

    id = "MC103"
    title = "Pickle reaches a private or dunder name"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.UNSAFE
    cwe = "CWE-749"
    remediation = _REPLACE


class ComputedCallee(Check):
    """The pickle calls a value that was itself computed at load time.

    Ordinary pickles only call globals they import. Calling the *result* of a call is how gadget
    chains hide their target: `getattr(module, 'system')(cmd)`, `methodcaller('system', cmd)(os)`,
    `attrgetter('x')(y)()`. When the target cannot be resolved statically the file is **unsafe**.
    """

    id = "MC104"
    title = "Pickle calls a computed value"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-470"
    remediation = _REPLACE


class GlobalMutation(Check):
    """The pickle changes a module, class or function object, or swaps an object's class.

    `BUILD` on an imported global updates its `__dict__` (module globals, function attributes);
    `SETITEM`/`APPEND`/`ADDITEMS` on a global call its `__setitem__`/`append`/`add`. This plants
    attributes an allowlisted callable later hands back (protectai/modelscan#330: `numpy.size`
    given a `__builtins__` attribute). A BUILD state that sets `__class__` or `__dict__` swaps what
    an object is. Either is **unsafe**; other dunder keys in a BUILD state are suspicious.
    """

    id = "MC105"
    title = "Pickle mutates a global or swaps a class"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-471"
    remediation = _REPLACE


class ConstructorMisuse(Check):
    """An allowlisted constructor is used in a way its own pickling never uses it.

    `copyreg._reconstructor`, `copyreg.__newobj__`, `torch._tensor._rebuild_from_type_v2`,
    `numpy.core.multiarray._reconstruct` and `collections.defaultdict` receive a class or a
    function as an argument; that argument must be a global the pickle names (judged on its own),
    not a computed value (**unsafe**). Classes allowlisted only for `__new__` + `BUILD` (e.g. Hugging
    Face `TrainingArguments`) that are *called* instead run their `__init__` with attacker
    arguments (**suspicious**).
    """

    id = "MC106"
    title = "Allowlisted constructor used unusually"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.UNSAFE
    cwe = "CWE-502"
    remediation = _REPLACE


class BrokenStream(Check):
    """A pickle stream is truncated or invalid (bad opcode, stack underflow, missing memo slot).

    `pickle.load` executes opcodes as it reads them, so everything before the break has already
    run when the loader raises: the nullifAI models on the Hugging Face Hub were broken right after
    their payload so that scanners failed while the payload executed. modelcert reports what the
    stream did up to the break (those findings stand on their own) and the break itself makes the
    file **unscannable**.
    """

    id = "MC107"
    title = "Pickle stream is broken"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-20"
    remediation = "Regenerate the file with its own library; a broken pickle is never a valid model file."


class StreamAnomaly(Check):
    """The stream holds something CPython's pickler (and torch's, and joblib's) never writes.

    A second or late `PROTO`, a memo slot overwritten with another value, values or marks left on
    the stack at `STOP` (a call whose result is discarded, fickling's "unused variable"), a call on
    a literal, joblib alignment padding that joblib would not write. Hand-made streams show these;
    real files do not. **Suspicious**.
    """

    id = "MC108"
    title = "Pickle stream has a hand-crafted structure"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Regenerate the file with its own library and compare."


class TrailingData(Check):
    """Bytes follow the last pickle stream that no loader of this format reads.

    Legacy `torch.save` files are followed by raw storages (recognised and not reported). Other
    trailing bytes are a polyglot (a pickle that is also a zip) or a hidden payload for a second
    `pickle.load` call; a zip found there is analysed as a member. **Suspicious**.
    """

    id = "MC109"
    title = "Unexplained data after the pickle"
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-506"
    remediation = "Regenerate the file with its own library; remove anything appended to it."


class NestedPayloadUnread(Check):
    """A nested payload (bytes handed to `pickle.loads`, `torch.load`, a decoder chain) was not analysed.

    Either nesting went deeper than `max_nested_pickle_depth` or the literal could not be decoded
    within limits. The outer call is reported on its own; the content is **unscannable**.
    """

    id = "MC110"
    title = "Nested pickle payload not analysed"
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    verdict = Verdict.UNSCANNABLE
    cwe = "CWE-674"
    remediation = "Do not load the file; nested loader payloads have no place in a model file."
