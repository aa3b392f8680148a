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

import math
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
    module.eval()
    width = _output_width(module, X.shape[1], torch.device(device), dtype)
    # Allocated by numpy, which asks for huge pages for large arrays: first
    # writes to torch.empty's memory fault once per 4 KiB page, and for a
    # large output that costs as much as a third of the arithmetic.
    single = X.dtype == np.float32  # as scikit-learn's MLPClassifier
    proba = np.empty((X.shape[0], width), dtype=np.float32 if single else np.float64)
    out_dtype = torch.float32 if single else torch.float64

    def keep(rows, logits):
        # The softmax over each column of the (outputs, chunk rows) logits:
        # whole vectors of rows, where a softmax along rows of a few classes
        # vectorises poorly. Over all the chunk's rows, padding included, so
        # that every row is computed by the same (vector) code whatever its
        # place; in the output's dtype, so that float64 rows sum to 1 at
        # float64 precision even when the network computes in float32.
        chunk = torch.softmax(logits.to(out_dtype), dim=0)
        # numpy's transposing copy is faster than torch's here.
        np.copyto(proba[rows], chunk[:, : rows.stop - rows.start].numpy().T)

    _forward_chunks(module, X, keep, device=device, dtype=dtype)
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
        # max, not argmax, which is many times slower over the first of two
        # dimensions; both give the first index of the largest.
        index[rows] = torch.max(logits[:, : rows.stop - rows.start], dim=0).indices

    _forward_chunks(module, X, keep, device=device, dtype=dtype)
    return index.numpy()


def _forward_chunks(
    module: nn.Module,
    X,
    keep: Callable,
    *,
    device: torch.device | str,
    dtype: str,
) -> None:
    """Run `module` over `X` chunk by chunk; `keep(rows, logits)`.

    `keep` gets a slice of rows of `X` and the logits of their chunk on the
    CPU, transposed: shape (outputs, `PREDICT_CHUNK`), the slice's rows
    first, then padding; possibly a view of a buffer that the next chunk
    overwrites.

    On the CPU every chunk is computed with one intra-op thread; with
    several intra-op threads and several chunks, the chunks are shared
    among that many worker threads that take the next chunk when done: a
    worker the system pauses delays only its own chunk, where a split of
    every operation would wait for it each time. `keep` gets disjoint rows,
    possibly from several threads. Raises `ValueError` if the logits
    overflow.
    """
    device = torch.device(device)
    module.eval()
    is_sparse = sparse.issparse(X)
    torch_dtype, np_dtype = getattr(torch, dtype), np.dtype(dtype)
    rows = _runtime.PREDICT_CHUNK
    n_chunks = -(-X.shape[0] // rows)
    workers = min(torch.get_num_threads(), n_chunks) if device.type == "cpu" else 1
    chunks = iter(range(n_chunks))
    next_lock, failed = threading.Lock(), threading.Event()

    def work():
        if workers > 1:
            torch.set_num_threads(1)  # in this worker
        forward = _chunk_forward(module, rows, torch_dtype, device)
        staging = None  # reused for chunks that need converting
        with torch.inference_mode():
            while not failed.is_set():
                with next_lock:
                    index = next(chunks, None)
                if index is None:
                    return
                part = slice(index * rows, min((index + 1) * rows, X.shape[0]))
                chunk = X[part].toarray() if is_sparse else X[part]
                n = len(chunk)
                if n == rows and chunk.dtype == np_dtype and chunk.flags.c_contiguous:
                    tensor = (
                        torch.from_numpy(chunk)
                        if chunk.flags.writeable
                        # torch.from_numpy refuses (warns about) read-only memory.
                        else torch.tensor(chunk, dtype=torch_dtype)
                    )
                else:
                    # Converted, or padded with zeros to the chunk's shape.
                    if staging is None:
                        staging = torch.zeros(rows, X.shape[1], dtype=torch_dtype)
                    tensor = staging
                    if not chunk.flags.writeable:
                        chunk = chunk.copy()  # torch.from_numpy warns on read-only
                    tensor[:n].copy_(torch.from_numpy(chunk))
                    tensor[n:].zero_()
                logits = forward(tensor.to(device)).cpu()
                # One sum finds a non-finite logit; only then is each checked
                # (a sum of huge finite logits can overflow on its own).
                real = logits[:, :n]
                if not math.isfinite(real.sum()) and not bool(
                    torch.isfinite(real).all()
                ):
                    raise ValueError(
                        "The network's outputs overflowed: X holds values up to "
                        f"{largest_value(X):.3g}, too large for {dtype} arithmetic. "
                        "Scale the features (for example with StandardScaler) or "
                        "use dtype='float64'."
                    )
                keep(part, logits)

    if device.type != "cpu":
        work()
        return
    # One intra-op thread for every chunk, also when there is one worker:
    # a matrix product split among threads may round differently, and a
    # row's outputs must not depend on how many rows share its call. (The
    # count is restored afterwards, also when fits or predictions run at
    # the same time.)
    with one_thread():
        if workers <= 1:
            work()
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="qwertyclf") as pool:
            futures = [pool.submit(work) for _ in range(workers)]
            try:
                for future in futures:
                    future.result()
            finally:
                failed.set()  # the other workers stop after their chunk


def _chunk_forward(module: nn.Module, rows: int, dtype, device) -> Callable:
    """The module's forward pass over `rows` rows, giving transposed logits.

    The function returned maps a (rows, features) tensor to the module's
    outputs as an (outputs, rows) tensor. For a CPU `nn.Sequential` of
    `Linear` layers and parameter-free or eval-mode layers (activations,
    `BatchNorm1d`, `Dropout`), which is what `QwertyNet` is, it computes
    what `module(x)` computes without allocating fresh memory for every
    chunk: each `Linear` writes into a reused buffer (an `addmm`), a ReLU
    after it works in place, and a final `Linear` computes its outputs
    transposed, `W @ x.T + b`: a product into a few columns runs several
    times slower than one into a few rows of whole vectors. Anything else
    runs `module` itself and transposes its output.
    """
    layers = list(module.children())
    if (
        device.type != "cpu"
        or not isinstance(module, nn.Sequential)
        or any(isinstance(layer, nn.Sequential) for layer in layers)
        or not layers
        or type(layers[-1]) is not nn.Linear
        or any(p.dtype != dtype for p in module.parameters())
    ):
        return lambda x: module(x).t()
    steps = []
    owned = False  # whether the previous step's output is our buffer
    for i, layer in enumerate(layers):
        if type(layer) is nn.Linear:
            weight = layer.weight.detach()
            bias = None if layer.bias is None else layer.bias.detach()
            if i == len(layers) - 1:
                out = torch.empty(weight.shape[0], rows, dtype=dtype)
                steps.append(_linear(weight, bias, out, transposed=True))
            else:
                out = torch.empty(rows, weight.shape[0], dtype=dtype)
                steps.append(_linear(weight, bias, out, transposed=False))
            owned = True
        elif owned and type(layer) is nn.ReLU:
            steps.append(torch.Tensor.relu_)
        else:
            steps.append(layer)
            owned = False

    def forward(x):
        for step in steps:
            x = step(x)
        return x

    return forward


def _linear(weight, bias, out, *, transposed: bool) -> Callable:
    """`Linear(weight, bias)` of a chunk written into `out`, maybe transposed.

    `out` is (rows, outputs), or (outputs, rows) if `transposed`.
    """
    if transposed:
        column = None if bias is None else bias[:, None]
        if column is None:
            return lambda x: torch.mm(weight, x.t(), out=out)
        return lambda x: torch.addmm(column, weight, x.t(), out=out)
    if bias is None:
        return lambda x: torch.mm(x, weight.t(), out=out)
    return lambda x: torch.addmm(bias, x, weight.t(), out=out)


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
