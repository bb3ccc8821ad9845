"""Benign real-world pickles, made by the real libraries, must scan clean (false positives are bugs)."""

from __future__ import annotations

import argparse
import array
import collections
import datetime
import decimal
import fractions
import io
import ipaddress
import pathlib
import pickle
import uuid
import warnings
import zipfile
from typing import Any

import pytest

from builders import pickles as P
from modelcert.findings import Verdict


def assert_clean(data: bytes, name: str = "model.pkl") -> None:
    report = P.scan(data, name)
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]


def torch_data_pkl(obj: Any) -> bytes:
    """torch.save's zip → the data.pkl member (what the zip analyzer hands to the pickle analyzer)."""
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        return archive.read(name)


def torch_legacy(obj: Any) -> bytes:
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


PLAIN_DATA: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    255,
    65536,
    2**70,
    -(2**70),
    1.5,
    float("inf"),
    1j,
    "",
    "é\u2603\U0001f600",
    "x" * 300,
    b"",
    b"\x00\xff" * 200,
    bytearray(b"abc"),
    (),
    (1,),
    (1, 2),
    (1, 2, 3),
    (1, 2, 3, 4),
    [],
    [1, [2, [3]]],
    {},
    {"a": 1, 2: "b", (3,): None},
    {1, 2},
    frozenset({"x"}),
    set(),
    collections.OrderedDict(a=1),
    collections.defaultdict(list, {"k": [1]}),
    collections.deque([1, 2]),
    collections.Counter("hello"),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    datetime.date(2024, 1, 2),
    datetime.timedelta(days=3),
    decimal.Decimal("1.25"),
    fractions.Fraction(1, 3),
    uuid.UUID(int=7),
    pathlib.PurePosixPath("a/b"),
    argparse.Namespace(lr=0.1, name="run"),
    range(5),
    slice(1, 5, 2),
    array.array("i", [1, 2, 3]),
    array.array("d", [0.5]),
    ipaddress.ip_address("10.0.0.1"),
    ipaddress.ip_address("::1"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_interface("192.168.1.2/24"),
]


@pytest.mark.parametrize("proto", [0, 1, 2, 3, 4, 5])
def test_plain_python_data_every_protocol(proto: int) -> None:
    shared = ["shared"]
    data = pickle.dumps({"values": PLAIN_DATA, "shared": [shared, shared]}, protocol=proto)
    assert_clean(data)


def test_recursive_structures_and_multiple_dumps() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    data = pickle.dumps(loop, 2) + pickle.dumps({"second": 2}, 4)
    assert_clean(data)


def test_torch_state_dict() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert_clean(torch_data_pkl(model.state_dict()), "archive/data.pkl")


def test_torch_whole_modules() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.Sequential(
        nn.Linear(8, 8),
        nn.ReLU(),
        nn.LSTM(8, 4),
        nn.GRU(4, 4),
        nn.Conv2d(1, 2, 3),
        nn.BatchNorm2d(2),
        nn.Embedding(10, 8),
        nn.LayerNorm(8),
        nn.Dropout(0.1),
        nn.TransformerEncoderLayer(8, 2),
        nn.MultiheadAttention(8, 2),
        nn.GELU(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_clean(torch_data_pkl(model), "archive/data.pkl")
        assert_clean(torch_data_pkl(nn.utils.weight_norm(nn.Linear(3, 3))), "archive/data.pkl")


def test_torch_legacy_format() -> None:
    """Legacy torch.save: five streams, then raw storages (which can start like a pickle)."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    state = {"model": model.state_dict(), "weird": torch.tensor([640], dtype=torch.int16)}  # b"\x80\x02"
    report = P.scan(torch_legacy(state), "model.pt")
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]
    assert report.format == "pytorch-legacy"
    report = P.scan(torch_legacy(model), "model.pt")
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]


def test_torch_optimizer_and_training_checkpoint() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(4, 2)
    model(torch.zeros(1, 4)).sum().backward()
    optimizers = [
        torch.optim.Adam(model.parameters()),
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
    ]
    for optimizer in optimizers:
        optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizers[0], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensors are deprecated, still found in checkpoints
        quantized = torch.quantize_per_tensor(torch.zeros(2), 0.1, 0, torch.quint8)
    checkpoint = {
        "state_dict": model.state_dict(),
        "optimizer_states": [o.state_dict() for o in optimizers],
        "lr_schedulers": [scheduler.state_dict()],
        "hyper_parameters": {
            "lr": 0.1,
            "args": argparse.Namespace(epochs=3, data=pathlib.PosixPath("/data")),
        },
        "epoch": 3,
        "global_step": 30,
        "pytorch-lightning_version": "2.4.0",
        "rng": torch.get_rng_state(),
        "dtype": torch.bfloat16,
        "device": torch.device("cpu"),
        "size": torch.Size([2, 3]),
        "sparse": torch.zeros(3, 3).to_sparse(),
        "quantized": quantized,
        "param": torch.nn.Parameter(torch.zeros(2)),
        "version": torch.__version__,
    }
    assert_clean(torch_data_pkl(checkpoint), "archive/data.pkl")
    assert_clean(torch_data_pkl(optimizers[0]), "archive/data.pkl")  # whole optimizer object


def test_numpy_values_and_object_arrays() -> None:
    np = pytest.importorskip("numpy")
    values = {
        "f": np.arange(6, dtype=np.float32).reshape(2, 3),
        "o": np.array(["a", "bc", None], dtype=object),
        "s": np.float64(1.5),
        "i": np.int64(3),
        "u": np.array(["x", "yz"]),
        "rec": np.zeros(2, dtype=[("a", "f4"), ("b", "i2")]),
        "rs": np.random.RandomState(0),
        "gen": np.random.default_rng(0),
        "dt": np.dtype("M8[ns]"),
        "masked": np.ma.masked_array([1, 2], mask=[0, 1]),
    }
    for proto in (2, 4, 5):
        assert_clean(pickle.dumps(values, protocol=proto))


def test_numpy_object_array_npy_payload() -> None:
    """The pickle inside an object-dtype .npy (what the numpy analyzer hands over)."""
    np = pytest.importorskip("numpy")
    buffer = io.BytesIO()
    np.save(buffer, np.array(["tok", "en", 3], dtype=object), allow_pickle=True)
    raw = buffer.getvalue()
    stream = io.BytesIO(raw)
    np.lib.format.read_magic(stream)
    np.lib.format.read_array_header_1_0(stream)
    assert_clean(raw[stream.tell() :], "<array data>")


def _sklearn_models() -> dict[str, Any]:
    np = pytest.importorskip("numpy")
    compose = pytest.importorskip("sklearn.compose")
    ensemble = pytest.importorskip("sklearn.ensemble")
    text = pytest.importorskip("sklearn.feature_extraction.text")
    selection = pytest.importorskip("sklearn.feature_selection")
    linear = pytest.importorskip("sklearn.linear_model")
    model_selection = pytest.importorskip("sklearn.model_selection")
    neighbors = pytest.importorskip("sklearn.neighbors")
    neural = pytest.importorskip("sklearn.neural_network")
    pipeline = pytest.importorskip("sklearn.pipeline")
    pre = pytest.importorskip("sklearn.preprocessing")
    svm = pytest.importorskip("sklearn.svm")
    logistic = linear.LogisticRegression

    rng = np.random.RandomState(0)
    x = rng.rand(40, 4)
    y = (x[:, 0] > 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models: dict[str, Any] = {
            "logreg": logistic().fit(x, y),
            "forest": ensemble.RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
            "pipeline": pipeline.Pipeline([("scale", pre.StandardScaler()), ("clf", logistic())]).fit(x, y),
            "columns": compose.ColumnTransformer(
                [
                    ("num", pre.StandardScaler(), [0, 1]),
                    ("cat", pre.OneHotEncoder(), [2]),
                    ("log", pre.FunctionTransformer(np.log1p), [3]),
                ]
            ).fit(np.round(x, 1)),
            "gbc": ensemble.GradientBoostingClassifier(n_estimators=3).fit(x, y),
            "hgb": ensemble.HistGradientBoostingClassifier(max_iter=3).fit(x, y),
            "sgd": linear.SGDClassifier().fit(x, y),
            "knn": neighbors.KNeighborsClassifier().fit(x, y),
            "mlp": neural.MLPClassifier(max_iter=5).fit(x, y),
            "svc": svm.SVC().fit(x, y),
            "kbest": selection.SelectKBest(k=2).fit(x, y),
            "grid": model_selection.GridSearchCV(logistic(), {"C": [0.1, 1.0]}, cv=2, scoring="accuracy").fit(
                x, y
            ),
            "tfidf": text.TfidfVectorizer().fit(["alpha beta", "beta gamma delta"]),
        }
    return models


def test_sklearn_estimators_via_pickle_and_joblib() -> None:
    joblib = pytest.importorskip("joblib")
    for name, model in _sklearn_models().items():
        for proto in (2, 5):
            assert_clean(pickle.dumps(model, protocol=proto), f"{name}.pkl")
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        report = P.scan(buffer.getvalue(), f"{name}.joblib")
        assert report.verdict is Verdict.CLEAN, (name, [f.to_dict() for f in report.all_findings()])


def test_joblib_numpy_layouts() -> None:
    """joblib writes array bytes inline (aligned since 1.2, object arrays as nested pickles)."""
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    payload = {
        "f": np.arange(1000, dtype=np.float64),
        "i": np.arange(7, dtype=np.int16),
        "c": np.ones((3, 2), dtype=np.complex64, order="F"),
        "s": np.array(["ab", "c"]),
        "o": np.array([{"k": 1}, "x", None], dtype=object),
        "rec": np.zeros(3, dtype=[("a", "f4"), ("b", "O")]),
        "empty": np.zeros((0, 4)),
        "scalar": np.array(3.0),
        "be": np.arange(3, dtype=">i4"),
    }
    buffer = io.BytesIO()
    joblib.dump(payload, buffer)
    report = P.scan(buffer.getvalue(), "arrays.joblib")
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]
    assert report.format == "joblib"


def test_pickled_tensor_nested_torch_bytes() -> None:
    """pickle.dumps(tensor) stores storages as torch.save bytes behind torch.storage._load_from_bytes."""
    torch = pytest.importorskip("torch")
    report = P.scan(pickle.dumps({"w": torch.ones(3)}, protocol=2))
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]
    assert report.members, "the nested torch.save bytes are analysed as a member"


def test_dill_and_cloudpickle_of_plain_data() -> None:
    for module_name in ("dill", "cloudpickle"):
        module = pytest.importorskip(module_name)
        assert_clean(module.dumps({"a": [1, 2.0, "x"], "b": collections.OrderedDict(k=b"v")}))


def test_hf_training_args_shape_built_by_hand() -> None:
    """training_args.bin (torch.save(TrainingArguments)) as its own pickling writes it: __new__ + BUILD."""
    enum = P.reduce_call("transformers.trainer_utils", "IntervalStrategy", ("steps",), 2)
    state = b"}(" + P.op_str("output_dir", 2) + P.op_str("out", 2) + P.op_str("eval_strategy", 2) + enum
    state += P.op_str("device", 2) + P.reduce_call("torch", "device", ("cpu",), 2) + b"u"
    obj = P.op_global("transformers.training_args", "TrainingArguments", 2) + b")\x81" + state + b"b"
    assert_clean(P.pickle_of(obj, 2), "archive/data.pkl")
    called = P.reduce_pickle("transformers.training_args", "TrainingArguments", ("out",), 2)
    report = P.scan(called)
    assert report.verdict is Verdict.SUSPICIOUS and "MC106" in P.check_ids(report)
