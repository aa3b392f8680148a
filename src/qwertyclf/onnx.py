"""Export `QwertyClassifier`, `QwertyClassifierCV` and the ensemble to ONNX.

Importing this module registers skl2onnx converters for `QwertyClassifier`,
`QwertyClassifierCV` and `QwertyEnsembleClassifier`, so `skl2onnx.to_onnx`
converts a fitted classifier, or any fitted scikit-learn `Pipeline` that
contains one (scalers, column transformers, string labels), into one ONNX
graph. The CV and the ensemble become the mean of their members' softmax
outputs. The graph has skl2onnx's usual classifier outputs: `label`
and `probabilities`, the latter a list of `{label: probability}` maps unless
the `zipmap` option is False (then a matrix, columns in the order of
`classes_`). With `zipmap` False, `label` has the dtype and values of
`classes_` (strings, booleans, floats, int64 beyond the int32 range); ONNX's
ZipMap only keys maps by int64 or string, so with it skl2onnx casts numeric
labels to int64. The `nocl` option gives class indices (int64) instead of
labels. onnxruntime runs it without Python, PyTorch or scikit-learn.

Every hidden activation of `QwertyNet` is supported, batch normalisation
(folded into the linear layer before it) and the numerical embeddings
(`numeric_embedding`); dropout is left out, as in prediction. Networks with
BatchEnsemble members (`batch_ensemble > 1`) are refused. The input
encoding of numeric columns is part of the graph: missing values replaced
by the training medians, missing indicators, robust scaling with smooth
clipping. A model whose encoding one-hot encodes
categorical columns is refused with a `ValueError`: one-hot encode them in a
`Pipeline` in front instead. Needs the `onnx` extra: `pip install "qwertyclf[onnx]"`.

Examples
--------
>>> import numpy as np
>>> from sklearn.datasets import make_blobs
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from skl2onnx import to_onnx
>>> from qwertyclf import QwertyClassifier
>>> import qwertyclf.onnx  # registers the converter
>>> X, y = make_blobs(90, random_state=0)
>>> X = X.astype(np.float32)
>>> pipe = make_pipeline(StandardScaler(), QwertyClassifier(max_epochs=5))
>>> onx = to_onnx(pipe.fit(X, y), X[:1], options={"zipmap": False})
>>> [output.name for output in onx.graph.output]
['label', 'probabilities']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnx import TensorProto, numpy_helper
from skl2onnx import update_registered_converter
from skl2onnx.common._apply_operation import apply_cast
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    Float16TensorType,
    FloatTensorType,
    Int8TensorType,
    Int16TensorType,
    Int32TensorType,
    Int64TensorType,
    StringTensorType,
    UInt8TensorType,
    UInt16TensorType,
    UInt32TensorType,
    UInt64TensorType,
    guess_proto_type,
)
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._atomic import atomic_write
from ._classifier import QwertyClassifier, input_encoder
from ._cv import QwertyClassifierCV
from ._embeddings import PBLDEmbedding, PLREmbedding
from ._ensemble import QwertyEnsembleClassifier
from ._scaling import CLIP

__all__ = [
    "convert_qwerty_classifier",
    "convert_qwerty_composite",
    "save_onnx",
    "to_onnx",
]

ALIAS = "QwertyclfQwertyClassifier"
#: The ONNX tensor type of `label` for each numeric dtype of `classes_`.
_LABEL_TYPES = {
    np.dtype(np.bool_): BooleanTensorType,
    np.dtype(np.float16): Float16TensorType,
    np.dtype(np.float32): FloatTensorType,
    np.dtype(np.float64): DoubleTensorType,
    np.dtype(np.int8): Int8TensorType,
    np.dtype(np.int16): Int16TensorType,
    np.dtype(np.int32): Int32TensorType,
    np.dtype(np.int64): Int64TensorType,
    np.dtype(np.uint8): UInt8TensorType,
    np.dtype(np.uint16): UInt16TensorType,
    np.dtype(np.uint32): UInt32TensorType,
    np.dtype(np.uint64): UInt64TensorType,
}
#: skl2onnx's names of the estimators made of `QwertyClassifier` members.
COMPOSITE_ALIASES = {
    QwertyClassifierCV: "QwertyclfQwertyClassifierCV",
    QwertyEnsembleClassifier: "QwertyclfQwertyEnsembleClassifier",
}
# torch's SELU constants, more digits than ONNX's float defaults.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def convert_qwerty_classifier(scope, operator, container) -> None:
    """skl2onnx converter: the graph of a fitted `QwertyClassifier`.

    Called by skl2onnx, not directly: it writes the network's layers as ONNX
    nodes, then a softmax for `probabilities` and an arg-max over `classes_`
    for `label`, as skl2onnx's own `MLPClassifier` converter does.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        Names in the graph.
    operator : skl2onnx.common._topology.Operator
        `operator.raw_operator` is the fitted classifier.
    container : skl2onnx.common._container.ModelComponentContainer
        Receives the nodes and weights.

    Raises
    ------
    NotImplementedError
        For a layer this converter does not know (a network that is not a
        `QwertyNet`, or an activation added without a converter rule).

    Examples
    --------
    skl2onnx finds it through the registration this module makes on import:

    >>> import skl2onnx
    >>> ALIAS in skl2onnx.supported_converters()
    True
    """
    clf = operator.raw_operator
    graph, x = _encoded_input(scope, operator, container, clf)
    logits = graph.network(_network(clf), x)
    container.add_node(
        "Softmax",
        logits,
        operator.outputs[1].full_name,
        axis=1,
        name=scope.get_unique_operator_name("Softmax"),
    )
    _labels(scope, container, clf.classes_, operator)


def _encoded_input(scope, operator, container, model):
    """The graph helper in the input's precision, and the input, encoded.

    The input is cast to float64 if it is double, else to float32, and goes
    through `model`'s input encoding.
    """
    proto_dtype = guess_proto_type(operator.inputs[0].type)
    if proto_dtype != TensorProto.DOUBLE:
        proto_dtype = TensorProto.FLOAT
    np_dtype = np.float64 if proto_dtype == TensorProto.DOUBLE else np.float32
    graph = _Graph(scope, container, proto_dtype, np_dtype)
    x = scope.get_unique_variable_name("cast_input")
    apply_cast(scope, operator.inputs[0].full_name, x, container, to=proto_dtype)
    return graph, graph.encoding(_encoder(model), x)


def _network(clf) -> nn.Module:
    """The fitted network of `clf`, refused if it holds BatchEnsemble members."""
    check_is_fitted(clf)
    module = clf.net_.module_
    k = getattr(module, "batch_ensemble", 1)
    if k > 1:
        raise ValueError(
            f"Cannot export a {type(clf).__name__} with batch_ensemble={k} to "
            "ONNX: only plain networks (batch_ensemble=1) have a converter."
        )
    return module


def convert_qwerty_composite(scope, operator, container) -> None:
    """skl2onnx converter: a fitted `QwertyClassifierCV` or ensemble.

    Called by skl2onnx, not directly: it writes the estimator's input
    encoding, then every member's encoding and network with a softmax, and
    `probabilities` as their mean (weighted by a CV's `weights_`), each
    member's columns placed at its classes (a bootstrap member may lack
    some); `label` as for a `QwertyClassifier`.

    Parameters
    ----------
    scope, operator, container
        As skl2onnx passes them (see `convert_qwerty_classifier`);
        `operator.raw_operator` is the fitted estimator.

    Raises
    ------
    ValueError
        If the estimator's encoding (or a member's) one-hot encodes
        categorical columns.

    Examples
    --------
    >>> import skl2onnx
    >>> COMPOSITE_ALIASES[QwertyClassifierCV] in skl2onnx.supported_converters()
    True
    """
    model = operator.raw_operator
    check_is_fitted(model)
    graph, x = _encoded_input(scope, operator, container, model)
    weights = getattr(model, "weights_", None)
    members = []
    for k, member in enumerate(model.estimators_):
        logits = graph.network(_network(member), graph.encoding(_encoder(member), x))
        proba = graph.node("Softmax", logits, axis=1)
        if not np.array_equal(member.classes_, model.classes_):
            # A member that never saw some classes gives them probability 0.
            place = np.zeros((len(member.classes_), len(model.classes_)))
            columns = np.searchsorted(model.classes_, member.classes_)
            place[np.arange(len(member.classes_)), columns] = 1.0
            proba = graph.node("MatMul", [proba, graph.constant("place", place)])
        if weights is not None:
            proba = graph.node("Mul", [proba, graph.constant("weight", weights[k])])
        members.append(proba)
    output = operator.outputs[1].full_name
    if weights is not None:
        # The weights sum to 1: the weighted members' sum is their mean.
        container.add_node(
            "Sum", members, output, name=scope.get_unique_operator_name("Sum")
        )
    else:
        total = members[0] if len(members) == 1 else graph.node("Sum", members)
        container.add_node(
            "Div",
            [total, graph.constant("n_members", float(len(members)))],
            output,
            name=scope.get_unique_operator_name("Div"),
        )
    _labels(scope, container, model.classes_, operator)


def _encoder(model):
    """The fitted input encoding of `model`, refused if ONNX cannot compute it."""
    check_is_fitted(model)
    encoder = (
        input_encoder(model) if isinstance(model, QwertyClassifier) else model.encoder_
    )
    _check_exportable_encoding(model, encoder)
    return encoder


def _check_exportable_encoding(model, encoder) -> None:
    """Refuse an input encoding with categorical columns, naming them.

    Parameters
    ----------
    model : estimator
        The fitted estimator the encoding belongs to (for the message).
    encoder : TableEncoder
        Its fitted encoding.

    Raises
    ------
    ValueError
        If `encoder` one-hot encodes categorical columns.

    Examples
    --------
    >>> from qwertyclf._table import TableEncoder
    >>> _check_exportable_encoding(None, TableEncoder.identity_for(3))
    """
    if not encoder.categorical:
        return
    names = getattr(model, "feature_names_in_", None)
    columns = [str(names[j]) if names is not None else j for j in encoder.categorical]
    raise ValueError(
        f"Cannot export this {type(model).__name__} to ONNX: its input encoding "
        f"one-hot encodes the categorical column(s) {columns}, which the ONNX "
        "converter does not support. Export the model trained on numeric "
        "columns, or one-hot encode in a Pipeline in front (a ColumnTransformer "
        "with a OneHotEncoder) and fit the classifier with "
        "categorical_features=None."
    )


class _Graph:
    """Adds the nodes of a network's layers to a skl2onnx container."""

    def __init__(self, scope, container, proto_dtype, np_dtype) -> None:
        self.scope = scope
        self.container = container
        self.proto_dtype = proto_dtype
        self.np_dtype = np_dtype

    def constant(self, name: str, value: Any) -> str:
        array = np.asarray(value, dtype=self.np_dtype)
        unique = self.scope.get_unique_variable_name(name)
        self.container.add_initializer(
            unique, self.proto_dtype, list(array.shape), array.ravel().tolist()
        )
        return unique

    def node(self, op_type: str, inputs: list[str] | str, **attributes) -> str:
        output = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            inputs,
            output,
            name=self.scope.get_unique_operator_name(op_type),
            **attributes,
        )
        return output

    def encoding(self, encoder, x: str) -> str:
        """The nodes of a numeric `TableEncoder` applied to `x`.

        As `TableEncoder.transform` computes it: missing values replaced by
        the fill values, robust scaling with smooth clipping if fitted, then
        the missing indicators of the indicated columns after the values.
        """
        missing = self.node("IsNaN", x)
        values = self.node("Where", [missing, self.constant("fill", encoder.fill), x])
        if encoder.centre is not None:
            z = self.node(
                "Div",
                [
                    self.node("Sub", [values, self.constant("centre", encoder.centre)]),
                    self.constant("scale", encoder.scale),
                ],
            )
            ratio = self.node("Div", [z, self.constant("clip", CLIP)])
            bound = self.node(
                "Sqrt",
                self.node(
                    "Add",
                    [self.node("Mul", [ratio, ratio]), self.constant("one", 1.0)],
                ),
            )
            values = self.node("Div", [z, bound])
        if encoder.indicated:
            columns = self.scope.get_unique_variable_name("indicated")
            self.container.add_initializer(
                columns,
                TensorProto.INT64,
                [len(encoder.indicated)],
                list(encoder.indicated),
            )
            flags = self.node("Gather", [missing, columns], axis=1)
            indicators = self.node("Cast", flags, to=self.proto_dtype)
            values = self.node("Concat", [values, indicators], axis=1)
        return values

    def network(self, module: nn.Module, x: str) -> str:
        """The nodes of `module`'s layers applied to `x`; returns the logits."""
        layers = list(module.children()) if isinstance(module, nn.Sequential) else []
        if not layers:
            raise NotImplementedError(
                f"Cannot convert a network of type {type(module).__name__} to ONNX: "
                "expected a QwertyNet (a sequence of layers)."
            )
        i = 0
        while i < len(layers):
            layer = layers[i]
            if type(layer) is nn.Linear:
                weight, bias = _numpy(layer.weight), _bias(layer)
                following = layers[i + 1] if i + 1 < len(layers) else None
                if isinstance(following, nn.BatchNorm1d):
                    weight, bias = _fold_batch_norm(weight, bias, following)
                    i += 1
                x = self.node(
                    "Gemm",
                    [x, self.constant("weight", weight), self.constant("bias", bias)],
                    transB=1,
                )
            elif isinstance(layer, nn.Dropout):
                pass  # the identity in prediction
            elif isinstance(layer, PBLDEmbedding | PLREmbedding):
                x = self.embedding(layer, x)
            else:
                x = self.activation(layer, x)
            i += 1
        return x

    def embedding(self, layer: PBLDEmbedding | PLREmbedding, x: str) -> str:
        """The nodes of a numerical embedding applied to `x` (n, columns).

        As the layer computes it: each column's periodic features
        (n, columns, frequencies), each column's own linear map as one
        batched MatMul over the columns, then the features flattened column
        by column (and, for "pbld", `x` itself after them).
        """
        pbld = isinstance(layer, PBLDEmbedding)
        columns = self.node("Reshape", [x, self.shape("columns", [0, -1, 1])])
        scaled = _numpy(layer.frequencies) * (2 * np.pi)
        angles = self.node("Mul", [columns, self.constant("frequencies", scaled)])
        if pbld:
            phases = self.constant("phases", _numpy(layer.phases))
            z = self.node("Cos", self.node("Add", [angles, phases]))
        else:
            z = self.node(
                "Concat", [self.node("Cos", angles), self.node("Sin", angles)], axis=2
            )
        by_column = self.node("Transpose", z, perm=[1, 0, 2])
        weight = self.constant("embedding_weight", _numpy(layer.linear.weight))
        mapped = self.node(
            "Transpose", self.node("MatMul", [by_column, weight]), perm=[1, 0, 2]
        )
        bias = self.constant("embedding_bias", _numpy(layer.linear.bias))
        features = self.node("Add", [mapped, bias])
        if not pbld:
            features = self.node("Relu", features)
        flat = self.node("Reshape", [features, self.shape("flat", [0, -1])])
        return self.node("Concat", [flat, x], axis=1) if pbld else flat

    def shape(self, name: str, dims: list[int]) -> str:
        """An int64 constant: a shape for Reshape."""
        unique = self.scope.get_unique_variable_name(name)
        self.container.add_initializer(unique, TensorProto.INT64, [len(dims)], dims)
        return unique

    def activation(self, layer: nn.Module, x: str) -> str:
        """The nodes of one activation layer, computing what torch computes."""
        kind = type(layer)
        if kind is nn.ReLU:
            return self.node("Relu", x)
        if kind is nn.LeakyReLU:
            return self.node("LeakyRelu", x, alpha=float(layer.negative_slope))
        if kind is nn.ReLU6:
            return self.node(
                "Clip", [x, self.constant("zero", 0.0), self.constant("six", 6.0)]
            )
        if kind is nn.Tanh:
            return self.node("Tanh", x)
        if kind is nn.Sigmoid:
            return self.node("Sigmoid", x)
        if kind is nn.ELU:
            return self.node("Elu", x, alpha=float(layer.alpha))
        if kind is nn.SELU:
            return self.node("Selu", x, alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
        if kind is nn.SiLU:
            return self.node("Mul", [x, self.node("Sigmoid", x)])
        if kind is nn.GELU:
            return self._gelu(x, layer.approximate)
        raise NotImplementedError(
            f"Cannot convert a {kind.__name__} layer to ONNX; qwertyclf.onnx knows "
            "ReLU, LeakyReLU, ReLU6, Tanh, Sigmoid, ELU, SELU, SiLU, GELU, "
            "BatchNorm1d after a Linear layer, and Dropout."
        )

    def _gelu(self, x: str, approximate: str) -> str:
        # Written with Erf (or Tanh) rather than ONNX's Gelu, which needs opset 20.
        if approximate == "tanh":
            cube = self.node("Mul", [x, self.node("Mul", [x, x])])
            inner = self.node(
                "Add", [x, self.node("Mul", [cube, self.constant("c", 0.044715)])]
            )
            scaled = self.node(
                "Mul", [inner, self.constant("sqrt_2_over_pi", np.sqrt(2 / np.pi))]
            )
            gate = self.node("Tanh", scaled)
        else:
            gate = self.node(
                "Erf", self.node("Mul", [x, self.constant("rsqrt2", 1 / np.sqrt(2))])
            )
        one_plus = self.node("Add", [gate, self.constant("one", 1.0)])
        half_x = self.node("Mul", [x, self.constant("half", 0.5)])
        return self.node("Mul", [half_x, one_plus])


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().double().numpy()


def _bias(layer: nn.Linear) -> np.ndarray:
    if layer.bias is None:
        return np.zeros(layer.out_features)
    return _numpy(layer.bias)


def _fold_batch_norm(
    weight: np.ndarray, bias: np.ndarray, norm: nn.BatchNorm1d
) -> tuple[np.ndarray, np.ndarray]:
    """The linear layer that computes `norm(linear(x))` in evaluation mode.

    Examples
    --------
    >>> norm = nn.BatchNorm1d(2).eval()
    >>> w, b = _fold_batch_norm(np.eye(2), np.zeros(2), norm)
    >>> np.round(w, 4).tolist(), b.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])
    """
    if norm.running_mean is None or norm.running_var is None:
        raise NotImplementedError(
            "Cannot convert a BatchNorm1d layer without running statistics "
            "(track_running_stats=False) to ONNX."
        )
    scale = 1 / np.sqrt(_numpy(norm.running_var) + norm.eps)
    if norm.affine:
        scale = scale * _numpy(norm.weight)
        shift = _numpy(norm.bias)
    else:
        shift = np.zeros_like(scale)
    return weight * scale[:, None], (bias - _numpy(norm.running_mean)) * scale + shift


def _labels(scope, container, classes: np.ndarray, operator) -> None:
    """`label`: the class of the largest probability, typed by `_label_values`.

    `Gather` picks the label from the class values themselves, so numbers keep
    their dtype and value (floats, int64 beyond the int32 range, unsigned
    ints, booleans) and strings stay strings. With the `nocl` option, `label`
    is the class index instead (int64), as skl2onnx's own converters give.
    """
    argmax = scope.get_unique_variable_name("argmax_output")
    container.add_node(
        "ArgMax",
        operator.outputs[1].full_name,
        argmax,
        axis=1,
        keepdims=0,
        name=scope.get_unique_operator_name("ArgMax"),
    )
    label = operator.outputs[0].full_name
    values = _label_values(scope, operator.raw_operator)
    if values is None:
        container.add_node(
            "Identity", argmax, label, name=scope.get_unique_operator_name("Identity")
        )
        return
    classes_name = scope.get_unique_variable_name("classes")
    if values.dtype.kind in "OSU":
        strings = [str(c).encode("utf-8") for c in values]
        container.add_initializer(
            classes_name, TensorProto.STRING, [len(strings)], strings
        )
    else:
        tensor = numpy_helper.from_array(np.ascontiguousarray(values))
        container.add_initializer(
            classes_name, tensor.data_type, list(values.shape), tensor
        )
    container.add_node(
        "Gather",
        [classes_name, argmax],
        label,
        axis=0,
        name=scope.get_unique_operator_name("Gather"),
    )


def _label_values(scope, clf) -> np.ndarray | None:
    """What `label` holds per class: `classes_` as they are, or None for indices.

    Numbers and booleans keep their dtype (in native byte order); anything
    else is a string. Two skl2onnx options change that: `nocl` asks for class
    indices (None here), and ZipMap (the `zipmap` option, on by default in
    `skl2onnx.to_onnx`) keys its maps by int64 or string only and casts the
    label to match, so numeric labels are int64 with it.
    """
    options = scope.get_options(clf, {"nocl": False, "zipmap": True})
    if options["nocl"]:
        return None
    classes = np.asarray(clf.classes_)
    native = classes.dtype.newbyteorder("=")
    if native not in _LABEL_TYPES:
        return classes.astype(object)
    classes = classes.astype(native)
    if options["zipmap"] is False:
        return classes
    as_int64 = classes.astype(np.int64)
    if not np.array_equal(as_int64, classes):
        raise ValueError(
            f"Cannot export the labels {classes.tolist()} with "
            f"zipmap={options['zipmap']!r}: ONNX's ZipMap keys its maps by int64 "
            "or string only. Pass "
            'options={"zipmap": False} to get the labels as they are.'
        )
    return as_int64


def _output_shapes(operator) -> None:
    """skl2onnx shape calculator: `label` typed as `_label_values` says.

    skl2onnx's linear-classifier calculator checks the input and sizes the
    outputs, but types every numeric label int64; this one then gives
    `label` the type of `classes_` where it keeps that type.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skl2onnx import to_onnx
    >>> X, y = make_blobs(60, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=2).fit(X.astype(np.float32), y * 2.0)
    >>> onx = to_onnx(clf, X[:1].astype(np.float32), options={"zipmap": False})
    >>> onx.graph.output[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    True
    """
    calculate_linear_classifier_output_shapes(operator)
    values = _label_values(operator.scope_inst, operator.raw_operator)
    if values is None:
        return  # class indices: int64, as the calculator typed them
    shape = [operator.inputs[0].get_first_dimension()]
    kind = _LABEL_TYPES.get(values.dtype, StringTensorType)
    operator.outputs[0].set_type(kind(shape=shape))


def to_onnx(
    estimator: QwertyClassifier | QwertyClassifierCV | QwertyEnsembleClassifier,
    *,
    zipmap: bool | str = False,
    target_opset: int | None = None,
    name: str = "X",
):
    """Convert a fitted classifier on its own to an ONNX model.

    A `QwertyClassifier`, a `QwertyClassifierCV` or a
    `QwertyEnsembleClassifier`, whose input encoding has no categorical
    columns.

    For a `Pipeline`, call `skl2onnx.to_onnx(pipeline, X[:1])` directly; this
    function only spares giving a sample row, since the classifier knows its
    number of features.

    Parameters
    ----------
    estimator : QwertyClassifier, QwertyClassifierCV or QwertyEnsembleClassifier
        A fitted classifier.
    zipmap : bool or "columns", default=False
        skl2onnx's option: False gives `probabilities` as a matrix, True as
        one `{label: probability}` map per row, "columns" as one output per
        class.
    target_opset : int, default=None
        ONNX opset; None takes the newest skl2onnx supports.
    name : str, default="X"
        Name of the float input of shape `(n_rows, n_features_in_)`.

    Returns
    -------
    onnx.ModelProto
        The model, with outputs `label` and `probabilities`.

    Raises
    ------
    ValueError
        If the estimator one-hot encodes categorical columns: one-hot encode
        them in a `Pipeline` in front instead. If its network (or a
        member's) has `batch_ensemble > 1`.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(60, random_state=0)
    >>> onx = to_onnx(QwertyClassifier(max_epochs=3).fit(X, y))
    >>> onx.graph.input[0].name
    'X'
    """
    from skl2onnx import to_onnx as convert

    _encoder(estimator)  # clear refusals before skl2onnx starts
    for model in getattr(estimator, "estimators_", [estimator]):
        _network(model)
    return convert(
        estimator,
        initial_types=[(name, FloatTensorType([None, estimator.n_features_in_]))],
        options={id(estimator): {"zipmap": zipmap}},
        target_opset=target_opset,
    )


def save_onnx(
    estimator: QwertyClassifier | QwertyClassifierCV | QwertyEnsembleClassifier,
    path: str | os.PathLike,
    *,
    zipmap: bool | str = False,
    target_opset: int | None = None,
) -> Path:
    """Write a fitted classifier as an ONNX file (see `to_onnx`).

    Parameters
    ----------
    estimator : QwertyClassifier, QwertyClassifierCV or QwertyEnsembleClassifier
        A fitted classifier.
    path : str or path-like
        Destination, conventionally ending in `.onnx`.
    zipmap : bool or "columns", default=False
        See `to_onnx`.
    target_opset : int, default=None
        ONNX opset; None takes the newest skl2onnx supports.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(60, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=3).fit(X, y)
    >>> path = save_onnx(clf, pathlib.Path(tempfile.mkdtemp()) / "clf.onnx")
    >>> path.stat().st_size > 0
    True
    """
    path = Path(path)
    model = to_onnx(estimator, zipmap=zipmap, target_opset=target_opset)
    with atomic_write(path) as handle:
        handle.write(model.SerializeToString())
    return path


update_registered_converter(
    QwertyClassifier,
    ALIAS,
    _output_shapes,
    convert_qwerty_classifier,
    options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
)
for _composite, _alias in COMPOSITE_ALIASES.items():
    update_registered_converter(
        _composite,
        _alias,
        _output_shapes,
        convert_qwerty_composite,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )


def __dir__() -> list[str]:
    """The public names, not the private modules and helpers behind them."""
    return sorted(__all__)
