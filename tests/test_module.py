"""Tests for `QwertyNet`, the PyTorch module behind `QwertyClassifier`."""

import pytest
import torch
from torch import nn

from qwertyclf import QwertyNet
from qwertyclf._module import Dropout

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "relu6": nn.ReLU6,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
}


def _layer_types(net):
    return [type(layer) for layer in net]


def test_default_is_the_seed_network():
    net = QwertyNet()
    assert _layer_types(net) == [nn.Linear, nn.ReLU, nn.Linear]
    first, _, last = net
    assert (first.in_features, first.out_features) == (2, 8)
    assert (last.in_features, last.out_features) == (8, 3)
    assert first.bias is not None and last.bias is not None
    assert sum(p.numel() for p in net.parameters()) == 2 * 8 + 8 + 8 * 3 + 3
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert net.hidden_layer_sizes == (8,)
    assert net.activation == "relu"
    assert net.batch_norm is False
    assert net.dropout == 0.0


def test_default_outputs_raw_logits():
    torch.manual_seed(0)
    net = QwertyNet()
    x = torch.randn(64, 2)
    out = net(x)
    assert out.shape == (64, 3)
    # No softmax at the end: rows do not sum to one and can be negative.
    assert not torch.allclose(out.sum(1), torch.ones(64))
    assert (out < 0).any()
    expected = net[2](torch.relu(net[0](x)))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation(name):
    net = QwertyNet(
        n_features=4, n_classes=5, hidden_layer_sizes=(6, 7), activation=name
    )
    types = _layer_types(net)
    assert types == [
        nn.Linear,
        ACTIVATIONS[name],
        nn.Linear,
        ACTIVATIONS[name],
        nn.Linear,
    ]
    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [
        (4, 6),
        (6, 7),
        (7, 5),
    ]
    out = net(torch.randn(3, 4))
    assert out.shape == (3, 5)
    assert torch.isfinite(out).all()
    assert net.activation == name


def test_no_hidden_layers_is_a_single_linear():
    net = QwertyNet(n_features=5, n_classes=4, hidden_layer_sizes=())
    assert _layer_types(net) == [nn.Linear]
    assert (net[0].in_features, net[0].out_features) == (5, 4)
    assert net.hidden_layer_sizes == ()


def test_int_hidden_layer_sizes_means_one_layer():
    net = QwertyNet(hidden_layer_sizes=5)
    assert net.hidden_layer_sizes == (5,)
    assert _layer_types(net) == [nn.Linear, nn.ReLU, nn.Linear]


def test_batch_norm_inserted_after_each_hidden_linear():
    net = QwertyNet(hidden_layer_sizes=(4, 6), batch_norm=True)
    assert _layer_types(net) == [
        nn.Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        nn.Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        nn.Linear,
    ]
    assert [net[1].num_features, net[4].num_features] == [4, 6]
    assert net.batch_norm is True


def test_dropout_inserted_after_each_hidden_activation():
    net = QwertyNet(hidden_layer_sizes=(4, 6), dropout=0.25)
    assert _layer_types(net) == [
        nn.Linear,
        nn.ReLU,
        Dropout,
        nn.Linear,
        nn.ReLU,
        Dropout,
        nn.Linear,
    ]
    assert net[2].p == 0.25
    assert net.dropout == 0.25


def test_batch_norm_and_dropout_together():
    net = QwertyNet(
        hidden_layer_sizes=(4,), activation="tanh", batch_norm=True, dropout=0.5
    )
    assert _layer_types(net) == [
        nn.Linear,
        nn.BatchNorm1d,
        nn.Tanh,
        Dropout,
        nn.Linear,
    ]


def test_dropout_is_active_only_in_training_mode():
    torch.manual_seed(0)
    net = QwertyNet(hidden_layer_sizes=(64,), dropout=0.5)
    x = torch.randn(32, 2)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


def test_slicing_gives_the_hidden_representation():
    # `net[:-1]` is the usual way to get a network's penultimate features;
    # nn.Sequential builds slices with `type(self)(OrderedDict(...))`.
    torch.manual_seed(0)
    net = QwertyNet(hidden_layer_sizes=(8,))
    body = net[:-1]
    assert isinstance(body, nn.Module)
    assert [type(layer) for layer in body] == [nn.Linear, nn.ReLU]
    x = torch.randn(5, 2)
    hidden = body(x)
    assert hidden.shape == (5, 8)
    torch.testing.assert_close(net[-1](hidden), net(x))


def test_dtype_float64():
    net = QwertyNet(hidden_layer_sizes=(3,), batch_norm=True, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in net.parameters())
    assert net(torch.zeros(4, 2, dtype=torch.float64)).dtype == torch.float64


def test_is_a_torch_module_with_trainable_parameters():
    net = QwertyNet()
    assert isinstance(net, nn.Module)
    assert all(p.requires_grad for p in net.parameters())
    loss = net(torch.randn(8, 2)).sum()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown activation 'swish'") as info:
        QwertyNet(activation="swish")
    for name in ACTIVATIONS:
        assert name in str(info.value)


@pytest.mark.parametrize("activation", [None, nn.ReLU, "RELU", ""])
def test_activation_must_be_a_known_name(activation):
    with pytest.raises(ValueError, match="Unknown activation"):
        QwertyNet(activation=activation)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"hidden_layer_sizes": (0,)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (8, -1)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": -3}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (2.5,)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (True,)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": 8.0}, TypeError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": None}, TypeError, "hidden_layer_sizes"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"n_features": 2.0}, TypeError, "n_features"),
        ({"n_classes": 1}, ValueError, "n_classes"),
        ({"n_classes": "3"}, TypeError, "n_classes"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": -0.1}, ValueError, "dropout"),
    ],
)
def test_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        QwertyNet(**kwargs)
