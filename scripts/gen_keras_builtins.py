"""Regenerate src/modelcert/data/keras_builtins.json from the installed Keras 3.

The scanner never imports keras: it compares config references with this list. Run after a Keras
upgrade (`KERAS_BACKEND=torch python scripts/gen_keras_builtins.py [OUTPUT]`) and commit the diff;
tests/test_keras.py fails when the committed list differs from what the installed Keras gives.

What goes in, and why:
- `public`: for each public modeling module (keras.layers, keras.initializers, ...), the classes that
  Keras can deserialize (KerasSaveable subclasses or anything with `from_config`) and, for the
  modules whose functions configs name (activations, losses, ops, ...), the public functions.
- `internal_classes`: the same classes by name, for references through their defining module
  under `keras.src.*` (configs say `keras.src.models.functional` / `Functional`, and backend
  specific optimizers `keras.src.backend.torch.optimizers.torch_adam` / `Adam`).
- `builtin_functions`: what `{"module": "builtins", "class_name": "function"}` may name: Keras looks
  such names up only in its BUILTIN_MODULES.
- `non_modeling_apis`: Keras' own denylist of APIs a config must never call.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

MODELING_MODULES = (
    "keras",
    "keras.layers",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.activations",
    "keras.losses",
    "keras.metrics",
    "keras.optimizers",
    "keras.optimizers.schedules",
    "keras.dtype_policies",
    "keras.mixed_precision",
    "keras.models",
    "keras.quantizers",
    "keras.random",
    "keras.ops",
    "keras.utils",
    "keras.saving",
    "keras.callbacks",
)
# Modules whose public *functions* a config may reference by module + name.
FUNCTION_MODULES = frozenset(
    {"keras.activations", "keras.losses", "keras.metrics", "keras.initializers", "keras.regularizers",
     "keras.constraints", "keras.ops", "keras.optimizers"}
)

# Generic resolvers: they turn any name or config into an object, so a config never names them.
RESOLVERS = frozenset({"get", "deserialize", "serialize"})

OUT = Path(__file__).resolve().parents[1] / "src" / "modelcert" / "data" / "keras_builtins.json"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    # Imported in main(): KERAS_BACKEND must be set first.
    import keras  # noqa: PLC0415
    from keras.src.saving import serialization_lib  # noqa: PLC0415
    from keras.src.saving.keras_saveable import KerasSaveable  # noqa: PLC0415

    non_modeling = sorted(serialization_lib.NON_MODELING_APIS)
    public: dict[str, list[str]] = {}
    internal: set[str] = set()
    for module_name in MODELING_MODULES:
        module = importlib.import_module(module_name)
        names = set()
        for name, obj in vars(module).items():
            if name.startswith("_") or f"{module_name}.{name}" in non_modeling or name in RESOLVERS:
                continue
            if inspect.isclass(obj) and (issubclass(obj, KerasSaveable) or hasattr(obj, "from_config")):
                names.add(name)
                if obj.__module__.startswith("keras.src."):
                    internal.add(obj.__name__)
            elif module_name in FUNCTION_MODULES and inspect.isfunction(obj):
                names.add(name)
        if names:
            public[module_name] = sorted(names)
    builtin_functions = set()
    for short in serialization_lib.BUILTIN_MODULES:
        module = importlib.import_module(f"keras.{short}")
        builtin_functions.update(
            name for name, obj in vars(module).items() if not name.startswith("_") and callable(obj)
        )
    data = {
        "generated_from": f"keras {keras.__version__}",
        "public": public,
        "internal_classes": sorted(internal),
        "builtin_functions": sorted(builtin_functions),
        "non_modeling_apis": non_modeling,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {out} ({sum(len(v) for v in public.values())} public names)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
