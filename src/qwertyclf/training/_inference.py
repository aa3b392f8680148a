"""Inference: a fitted network over many rows, chunk by chunk.

`predict_proba` and `predict_index` run a module over a dense or sparse `X`
in passes of `PREDICT_CHUNK` rows (`_runtime`), never copying `X` whole:
a chunk is used in place when it already has the network's dtype, else
converted on its own; a sparse `X` is made dense one chunk at a time. Every
pass has the same shape (the last one padded with zero rows), so each matrix
product has one shape and a row's outputs do not depend on which rows share
its chunk. On the CPU the chunks are shared among worker threads that each
compute with one intra-op thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from scipy import sparse
from torch import nn

from . import _runtime
from ._runtime import one_thread


def predict_proba(
    module: nn.Module,
    X,
    *,
    device: torch.device | str = "cpu",
    dtype: str = "float32",
) -> np.ndarray:
    """Softmax of `module`'s outputs for each row of `X`, chunk by chunk.

    Parameters
    ----------
    module : torch.nn.Module
        The fitted network, its parameters in `dtype` on `device`; it is put
        in eval mode.
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Finite features, any float dtype and layout (left untouched).
    device : torch.device or str, default="cpu"
        Where `module` computes.
    dtype : {"float32", "float64"}, default="float32"
        The dtype `module` computes in.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_outputs)
        float32 when `X` is float32, float64 otherwise (as scikit-learn's
        `MLPClassifier`); the softmax is computed in that dtype, so float64
        rows sum to 1 at float64 precision whatever `dtype` is.

    Raises
    ------
    ValueError
        If an output of the network overflows (is not finite).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> module = nn.Sequential(nn.Linear(2, 3))
    >>> proba = predict_proba(module, np.zeros((4, 2), dtype=np.float32))
    >>> proba.shape, proba.dtype, bool(np.allclose(proba.sum(axis=1), 1))
    ((4, 3), dtype('float32'), True)
    """
    out_dtype = np.float32 if X.dtype == np.float32 else np.float64
    module.eval()
    width = _output_width(module, X.shape[1], torch.device(device), dtype)
    proba = np.empty((X.shape[0], width), dtype=out_dtype)
    out = torch.from_numpy(proba)

    def keep(rows, logits):
        part = out[rows]
        if logits.dtype == out.dtype and logits.shape[1] % 16 == 0:
            # The logits padded to whole vectors with -inf columns (which
            # add exact zeros): torch's row softmax is fastest on them.
            part.copy_(torch.softmax(logits, dim=1)[: len(part), :width])
            return
        # The softmax, computed in place in the output (several times
        # faster than torch.softmax over rows of a few classes) and in its
        # dtype: float64 rows sum to 1 at float64 precision even when the
        # network computes in float32.
        part.copy_(logits[: len(part), :width])
        part.sub_(part.amax(dim=1, keepdim=True)).exp_()
        part.div_(part.sum(dim=1, keepdim=True))

    _forward_chunks(module, X, keep, device=device, dtype=dtype, padded=True)
    return proba


def predict_index(
    module: nn.Module,
    X,
    *,
    device: torch.device | str = "cpu",
    dtype: str = "float32",
) -> np.ndarray:
    """Index of the largest output of `module` for each row of `X`.

    The class `predict_proba` gives the largest probability, without
    building the probabilities. Parameters as `predict_proba`.

    Returns
    -------
    index : ndarray of shape (n_samples,), int64

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> module = nn.Sequential(nn.Linear(2, 3))
    >>> with torch.no_grad():
    ...     _ = module[0].bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    >>> predict_index(module, np.zeros((2, 2), dtype=np.float32))
    array([1, 1])
    """
    index = torch.empty(X.shape[0], dtype=torch.int64)

    def keep(rows, logits):
        index[rows] = torch.argmax(logits, dim=1)

    _forward_chunks(module, X, keep, device=device, dtype=dtype)
    return index.numpy()


def _forward_chunks(
    module: nn.Module,
    X,
    keep: Callable,
    *,
    device: torch.device | str,
    dtype: str,
    padded: bool = False,
) -> None:
    """Run `module` over `X` chunk by chunk; `keep(rows, logits)`.

    `keep` gets a slice of rows of `X` and their logits, shape (rows,
    outputs). With `padded`, it gets the chunk's whole logits instead: all of
    its rows, padding rows after the slice's, and possibly more columns than
    outputs, each -inf. The logits may be a view
    of a buffer that the next chunk overwrites.

    On the CPU, with several intra-op threads and several chunks, the
    chunks are shared among that many worker threads that each compute
    with one intra-op thread: a worker the system pauses delays only its
    own chunk, where a split of every operation would wait for it each
    time. `keep` gets disjoint rows, possibly from several threads.
    Raises `ValueError` if the logits overflow.
    """
    device = torch.device(device)
    module.eval()
    is_sparse = sparse.issparse(X)
    torch_dtype, np_dtype = getattr(torch, dtype), np.dtype(dtype)
    rows = _runtime.PREDICT_CHUNK
    width = _output_width(module, X.shape[1], device, dtype)
    starts = range(0, X.shape[0], rows)
    workers = min(torch.get_num_threads(), len(starts))
    if device.type != "cpu":
        workers = 1
    local = threading.local()

    def run(start):
        if not hasattr(local, "forward"):
            if workers > 1:
                torch.set_num_threads(1)  # in this worker
            local.forward = _chunk_forward(module, rows, torch_dtype, device)
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
                    else (torch.tensor(chunk, dtype=torch_dtype))
                )
            else:
                # Converted, or padded with zeros to the chunk's shape.
                if local.staging is None:
                    local.staging = torch.zeros(rows, X.shape[1], dtype=torch_dtype)
                tensor = local.staging
                if not chunk.flags.writeable:
                    chunk = chunk.copy()  # torch.from_numpy warns on read-only
                tensor[:n].copy_(torch.from_numpy(chunk))
                tensor[n:].zero_()
            full = local.forward(tensor.to(device))
            logits = full[:n, :width]
            # One sum finds a non-finite logit; only then is each checked
            # (a sum of huge finite logits can overflow on its own).
            if not bool(torch.isfinite(logits.sum())) and not bool(
                torch.isfinite(logits).all()
            ):
                raise ValueError(
                    "The network's outputs overflowed: X holds values up to "
                    f"{largest_value(X):.3g}, too large for {dtype} arithmetic. "
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


def _chunk_forward(module: nn.Module, rows: int, dtype, device):
    """The module's forward pass, each `Linear` writing into a reused buffer.

    Applies to a CPU `nn.Sequential` of `Linear`
    layers and parameter-free or eval-mode layers (activations,
    `BatchNorm1d`, `Dropout`), which is what `QwertyNet` is; it computes what
    `module(x)` computes (the same `addmm`) without allocating fresh memory
    for every chunk. In float32, a final `Linear` gets extra outputs up to a
    multiple of 16, with zero weights and bias -inf: a product with a few
    columns runs several times faster padded to whole vectors (and the
    padding's probabilities are exact zeros). Anything else runs `module`
    itself.
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
    if dtype == torch.float32 and last in weights and layers[last].out_features % 16:
        weight, bias = weights[last]
        padded_width = -(-weight.shape[0] // 16) * 16
        padded = torch.zeros(padded_width, weight.shape[1], dtype=dtype)
        padded[: weight.shape[0]] = weight.detach()
        padded_bias = torch.full((padded_width,), -torch.inf, dtype=dtype)
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


def _output_width(module: nn.Module, n_features: int, device, dtype: str) -> int:
    """The number of outputs of `module`.

    Its last layer's if that is a `Linear`, else from a pass over one row of
    zeros.
    """
    layers = list(module.children())
    if isinstance(module, nn.Sequential) and layers and type(layers[-1]) is nn.Linear:
        return layers[-1].out_features
    with torch.inference_mode():
        x = torch.zeros(1, n_features, dtype=getattr(torch, dtype), device=device)
        return module(x).shape[1]


def largest_value(X) -> float:
    """The largest absolute value in `X`, dense or sparse.

    Examples
    --------
    >>> import numpy as np
    >>> largest_value(np.array([[1.0, -3.0]]))
    3.0
    """
    if sparse.issparse(X):
        return float(np.abs(X.data).max()) if X.nnz else 0.0
    return float(np.abs(X).max())
