"""Every public entry point, given a bad input, raises the library's own error naming the culprit.

One table: (id, call, expected error type, regex the message must match). Each call takes a
temporary folder (used only by the file cases). The regex names what the user got wrong: both
shapes of a mismatch, the axis and the shape, the dtype, the argument's name and value, the
file. A bare numpy traceback, an AttributeError from inside, or a message that does not name
the culprit fails the row.
"""

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor, checkpoint, nn, optim
from tinygrad_hw.data import load_idx, minibatches, save_idx
from tinygrad_hw.datasets import load_dataset, mnist
from tinygrad_hw.errors import (
    AnomalyError,
    ArgumentError,
    BadIndexError,
    DataError,
    DTypeError,
    GraphError,
    MissingDataError,
    ShapeError,
    TinygradHWError,
)
from tinygrad_hw.nn import functional as F


# --------------------------------------------------------------------------- inputs
def m23() -> Tensor:
    """A (2, 3) float64 leaf that requires grad."""
    return Tensor(np.arange(6.0).reshape(2, 3) / 7, requires_grad=True)


def t(*shape: int, dtype=np.float64) -> Tensor:
    return Tensor(np.ones(shape, dtype))


def logits() -> Tensor:
    return Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)


LABELS = np.array([0, 2, 1, 0])


def small_mlp(hidden: int = 5) -> nn.MLP:
    return nn.MLP([8, hidden, 3], rng=0)


def without(state: dict, key: str) -> dict:
    return {k: v for k, v in state.items() if k != key}


def backward_twice() -> None:
    loss = (m23() * 2).sum()
    loss.backward()
    loss.backward()


def backward_under_no_grad() -> None:
    x = m23()
    with tg.no_grad():
        loss = (x * x).sum()
    loss.backward()


def under_anomaly_mode(bad: float) -> Callable[[Path], object]:
    """Data holding NaN/inf is allowed; detect_anomaly then stops the first op it reaches."""

    def call(tmp: Path) -> object:
        x = Tensor([1.0, bad], requires_grad=True)
        with tg.detect_anomaly():
            return x.exp()

    return call


def assign_grad(shape: tuple[int, ...]) -> None:
    w = Tensor(np.zeros((2, 3)), requires_grad=True)
    w.grad = np.ones(shape)


# --------------------------------------------------------------------------- files
def saved_checkpoint(tmp: Path) -> Path:
    model = small_mlp()
    path = tmp / "ck.npz"
    checkpoint.save(path, model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epoch=1)
    return path


def truncated_checkpoint(tmp: Path) -> Path:
    path = saved_checkpoint(tmp)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def bit_flipped_checkpoint(tmp: Path) -> Path:
    """One byte flipped inside the first weight's stored values: the zip's CRC-32 catches it
    (a flip in a zip header's padding would be harmless, so the spot is looked up)."""
    path = saved_checkpoint(tmp)
    raw = bytearray(path.read_bytes())
    spot = raw.find(small_mlp().state_dict()["layers.0.weight"].tobytes()) + 10
    assert spot >= 10
    raw[spot] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def garbage_file(tmp: Path, name: str = "ck.npz") -> Path:
    path = tmp / name
    path.write_bytes(b"not a checkpoint " * 40)
    return path


def foreign_npz(tmp: Path) -> Path:
    path = tmp / "foreign.npz"
    np.savez(path, weights=np.zeros(3))
    return path


def idx_file(tmp: Path, mangle: Callable[[bytes], bytes], name: str = "img.idx") -> Path:
    save_idx(tmp / "good.idx", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    path = tmp / name
    path.write_bytes(mangle((tmp / "good.idx").read_bytes()))
    return path


def folder(tmp: Path, name: str) -> Path:
    (tmp / name).mkdir()
    return tmp / name


def corrupt_gzip(raw: bytes) -> bytes:
    packed = bytearray(gzip.compress(raw * 50))
    packed[len(packed) // 2] ^= 0xFF
    return bytes(packed)


# --------------------------------------------------------------------------- the table
SHAPES_23_32 = r"\(2, 3\).*\(3, 2\)"
CASES = [
    # ----- Tensor data
    ("tensor-none", lambda p: Tensor(None), DTypeError, r"None"),
    ("tensor-str", lambda p: Tensor("abc"), DTypeError, r"string.*'abc'"),
    ("tensor-object", lambda p: Tensor(np.array([object()])), DTypeError, r"dtype object"),
    ("tensor-dict", lambda p: Tensor({"a": 1}), DTypeError, r"dict"),
    ("tensor-ragged", lambda p: Tensor([[1, 2], [3]]), DTypeError, r"ragged"),
    ("tensor-complex", lambda p: Tensor([1 + 2j]), DTypeError, r"complex128"),
    ("tensor-bad-dtype", lambda p: Tensor([1.0], dtype="foo"), DTypeError, r"'foo'"),
    ("grad-int", lambda p: Tensor(np.arange(3), requires_grad=True), DTypeError, r"int64"),
    ("grad-bool", lambda p: Tensor(np.ones(2, bool), requires_grad=True), DTypeError, r"bool"),
    ("nan-anomaly", under_anomaly_mode(np.nan), AnomalyError, r"'exp'.*already held NaN"),
    ("inf-anomaly", under_anomaly_mode(np.inf), AnomalyError, r"'exp'.*already held NaN/inf"),
    # ----- binary ops: both shapes in the message
    ("add-shapes", lambda p: m23() + t(3, 2), ShapeError, r"add.*" + SHAPES_23_32),
    ("sub-shapes", lambda p: m23() - t(3, 2), ShapeError, r"sub.*" + SHAPES_23_32),
    ("mul-shapes", lambda p: m23() * t(3, 2), ShapeError, r"mul.*" + SHAPES_23_32),
    ("div-shapes", lambda p: m23() / t(3, 2), ShapeError, r"div.*" + SHAPES_23_32),
    ("matmul-shapes", lambda p: m23() @ t(4, 5), ShapeError, r"matmul.*\(2, 3\).*\(4, 5\)"),
    ("matmul-0d", lambda p: m23() @ 2.0, ShapeError, r"matmul.*\(2, 3\) and \(\)"),
    (
        "where-shapes",
        lambda p: tg.where(np.ones((3, 2), bool), m23(), 0.0),
        ShapeError,
        r"where.*\(3, 2\).*\(2, 3\)",
    ),
    ("where-float-cond", lambda p: tg.where(np.ones(3), t(3), 0.0), DTypeError, r"float64"),
    ("neg-bool", lambda p: -Tensor(np.ones(2, bool)), DTypeError, r"neg.*bool"),
    ("sub-bool", lambda p: t(2, dtype=bool) - t(2, dtype=bool), DTypeError, r"sub.*bool"),
    (
        "int-negative-power",
        lambda p: Tensor(np.array([2])) ** Tensor(np.array([-1])),
        DTypeError,
        r"pow.*int64",
    ),
    ("clip-str-bound", lambda p: m23().clip("a", 1.0), DTypeError, r"clip.*lo.*'a'"),
    ("clip-lo-above-hi", lambda p: m23().clip(2.0, 1.0), ArgumentError, r"lo=2.0.*hi=1.0"),
    # ----- axes: the axis and the shape
    ("sum-axis", lambda p: m23().sum(2), ShapeError, r"sum: axis 2.*\(2, 3\)"),
    ("mean-axis", lambda p: m23().mean(-3), ShapeError, r"mean: axis -3.*\(2, 3\)"),
    ("max-axis", lambda p: m23().max(5), ShapeError, r"max: axis 5.*\(2, 3\)"),
    ("min-axis", lambda p: m23().min((0, 2)), ShapeError, r"min: axis 2.*\(2, 3\)"),
    ("softmax-axis", lambda p: m23().softmax(2), ShapeError, r"softmax: axis 2.*\(2, 3\)"),
    ("log-softmax-axis", lambda p: m23().log_softmax(-3), ShapeError, r"log_softmax: axis -3"),
    ("logsumexp-axis", lambda p: m23().logsumexp(3), ShapeError, r"logsumexp: axis 3"),
    ("argmax-axis", lambda p: m23().argmax(2), ShapeError, r"argmax: axis 2"),
    (
        "concatenate-axis",
        lambda p: tg.concatenate([m23(), m23()], 2),
        ShapeError,
        r"concatenate: axis 2.*\(2, 3\)",
    ),
    ("stack-axis", lambda p: tg.stack([m23(), m23()], 4), ShapeError, r"stack: axis 4"),
    ("sum-float-axis", lambda p: m23().sum(1.5), DTypeError, r"axis.*1\.5"),
    ("sum-bool-axis", lambda p: m23().sum(True), DTypeError, r"axis.*True"),
    ("sum-repeated-axis", lambda p: m23().sum((0, 0)), ShapeError, r"repeated axis.*\(0, 0\)"),
    ("softmax-empty-axis", lambda p: t(2, 0).softmax(), ShapeError, r"softmax.*\(2, 0\)"),
    ("logsumexp-empty", lambda p: t(0).logsumexp(), ShapeError, r"logsumexp.*\(0,\)"),
    ("mean-empty", lambda p: t(0, 3).mean(), ShapeError, r"mean.*\(0, 3\)"),
    ("max-empty", lambda p: t(0, 3).max(), ShapeError, r"max.*\(0, 3\)"),
    ("item-of-many", lambda p: m23().item(), ShapeError, r"\(2, 3\)"),
    # ----- shapes
    ("reshape-size", lambda p: m23().reshape(4), ShapeError, r"\(2, 3\).*6.*\(4,\)"),
    ("reshape-two-unknown", lambda p: m23().reshape(-1, -1), ShapeError, r"\(-1, -1\)"),
    ("reshape-non-int", lambda p: m23().reshape(2.0, 3), DTypeError, r"\(2\.0, 3\)"),
    (
        "transpose-repeated",
        lambda p: m23().transpose(0, 0),
        ShapeError,
        r"\(0, 0\).*permutation.*\(2, 3\)",
    ),
    ("transpose-short", lambda p: m23().transpose(1), ShapeError, r"\(1,\).*\(2, 3\)"),
    (
        "concatenate-shapes",
        lambda p: tg.concatenate([m23(), t(3, 3)], 1),
        ShapeError,
        r"\(2, 3\).*\(3, 3\)",
    ),
    ("stack-shapes", lambda p: tg.stack([m23(), t(3)]), ShapeError, r"\(2, 3\).*\(3,\)"),
    ("concatenate-empty", lambda p: tg.concatenate([]), ShapeError, r"non-empty list"),
    ("concatenate-not-list", lambda p: tg.concatenate(5), ShapeError, r"concatenate.*int"),
    # ----- indexing
    ("index-range", lambda p: m23()[5], BadIndexError, r"\(2, 3\) with 5.*out of bounds"),
    ("index-too-many", lambda p: m23()[0, 0, 0], BadIndexError, r"\(2, 3\) with \(0, 0, 0\)"),
    ("index-float", lambda p: m23()[1.5], BadIndexError, r"\(2, 3\) with 1\.5"),
    ("index-list-range", lambda p: m23()[[0, 7]], BadIndexError, r"index 7 is out of bounds"),
    ("index-ragged", lambda p: m23()[[[0], [0, 1]]], BadIndexError, r"\(2, 3\) with.*\[0, 1\]"),
    (
        "index-mask-length",
        lambda p: m23()[np.array([True, False, True])],
        BadIndexError,
        r"\(2, 3\).*boolean",
    ),
    # ----- backward
    ("backward-non-scalar", lambda p: m23().sum(0).backward(), GraphError, r"shape \(3,\)"),
    (
        "backward-grad-shape",
        lambda p: m23().sum(0).backward(np.ones(4)),
        ShapeError,
        r"grad has shape \(4,\), the tensor has shape \(3,\)",
    ),
    (
        "backward-grad-dtype",
        lambda p: m23().sum(0).backward(np.ones(3, np.float32)),
        DTypeError,
        r"grad has dtype float32, the tensor has dtype float64",
    ),
    ("backward-no-grad", lambda p: backward_under_no_grad(), GraphError, r"no_grad"),
    ("backward-twice", lambda p: backward_twice(), GraphError, r"freed.*retain_graph=True"),
    ("backward-constant", lambda p: t(1).backward(), GraphError, r"does not require grad"),
    # ----- losses
    (
        "ce-label-range",
        lambda p: F.cross_entropy(logits(), [0, 1, 3, 0]),
        ArgumentError,
        r"label 3 at position 2.*K=3",
    ),
    (
        "ce-label-negative",
        lambda p: F.cross_entropy(logits(), [0, -1, 2, 0]),
        ArgumentError,
        r"label -1 at position 1",
    ),
    (
        "ce-float-labels",
        lambda p: F.cross_entropy(logits(), LABELS.astype(np.float64)),
        DTypeError,
        r"labels.*dtype float64",
    ),
    (
        "ce-logits-1d",
        lambda p: F.cross_entropy(Tensor(np.zeros(3)), np.array([0])),
        ShapeError,
        r"logits must be 2-D.*\(3,\)",
    ),
    (
        "ce-logits-3d",
        lambda p: F.cross_entropy(Tensor(np.zeros((2, 3, 4))), np.array([0, 1])),
        ShapeError,
        r"logits must be 2-D.*\(2, 3, 4\)",
    ),
    (
        "ce-empty-batch",
        lambda p: F.cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, np.int64)),
        ShapeError,
        r"empty.*\(0, 3\)",
    ),
    (
        "ce-labels-shape",
        lambda p: F.cross_entropy(logits(), [0, 1, 2]),
        ShapeError,
        r"\(3,\).*\(4, 3\)",
    ),
    (
        "ce-targets-shape",
        lambda p: F.cross_entropy(logits(), np.zeros((4, 4))),
        ShapeError,
        r"\(4, 3\).*\(4, 4\)",
    ),
    (
        "ce-reduction",
        lambda p: F.cross_entropy(logits(), LABELS, reduction="avg"),
        ArgumentError,
        r"reduction.*'avg'",
    ),
    (
        "ce-int-logits",
        lambda p: F.cross_entropy(np.zeros((4, 3), np.int64), LABELS),
        DTypeError,
        r"logits.*int64",
    ),
    (
        "bce-targets-shape",
        lambda p: F.binary_cross_entropy_with_logits(Tensor(np.zeros((4, 1))), np.zeros(4)),
        ShapeError,
        r"\(4, 1\).*\(4,\)",
    ),
    (
        "bce-targets-range",
        lambda p: F.binary_cross_entropy_with_logits(Tensor(np.zeros(2)), np.array([0.0, 2.0])),
        ArgumentError,
        r"targets must lie in \[0, 1\]",
    ),
    ("one-hot-range", lambda p: F.one_hot(np.array([0, 5]), 3), ArgumentError, r"label 5.*3"),
    ("one-hot-float", lambda p: F.one_hot(np.array([0.0]), 3), DTypeError, r"float64"),
    # ----- optimizers
    ("opt-no-params", lambda p: optim.SGD([], lr=0.1), ArgumentError, r"SGD.*no parameters"),
    (
        "opt-array-param",
        lambda p: optim.Adam([np.zeros(3)]),
        DTypeError,
        r"params\[0\] is a ndarray",
    ),
    ("opt-model-as-params", lambda p: optim.SGD(small_mlp(), lr=0.1), DTypeError, r"MLP"),
    (
        "opt-constant-param",
        lambda p: optim.SGD([Tensor(np.zeros(2))], lr=0.1),
        ArgumentError,
        r"params\[0\].*requires_grad=False",
    ),
    ("lr-negative", lambda p: optim.SGD([m23()], lr=-0.1), ArgumentError, r"lr.*-0\.1"),
    ("lr-nan", lambda p: optim.SGD([m23()], lr=float("nan")), ArgumentError, r"lr.*nan"),
    ("lr-inf", lambda p: optim.Adam([m23()], lr=np.inf), ArgumentError, r"lr.*inf"),
    ("lr-string", lambda p: optim.SGD([m23()], lr="0.1"), DTypeError, r"lr.*'0\.1'"),
    (
        "betas-one",
        lambda p: optim.Adam([m23()], betas=(0.9, 1.0)),
        ArgumentError,
        r"betas\[1\].*1\.0",
    ),
    (
        "betas-negative",
        lambda p: optim.AdamW([m23()], betas=(-0.1, 0.9)),
        ArgumentError,
        r"betas\[0\].*-0\.1",
    ),
    ("betas-triple", lambda p: optim.Adam([m23()], betas=(0.9,) * 3), DTypeError, r"betas"),
    (
        "momentum-negative",
        lambda p: optim.SGD([m23()], lr=0.1, momentum=-1),
        ArgumentError,
        r"momentum.*-1",
    ),
    (
        "grad-assigned-shape",
        lambda p: assign_grad((3,)),
        ShapeError,
        r"\.grad = an array of shape \(3,\): the tensor has shape \(2, 3\)",
    ),
    # ----- modules
    ("linear-in-zero", lambda p: nn.Linear(0, 3), ArgumentError, r"in_features.*0"),
    ("linear-out-negative", lambda p: nn.Linear(3, -1), ArgumentError, r"out_features.*-1"),
    (
        "model-input-width",
        lambda p: small_mlp()(np.zeros((2, 5), np.float32)),
        ShapeError,
        r"\(2, 5\).*8",
    ),
    (
        "state-other-shapes",
        lambda p: small_mlp().load_state_dict(small_mlp(4).state_dict()),
        ShapeError,
        r"'layers\.0\.weight'.*\(8, 5\).*\(8, 4\)",
    ),
    (
        "state-missing-key",
        lambda p: small_mlp().load_state_dict(without(small_mlp().state_dict(), "layers.2.bias")),
        ArgumentError,
        r"missing keys \['layers\.2\.bias'\]",
    ),
    (
        "state-unexpected-key",
        lambda p: small_mlp().load_state_dict({**small_mlp().state_dict(), "extra": np.ones(1)}),
        ArgumentError,
        r"unexpected keys \['extra'\]",
    ),
    (
        "state-dtype",
        lambda p: nn.MLP([8, 5, 3], dtype=np.float64).load_state_dict(small_mlp().state_dict()),
        DTypeError,
        r"'layers\.0\.weight'.*float64.*float32",
    ),
    ("state-none", lambda p: small_mlp().load_state_dict(None), DTypeError, r"NoneType"),
    # ----- checkpoints: the file is named
    (
        "ckpt-truncated",
        lambda p: checkpoint.load(truncated_checkpoint(p), small_mlp()),
        DataError,
        r"ck\.npz",
    ),
    (
        "ckpt-bit-flip",
        lambda p: checkpoint.load(bit_flipped_checkpoint(p), small_mlp()),
        DataError,
        r"ck\.npz.*CRC",
    ),
    ("ckpt-garbage", lambda p: checkpoint.load(garbage_file(p)), DataError, r"ck\.npz"),
    ("ckpt-foreign", lambda p: checkpoint.load(foreign_npz(p)), DataError, r"foreign\.npz"),
    ("ckpt-missing", lambda p: checkpoint.load(p / "no.npz"), MissingDataError, r"no\.npz"),
    (
        "ckpt-other-model",
        lambda p: checkpoint.load(saved_checkpoint(p), small_mlp(4)),
        ShapeError,
        r"ck\.npz.*'layers\.0\.weight'.*\(8, 4\).*\(8, 5\)",
    ),
    (
        "ckpt-meta-not-json",
        lambda p: checkpoint.save(p / "c.npz", small_mlp(), extra=np.zeros(2)),
        DTypeError,
        r"meta extra=",
    ),
    (
        "ckpt-save-no-folder",
        lambda p: checkpoint.save(p / "absent" / "c.npz", small_mlp()),
        MissingDataError,
        r"absent",
    ),
    # ----- data files and batches
    (
        "idx-truncated",
        lambda p: load_idx(idx_file(p, lambda raw: raw[:-5])),
        DataError,
        r"img\.idx.*truncated",
    ),
    (
        "idx-bad-magic",
        lambda p: load_idx(idx_file(p, lambda raw: b"\x07\x07" + raw[2:])),
        DataError,
        r"img\.idx.*magic",
    ),
    (
        "idx-corrupt-gzip",
        lambda p: load_idx(idx_file(p, corrupt_gzip, "img.idx.gz")),
        DataError,
        r"img\.idx\.gz.*gzip",
    ),
    (
        "idx-truncated-gzip",
        lambda p: load_idx(idx_file(p, lambda raw: gzip.compress(raw)[:-9], "img.idx.gz")),
        DataError,
        r"img\.idx\.gz.*gzip",
    ),
    ("idx-missing", lambda p: load_idx(p / "none.idx"), MissingDataError, r"none\.idx"),
    ("idx-folder", lambda p: load_idx(folder(p, "digits")), DataError, r"digits"),
    (
        "mnist-missing-files",
        lambda p: mnist(path=p),
        MissingDataError,
        r"train-images-idx3-ubyte.*train-labels-idx1-ubyte.*t10k-images.*t10k-labels",
    ),
    ("dataset-name", lambda p: load_dataset("cifar"), ArgumentError, r"'cifar'"),
    (
        "batches-lengths",
        lambda p: minibatches(np.zeros((5, 2)), np.zeros(4), 2),
        ShapeError,
        r"len\(x\)=5, len\(y\)=4",
    ),
    (
        "batch-size-zero",
        lambda p: minibatches(np.zeros((5, 2)), np.zeros(5), 0),
        ArgumentError,
        r"batch_size.*0",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_raises_the_library_error_naming_the_culprit(call, error, pattern, tmp_path):
    with pytest.raises(TinygradHWError) as caught:
        call(tmp_path)
    assert isinstance(caught.value, error), f"{type(caught.value).__name__}: {caught.value}"
    assert re.search(pattern, str(caught.value), re.DOTALL), str(caught.value)


def test_the_table_is_large_and_its_ids_distinct():
    ids = [case[0] for case in CASES]
    assert len(set(ids)) == len(ids) >= 45


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_data_is_accepted_and_kept(bad):
    """Refusing NaN at construction would block masking tricks; detect_anomaly is the tool."""
    x = Tensor(np.array([1.0, bad], np.float32), requires_grad=True)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.data, [1.0, bad])


def test_anomaly_mode_names_the_op_that_first_produces_nan_from_finite_inputs():
    x = Tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with (
        np.errstate(invalid="ignore"),  # numpy's own warning is not what this test is about
        tg.detect_anomaly(),
        pytest.raises(AnomalyError, match=r"'sqrt'.*inputs were finite"),
    ):
        (x * 2).sqrt()
