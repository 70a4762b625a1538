"""nn: Module's parameter walk and state, Linear (forward, init, dtype), Sequential and MLP."""

import numpy as np
import pytest

import tinygrad_hw as tg
from tinygrad_hw import Tensor, nn
from tinygrad_hw.nn import functional as F


def _random_bias(layer: nn.Linear, rng: np.random.Generator) -> None:
    """Non-zero bias, so a forward that forgets it (or adds it twice) is caught (written
    under no_grad, as to a leaf: the host values go to the bias's device)."""
    with tg.no_grad():
        layer.bias[...] = rng.standard_normal(layer.bias.shape)


# ------------------------------------------------------------------ Linear forward and dtype
def test_linear_forward_is_x_at_weight_plus_bias():
    rng = np.random.default_rng(0)
    layer = nn.Linear(5, 3, dtype=np.float64, rng=1)
    _random_bias(layer, rng)
    x = rng.standard_normal((7, 5))
    expected = x @ layer.weight.numpy() + layer.bias.numpy()  # the seed reports' X @ W + b
    np.testing.assert_allclose(layer(Tensor(x)).numpy(), expected, rtol=1e-14)  # same op order


def test_linear_without_bias_has_one_parameter():
    layer = nn.Linear(4, 2, bias=False, rng=0)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.weight.numpy(), rtol=1e-6)


def test_linear_is_float32_by_default_and_float64_on_request():
    default = nn.Linear(3, 2, rng=0)
    double = nn.Linear(3, 2, dtype=np.float64, rng=0)
    assert default.weight.dtype == default.bias.dtype == np.float32
    assert double.weight.dtype == double.bias.dtype == np.float64
    # one seed gives the same weights in both dtypes (drawn in float64, then rounded)
    np.testing.assert_array_equal(default.weight.numpy(), double.weight.numpy().astype(np.float32))


def test_float64_data_does_not_upcast_a_float32_model():
    layer = nn.Linear(3, 2, rng=0)
    out = layer(np.random.default_rng(1).standard_normal((4, 3)))  # float64 input
    assert out.dtype == np.float32


def test_linear_rejects_input_of_the_wrong_width_naming_the_layer():
    with pytest.raises(tg.ShapeError, match=r"Linear\(4, 2\).*\(3, 5\).*must be 4"):
        nn.Linear(4, 2, rng=0)(np.zeros((3, 5)))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"in_features": 0, "out_features": 2}, tg.ArgumentError, "in_features must be >= 1"),
        ({"in_features": 2.5, "out_features": 2}, tg.DTypeError, "in_features must be an int"),
        ({"in_features": 2, "out_features": 2, "init": "kaiming"}, tg.ArgumentError, "kaiming"),
        ({"in_features": 2, "out_features": 2, "dtype": np.int32}, tg.DTypeError, "int32"),
        ({"in_features": 2, "out_features": 2, "rng": "seed"}, tg.DTypeError, "rng must be"),
    ],
)
def test_linear_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.Linear(**kwargs)


# ------------------------------------------------------------------ initialisation
# A 600 x 400 weight has n = 240,000 draws. The sample std's relative standard error is
# 1/sqrt(2n) ~ 0.14%, so a 3% tolerance is > 20 standard errors (never flaky), while the
# inits differ by far more: for this shape he std = 0.0577, xavier = 0.0447, normal = 0.01.
FAN_IN, FAN_OUT = 600, 400


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ("he", np.sqrt(2 / FAN_IN)),
        ("xavier", np.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("normal", 0.01),
    ],
)
def test_init_has_the_documented_standard_deviation(init, std):
    weight = nn.Linear(FAN_IN, FAN_OUT, init=init, dtype=np.float64, rng=3).weight.numpy()
    assert abs(weight.std() / std - 1) < 0.03
    # mean 0: its standard error is std / sqrt(n); 6 standard errors never fail by chance
    assert abs(weight.mean()) < 6 * std / np.sqrt(weight.size)


def test_xavier_is_uniform_within_its_limit_and_he_is_normal():
    limit = np.sqrt(6 / (FAN_IN + FAN_OUT))
    xavier = nn.Linear(FAN_IN, FAN_OUT, init="xavier", dtype=np.float64, rng=4).weight.numpy()
    assert np.abs(xavier).max() <= limit
    assert np.abs(xavier).max() > 0.999 * limit  # 240,000 uniform draws reach the edge
    he = nn.Linear(FAN_IN, FAN_OUT, init="he", dtype=np.float64, rng=4).weight.numpy()
    # a normal's excess kurtosis is 0, a uniform's -1.2 (standard error ~ sqrt(24/n) = 0.01)
    kurtosis = np.mean((he / he.std()) ** 4) - 3
    assert abs(kurtosis) < 0.1


def test_zeros_init_and_bias_start_at_zero():
    layer = nn.Linear(3, 4, init="zeros")
    assert not layer.weight.numpy().any()
    assert not nn.Linear(3, 4, rng=0).bias.numpy().any()


def test_a_seed_reproduces_the_weights_and_layers_own_their_arrays():
    a, b = nn.Linear(3, 4, rng=5), nn.Linear(3, 4, rng=5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.shares_memory(a.weight.data, b.weight.data)


# ------------------------------------------------------------------ Module walk
class TwoTowers(nn.Module):
    """A hand-written model: a Tensor parameter, a constant, a list of Modules, a tied weight."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = Tensor(np.ones(2), requires_grad=True)
        self.constant = Tensor(np.ones(2))  # no grad: not a parameter
        self.towers = [nn.Linear(2, 2, dtype=np.float64, rng=i) for i in range(2)]
        self.head = nn.Sequential(nn.Linear(2, 1, dtype=np.float64, rng=9), nn.Tanh())
        self.tied = self.towers[0].weight  # the same Tensor under a second name
        self.name = "not a parameter"

    def forward(self, x):
        self.hidden = self.towers[0](x * self.scale) + self.towers[1](x)  # cached, not a param
        return self.head(self.hidden)


def test_named_parameters_follow_definition_order_with_dotted_names():
    model = TwoTowers()
    model(np.ones((1, 2)))
    assert model.hidden.requires_grad  # an op's result kept as an attribute: not listed below
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "scale",
        "towers.0.weight",
        "towers.0.bias",
        "towers.1.weight",
        "towers.1.bias",
        "head.0.weight",
        "head.0.bias",
    ]  # "constant" has no grad; "tied" is towers.0.weight, listed once


def test_parameters_are_the_tensors_the_forward_pass_uses():
    model = TwoTowers()
    x = np.random.default_rng(0).standard_normal((5, 2))
    model(x).backward(np.random.default_rng(1).standard_normal((5, 1)))
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_mlp_names_match_the_contract():
    model = nn.MLP([784, 100, 10], rng=0)
    shapes = [(name, p.shape) for name, p in model.named_parameters()]
    assert shapes == [
        ("layers.0.weight", (784, 100)),
        ("layers.0.bias", (100,)),
        ("layers.2.weight", (100, 10)),
        ("layers.2.bias", (10,)),
    ]


def test_train_and_eval_reach_every_submodule():
    model = TwoTowers()
    model.eval()
    assert not any(m.training for m in model.modules())
    assert len(list(model.modules())) == 6  # itself, 2 towers, head, its Linear and Tanh
    model.train()
    assert all(m.training for m in model.modules())


# ------------------------------------------------------------------ state_dict
def test_state_dict_round_trip_copies_in_both_directions():
    source, target = nn.MLP([3, 4, 2], rng=1), nn.MLP([3, 4, 2], rng=2)
    state = source.state_dict()
    arrays_before = [p.data for p in target.parameters()]
    target.load_state_dict(state)
    for (name, p), array in zip(target.named_parameters(), arrays_before, strict=True):
        np.testing.assert_array_equal(p.data, state[name])
        assert p.data is array  # loaded in place: the optimizer's view stays valid
    state["layers.0.weight"][...] = 7.0  # neither the saved state nor the model alias
    assert not np.any(target.layers[0].weight.data == 7.0)
    assert not np.any(source.layers[0].weight.data == 7.0)


def test_load_state_dict_names_the_parameter_with_the_wrong_shape():
    model = nn.MLP([3, 4, 2], rng=1)
    before = model.state_dict()
    other = nn.MLP([3, 5, 2], rng=1).state_dict()
    with pytest.raises(tg.ShapeError, match=r"'layers.0.weight' has shape \(3, 4\).*\(3, 5\)"):
        model.load_state_dict(other)
    for name, p in model.named_parameters():  # nothing was written
        np.testing.assert_array_equal(p.data, before[name])


def test_load_state_dict_names_the_parameter_with_the_wrong_dtype():
    model = nn.MLP([3, 4, 2], rng=1)
    state = nn.MLP([3, 4, 2], dtype=np.float64, rng=1).state_dict()
    with pytest.raises(tg.DTypeError, match=r"'layers.0.weight' has dtype float32.*float64"):
        model.load_state_dict(state)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = nn.MLP([3, 4, 2], rng=1)
    state = model.state_dict()
    state["extra"] = np.zeros(1)
    del state["layers.2.bias"]
    with pytest.raises(tg.DTypeError, match="expected a dict, got NoneType"):
        model.load_state_dict(None)
    with pytest.raises(tg.ArgumentError, match=r"missing keys \['layers.2.bias'\].*\['extra'\]"):
        model.load_state_dict(state)
    del state["extra"]
    state["layers.0.bias"] = np.full(4, 3.0, np.float32)
    model.load_state_dict(state, strict=False)  # loads what is there
    np.testing.assert_array_equal(model.layers[0].bias.data, np.full(4, 3.0))


# ------------------------------------------------------------------ Sequential and MLP
def test_sequential_applies_modules_in_order():
    rng = np.random.default_rng(0)
    first, second = nn.Linear(3, 4, dtype=np.float64, rng=1), nn.Linear(4, 2, dtype=np.float64)
    _random_bias(first, rng)
    x = rng.standard_normal((5, 3))
    hidden = np.tanh(x @ first.weight.numpy() + first.bias.numpy())
    expected = hidden @ second.weight.numpy() + second.bias.numpy()
    out = nn.Sequential(first, nn.Tanh(), second)(x)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-13)  # float64, a few roundings
    assert len(nn.Sequential([first, second])) == 2


def test_sequential_rejects_a_non_module():
    with pytest.raises(tg.DTypeError, match="item 1 is a ufunc, not a Module"):
        nn.Sequential(nn.ReLU(), np.tanh)


@pytest.mark.parametrize(
    ("activation", "kind", "init"),
    [("relu", nn.ReLU, "he"), ("sigmoid", nn.Sigmoid, "xavier"), ("tanh", nn.Tanh, "xavier")],
)
def test_mlp_structure_and_default_init(activation, kind, init):
    model = nn.MLP([5, 4, 3, 2], activation=activation, rng=7)
    steps = list(model.layers)
    assert [type(s) for s in steps] == [nn.Linear, kind, nn.Linear, kind, nn.Linear]
    assert [(s.in_features, s.out_features) for s in steps[::2]] == [(5, 4), (4, 3), (3, 2)]
    # one generator draws all layers, so the first layer is what a lone Linear would draw
    lone = nn.Linear(5, 4, init=init, rng=7)
    np.testing.assert_array_equal(model.layers[0].weight.data, lone.weight.data)


def test_mlp_final_activation_and_custom_module():
    model = nn.MLP([2, 3, 1], activation=nn.Identity(), final_activation="sigmoid", rng=0)
    assert isinstance(model.layers[1], nn.Identity) and isinstance(model.layers[-1], nn.Sigmoid)
    out = model(np.random.default_rng(1).standard_normal((4, 2)))
    assert out.shape == (4, 1) and np.all((out.data > 0) & (out.data < 1))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sizes": [3]}, tg.ArgumentError, "at least 2 widths"),
        ({"sizes": [3, 2], "activation": "gelu"}, tg.ArgumentError, "gelu"),
        ({"sizes": [3, 2], "final_activation": "softmax"}, tg.ArgumentError, "softmax"),
    ],
)
def test_mlp_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.MLP(**kwargs)


def _mlp_loss(model: nn.MLP, x: np.ndarray, labels: np.ndarray):
    """The loss as a function of the parameters, for gradcheck (which passes float64 copies)."""
    first, second = model.layers[0], model.layers[2]

    def loss(w1, b1, w2, b2):
        first.weight, first.bias, second.weight, second.bias = w1, b1, w2, b2
        return F.cross_entropy(model(x), labels)

    return loss


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_gradients_match_finite_differences(activation):
    rng = np.random.default_rng(0)
    model = nn.MLP([4, 5, 3], activation=activation, dtype=np.float64, rng=1)
    for layer in (model.layers[0], model.layers[2]):
        _random_bias(layer, rng)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    params = [Tensor(p.numpy().copy(), requires_grad=True) for p in model.parameters()]
    assert tg.gradcheck(_mlp_loss(model, x, labels), *params)


def test_gradcheck_of_the_mlp_catches_a_wrong_gradient():
    """The check above can fail: a model whose forward stops a gradient is caught."""
    rng = np.random.default_rng(0)
    model = nn.MLP([4, 5, 3], activation="tanh", dtype=np.float64, rng=1)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    loss = _mlp_loss(model, x, labels)

    def detached_bias_loss(w1, b1, w2, b2):  # b1 is used as a constant: its gradient is lost
        return loss(w1, Tensor(b1.data), w2, b2)

    params = [Tensor(p.numpy().copy(), requires_grad=True) for p in model.parameters()]
    with tg.no_grad():
        params[1][...] = rng.standard_normal(5)
    with pytest.raises(tg.GradcheckError, match="input 1"):
        tg.gradcheck(detached_bias_loss, *params)
