"""`QwertyClassifier`: a scikit-learn estimator trained through skorch."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
)
from skorch.callbacks import Callback
from torch import nn

from ._base import log_proba
from ._interrupts import unchanged_if_failed
from ._labels import encode_labels
from ._module import check_architecture
from ._persistence import ModelState, read_model, restore_net, write_model
from ._table import (
    TableEncoder,
    check_encoding_params,
    encode,
    fit_encoding,
    read_table,
    table_of,
)
from .training import (
    OPTIMIZERS,
    FitSpec,
    SparseRows,
    TensorDataset,
    build_net,
    check_n_classes,
    fit_rows,
    one_thread,
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
        validation data it defaults to 0.1.
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
        valid = None
        if validation_data is not None:
            valid_X, valid_y = self._check_validation_data(validation_data)
            valid = self._tensors(valid_X, valid_y, data.weighting(valid_y))
        elif data.valid is not None:
            valid = self._tensors(X[data.valid], y_enc[data.valid], data.valid_weight)
            X, y_enc = X[data.train], y_enc[data.train]
        # Without a held-out split every row trains, in order: X is used as is.
        train = self._tensors(X, y_enc, data.weight)
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
        """Refuse a warm start whose settings change the fitted network."""
        module = self.net_.module_
        fitted = {
            "hidden_layer_sizes": tuple(module.hidden_layer_sizes),
            "activation": module.activation,
            "batch_norm": module.batch_norm,
            "dropout": module.dropout,
            "optimizer": self.net_.optimizer,
            "dtype": self.dtype_,
            "device": self.device_,
        }
        wanted = {
            "hidden_layer_sizes": check_architecture(
                self.hidden_layer_sizes, self.activation, self.dropout
            ),
            "activation": self.activation,
            "batch_norm": bool(self.batch_norm),
            "dropout": float(self.dropout),
            "optimizer": _check_optimizer(self.optimizer),
            "dtype": self.dtype,
            "device": device,
        }
        for name, value in fitted.items():
            if wanted[name] != value:
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
        return self._predict_proba(self._read(X, reset=False)[1])

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
        index = torch.empty(X.shape[0], dtype=torch.int64)

        def keep(rows, logits):
            index[rows] = torch.argmax(logits, dim=1)

        self._forward_chunks(X, keep)
        return self.classes_[index.numpy()]

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
        return write_model(path, self._model_state())

    def _model_state(self) -> ModelState:
        """What a model file stores of this fitted classifier."""
        return ModelState(
            params=self.get_params(),
            classes=self.classes_,
            n_features_in=self.n_features_in_,
            feature_names_in=getattr(self, "feature_names_in_", None),
            history=list(self.history_),
            n_iter=self.n_iter_,
            best_epoch=self.best_epoch_,
            module=self.net_.module_,
            encoder=self._encoder(),
        )

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
            check_params=cls._params_check(device),
        )
        return cls._from_state(state)

    @classmethod
    def _params_check(cls, device=None):
        """The check of a model file's hyperparameters (see `read_model`).

        `device` replaces the stored device; without it, a CUDA device that
        is not available here becomes the CPU.
        """
        if device is not None:
            _resolve_device(device)  # a clear error for an unusable device

        def check_params(params):
            if device is not None:
                params["device"] = device
            elif str(params.get("device", "cpu")).startswith("cuda") and not (
                torch.cuda.is_available()
            ):
                params["device"] = "cpu"
            estimator = cls(**params)
            estimator._check_params()
            return estimator.get_params()

        return check_params

    @classmethod
    def _from_state(cls, state):
        """A fitted classifier from the state `read_model` returned."""
        estimator = cls(**state.params)
        return restore(estimator, state)

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

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        # The output dtype follows X, as in scikit-learn's MLPClassifier.
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        n_classes = len(self.classes_)
        proba = np.empty((X.shape[0], n_classes), dtype=dtype)
        out = torch.from_numpy(proba)

        def keep(rows, logits):
            part = out[rows]
            if logits.dtype == out.dtype and logits.shape[1] % 16 == 0:
                # The logits padded to whole vectors with -inf columns (which
                # add exact zeros): torch's row softmax is fastest on them.
                part.copy_(torch.softmax(logits, dim=1)[: len(part), :n_classes])
                return
            # The softmax, computed in place in the output (several times
            # faster than torch.softmax over rows of a few classes) and in its
            # dtype: float64 rows sum to 1 at float64 precision even when the
            # network computes in float32.
            part.copy_(logits[: len(part), :n_classes])
            part.sub_(part.amax(dim=1, keepdim=True)).exp_()
            part.div_(part.sum(dim=1, keepdim=True))

        self._forward_chunks(X, keep, padded=True)
        return proba

    # Rows per forward pass in prediction: large enough that per-call overhead
    # vanishes, small enough that the layer buffers stay in the core's cache
    # and a short input padded to it costs little (measured for a (64, 64)
    # network: 1024 to 2048 rows are fastest, 4096 and more slower). Every
    # pass has exactly this many rows (the last one padded), so each matrix
    # product has one shape and a row's probabilities do not depend on which
    # rows share its chunk.
    _predict_chunk_rows = 2048

    def _forward_chunks(self, X: np.ndarray, keep, *, padded=False) -> None:
        """Run the fitted network over `X` chunk by chunk; `keep(rows, logits)`.

        `keep` gets a slice of rows of `X` and their logits, shape (rows,
        classes). With `padded`, it gets the chunk's whole logits instead:
        all of its rows, padding rows after the slice's, and possibly more
        columns than classes, each -inf. The logits may be a view of a
        buffer that the next chunk overwrites.

        No full-size copy of `X` is made: a chunk is used in place when it
        already has the network's dtype (`dtype_`), else converted on its own;
        a sparse `X` (scipy CSR) is made dense one chunk at a time.
        On the CPU, with several intra-op threads and several chunks, the
        chunks are shared among that many worker threads that each compute
        with one intra-op thread: a worker the system pauses delays only its
        own chunk, where a split of every operation would wait for it each
        time. `keep` gets disjoint rows, possibly from several threads.
        Raises `ValueError` if the logits overflow.
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor

        module = self.net_.module_
        module.eval()
        is_sparse = sparse.issparse(X)
        name = getattr(self, "dtype_", self.dtype)
        dtype, np_dtype = getattr(torch, name), np.dtype(name)
        n_classes = len(self.classes_)
        rows = self._predict_chunk_rows
        starts = range(0, X.shape[0], rows)
        workers = min(torch.get_num_threads(), len(starts))
        if self.device_.type != "cpu":
            workers = 1
        local = threading.local()

        def run(start):
            if not hasattr(local, "forward"):
                if workers > 1:
                    torch.set_num_threads(1)  # in this worker
                local.forward = self._chunk_forward(module, rows, dtype, self.device_)
                local.staging = None  # reused for chunks that need converting
            part = slice(start, start + rows)
            chunk = X[part].toarray() if is_sparse else X[part]
            with torch.inference_mode():
                n = len(chunk)
                if n == rows and chunk.dtype == np_dtype and chunk.flags.c_contiguous:
                    tensor = (
                        torch.from_numpy(chunk)
                        if chunk.flags.writeable
                        # torch.from_numpy refuses (warns about) read-only memory.
                        else (torch.tensor(chunk, dtype=dtype))
                    )
                else:
                    # Converted, or padded with zeros to the chunk's shape.
                    if local.staging is None:
                        local.staging = torch.zeros(rows, X.shape[1], dtype=dtype)
                    tensor = local.staging
                    if not chunk.flags.writeable:
                        chunk = chunk.copy()  # torch.from_numpy warns on read-only
                    tensor[:n].copy_(torch.from_numpy(chunk))
                    tensor[n:].zero_()
                full = local.forward(tensor.to(self.device_))
                logits = full[:n, :n_classes]
                # One sum finds a non-finite logit; only then is each checked
                # (a sum of huge finite logits can overflow on its own).
                if not bool(torch.isfinite(logits.sum())) and not bool(
                    torch.isfinite(logits).all()
                ):
                    raise ValueError(
                        "The network's outputs overflowed: X holds values up to "
                        f"{_largest(X):.3g}, too large for {name} arithmetic. "
                        "Scale the features (for example with StandardScaler) or "
                        "use dtype='float64'."
                    )
                keep(part, full if padded else logits)

        if workers <= 1:
            for start in starts:
                run(start)
            return
        # One intra-op thread while the workers run (the count is restored
        # afterwards, also when fits or predictions run at the same time).
        with (
            one_thread(),
            ThreadPoolExecutor(workers, thread_name_prefix="qwertyclf") as pool,
        ):
            for _ in pool.map(run, starts):
                pass

    @staticmethod
    def _chunk_forward(module: nn.Module, rows: int, dtype, device):
        """The module's forward pass, each `Linear` writing into a reused buffer.

        Applies to a CPU `nn.Sequential` of `Linear` layers and parameter-free
        or eval-mode layers (activations, `BatchNorm1d`, `Dropout`), which is
        what `QwertyNet` is; it computes what `module(x)` computes (the same
        `addmm`) without allocating fresh memory for every chunk. In float32,
        a final `Linear` gets extra outputs up to a multiple of 16, with zero
        weights and bias -inf: a product with a few columns runs several times
        faster padded to whole vectors (and the padding's probabilities are
        exact zeros). Anything else runs `module` itself.
        """
        layers = list(module.children())
        if (
            device.type != "cpu"
            or not isinstance(module, nn.Sequential)
            or any(isinstance(layer, nn.Sequential) for layer in layers)
            or not any(type(layer) is nn.Linear for layer in layers)
            or any(p.dtype != dtype for p in module.parameters())
        ):
            return module
        weights = {
            i: (layer.weight, layer.bias)
            for i, layer in enumerate(layers)
            if type(layer) is nn.Linear
        }
        last = len(layers) - 1
        if (
            dtype == torch.float32
            and last in weights
            and layers[last].out_features % 16
        ):
            weight, bias = weights[last]
            width = -(-weight.shape[0] // 16) * 16
            padded = torch.zeros(width, weight.shape[1], dtype=dtype)
            padded[: weight.shape[0]] = weight.detach()
            padded_bias = torch.full((width,), -torch.inf, dtype=dtype)
            padded_bias[: weight.shape[0]] = 0 if bias is None else bias.detach()
            weights[last] = (padded, padded_bias)
        buffers = {
            i: torch.empty(rows, weight.shape[0], dtype=dtype)
            for i, (weight, _) in weights.items()
        }

        def forward(x):
            n = x.shape[0]
            owned = False  # whether x is one of our buffers, safe to overwrite
            for i, layer in enumerate(layers):
                if i in buffers:
                    weight, bias = weights[i]
                    out = buffers[i][:n]
                    if bias is None:
                        x = torch.mm(x, weight.t(), out=out)
                    else:
                        x = torch.addmm(bias, x, weight.t(), out=out)
                    owned = True
                elif owned and type(layer) is nn.ReLU:
                    x = x.relu_()
                else:
                    x = layer(x)
                    owned = False
            return x

        return forward

    def _encode(self, y, name):
        """Map labels to indices into `classes_`, rejecting unknown ones."""
        return encode_labels(y, self.classes_, name=name, what="fitted classes")

    def _tensors(self, X, y_enc, weight) -> TensorDataset:
        device = self.device_
        return TensorDataset(
            _to_tensor(X, device, self.dtype),
            torch.as_tensor(y_enc, dtype=torch.long, device=device),
            None if weight is None else _to_tensor(weight, device, self.dtype),
        )

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
        fitted model as it was.
        """
        check_architecture(self.hidden_layer_sizes, self.activation, self.dropout)
        _check_optimizer(self.optimizer)
        for name, low in (
            ("batch_size", 1),
            ("max_epochs", 1),
            ("n_iter_no_change", 1),
        ):
            value = getattr(self, name)
            if (
                not isinstance(value, Integral)
                or isinstance(value, bool)
                or value < low
            ):
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
        for name in ("lr", "weight_decay", "tol"):
            value = getattr(self, name)
            if not isinstance(value, Real) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite float >= 0, got {value!r}.")
        if self.lr == 0:
            raise ValueError("lr must be > 0, got 0.")
        if self.batch_norm and self.batch_size < 2:
            raise ValueError(
                "batch_norm=True needs batch_size >= 2: batch statistics of a "
                "single row are undefined."
            )
        fraction = self.validation_fraction
        if fraction is not None and (
            not isinstance(fraction, Real) or not 0.0 < fraction < 1.0
        ):
            raise ValueError(
                "validation_fraction must be None or a float in (0, 1), "
                f"got {fraction!r}."
            )
        if self.callbacks is not None and (
            not isinstance(self.callbacks, (list, tuple))
            or not all(
                isinstance(cb, Callback)
                or (
                    isinstance(cb, tuple)
                    and len(cb) == 2
                    and isinstance(cb[1], Callback)
                )
                for cb in self.callbacks
            )
        ):
            raise TypeError(
                "callbacks must be a list of skorch callbacks or "
                "(name, callback) pairs."
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(
                f"dtype must be 'float32' or 'float64', got {self.dtype!r}."
            )
        for name in ("batch_norm", "shuffle", "early_stopping", "warm_start"):
            value = getattr(self, name)
            # A string such as "no" is truthy: only real booleans are taken.
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {value!r}.")
        class_weight = self.class_weight
        if not (
            class_weight is None
            or (isinstance(class_weight, str) and class_weight == "balanced")
            or isinstance(class_weight, dict)
        ):
            raise ValueError(
                "class_weight must be None, 'balanced' or a dict of class -> "
                f"weight, got {class_weight!r}."
            )
        # Whether the dict's classes are those of y is checked when y is seen.
        weights = class_weight.items() if isinstance(class_weight, dict) else ()
        for label, weight in weights:
            if (
                isinstance(weight, (bool, np.bool_))
                or not isinstance(weight, Real)
                or not np.isfinite(weight)
                or weight < 0
            ):
                raise ValueError(
                    f"class_weight of class {label!r} must be a finite float "
                    f">= 0, got {weight!r}."
                )
        verbose = self.verbose
        if not isinstance(verbose, Integral) or verbose < 0:
            raise ValueError(f"verbose must be an int >= 0, got {verbose!r}.")
        check_encoding_params(
            self.categorical_features, self.min_frequency, self.preprocessing
        )
        return _resolve_device(self.device)

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


def check_params(estimator: QwertyClassifier) -> torch.device:
    """Validate `estimator`'s hyperparameters; return the device it trains on.

    Part of the estimator layer's interface: what the batched runs, the CV
    and the searches call instead of the estimator's own methods.

    Examples
    --------
    >>> check_params(QwertyClassifier(device="cpu"))
    device(type='cpu')
    """
    return estimator._check_params()


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
    `random_state` gives.

    Examples
    --------
    >>> clf = QwertyClassifier(hidden_layer_sizes=(4,), random_state=0)
    >>> fit_spec(clf, check_params(clf)).hidden_layer_sizes
    (4,)
    """
    return FitSpec(
        hidden_layer_sizes=check_architecture(
            estimator.hidden_layer_sizes, estimator.activation, estimator.dropout
        ),
        activation=estimator.activation,
        batch_norm=bool(estimator.batch_norm),
        dropout=float(estimator.dropout),
        optimizer=_check_optimizer(estimator.optimizer),
        lr=float(estimator.lr),
        weight_decay=float(estimator.weight_decay),
        batch_size=int(estimator.batch_size),
        max_epochs=int(estimator.max_epochs),
        shuffle=bool(estimator.shuffle),
        validation_fraction=validation_fraction(
            estimator.validation_fraction, estimator.early_stopping
        ),
        early_stopping=bool(estimator.early_stopping),
        n_iter_no_change=int(estimator.n_iter_no_change),
        tol=float(estimator.tol),
        dtype=estimator.dtype,
        device=_resolve_device(estimator.device) if device is None else device,
        seed=estimator._seed() if seed is None else seed,
        callbacks=tuple(estimator.callbacks or ()),
        verbose=int(estimator.verbose),
    )


def restore(estimator: QwertyClassifier, state: ModelState) -> QwertyClassifier:
    """`estimator` fitted from `state`, read by `load` or trained batched or serially.

    Part of the estimator layer's interface: `load`, the batched runs and
    the CV turn a `ModelState` into a fitted classifier through it.

    A state from the serial engine carries the net that trained it
    (`state.net`), which is kept as it is. Otherwise only the network is
    built; the optimizer is built (from the state's optimizer state, if
    any) when training continues.
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
    if state.net is not None:
        estimator.net_ = state.net
        estimator.history_ = state.net.history
        estimator.n_iter_ = state.n_iter
        estimator.best_epoch_ = state.best_epoch
        return estimator
    module = state.module.to(estimator.device_)
    estimator.net_ = restore_net(
        # Seeded from random_state as a fresh fit is: a warm start draws
        # its row orders (unless the state has their generator's state)
        # and dropout masks from it.
        build_net(
            fit_spec(estimator, estimator.device_),
            estimator.encoder_.n_outputs,
            len(state.classes),
        ),
        module,
        state.history,
        optimizer_state=state.optimizer_state,
        row_order_state=state.row_order_state,
    )
    estimator.history_ = estimator.net_.history
    estimator.n_iter_ = state.n_iter
    estimator.best_epoch_ = state.best_epoch
    return estimator


def _as_float(X, dtype: str):
    """A C-contiguous, writable view or copy of `X` with the given dtype.

    A sparse `X` stays sparse (CSR), converted to `dtype` if it has another.
    """
    if sparse.issparse(X):
        converted = X.astype(dtype, copy=False)
        converted = converted if converted.format == "csr" else converted.tocsr()
        values = converted.data
    else:
        converted = np.asarray(X, dtype=dtype, order="C")
        values = converted
    # X is finite (validated), so an infinity here is a float32 overflow.
    if values.size and not np.isfinite(values.min() + values.max()):
        raise ValueError(
            f"X holds values up to {_largest(X):.3g}, beyond the {dtype} "
            "range the network computes in. Scale the features (for example "
            "with StandardScaler) or use dtype='float64'."
        )
    if sparse.issparse(converted) or converted.flags.writeable:
        return converted
    return converted.copy()


def _to_tensor(X, device: torch.device, dtype: str):
    """`X` as a tensor on `device`; a sparse `X` as `SparseRows` (kept sparse)."""
    if sparse.issparse(X):
        return SparseRows(_as_float(X, dtype), device=device)
    return torch.from_numpy(_as_float(X, dtype)).to(device)


def _largest(X) -> float:
    """The largest absolute value in `X`, dense or sparse."""
    if sparse.issparse(X):
        return float(np.abs(X.data).max()) if X.nnz else 0.0
    return float(np.abs(X).max())


def _check_optimizer(optimizer) -> type[torch.optim.Optimizer]:
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]
    if inspect.isclass(optimizer) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    raise ValueError(
        f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)} "
        "or pass a torch.optim.Optimizer subclass."
    )


def _resolve_device(device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"Unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available here; "
            "use device='cpu' or device='auto'."
        )
    return resolved
