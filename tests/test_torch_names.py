"""PyTorch's argument names: every ``axis=`` also takes ``dim=``, every ``keepdims=`` also
``keepdim=`` (and ``dims=``, ``dim1=``/``dim2=`` where PyTorch says so), as pure aliases.

The alias calls must give exactly the values and gradients of the numpy-named calls (the same
code runs, so the comparison is exact); a walk over the public API keeps the rule from rotting
as ops are added; giving both names is an ArgumentError naming both; and a PyTorch snippet,
ported by replacing ``torch.`` with ``tg.``, gives torch's values and gradients.
"""

import inspect

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import ArgumentError, ShapeError, Tensor
from tinygrad_hw.nn import functional as F

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4))  # distinct values: max, sort and argmax have no ties
ORDER = np.argsort(X, axis=1)

# (id, call, numpy's keywords, PyTorch's keywords): call(x, **keywords) for x of shape X.shape
# fmt: off
CASES = [
    ("Tensor.sum", lambda x, **k: x.sum(**k), {"axis": (0, 2), "keepdims": True},
     {"dim": (0, 2), "keepdim": True}),
    ("Tensor.mean", lambda x, **k: x.mean(**k), {"axis": 1}, {"dim": 1}),
    ("Tensor.max", lambda x, **k: x.max(**k), {"axis": 1, "keepdims": True},
     {"dim": 1, "keepdim": True}),
    ("Tensor.min", lambda x, **k: x.min(**k), {"axis": -1}, {"dim": -1}),
    ("Tensor.logsumexp", lambda x, **k: x.logsumexp(**k), {"axis": 0, "keepdims": True},
     {"dim": 0, "keepdim": True}),
    ("Tensor.softmax", lambda x, **k: x.softmax(**k), {"axis": 1}, {"dim": 1}),
    ("Tensor.log_softmax", lambda x, **k: x.log_softmax(**k), {"axis": 0}, {"dim": 0}),
    ("Tensor.argmax", lambda x, **k: x.argmax(**k), {"axis": 1, "keepdims": True},
     {"dim": 1, "keepdim": True}),
    ("Tensor.argmin", lambda x, **k: x.argmin(**k), {"axis": 2}, {"dim": 2}),
    ("Tensor.var", lambda x, **k: x.var(ddof=1, **k), {"axis": (0, 2), "keepdims": True},
     {"dim": (0, 2), "keepdim": True}),
    ("Tensor.std", lambda x, **k: x.std(**k), {"axis": 1}, {"dim": 1}),
    ("Tensor.prod", lambda x, **k: x.prod(**k), {"axis": 2, "keepdims": True},
     {"dim": 2, "keepdim": True}),
    ("Tensor.cumsum", lambda x, **k: x.cumsum(**k), {"axis": 1}, {"dim": 1}),
    ("Tensor.cumprod", lambda x, **k: x.cumprod(**k), {"axis": 0}, {"dim": 0}),
    ("Tensor.argsort", lambda x, **k: x.argsort(**k), {"axis": 1}, {"dim": 1}),
    ("Tensor.sort", lambda x, **k: x.sort(descending=True, **k), {"axis": 0}, {"dim": 0}),
    ("Tensor.topk", lambda x, **k: x.topk(2, **k), {"axis": 1}, {"dim": 1}),
    ("Tensor.any", lambda x, **k: (x > 0.5).any(**k), {"axis": 1, "keepdims": True},
     {"dim": 1, "keepdim": True}),
    ("Tensor.all", lambda x, **k: (x > -1).all(**k), {"axis": (0, 1)}, {"dim": (0, 1)}),
    ("Tensor.squeeze", lambda x, **k: x[:1, :1].squeeze(**k), {"axis": 1}, {"dim": 1}),
    ("Tensor.expand_dims", lambda x, **k: x.expand_dims(**k), {"axis": -1}, {"dim": -1}),
    ("Tensor.repeat", lambda x, **k: x.repeat(2, **k), {"axis": 1}, {"dim": 1}),
    ("Tensor.flip", lambda x, **k: x.flip(**k), {"axis": (0, 2)}, {"dim": (0, 2)}),
    ("Tensor.flip dims", lambda x, **k: x.flip(**k), {"axis": (0, 2)}, {"dims": (0, 2)}),
    ("Tensor.roll", lambda x, **k: x.roll(1, **k), {"axis": 2}, {"dim": 2}),
    ("Tensor.roll dims", lambda x, **k: x.roll((1, -1), **k), {"axis": (0, 2)},
     {"dims": (0, 2)}),
    ("Tensor.diagonal", lambda x, **k: x.diagonal(1, **k), {"axis1": 0, "axis2": 2},
     {"dim1": 0, "dim2": 2}),
    ("Tensor.take_along_axis", lambda x, **k: x.take_along_axis(ORDER, **k), {"axis": 1},
     {"dim": 1}),
    ("tg.sum", lambda x, **k: tg.sum(x, **k), {"axis": 1, "keepdims": True},
     {"dim": 1, "keepdim": True}),
    ("tg.mean", lambda x, **k: tg.mean(x, **k), {"axis": (0, 2)}, {"dim": (0, 2)}),
    ("tg.max", lambda x, **k: tg.max(x, **k), {"axis": 2}, {"dim": 2}),
    ("tg.min", lambda x, **k: tg.min(x, **k), {"axis": 0, "keepdims": True},
     {"dim": 0, "keepdim": True}),
    ("tg.logsumexp", lambda x, **k: tg.logsumexp(x, **k), {"axis": 1}, {"dim": 1}),
    ("tg.softmax", lambda x, **k: tg.softmax(x, **k), {"axis": 0}, {"dim": 0}),
    ("tg.log_softmax", lambda x, **k: tg.log_softmax(x, **k), {"axis": 1}, {"dim": 1}),
    ("tg.argmax", lambda x, **k: tg.argmax(x, **k), {"axis": 0}, {"dim": 0}),
    ("tg.argmin", lambda x, **k: tg.argmin(x, **k), {"axis": 1, "keepdims": True},
     {"dim": 1, "keepdim": True}),
    ("tg.var", lambda x, **k: tg.var(x, **k), {"axis": 1, "keepdims": True},
     {"dim": 1, "keepdim": True}),
    ("tg.std", lambda x, **k: tg.std(x, ddof=1, **k), {"axis": 0}, {"dim": 0}),
    ("tg.prod", lambda x, **k: tg.prod(x, **k), {"axis": 1}, {"dim": 1}),
    ("tg.cumsum", lambda x, **k: tg.cumsum(x, **k), {"axis": 2}, {"dim": 2}),
    ("tg.cumprod", lambda x, **k: tg.cumprod(x, **k), {"axis": 1}, {"dim": 1}),
    ("tg.argsort", lambda x, **k: tg.argsort(x, **k), {"axis": 0}, {"dim": 0}),
    ("tg.sort", lambda x, **k: tg.sort(x, **k), {"axis": 1}, {"dim": 1}),
    ("tg.topk", lambda x, **k: tg.topk(x, 2, largest=False, **k), {"axis": 0}, {"dim": 0}),
    ("tg.any", lambda x, **k: tg.any(x > 1, **k), {"axis": 0}, {"dim": 0}),
    ("tg.all", lambda x, **k: tg.all(x < 1, **k), {"axis": 2, "keepdims": True},
     {"dim": 2, "keepdim": True}),
    ("tg.squeeze", lambda x, **k: tg.squeeze(x[:1, :1], **k), {"axis": 0}, {"dim": 0}),
    ("tg.expand_dims", lambda x, **k: tg.expand_dims(x, **k), {"axis": 1}, {"dim": 1}),
    ("tg.repeat", lambda x, **k: tg.repeat(x, [1, 0, 2], **k), {"axis": 1}, {"dim": 1}),
    ("tg.flip", lambda x, **k: tg.flip(x, **k), {"axis": 1}, {"dims": 1}),
    ("tg.roll", lambda x, **k: tg.roll(x, 2, **k), {"axis": 1}, {"dim": 1}),
    ("tg.diagonal", lambda x, **k: tg.diagonal(x, **k), {"axis1": 2, "axis2": 1},
     {"dim1": 2, "dim2": 1}),
    ("tg.take_along_axis", lambda x, **k: tg.take_along_axis(x, ORDER, **k), {"axis": 1},
     {"dim": 1}),
    ("tg.concatenate", lambda x, **k: tg.concatenate([x, x * 2], **k), {"axis": 1}, {"dim": 1}),
    ("tg.concat", lambda x, **k: tg.concat([x, x.exp()], **k), {"axis": -1}, {"dim": -1}),
    ("tg.cat", lambda x, **k: tg.cat([x, x.sin()], **k), {"axis": 2}, {"dim": 2}),
    ("tg.stack", lambda x, **k: tg.stack([x, x * 3], **k), {"axis": 1}, {"dim": 1}),
    ("tg.tensordot", lambda x, **k: tg.tensordot(x, X.transpose(1, 2, 0), **k),
     {"axes": ([1], [0])}, {"dims": ([1], [0])}),
    ("F.softmax", lambda x, **k: F.softmax(x, **k), {"axis": 1}, {"dim": 1}),
    ("F.log_softmax", lambda x, **k: F.log_softmax(x, **k), {"axis": 0}, {"dim": 0}),
]
# fmt: on


def _values_and_gradient(call, keywords: dict) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The outputs of call(x, **keywords) as arrays, and d<cotangents, outputs>/dx for a
    fixed random cotangent of each differentiable output (None when none is)."""
    x = Tensor(X.copy(), requires_grad=True)
    out = call(x, **keywords)
    outputs = list(out) if isinstance(out, tuple | list) else [out]
    differentiable = [o for o in outputs if isinstance(o, Tensor) and o.requires_grad]
    if differentiable:
        cotangents = np.random.default_rng(1)
        loss = tg.sum(
            tg.stack([(o * cotangents.standard_normal(o.shape)).sum() for o in differentiable])
        )
        loss.backward()
    arrays = [o.data if isinstance(o, Tensor) else np.asarray(o) for o in outputs]
    return arrays, x.grad if differentiable else None


@pytest.mark.parametrize(
    ("call", "numpy_names", "torch_names"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_torch_names_give_the_values_and_gradients_of_numpys(call, numpy_names, torch_names):
    expected_values, expected_grad = _values_and_gradient(call, numpy_names)
    values, grad = _values_and_gradient(call, torch_names)
    assert len(values) == len(expected_values)
    for value, expected in zip(values, expected_values, strict=True):
        assert value.dtype == expected.dtype
        np.testing.assert_array_equal(value, expected)  # the same code ran: exactly equal
    if expected_grad is None:
        assert grad is None
    else:
        np.testing.assert_array_equal(grad, expected_grad)


@pytest.mark.parametrize(
    ("call", "numpy_names"), [pytest.param(c[1], c[2], id=c[0]) for c in CASES]
)
def test_each_case_changes_the_result_from_the_default(call, numpy_names):
    # Else a PyTorch name that is silently ignored would pass the comparison above.
    try:
        default, _ = _values_and_gradient(call, {})
    except (TypeError, ArgumentError, ShapeError):  # required (expand_dims), or must fit
        return
    given, _ = _values_and_gradient(call, numpy_names)
    assert any(
        a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(default, given, strict=True)
    )


# ------------------------------------------------------------------ the rule, over the public API
EXEMPT = {
    # PyTorch's split(n, dim) cuts pieces of SIZE n, numpy's split(x, n, axis) n pieces: a dim=
    # here would let ported torch code run and give other pieces. Without it, it fails loudly.
    "split": "numpy's split and PyTorch's differ in meaning",
    # numpy's transpose(x, axes) permutes all axes, PyTorch's transpose(x, dim0, dim1) swaps
    # two: no alias can make them one. PyTorch's permute(x, dims) is tg.permute / Tensor.permute.
    "transpose": "a permutation in numpy, a swap of two axes in PyTorch",
    "permute_dims": "the array API's name; PyTorch's is permute(x, dims), also provided",
    # PyTorch's swapaxes(x, axis0, axis1) has no dim names; positional calls port unchanged.
    "swapaxes": "PyTorch names them axis0/axis1, not dims",
}
# numpy's name -> PyTorch's names for it (any one of them satisfies the rule)
TORCH_NAMES = {
    "axis": ("dim", "dims"),
    "keepdims": ("keepdim",),
    "axes": ("dims",),
    "axis1": ("dim1",),
    "axis2": ("dim2",),
}


def _missing_torch_names(fn) -> list[str]:
    """The numpy-named parameters of ``fn`` that have no PyTorch-named twin."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return []
    named = {n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL}
    return [
        f"{numpy_name} -> {'/'.join(torch)}"
        for numpy_name, torch in TORCH_NAMES.items()
        if numpy_name in named and not named.intersection(torch)
    ]


def _public_callables() -> list[tuple[str, object]]:
    found = []
    for name in dir(Tensor):
        member = getattr(Tensor, name)
        if not name.startswith("_") and callable(member):
            found.append((f"Tensor.{name}", member))
    for module, prefix in ((tg, "tg"), (tg.functions, "tg.functions"), (F, "F")):
        exported = hasattr(module, "__all__")
        for name in module.__all__ if exported else dir(module):
            member = getattr(module, name)
            public = not name.startswith("_") and inspect.isfunction(member)
            if public and (exported or _ours(member)):  # dir(): skip the helpers it imported
                found.append((f"{prefix}.{name}", member))
    return found


def _ours(fn) -> bool:
    """A function of the differentiable API (not a helper that the module imported)."""
    return fn.__module__.endswith("functions")


def test_every_public_callable_with_an_axis_also_takes_pytorchs_name():
    callables = _public_callables()
    assert len(callables) > 150  # the walk sees the API (Tensor methods, tg., F.)
    missing = {
        name: names
        for name, fn in callables
        if (names := _missing_torch_names(fn)) and name.rsplit(".", 1)[-1] not in EXEMPT
    }
    assert not missing, f"add PyTorch's keyword names (validation.torch_alias): {missing}"


def test_the_walk_flags_a_function_without_dim():
    def reduce(x, axis=None, keepdims=False, *, dim=None):
        return x

    def contract(a, b, axes=2):
        return a

    assert _missing_torch_names(reduce) == ["keepdims -> keepdim"]
    assert _missing_torch_names(contract) == ["axes -> dims"]
    assert _missing_torch_names(Tensor.transpose) == []  # *axes: PyTorch's transpose differs
    assert [n for n, _ in _public_callables() if n.endswith(".split")]  # exempt, but seen


def test_split_has_no_dim_so_ported_torch_split_fails_loudly():
    with pytest.raises(TypeError):
        Tensor(X).split(2, dim=1)  # torch: pieces of size 2; numpy: 2 pieces


# ------------------------------------------------------------------ both names given
# (call, op, the names and values the message must quote)
BOTH = [
    (lambda x: x.sum(axis=1, dim=1), "sum", "axis=1 and dim=1"),
    (lambda x: x.mean(keepdims=True, keepdim=True), "mean", "keepdims=True and keepdim=True"),
    (lambda x: x.softmax(axis=0, dim=0), "softmax", "axis=0 and dim=0"),
    (lambda x: x.var(axis=0, dim=1, correction=1), "var", "axis=0 and dim=1"),
    (lambda x: x.argmax(axis=0, dim=0), "argmax", "axis=0 and dim=0"),
    (lambda x: x.cumsum(axis=0, dim=0), "cumsum", "axis=0 and dim=0"),
    (lambda x: x.flip(dim=0, dims=1), "flip", "dim=0 and dims=1"),
    (lambda x: x.flip(axis=0, dims=0), "flip", "axis=0 and dims=0"),
    (lambda x: x.squeeze(axis=0, dim=0), "squeeze", "axis=0 and dim=0"),
    (lambda x: x.diagonal(axis1=1, dim1=0), "diagonal", "axis1=1 and dim1=0"),
    (lambda x: x.topk(1, axis=0, dim=0), "topk", "axis=0 and dim=0"),
    (lambda x: tg.concatenate([x, x], axis=1, dim=1), "concatenate", "axis=1 and dim=1"),
    (lambda x: tg.stack([x, x], axis=2, dim=1), "stack", "axis=2 and dim=1"),
    (lambda x: tg.tensordot(x, x, axes=1, dims=1), "tensordot", "axes=1 and dims=1"),
    (lambda x: F.softmax(x, 0, axis=0), "softmax", "axis=0 and dim=0"),
]


@pytest.mark.parametrize(("call", "op", "given"), BOTH)
def test_numpys_and_pytorchs_name_together_is_an_argument_error(call, op, given):
    with pytest.raises(ArgumentError, match=f"^{op}: pass .*, not both \\(got {given}\\)$"):
        call(Tensor(X))


def test_the_both_names_message_says_which_is_pytorchs():
    with pytest.raises(ArgumentError) as error:
        Tensor(X).flip(dim=0, dims=1)
    assert str(error.value) == (
        "flip: pass axis= or PyTorch's name for it (dim= or dims=), not both (got dim=0 and dims=1)"
    )


def test_numpys_name_at_its_default_does_not_count_as_given():
    # The check compares numpy's argument with its default: an explicit default is the same
    # call as no argument (a limit of keyword defaults, documented in validation.torch_alias).
    x = Tensor(X)
    np.testing.assert_array_equal(x.sum(axis=None, dim=1).data, X.sum(axis=1))
    np.testing.assert_array_equal(x.softmax(axis=-1, dim=0).data, x.softmax(axis=0).data)


# ------------------------------------------------------------------ a PyTorch snippet, ported
SNIPPET = """
s = x.sum(dim=1, keepdim=True)
m = x.mean(dim=(0, 2))
p = x.softmax(dim=-1)
lp = torch.log_softmax(x, dim=1)
lse = torch.logsumexp(x, dim=2, keepdim=True)
c = torch.cat([x, x * 2], dim=0)
st = torch.stack([x, x.exp()], dim=1)
v = x.var(dim=0, correction=1)
sd = torch.std(x, dim=(1, 2), correction=0, keepdim=True)
am = x.argmax(dim=1)
ak = torch.argmin(x, dim=2, keepdim=True)
cs = x.cumsum(dim=0)
cp = torch.cumprod(x, dim=2)
sq = x[:, :1].squeeze(dim=1)
u = x.unsqueeze(0)
u2 = torch.unsqueeze(x, dim=2)
f = torch.flip(x, dims=(0, 2))
r = torch.roll(x, 1, dims=1)
tv, ti = x.topk(2, dim=1)
an = (x > 0.5).any(dim=1)
pr = x.prod(dim=2)
dg = torch.diagonal(x, 0, dim1=1, dim2=2)
td = torch.tensordot(x, w, dims=1)
loss = (s.sum() + m.sum() + (p * w2).sum() + (lp * w2).sum() + lse.sum() + c.sum()
        + st.sum() + v.sum() + sd.sum() + cs.sum() + (cp * w2).sum() + sq.sum() + u.sum()
        + (u2 * w2.unsqueeze(2)).sum() + (f * w2).sum() + (r * w2).sum() + (tv * tv).sum()
        + pr.sum() + (dg * dg).sum() + td.sum())
loss.backward()
"""
COMPARED = [
    "s",
    "m",
    "p",
    "lp",
    "lse",
    "c",
    "st",
    "v",
    "sd",
    "am",
    "ak",
    "cs",
    "cp",
    "sq",
    "u",
    "u2",
    "f",
    "r",
    "tv",
    "ti",
    "an",
    "pr",
    "dg",
    "td",
    "loss",
]


def _run_snippet(namespace: dict, code: str) -> dict:
    exec(code, namespace)
    return namespace


def test_a_pytorch_snippet_ported_by_renaming_the_module_matches_torch():
    torch = pytest.importorskip("torch")
    w = RNG.standard_normal((4, 5))
    w2 = RNG.standard_normal((2, 3, 4))
    tensor = torch.tensor
    theirs = _run_snippet(
        {"torch": torch, "x": tensor(X, requires_grad=True), "w": tensor(w), "w2": tensor(w2)},
        SNIPPET,
    )
    ours = _run_snippet(
        {"tg": tg, "x": Tensor(X, requires_grad=True), "w": Tensor(w), "w2": Tensor(w2)},
        SNIPPET.replace("torch.", "tg."),
    )
    for name in COMPARED:
        ours_value = ours[name]
        ours_value = ours_value.data if isinstance(ours_value, Tensor) else ours_value
        np.testing.assert_allclose(
            ours_value, theirs[name].detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=name
        )  # float64 on both sides: only summation order differs
    np.testing.assert_allclose(ours["x"].grad, theirs["x"].grad.numpy(), rtol=1e-12, atol=1e-12)


def test_expand_dims_without_an_axis_names_both_spellings():
    with pytest.raises(
        ArgumentError, match=r"expand_dims: the new axis is missing \(axis= or dim="
    ):
        Tensor(X).expand_dims()
