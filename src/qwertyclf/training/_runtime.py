"""What the engines share: thread control, chunk sizes, seeding, divergence.

Each is process-wide state handled with care: torch's intra-op thread count
(lowered for small batches and restored, reference-counted across threads),
torch's global random generators (seeded inside a block and restored, under
a lock) and the one error a run that blew up raises.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Sequence

import torch

#: Rows per forward pass of validation during training.
INFERENCE_CHUNK = 8192

#: Rows per forward pass in prediction (`predict_proba`, `predict_index`):
#: large enough that per-call overhead vanishes, small enough that the layer
#: buffers stay in the core's cache and a short input padded to it costs
#: little (measured for a (64, 64) network: 1024 to 2048 rows are fastest,
#: 4096 and more slower). A multiple of the widest vector (16 floats), so
#: that an operation along a chunk's rows computes every row with the same
#: vector code whatever its place in the chunk.
PREDICT_CHUNK = 2048

#: Below this many activations per batch (rows x widest layer), a training
#: step runs on one thread: waking a second one costs more than it saves, and
#: far more when another process holds the other core.
SMALL_BATCH_WORK = 2**16

# torch.set_num_threads is per thread with OpenMP and process-wide otherwise.
_THREADS_PER_THREAD = "parallel backend: OpenMP" in torch.__config__.parallel_info()
_threads_lock = threading.Lock()
_threads_state = {"users": 0, "saved": 1}
_threads_local = threading.local()

#: Held while torch's global random state is seeded and restored.
_RNG_LOCK = threading.RLock()


def training_threads(batch_size: int, widths: Sequence[int]):
    """One intra-op thread for the block if the batches are small (`one_thread`).

    Parameters
    ----------
    batch_size : int
        Rows per training batch.
    widths : sequence of int
        Input, hidden and output widths of the network.

    Returns
    -------
    context : context manager
        `one_thread()` below `SMALL_BATCH_WORK` activations per batch, a
        no-op otherwise.

    Examples
    --------
    >>> import torch
    >>> with training_threads(16, (2, 8, 3)):
    ...     torch.get_num_threads()
    1
    """
    if batch_size * max(widths) >= SMALL_BATCH_WORK:
        return contextlib.nullcontext()
    return one_thread()


@contextlib.contextmanager
def one_thread():
    """Run the block with one intra-op thread; the previous count is restored.

    Also when several fits run in threads at once: where the count is per
    thread (OpenMP) each thread keeps its own; where it is process-wide, the
    first fit to enter lowers it and the last one to leave restores it.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with one_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if _THREADS_PER_THREAD:
        depth = getattr(_threads_local, "depth", 0)
        if depth == 0:
            _threads_local.saved = torch.get_num_threads()
            if _threads_local.saved != 1:
                torch.set_num_threads(1)
        _threads_local.depth = depth + 1
        try:
            yield
        finally:
            _threads_local.depth -= 1
            if _threads_local.depth == 0 and torch.get_num_threads() != (
                _threads_local.saved
            ):
                torch.set_num_threads(_threads_local.saved)
        return
    with _threads_lock:
        if _threads_state["users"] == 0:
            _threads_state["saved"] = torch.get_num_threads()
            if _threads_state["saved"] != 1:
                torch.set_num_threads(1)
        _threads_state["users"] += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_state["users"] -= 1
            if _threads_state["users"] == 0 and _threads_state["saved"] != 1:
                torch.set_num_threads(_threads_state["saved"])


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Seed torch's CPU generator (and `device`'s) inside the block only.

    The generators' previous states are restored afterwards. A lock makes
    the block atomic with respect to other fits in other threads, so each
    is seeded as asked and the global states end as they were.

    Examples
    --------
    >>> before = torch.random.get_rng_state()
    >>> with seeded(0, torch.device("cpu")):
    ...     first = torch.rand(1)
    >>> with seeded(0, torch.device("cpu")):
    ...     bool(torch.rand(1) == first)
    True
    >>> bool((torch.random.get_rng_state() == before).all())
    True
    """
    cuda = [device.index or 0] if device.type == "cuda" else []
    with _RNG_LOCK, torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector inside the block (then restore it).

    For code that makes many small objects without reference cycles and
    keeps most of them (a run's history): each full collection the new
    objects trigger walks every object of the process, and none of theirs
    is garbage. Objects freed inside the block are freed as always (by
    their reference counts).

    Examples
    --------
    >>> import gc
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def diverged(what: str, lr: float) -> ValueError:
    """The error for a training run that blew up, with what to try instead.

    Examples
    --------
    >>> print(diverged("the training loss is nan", 10.0))
    Training diverged: the training loss is nan. Lower the learning rate (lr=10.0), ...
    """
    return ValueError(
        f"Training diverged: {what}. Lower the learning rate (lr={lr}), scale the "
        "features (for example with StandardScaler in a Pipeline) or add weight "
        "decay."
    )
