"""The allowlist and the dangerous catalogue: real names, reasons, no prefix matching, sane judgements."""

from __future__ import annotations

import importlib
import inspect
import sys

import pytest

from modelcert.checks.callables import ALLOWED, DANGEROUS, PRIVATE, UNKNOWN, judge, judge_path
from modelcert.checks.callables_allow import ALLOW
from modelcert.checks.callables_danger import CATEGORY_CWE, EXACT, MODULES
from modelcert.checks.callables_generated import (
    SKLEARN_CLASSES,
    SKLEARN_FUNCTIONS,
    TORCH_NN_CLASSES,
    TORCH_OPTIM_CLASSES,
)


def _resolve(path: str) -> object | None:
    """Import the longest importable module prefix of `path` and walk the rest (None when absent)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)  # type: ignore[assignment]
            if obj is None:
                return None
        return obj
    return None


@pytest.mark.parametrize(
    ("table", "library", "must_be_class"),
    [
        (TORCH_NN_CLASSES, "torch", True),
        (TORCH_OPTIM_CLASSES, "torch", True),
        (SKLEARN_CLASSES, "sklearn", False),
        (SKLEARN_FUNCTIONS, "sklearn", False),
    ],
)
def test_generated_lists_name_real_objects(
    table: dict[str, tuple[str, ...]], library: str, must_be_class: bool
) -> None:
    pytest.importorskip(library)
    missing = []
    for module, names in table.items():
        for name in names:
            obj = _resolve(f"{module}.{name}")
            if obj is None or (must_be_class and not inspect.isclass(obj)):
                missing.append(f"{module}.{name}")
    assert not missing, missing[:20]


def test_torch_nn_entries_are_modules_not_functions() -> None:
    torch = pytest.importorskip("torch")
    for module, names in TORCH_NN_CLASSES.items():
        for name in names:
            obj = _resolve(f"{module}.{name}")
            assert inspect.isclass(obj), f"{module}.{name}"
            hooks = (
                "WeightNorm",
                "SpectralNorm",
                "SpectralNormLoadStateDictPreHook",
                "SpectralNormStateDictHook",
                "_WrappedHook",
            )
            assert issubclass(obj, torch.nn.Module) or name in hooks, f"{module}.{name}"


def test_hand_allowlist_entries_exist_where_installed() -> None:
    """Every hand-written entry of an installed library resolves to a real object (typos allowlist nothing,
    but a typo also means a real file stays suspicious)."""
    installed = {
        "builtins",
        "collections",
        "copyreg",
        "_codecs",
        "datetime",
        "decimal",
        "fractions",
        "uuid",
        "argparse",
        "types",
        "re",
        "typing",
        "numpy",
        "scipy",
        "torch",
        "joblib",
        "sklearn",
    }
    version_specific = (
        "numpy.core.",
        "numpy._core.",
        "numpy.float128",
        "numpy.complex256",
        "numpy.random.__RandomState",
        "pathlib._local",
        "scipy.sparse.",
        "torch._utils._rebuild_xla",
        "torch._utils._rebuild_mps",
        "torch._utils._rebuild_sparse_csr",
        "torch._tensor._rebuild_from_type",
        "torch.cuda.",
        "torch.bits",
        "torch.float8",
        "torch.float4",
        "torch.uint",
        "torch.int1",
        "torch.int2",
        "torch.int3",
        "torch.int4",
        "torch.int5",
        "torch.int6",
        "torch.int7",
        "torch.nn.parameter.Buffer",
        "torch.optim.optimizer._RequiredParameter",
        "torch.per_channel_affine_float",
        "sklearn.externals.",
        "builtins.NoneType",
        "numpy.matrixlib",
        "torch._C._nn.",
        "torch.nn.functional.",
    )
    missing = []
    for path in ALLOW:
        if path.split(".")[0] not in installed or path.startswith(version_specific):
            continue
        if path.startswith("builtins."):
            if not hasattr(sys.modules["builtins"], path.split(".", 1)[1]):
                missing.append(path)
            continue
        if _resolve(path) is None:
            missing.append(path)
    assert not missing, missing


def test_every_allowlisted_name_is_judged_allowed_and_has_a_reason() -> None:
    for path, reason in ALLOW.items():
        module, name = path.rsplit(".", 1)
        assert judge(module, name).kind == ALLOWED, path
        assert len(reason) > 15, path


def test_no_prefix_matching() -> None:
    """Allowlisting `collections.OrderedDict` does not allowlist anything under it (modelaudit e736ebbe)."""
    assert judge("collections", "OrderedDict").kind == ALLOWED
    assert judge("collections", "OrderedDict.fromkeys").kind != ALLOWED
    assert judge("collections.OrderedDict", "__init__").kind == PRIVATE
    assert judge("torch.nn.modules.module", "register_module_forward_hook").kind == DANGEROUS
    assert judge("sklearn.utils._testing", "TempMemmap").kind != ALLOWED
    assert judge("sklearn.linear_model._base", "LogisticRegression").kind == ALLOWED  # moved between versions
    assert judge("sklearn.linear_model._base", "make_dataset").kind != ALLOWED


def test_catalogue_is_well_formed() -> None:
    for entry in (*MODULES.values(), *EXACT.values()):
        assert entry.category in CATEGORY_CWE
        assert entry.explanation and entry.cwe.startswith("CWE-")
    for name in (*MODULES, *EXACT):
        assert all(part.isidentifier() for part in name.split(".")), name


@pytest.mark.parametrize(
    ("module", "name", "kind", "reached"),
    [
        ("os", "system", DANGEROUS, "os.system"),
        ("posix", "system", DANGEROUS, "posix.system"),
        ("nt", "system", DANGEROUS, "nt.system"),
        ("__builtin__", "eval", DANGEROUS, "builtins.eval"),
        ("builtins", "getattr", DANGEROUS, "builtins.getattr"),
        ("builtins", "set", ALLOWED, "builtins.set"),
        ("copy_reg", "_reconstructor", ALLOWED, "copyreg._reconstructor"),
        ("copyreg", "add_extension", DANGEROUS, "copyreg.add_extension"),
        ("tempfile", "_os.system", DANGEROUS, "os.system"),
        ("numpy", "__builtins__", PRIVATE, "numpy.__builtins__"),
        ("uuid", "_get_command_stdout", DANGEROUS, "uuid._get_command_stdout"),
        ("somepkg", "_helper", PRIVATE, "somepkg._helper"),
        ("_private_mod", "Thing", PRIVATE, "_private_mod.Thing"),
        ("__main__", "Net", UNKNOWN, "__main__.Net"),
        ("mypkg.types", "Config", UNKNOWN, "mypkg.types.Config"),
        ("mypkg.utils", "system", DANGEROUS, "mypkg.utils.system"),
        ("mypkg.io", "os.popen", DANGEROUS, "os.popen"),
        ("torch", "load", DANGEROUS, "torch.load"),
        ("torch._utils", "_rebuild_tensor_v2", ALLOWED, "torch._utils._rebuild_tensor_v2"),
        ("torch.nn.modules.linear", "Linear", ALLOWED, "torch.nn.modules.linear.Linear"),
        ("__torch__.torch.nn.modules.linear", "Linear", ALLOWED, "__torch__.torch.nn.modules.linear.Linear"),
        ("io", "BytesIO", UNKNOWN, "io.BytesIO"),
        ("_io", "FileIO", DANGEROUS, "_io.FileIO"),
    ],
)
def test_judgements(module: str, name: str, kind: str, reached: str) -> None:
    verdict = judge(module, name)
    assert (verdict.kind, verdict.reached) == (kind, reached)


def test_judge_path_for_resolved_targets() -> None:
    assert judge_path("os.system").kind == DANGEROUS
    assert judge_path("builtins.eval").category == "code-execution"
    assert judge_path("collections.OrderedDict").kind == ALLOWED
