"""The pickle ALLOWLIST: exact `module.qualname` → why loading it is harmless.

Rule for admission: the callable, invoked with *any* literal arguments and any values built from
other allowlisted callables, runs only data-structure code (no I/O, no imports by name, no code
objects, no calls of its arguments other than values the pickle itself imported, which are judged
separately). Matching is exact: `sklearn.foo` does not admit `sklearn.foo.bar` (modelaudit
e736ebbe was a prefix match).
"""

from __future__ import annotations

from modelcert.checks.callables_generated import (
    SKLEARN_CLASSES,
    SKLEARN_FUNCTIONS,
    TORCH_NN_CLASSES,
    TORCH_OPTIM_CLASSES,
)

ALLOW: dict[str, str] = {}


def _allow(reason: str, *paths: str) -> None:
    for path in paths:
        ALLOW[path] = reason


def _allow_table(reason: str, table: dict[str, tuple[str, ...]]) -> None:
    for module, names in table.items():
        _allow(reason, *(f"{module}.{name}" for name in names))


# --- Python builtins and stdlib value types -------------------------------------------------------
_allow(
    "builtin data type: constructing it runs no user code",
    *(f"builtins.{n}" for n in (
        "set", "frozenset", "slice", "complex", "bytearray", "range", "object", "dict", "list",
        "tuple", "int", "float", "str", "bytes", "bool", "NoneType", "Ellipsis", "NotImplemented",
    )),
)  # fmt: skip
_allow(
    "collections container: pickled via REDUCE + SETITEMS/APPENDS, holds data only",
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.deque",
    "collections.Counter",
    "collections.ChainMap",
)
_allow(
    "copyreg object-construction helper (protocols 0-2): what it constructs is a separate global "
    "judged on its own, and a computed class argument is reported",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
)
_allow("protocol 2 spelling of bytes: _codecs.encode(text, 'latin1'); returns bytes only", "_codecs.encode")
_allow(
    "datetime value type",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
)
_allow("exact decimal / rational number value type", "decimal.Decimal", "fractions.Fraction")
_allow("UUID value type (an int with formatting)", "uuid.UUID", "uuid.SafeUUID")
_allow(
    "IP address / network value type: built from an int or a string, no lookup or I/O",
    *(f"ipaddress.IPv{v}{kind}" for v in (4, 6) for kind in ("Address", "Network", "Interface")),
)
_allow(
    "typed numeric array; pickles as array._array_reconstructor(cls, typecode, mformat, bytes): data "
    "only, and the class argument is a separate global judged on its own",
    "array.array",
    "array._array_reconstructor",
)
_allow(
    "constructing a path object touches no file (methods that do are not allowlisted)",
    *(f"{m}.{c}" for m in ("pathlib", "pathlib._local") for c in (
        "Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath",
    )),
)  # fmt: skip
_allow("attribute bag used for training arguments (fairseq, timm, many scripts)", "argparse.Namespace")
_allow("attribute bag (a dict with attribute access)", "types.SimpleNamespace")
_allow("compiles a regular expression (how re.Pattern pickles); no code execution", "re._compile")
_allow(
    "typing special form stored as a type annotation (omegaconf metadata); not callable",
    "typing.Any",
    "typing.Dict",
    "typing.List",
    "typing.Tuple",
    "typing.Optional",
    "typing.Union",
)

# --- NumPy ------------------------------------------------------------------------------------------
_allow(
    "NumPy array/scalar reconstruction: builds arrays from shape, dtype and raw bytes",
    *(f"{m}.{n}" for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct",
                                                                                           "scalar")),
    "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
    "numpy.ndarray", "numpy.dtype", "numpy.core._DType_reconstruct", "numpy._core._DType_reconstruct",
    "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray", "numpy.ma.MaskedArray", "numpy.matrix",
    "numpy.matrixlib.defmatrix.matrix", "numpy.core.records.recarray", "numpy._core.records.recarray",
    "numpy.core.records.record", "numpy._core.records.record",
)  # fmt: skip
_allow(
    "NumPy scalar type used as a dtype parameter (e.g. OneHotEncoder(dtype=np.float64))",
    *(f"numpy.{n}" for n in (
        "float16", "float32", "float64", "longdouble", "float128", "half", "single", "double",
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intc", "intp",
        "uintp", "uintc", "int_", "uint", "longlong", "ulonglong", "short", "ushort", "byte", "ubyte",
        "bool_", "bool", "complex64", "complex128", "complex256", "csingle", "cdouble", "clongdouble",
        "str_", "bytes_", "object_", "void", "datetime64", "timedelta64", "generic", "number",
        "integer", "floating", "complexfloating", "signedinteger", "unsignedinteger", "inexact",
    )),
)  # fmt: skip
_allow(
    "NumPy random-generator state (numpy.random pickles its bit generators this way)",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random.__RandomState_ctor",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox",
    "numpy.random._sfc64.SFC64",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
)
_allow(
    "pure NumPy math function stored as a parameter (FunctionTransformer(func=np.log1p), pooling_func)",
    *(f"numpy.{n}" for n in (
        "mean", "median", "sum", "prod", "min", "max", "amin", "amax", "std", "var", "average",
        "nanmean", "nanmedian", "nansum", "nanstd", "nanvar", "nanmax", "nanmin", "log", "log1p",
        "log2", "log10", "exp", "expm1", "exp2", "sqrt", "cbrt", "square", "abs", "absolute",
        "fabs", "sign", "tanh", "sinh", "cosh", "sin", "cos", "tan", "arctan", "arcsinh", "floor",
        "ceil", "rint", "reciprocal", "negative", "argmax", "argmin", "cumsum", "diff", "ptp",
        "asarray", "array", "isnan", "isfinite", "identity", "zeros", "ones", "empty",
    )),
)  # fmt: skip

# --- SciPy ------------------------------------------------------------------------------------------
_allow(
    "SciPy sparse matrix/array: index and value arrays only",
    *(f"scipy.sparse.{m}.{k}_{t}" for m, k in (
        ("_csr", "csr"), ("_csc", "csc"), ("_coo", "coo"), ("_bsr", "bsr"), ("_dia", "dia"),
        ("_dok", "dok"), ("_lil", "lil"), ("csr", "csr"), ("csc", "csc"), ("coo", "coo"),
        ("bsr", "bsr"), ("dia", "dia"), ("dok", "dok"), ("lil", "lil"),
    ) for t in ("matrix", "array")),
)  # fmt: skip
_allow("SciPy B-spline coefficients (sklearn SplineTransformer)", "scipy.interpolate._bsplines.BSpline")
_allow(
    "array conversion function stored by scikit-learn's array-API support",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
)
_allow(
    "frozen SciPy distribution (RandomizedSearchCV parameter distributions); sampling code only",
    "scipy.stats._distn_infrastructure.rv_continuous_frozen",
    "scipy.stats._distn_infrastructure.rv_discrete_frozen",
    "scipy.stats._distn_infrastructure.rv_frozen",
    *(f"scipy.stats._continuous_distns.{n}_gen" for n in (
        "uniform", "reciprocal", "norm", "expon", "gamma", "beta", "lognorm", "truncnorm",
    )),
    "scipy.stats._discrete_distns.randint_gen", "scipy.stats._discrete_distns.poisson_gen",
    "scipy.stats._discrete_distns.binom_gen",
)  # fmt: skip

# --- scikit-learn / joblib ------------------------------------------------------------------------------
_allow_table("scikit-learn class (fitted parameters, sklearn's own code)", SKLEARN_CLASSES)
_allow_table("scikit-learn pure scoring/statistics/kernel function", SKLEARN_FUNCTIONS)
_allow(
    "gradient-boosting estimator with the scikit-learn API; its state is the library's own model "
    "format (JSON/UBJSON or text), parsed natively, no code",
    *(f"xgboost.sklearn.{c}" for c in ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier",
                                        "XGBRFRegressor", "XGBModel")),
    "xgboost.core.Booster",
    *(f"lightgbm.sklearn.{c}" for c in ("LGBMClassifier", "LGBMRegressor", "LGBMRanker", "LGBMModel")),
    "lightgbm.basic.Booster",
)  # fmt: skip
_allow(
    "joblib's placeholder for an array stored inline after it (the reader skips the bytes)",
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
)

# --- PyTorch ------------------------------------------------------------------------------------------
_TORCH_REBUILD = (
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
    "_rebuild_sparse_csr_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_nested_tensor",
    "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_xla_tensor", "_rebuild_mps_tensor",
)  # fmt: skip
_allow(
    "torch tensor rebuild helper (torch's weights_only allowlist): builds tensors from storages",
    *(f"torch._utils.{n}" for n in _TORCH_REBUILD),
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
    "torch.serialization._get_layout",
)
_allow(
    "how plain pickle.dumps(tensor) stores a storage: torch.save bytes; the literal payload is analysed "
    "as a member (its findings and verdict count), and a computed payload is reported",
    "torch.storage._load_from_bytes",
)
_allow(
    "torch tensor/parameter/shape/device type (torch's weights_only allowlist)",
    "torch.Tensor",
    "torch._tensor.Tensor",
    "torch.Size",
    "torch.device",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.nn.parameter.UninitializedParameter",
    "torch.nn.parameter.UninitializedBuffer",
    "torch.torch_version.TorchVersion",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.optim.optimizer._RequiredParameter",
)
_STORAGE_KINDS = (
    "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
    "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4",
)  # fmt: skip
_allow(
    "torch legacy typed-storage class named by persistent ids and rebuild calls",
    *(f"{m}.{k}Storage" for m in ("torch", "torch.cuda") for k in _STORAGE_KINDS),
)
_TORCH_CONSTANTS = (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32", "chalf",
    "complex64", "cfloat", "complex128", "cdouble", "uint8", "int8", "int16", "short", "int32", "int",
    "int64", "long", "bool", "quint8", "qint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn",
    "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "uint16", "uint32", "uint64", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    *(f"uint{i}" for i in range(1, 8)), *(f"int{i}" for i in range(1, 8)),
    "contiguous_format", "channels_last", "channels_last_3d", "preserve_format", "strided",
    "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "per_tensor_affine",
    "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
    "per_channel_affine_float_qparams",
)  # fmt: skip
_allow("torch dtype / layout / memory format / qscheme constant", *(f"torch.{n}" for n in _TORCH_CONSTANTS))
_allow(
    "pure tensor activation function stored as a module attribute (TransformerEncoderLayer.activation)",
    *(f"torch.nn.functional.{n}" for n in (
        "relu", "gelu", "silu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "celu", "softmax",
        "log_softmax", "mish", "hardswish", "hardsigmoid", "glu", "softplus", "relu6", "logsigmoid",
        "tanhshrink", "softsign", "normalize", "dropout", "linear",
    )),
    *(f"torch._C._nn.{n}" for n in (
        "gelu", "silu", "elu", "leaky_relu", "hardswish", "mish", "softplus", "linear",
    )),
    *(f"torch.{n}" for n in ("tanh", "sigmoid", "relu", "exp", "log", "sin", "cos", "erf", "abs", "square")),
)  # fmt: skip
_allow(
    "TorchScript unpickler helper: rebuilds lists/tensors from plain values",
    *(f"torch.jit._pickle.{n}" for n in (
        "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist", "build_tensor_from_id",
        "restore_type_tag",
    )),
)  # fmt: skip
_allow_table("torch.nn module class (whole-module torch.save)", TORCH_NN_CLASSES)
_allow_table("torch optimizer / LR scheduler class (whole training-state saves)", TORCH_OPTIM_CLASSES)

# --- Ecosystem: training states (modules not installed here; paths from the libraries' sources) --------
_allow(
    "Hugging Face TrainingArguments and its enums (training_args.bin is torch.save(args))",
    "transformers.training_args.TrainingArguments",
    "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
    "transformers.training_args.OptimizerNames",
    "transformers.trainer_utils.IntervalStrategy",
    "transformers.trainer_utils.SaveStrategy",
    "transformers.trainer_utils.SchedulerType",
    "transformers.trainer_utils.HubStrategy",
    "transformers.trainer_utils.EvaluationStrategy",
    "transformers.debug_utils.DebugOption",
    "transformers.trainer_pt_utils.AcceleratorConfig",
    "accelerate.utils.dataclasses.DistributedType",
    "transformers.training_args.ParallelMode",
    "transformers.trainer_utils.FSDPOption",
    "transformers.generation.configuration_utils.GenerationConfig",
    "accelerate.state.PartialState",
)
_allow("tokenizers object (pickles as its JSON definition)", "tokenizers.Tokenizer", "tokenizers.AddedToken")
_allow(
    "OmegaConf configuration node (Lightning / fairseq / Hydra checkpoints): data containers",
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "omegaconf.nodes.BytesNode",
    "omegaconf.nodes.PathNode",
    "omegaconf.nodes.EnumNode",
)
_allow(
    "Lightning hyper-parameter dict (a dict with attribute access)",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "lightning.fabric.utilities.data.AttributeDict",
    "lightning.pytorch.utilities.parsing.AttributeDict",
)
_allow(
    "pandas data structure reconstruction (DataFrames pickled with datasets and feature pipelines)",
    "pandas.core.frame.DataFrame",
    "pandas.core.series.Series",
    "pandas.core.internals.managers.BlockManager",
    "pandas.core.internals.managers.SingleBlockManager",
    "pandas._libs.internals._unpickle_block",
    "pandas.core.internals.blocks.new_block",
    "pandas.core.indexes.base._new_Index",
    "pandas.core.indexes.base.Index",
    "pandas.core.indexes.range.RangeIndex",
    "pandas.core.indexes.multi.MultiIndex",
    "pandas.core.indexes.datetimes.DatetimeIndex",
    "pandas.core.indexes.datetimes._new_DatetimeIndex",
    "pandas.core.indexes.category.CategoricalIndex",
    "pandas.core.indexes.numeric.Int64Index",
    "pandas.core.indexes.numeric.Float64Index",
    "pandas.core.arrays.categorical.Categorical",
    "pandas.core.arrays.datetimes.DatetimeArray",
    "pandas.core.arrays.string_.StringArray",
    "pandas.core.arrays.string_.StringDtype",
    "pandas.core.dtypes.dtypes.CategoricalDtype",
    "pandas.core.dtypes.dtypes.DatetimeTZDtype",
    "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas._libs.tslibs.timestamps.Timestamp",
    "pandas._libs.tslibs.timedeltas.Timedelta",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.nattype.__nat_unpickle",
)
_allow(
    "pandas >= 3 pickles its data structures through public names (constructors of containers, "
    "indexes, extension arrays and dtypes; no reader, eval or query entry point is listed)",
    *(f"pandas.{n}" for n in (
        "DataFrame", "Series", "Index", "RangeIndex", "MultiIndex", "DatetimeIndex", "TimedeltaIndex",
        "PeriodIndex", "IntervalIndex", "CategoricalIndex", "Categorical", "CategoricalDtype",
        "DatetimeTZDtype", "PeriodDtype", "IntervalDtype", "SparseDtype", "StringDtype", "BooleanDtype",
        "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype",
        "UInt64Dtype", "Float32Dtype", "Float64Dtype", "ArrowDtype", "Interval", "Period", "Timestamp",
        "Timedelta", "DateOffset", "NA", "NaT",
        "arrays.DatetimeArray", "arrays.TimedeltaArray", "arrays.PeriodArray", "arrays.IntervalArray",
        "arrays.SparseArray", "arrays.StringArray", "arrays.BooleanArray", "arrays.IntegerArray",
        "arrays.FloatingArray", "arrays.NumpyExtensionArray", "arrays.ArrowStringArray",
        "arrays.ArrowExtensionArray",
        "core.indexes.interval._new_IntervalIndex", "core.indexes.timedeltas._new_TimedeltaIndex",
        "core.indexes.period._new_PeriodIndex", "core.arrays.string_.StringDtype",
        "_libs.interval.__pyx_unpickle_IntervalMixin", "_libs.interval.Interval", "_libs.sparse.IntIndex",
        "_libs.sparse.BlockIndex", "_libs.missing.NA", "_libs.tslibs.nattype._nat_unpickle",
        "_libs.tslibs.period.Period",
    )),
    *(f"pandas._libs.tslibs.offsets.{n}" for n in (
        "Day", "Hour", "Minute", "Second", "Milli", "Micro", "Nano", "BusinessDay", "BusinessHour",
        "Week", "WeekOfMonth", "MonthEnd", "MonthBegin", "BusinessMonthEnd", "BusinessMonthBegin",
        "SemiMonthEnd", "SemiMonthBegin", "QuarterEnd", "QuarterBegin", "BQuarterEnd", "BQuarterBegin",
        "YearEnd", "YearBegin", "BYearEnd", "BYearBegin", "DateOffset", "Easter", "FY5253",
    )),
)  # fmt: skip
_allow(
    "calendar offset value type (what pandas.DateOffset pickles through)",
    "dateutil.relativedelta.relativedelta",
)
_allow(
    "time zone by IANA key (zoneinfo refuses keys that are paths); reads tz data, runs no code; "
    "it pickles as getattr(ZoneInfo, '_unpickle')(key, from_cache)",
    "zoneinfo.ZoneInfo",
    "zoneinfo.ZoneInfo._unpickle",
)

# Allowlisted only as their own pickling builds them: `cls.__new__` (NEWOBJ, copyreg.__newobj__) then
# BUILD. Calling them (REDUCE/INST/OBJ) runs __init__/__post_init__, which set up devices and
# distributed state from the arguments: no real file does that.
NEW_ONLY = frozenset(
    {
        "transformers.training_args.TrainingArguments",
        "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
        "transformers.trainer_pt_utils.AcceleratorConfig",
        "accelerate.state.PartialState",  # its __init__ sets up distributed process groups
    }
)

# Names only TorchScript archives hold: classes compiled from the archive's code/ (reviewed there).
TORCHSCRIPT_PREFIX = "__torch__."
