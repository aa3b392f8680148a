"""How many of joblib's reusable worker processes are running now.

joblib's process backend (loky) keeps its workers alive between parallel
calls (five minutes idle by default), so a call finding them running pays no
process start and no imports. The search reads this count to price sending
batched runs to the workers; reading it starts nothing.
"""

from __future__ import annotations


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
