"""`QwertyClassifier`: a scikit-learn estimator trained through skorch."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
)

from ._base import log_proba
from ._hyperparameters import (
    PARAMETER_CONSTRAINTS,
    check_params,
    coerced,
    resolve_device,
    resolve_optimizer,
    spec_fields,
    validate_constraints,
)
from ._interrupts import unchanged_if_failed
from ._labels import encode_labels
from ._module import check_architecture
from ._params import PARAMETERS
from ._persistence import ModelState, read_model, write_model
from ._restored_net import load_net, restore_net
from ._table import (
    TableEncoder,
    encode,
    fit_encoding,
    read_table,
    table_of,
)
from .training import (
    FitSpec,
    as_dataset,
    check_n_classes,
    fit_rows,
    predict_index,
    predict_proba,
    train_serial,
    validation_fraction,
)

_FLOAT_DTYPES = (np.float64, np.float32)


class QwertyClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained with PyTorch through skorch.

    A scikit-learn estimator (fit / predict / predict_proba / score) around a
    `QwertyNet`. Training minimises the cross-entropy with mini-batches; it
    runs inside a `skorch.NeuralNetClassifier` (fitted as `net_`) with a fast
    epoch for in-memory data, so skorch callbacks work as usual. The defaults
    are the settings of the PyTorch teaching notebook qwertyclf grew from (the
    documentation's page "Where qwerty comes from" describes it): one hidden
    layer of 8 ReLU units, Adam with learning rate 0.01, batches of 16, 100
    epochs.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(8,)
        Width of each hidden layer; `()` gives multinomial logistic regression.
    activation : str, default="relu"
        Hidden activation: `"relu"`, `"leaky_relu"`, `"relu6"`, `"tanh"`,
        `"sigmoid"`, `"elu"`, `"gelu"`, `"selu"` or `"silu"`.
    batch_norm : bool, default=False
        Add batch normalisation after each hidden linear layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    optimizer : str or torch optimizer class, default="adam"
        `"adam"`, `"adamw"`, `"sgd"`, `"rmsprop"`, or a subclass of
        `torch.optim.Optimizer` taking `lr` and `weight_decay`.
    lr : float, default=0.01
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
    batch_size : int, default=16
        Rows per mini-batch; the last batch of an epoch may be smaller.
    max_epochs : int, default=100
        Number of passes over the training data (fewer with early stopping).
    shuffle : bool, default=True
        Draw a new row order for every epoch.
    validation_fraction : float, default=None
        Fraction of the training data held out (stratified, seeded) to
        monitor `valid_loss` / `valid_acc`. With `early_stopping=True` and no
        validation data it defaults to 0.1. Where no stratified split exists
        (a class with a single row, or more classes than held-out rows), one
        row of every class stays in training and the held-out rows are drawn
        at random from the others.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved by `tol` for
        `n_iter_no_change` epochs, and keep the weights of the best epoch.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Smallest decrease of the validation loss that counts as improvement.
    class_weight : dict or "balanced", default=None
        Weights of the classes in the loss, as in scikit-learn.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks (instances or `(name, callback)` pairs); each fit
        uses fresh copies.
    device : str, default="cpu"
        `"cpu"`, `"cuda"`, `"cuda:N"` or `"auto"` (CUDA when available).
    dtype : {"float32", "float64"}, default="float32"
        Floating-point precision of the network and the data it sees.
        float64 is slower, and exact enough that results do not depend on
        the order in which rows are summed.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. The global NumPy and PyTorch random states are left untouched.
    verbose : int, default=0
        0 is silent, 1 prints a table row per epoch, 2 adds a progress bar.
    warm_start : bool, default=False
        Continue from the fitted weights on the next call to `fit`, with the
        current `lr`, `weight_decay`, `batch_size`, `max_epochs`, `shuffle`,
        `callbacks`, early stopping and `verbose` (the optimizer keeps its
        state). A different architecture, activation, batch norm, dropout,
        optimizer, dtype or device raises `ValueError`: set
        `warm_start=False` to train a new network. The input encoding
        (`encoder_`) of the first fit is kept.
    categorical_features : "from_dtype", None or array-like, default="from_dtype"
        Which columns of `X` are categorical, as in scikit-learn's
        `HistGradientBoostingClassifier`: "from_dtype" takes pandas
        `category`, string, object and bool columns (and polars' string,
        categorical and boolean ones, and the string columns of an object
        array); None takes none; or a list of column names or indices, or a
        boolean mask. Each categorical column is one-hot encoded, with an
        input for missing values if fit saw any; categories unseen in fit
        are not an error.
    min_frequency : int, float or None, default=None
        Categories that occur fewer times in fit (an int), or in a smaller
        fraction of the rows (a float in (0, 1)), share one input, which
        categories unseen in fit also use.
    preprocessing : {None, "robust"}, default=None
        None feeds numeric columns as they are; "robust" centres each on its
        median, divides it by its robust deviation and bounds it smoothly to
        about +-3 (see `QwertyClassifierCV`); a sparse `X` is not centred,
        since that would fill in its zeros (see the guide "Your own table").
        Missing numeric values are replaced by the column's median in fit
        either way, and every numeric column with missing values in fit gets
        a missing-indicator input.
    batch_ensemble : int, default=1
        Number of BatchEnsemble members (as in TabM) in the one network: they
        share every hidden weight matrix, each with its own scalings, biases
        and output layer; training averages their losses, prediction their
        probabilities. 1 is the plain network.

        With `k > 1` each hidden `Linear` becomes a `BatchEnsembleLinear`:
        member `j` computes `((x * r[j]) @ W.T) * s[j] + b[j]`, with the
        weight `W` shared and `r` (the first layer's starting as random signs
        +-1, the others as ones), `s` (ones) and `b` its own; the output
        layer is one `Linear` per member. Every row goes to all `k` members;
        the training loss is the mean of the members' cross-entropies (each
        with the row and class weights), and `predict_proba` is the mean of
        the members' probabilities. The validation loss of early stopping is
        that of the mean probability. It costs about `k` times the hidden
        layers' arithmetic (and the network trains with autograd, without
        the plain network's hand-written gradients), but only about
        `k * (in + 2 * out)` more parameters per hidden layer. The batched
        trainer takes it (with hand-written gradients): searches and
        `QwertyEnsembleClassifier` train such networks as batched runs of
        networks with the same `k`; ONNX export refuses it. On six
        small tables (the guide "Which classifier to use"), `k` of 4 to 16
        lowered the log-loss by about 7 to 11 % at 4 to 10 times the fit
        time (rough).
    numeric_embedding : {"pbld", "plr"} or None, default=None
        None feeds the input columns to the first hidden layer as they are;
        "pbld" (RealMLP's periodic-bias-linear-DenseNet embedding) or "plr"
        (periodic, linear, ReLU) first turns every input column on its own
        into a few learned periodic features. Every input the table encoding
        gives is embedded, one-hot and missing-indicator inputs included:

        - "pbld", RealMLP's periodic-bias-linear-DenseNet embedding: per
          column, `cos(2 pi w x + b)` for 16 frequencies `w` (initially
          N(0, 0.1^2)) and phases `b` (uniform in [-pi, pi]), a linear map
          of those to 3 features, and the value `x` itself: 4 inputs per
          column;
        - "plr", periodic-linear-ReLU (as `rtdl_num_embeddings`'
          `PeriodicEmbeddings`): per column, `cos` and `sin` of `2 pi c x`
          for 48 frequencies `c` (initially N(0, 0.01^2)), a linear map to
          24 features and a ReLU: 24 inputs per column.

        The frequencies, phases and maps are trained with the network (the
        sizes are the references' defaults, constants in
        `qwertyclf._embeddings`). Such a network trains with autograd,
        without the plain network's hand-written gradients; the batched
        trainer takes "pbld" networks (searches and
        `QwertyEnsembleClassifier` train them as batched runs) and not "plr"
        ones, which they fit one at a time; ONNX export converts it. It
        combines with `batch_ensemble` (the members share the embedding).
        The frequencies assume scaled inputs: use it with
        `preprocessing="robust"` or a scaler in front.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when `X` had string column names.
    net_ : skorch.NeuralNetClassifier
        The fitted skorch net; `net_.module_` is the trained `QwertyNet`.
    history_ : skorch.history.History
        Per-epoch `train_loss`, `train_acc` and, with validation data,
        `valid_loss`, `valid_acc`.
    n_iter_ : int
        Number of epochs trained.
    best_epoch_ : int
        Epoch (1-based) with the lowest validation loss, or training loss
        without validation. With early stopping these are the kept weights.
    device_ : torch.device
        The device the net was trained on.
    encoder_ : TableEncoder
        How the columns of `X` become the network's inputs (the identity for
        a float array without missing values and `preprocessing=None`): its
        `categorical` (the categorical columns' positions), `categories` (their
        categories with an input each), `missing_slot` and `other_slot` (the
        inputs for missing and for pooled rare categories), `indicated` (the
        numeric columns with a missing indicator) and `n_outputs` (the number
        of network inputs) describe it.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from qwertyclf import QwertyClassifier
    >>> X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> clf.predict(X[:5]).shape
    (5,)
    >>> clf.score(X, y) > 0.9
    True
    """

    # Declared once, in qwertyclf._params; checked by `_validate_params`.
    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (8,),
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        lr: float = 0.01,
        weight_decay: float = 0.0,
        batch_size: int = 16,
        max_epochs: int = 100,
        shuffle: bool = True,
        validation_fraction: float | None = None,
        early_stopping: bool = False,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        class_weight: dict | str | None = None,
        callbacks: list | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        categorical_features="from_dtype",
        min_frequency: int | float | None = None,
        preprocessing: str | None = None,
        batch_ensemble: int = 1,
        numeric_embedding: str | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.preprocessing = preprocessing
        self.batch_ensemble = batch_ensemble
        self.numeric_embedding = numeric_embedding

    @unchanged_if_failed
    def fit(self, X, y, *, validation_data=None, sample_weight=None):
        """Train the network on `X`, `y`.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training features: an array, a scipy sparse matrix (kept
            sparse, each batch made dense on its own), or a pandas or polars
            DataFrame with numeric, boolean, categorical and string columns;
            missing values are allowed (see `categorical_features` and
            `preprocessing`).
        y : array-like of shape (n_samples,)
            Class labels of any hashable type.
        validation_data : tuple (X_val, y_val), default=None
            Held-out data scored after every epoch (`valid_loss`,
            `valid_acc` in `history_`); overrides `validation_fraction`.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights in the loss.

        Returns
        -------
        self : QwertyClassifier
            The fitted estimator.
        """
        device = self._check_params()
        continuing = self.warm_start and hasattr(self, "net_")
        if continuing:
            self._check_continuable(device)
        encoder, X, y = self._read(
            X, y, reset=not continuing, sample_weight=sample_weight
        )
        check_classification_targets(y)
        if continuing:
            y_enc = self._encode(y, "y")
        else:
            classes, y_enc = np.unique(y, return_inverse=True)
            check_n_classes(classes, type(self).__name__)
            self.classes_ = classes
        return self._train(
            encoder,
            X,
            y,
            y_enc,
            sample_weight,
            validation_data,
            device,
            epochs=self.max_epochs,
            fresh=not continuing,
        )

    @unchanged_if_failed
    def partial_fit(self, X, y, classes=None, *, sample_weight=None):
        """Train the network for one more epoch on `X`, `y`.

        As in scikit-learn, settings that need the whole data set are refused
        here: `early_stopping=True`, `validation_fraction` and
        `class_weight="balanced"` raise `ValueError` (pass class weights as a
        dict instead).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels; all must be in `classes`.
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever be seen. Required on the first call,
            optional (and checked) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights in the loss.

        Returns
        -------
        self : QwertyClassifier
            The updated estimator.
        """
        device = self._check_params()
        first = not hasattr(self, "net_")
        for name, value, why in (
            ("early_stopping", self.early_stopping, "True"),
            ("validation_fraction", self.validation_fraction, "set"),
        ):
            if value not in (None, False):
                raise ValueError(
                    f"partial_fit does not support {name}={value!r}: each call "
                    "sees one batch of the data, so no validation set can be "
                    f"held out. Use fit with {name} {why}, or monitor held-out "
                    "data yourself between calls."
                )
        if isinstance(self.class_weight, str):
            raise ValueError(
                f"class_weight={self.class_weight!r} is not supported by "
                "partial_fit: each call sees one batch, not the class "
                "frequencies of the whole data. Compute the weights once, for "
                "example with sklearn.utils.class_weight.compute_class_weight, "
                "and pass them as a dict."
            )
        if not first:
            self._check_continuable(device)
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        encoder, X, y = self._read(X, y, reset=first, sample_weight=sample_weight)
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(classes)
            if first:
                check_n_classes(classes, type(self).__name__)
                self.classes_ = classes
            elif not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} differs from the classes of the first "
                    f"call to partial_fit, {self.classes_!r}."
                )
        y_enc = self._encode(y, "y")
        return self._train(
            encoder, X, y, y_enc, sample_weight, None, device, epochs=1, fresh=first
        )

    def _read(self, X, y=None, *, reset, sample_weight=None):
        """The input encoding (fitted if `reset`), `X` encoded, and `y` checked."""
        if reset:
            return fit_encoding(self, X, y, sample_weight=sample_weight)
        if y is None:
            return self._encoder(), encode(self, X, self._encoder()), None
        table, y = read_table(self, X, y, reset=False)
        encoder = self._encoder()
        encoder.check(table)
        return encoder, encoder.transform(table), y

    def _encoder(self) -> TableEncoder:
        """The fitted encoding; the identity for a model fitted without one."""
        encoder = getattr(self, "encoder_", None)
        if encoder is None:  # unpickled from a version without encoders
            encoder = TableEncoder.identity_for(self.n_features_in_)
        return encoder

    def _train(
        self,
        encoder,
        X,
        y,
        y_enc,
        sample_weight,
        validation_data,
        device,
        *,
        epochs,
        fresh,
    ):
        """Train a new net (`fresh`) or continue `net_` for `epochs` epochs."""
        spec = fit_spec(self, device)
        data = fit_rows(
            y,
            y_enc,
            len(self.classes_),
            class_weight=self.class_weight,
            sample_weight=sample_weight,
            fraction=None if validation_data is not None else spec.validation_fraction,
            seed=spec.seed,
        )
        self.device_ = device
        self.dtype_ = self.dtype
        self.encoder_ = encoder
        where = (device, self.dtype)
        valid = None
        if validation_data is not None:
            valid_X, valid_y = self._check_validation_data(validation_data)
            valid = as_dataset(valid_X, valid_y, data.weighting(valid_y), *where)
        elif data.valid is not None:
            valid = as_dataset(
                X[data.valid], y_enc[data.valid], data.valid_weight, *where
            )
            X, y_enc = X[data.train], y_enc[data.train]
        # Without a held-out split every row trains, in order: X is used as is.
        train = as_dataset(X, y_enc, data.weight, *where)
        state = train_serial(
            spec,
            train,
            valid,
            self.classes_,
            # A copy: the fitted net stays as it was if this fit fails.
            net=None if fresh else copy.deepcopy(self.net_),
            epochs=epochs,
        )
        self.net_ = state.net
        self.history_ = state.net.history
        self.n_iter_ = state.n_iter
        self.best_epoch_ = state.best_epoch
        return self

    def _check_continuable(self, device):
        """Refuse a warm start whose settings change the fitted network.

        The settings are those declared `fixed_on_warm_start`: each is
        compared, resolved as a fit resolves it, with the fitted network's.
        """
        module = self.net_.module_
        fitted = {"optimizer": self.net_.optimizer, "device": self.device_}
        fitted["dtype"] = self.dtype_
        wanted = fit_spec(self, device, seed=0)
        for name, param in PARAMETERS.items():
            if not param.fixed_on_warm_start:
                continue
            value = fitted[name] if name in fitted else getattr(module, name)
            if isinstance(value, list):
                value = tuple(value)
            if getattr(wanted, name) != value:
                raise ValueError(
                    f"warm_start=True continues the fitted network, which was "
                    f"trained with {name}={value!r}; it cannot continue with "
                    f"{name}={getattr(self, name)!r}. Set warm_start=False to "
                    f"train a new network, or set {name} back."
                )

    def predict_proba(self, X):
        """Class probabilities of each row, columns in the order of `classes_`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Softmax of the network's logits: float32 when `X` is a float32
            array, float64 otherwise, as scikit-learn's `MLPClassifier` does.
            The network computes in its fitted `dtype_` either way; float64
            rows sum to 1 at float64 precision.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_blobs
        >>> X, y = make_blobs(60, random_state=0)
        >>> clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
        >>> clf.predict_proba(X[:2]).dtype
        dtype('float64')
        >>> clf.predict_proba(X[:2].astype(np.float32)).dtype
        dtype('float32')
        """
        check_is_fitted(self)
        return predict_proba(
            self.net_.module_, self._read(X, reset=False)[1], **self._inference()
        )

    def predict(self, X):
        """Most probable class label of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels taken from `classes_`: the largest logit of each row, the
            same class as the largest probability (no probabilities are built).
        """
        check_is_fitted(self)
        X = self._read(X, reset=False)[1]
        return self.classes_[predict_index(self.net_.module_, X, **self._inference())]

    def save(self, path):
        """Write the fitted model to a safetensors file that runs no code on load.

        Parameters
        ----------
        path : str or path-like
            Destination, conventionally ending in `.safetensors`.

        Returns
        -------
        path : pathlib.Path
            The path written.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from sklearn.datasets import make_blobs
        >>> X, y = make_blobs(60, random_state=0)
        >>> clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
        >>> path = clf.save(pathlib.Path(tempfile.mkdtemp()) / "clf.safetensors")
        >>> same = QwertyClassifier.load(path)
        >>> bool((same.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        check_is_fitted(self)
        return write_model(path, model_state(self))

    @classmethod
    def load(cls, path, *, device=None):
        """Read a model written by `save`; see `qwertyclf.load_model`.

        Every value in the file is checked before anything is built (the
        hyperparameters by the same rules as `fit`), and only the network is
        built: the optimizer is made if training continues (`warm_start`).

        Parameters
        ----------
        path : str or path-like
            A file written by `save`.
        device : str, default=None
            Device for the network; None keeps the saved one when available.

        Returns
        -------
        estimator : QwertyClassifier
            The fitted classifier.

        Raises
        ------
        ValueError
            If the file is not a qwertyclf model file, is damaged, holds
            values no fit produces, or was written by a newer format.
        """
        state = read_model(
            path,
            param_names=cls._get_param_names(),
            check_params=stored_params_check(device, cls),
        )
        return from_state(state, cls)

    def __setstate__(self, state):
        super().__setstate__(state)
        # skorch maps a CUDA-trained net to the CPU when unpickled on a machine
        # without CUDA; predict where the net now is.
        if "net_" in state:
            self.device_ = torch.device(self.net_.device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Sparse X stays sparse: each batch and chunk is made dense on its own.
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        # As HistGradientBoostingClassifier: categories are read from the
        # columns' dtypes; scikit-learn's "categorical" tag is for estimators
        # whose every input is an integer-coded category (encoders).
        tags.input_tags.categorical = False
        tags.input_tags.string = True
        tags.target_tags.required = True
        tags.classifier_tags.multi_class = True
        return tags

    def _inference(self) -> dict:
        """Where and in which dtype the fitted network computes."""
        # The fitted dtype (after fit, fitted attributes decide); a model
        # unpickled from a version without `dtype_` has its parameter's.
        return {"device": self.device_, "dtype": getattr(self, "dtype_", self.dtype)}

    def _encode(self, y, name):
        """Map labels to indices into `classes_`, rejecting unknown ones."""
        return encode_labels(y, self.classes_, name=name, what="fitted classes")

    def _check_validation_data(self, validation_data):
        try:
            valid_X, valid_y = validation_data
        except (TypeError, ValueError):
            raise TypeError(
                "validation_data must be a pair (X_val, y_val), got "
                f"{type(validation_data).__name__}."
            ) from None
        table = table_of(valid_X, input_name="X_val")
        valid_y = check_array(valid_y, ensure_2d=False, dtype=None, input_name="y_val")
        if table.n_columns != self.n_features_in_:
            raise ValueError(
                f"X_val has {table.n_columns} features, but {type(self).__name__} "
                f"is being fitted with {self.n_features_in_} features."
            )
        names = getattr(self, "feature_names_in_", None)
        if (
            names is not None
            and table.names is not None
            and list(table.names) != list(names)
        ):
            raise ValueError(
                f"X_val has the columns {list(table.names)}, but "
                f"{type(self).__name__} is being fitted with {list(names)}."
            )
        if table.n_rows != len(valid_y):
            raise ValueError(
                f"X_val and y_val have different lengths: {table.n_rows} and "
                f"{len(valid_y)}."
            )
        self.encoder_.check(table)
        return self.encoder_.transform(table), self._encode(valid_y, "y_val")

    def _check_params(self):
        """Validate the hyperparameters; return the device to train on.

        Called before any fitted attribute changes, so a bad setting leaves a
        fitted model as it was (see `qwertyclf._hyperparameters.check_params`).
        """
        return check_params(self)

    def _validate_params(self):
        """scikit-learn's check of `_parameter_constraints`, with our messages."""
        validate_constraints(self.get_params(deep=False), type(self).__name__)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def predict_log_proba(self, X):
        """Natural logarithm of the class probabilities of each row.

        `np.log(self.predict_proba(X))`, as scikit-learn's `MLPClassifier`
        computes it: a probability that rounds to 0 gives `-inf`, without a
        warning.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of `classes_`, in the
            dtype of `predict_proba` (float32 for a float32 `X`).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_blobs
        >>> X, y = make_blobs(60, random_state=0)
        >>> clf = QwertyClassifier(max_epochs=3, random_state=0).fit(X, y)
        >>> log_proba = clf.predict_log_proba(X[:2])
        >>> np.allclose(np.exp(log_proba), clf.predict_proba(X[:2]))
        True
        """
        return log_proba(self.predict_proba(X))


def input_encoder(estimator: QwertyClassifier) -> TableEncoder:
    """The fitted input encoding of `estimator` (the identity for old models).

    Examples
    --------
    >>> import numpy as np
    >>> clf = QwertyClassifier(max_epochs=1).fit(np.eye(4), [0, 1, 0, 1])
    >>> input_encoder(clf).n_outputs
    4
    """
    return estimator._encoder()


def fit_spec(
    estimator: QwertyClassifier, device: torch.device | None = None, seed=None
) -> FitSpec:
    """The engine's description of a fit of `estimator` with its current parameters.

    Part of the estimator layer's interface, which `QwertyClassifier.fit`,
    the batched runs, the CV and the searches share. Call after
    `check_params` (which returns the `device`); `seed` defaults to the one
    `random_state` gives. Each field of `FitSpec` named after a
    hyperparameter takes its value as declared (a bool, an int or a float);
    the fields below are resolved first.

    Examples
    --------
    >>> clf = QwertyClassifier(hidden_layer_sizes=(4,), random_state=0)
    >>> fit_spec(clf, check_params(clf)).hidden_layer_sizes
    (4,)
    """
    params = estimator.get_params(deep=False)
    return FitSpec(
        **{
            **coerced(params, spec_fields(FitSpec)),
            "hidden_layer_sizes": check_architecture(
                estimator.hidden_layer_sizes, estimator.activation, estimator.dropout
            ),
            "optimizer": resolve_optimizer(estimator.optimizer),
            "validation_fraction": validation_fraction(
                estimator.validation_fraction, estimator.early_stopping
            ),
            "device": resolve_device(estimator.device) if device is None else device,
            "seed": estimator._seed() if seed is None else seed,
            "callbacks": tuple(estimator.callbacks or ()),
        }
    )


def restore(
    estimator: QwertyClassifier, state: ModelState, *, from_file: bool = False
) -> QwertyClassifier:
    """`estimator` fitted from `state`, read by `load` or trained batched or serially.

    Part of the estimator layer's interface: `load`, the batched runs and
    the CV turn a `ModelState` into a fitted classifier through it.

    A state from the serial engine carries the net that trained it
    (`state.net`), which is kept as it is. Otherwise the net is rebuilt as a
    serial fit would have left it: initialised, its optimizer built (from
    the state's optimizer state, if any), with the stored history; for a
    state read from a file (`from_file`), only the network is built, and the
    rest when training continues (see `load_net`).

    Examples
    --------
    >>> import numpy as np
    >>> clf = QwertyClassifier(max_epochs=2, random_state=0).fit(np.eye(4), [0, 1] * 2)
    >>> copy = restore(QwertyClassifier(max_epochs=2), model_state(clf))
    >>> copy.n_iter_
    2
    """
    estimator.classes_ = state.classes
    estimator.n_features_in_ = state.n_features_in
    if state.feature_names_in is not None:
        estimator.feature_names_in_ = state.feature_names_in
    estimator.device_ = check_params(estimator)
    estimator.dtype_ = estimator.dtype
    estimator.encoder_ = (
        TableEncoder.identity_for(state.n_features_in)
        if state.encoder is None
        else state.encoder
    )
    estimator.n_iter_ = state.n_iter
    estimator.best_epoch_ = state.best_epoch
    if state.net is not None:
        estimator.net_ = state.net
        estimator.history_ = state.net.history
        return estimator
    # Seeded from random_state as a fresh fit is: a warm start draws its row
    # orders (unless the state has their generator's state) and dropout
    # masks from it.
    spec = fit_spec(estimator, estimator.device_)
    module = state.module.to(estimator.device_)
    n_inputs, n_classes = estimator.encoder_.n_outputs, len(state.classes)
    if from_file:
        estimator.net_ = load_net(spec, n_inputs, n_classes, module, state.history)
    else:
        estimator.net_ = restore_net(
            spec,
            n_inputs,
            n_classes,
            module,
            state.history,
            optimizer_state=state.optimizer_state,
            row_order_state=state.row_order_state,
        )
    estimator.history_ = estimator.net_.history
    return estimator


def model_state(estimator: QwertyClassifier) -> ModelState:
    """What a model file stores of a fitted `QwertyClassifier`.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(60, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> model_state(clf).n_iter
    2
    """
    return ModelState(
        params=estimator.get_params(),
        classes=estimator.classes_,
        n_features_in=estimator.n_features_in_,
        feature_names_in=getattr(estimator, "feature_names_in_", None),
        history=list(estimator.history_),
        n_iter=estimator.n_iter_,
        best_epoch=estimator.best_epoch_,
        module=estimator.net_.module_,
        encoder=estimator._encoder(),
    )


def stored_params_check(
    device=None, cls: type[QwertyClassifier] = QwertyClassifier
) -> Callable[[dict], dict]:
    """The check of a model file's hyperparameters (see `read_model`).

    `device` replaces the stored device; without it, a CUDA device that is
    not available here becomes the CPU. The returned function validates the
    parameters as `fit` does and returns all of `cls`'s parameters.

    Examples
    --------
    >>> stored_params_check()({"lr": 0.1})["lr"]
    0.1
    """
    if device is not None:
        resolve_device(device)  # a clear error for an unusable device

    def check(params: dict) -> dict:
        if device is not None:
            params["device"] = device
        elif str(params.get("device", "cpu")).startswith("cuda") and not (
            torch.cuda.is_available()
        ):
            params["device"] = "cpu"
        estimator = cls(**params)
        check_params(estimator)
        return estimator.get_params()

    return check


def from_state(
    state: ModelState, cls: type[QwertyClassifier] = QwertyClassifier
) -> QwertyClassifier:
    """A fitted `cls` from a state that `read_model` returned.

    Only its network is built; the optimizer is built when training
    continues (see `qwertyclf._restored_net.load_net`).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(60, random_state=0)
    >>> clf = QwertyClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> same = from_state(model_state(clf))
    >>> bool((same.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    estimator = cls(**state.params)
    restore(estimator, state, from_file=True)
    return estimator
