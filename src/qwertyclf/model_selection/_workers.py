"""Whether a parallel call would find joblib's worker processes running.

joblib's default process backend (loky) keeps its workers alive between
parallel calls (five idle minutes by default), so a call that can reuse them
pays no process start and no imports. The search reads this to price sending
batched runs to the workers; reading it starts nothing.
"""

from __future__ import annotations

from joblib.parallel import LokyBackend, get_active_backend


def running_workers() -> int:
    """The number of live worker processes of joblib's reusable executor.

    Zero when there is none, when it has been shut down or broken, or when
    the executor cannot be inspected (the count is a cost estimate's input,
    never a requirement).

    Returns
    -------
    n_workers : int
        Worker processes alive now.

    Examples
    --------
    >>> from joblib import Parallel, delayed
    >>> _ = Parallel(n_jobs=2)(delayed(abs)(i) for i in range(2))
    >>> running_workers() >= 1
    True
    """
    try:
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is None or executor._flags.shutdown or executor._flags.broken:
            return 0
        return sum(process.is_alive() for process in list(executor._processes.values()))
    except Exception:  # another loky: no count, so no discount
        return 0


def workers_running_for(n_jobs) -> bool:
    """Whether a parallel call with `n_jobs` would reuse running workers.

    True under joblib's loky backend when its executor has as many live
    workers as the call uses, started with the thread limits the call
    would give them (joblib starts new workers when those differ, as after
    a call with another `n_jobs` on a machine of more cores).

    Parameters
    ----------
    n_jobs : int or None
        The `n_jobs` of the parallel call.

    Returns
    -------
    reused : bool

    Examples
    --------
    >>> from joblib import Parallel, delayed
    >>> _ = Parallel(n_jobs=2)(delayed(abs)(i) for i in range(2))
    >>> workers_running_for(2)
    True
    """
    try:
        from joblib import executor

        backend, _ = get_active_backend()
        if not isinstance(backend, LokyBackend):
            return False
        n_workers = backend.effective_n_jobs(n_jobs)
        started = executor._executor_args
        if n_workers < 2 or started is None:
            return False
        env = backend._prepare_worker_env(n_jobs=n_workers)
        if any(started.get(name) != value for name, value in env.items()):
            return False
        return running_workers() >= n_workers
    except Exception:  # another joblib: count the workers as not running
        return False
