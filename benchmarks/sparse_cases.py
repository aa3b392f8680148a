"""Benchmark case for sparse input: memory and time of a fit on a wide one-hot
table, as a CSR matrix and as its dense array.

The table is `--rows` rows of categorical columns one-hot encoded into
`--columns` inputs (CSR, float32, one stored value per categorical column
and row). Each form is fitted in a fresh process, so that each peak resident
set size (`ru_maxrss`) is its own; the process reports its RSS before the
fit (the data included), the peak, and the seconds of `fit` and of
`predict_proba` on all rows:

    nice -n 5 python benchmarks/sparse_cases.py             # 50,000 x 5,000
    nice -n 5 python benchmarks/sparse_cases.py --quick     # smoke test
    nice -n 5 python benchmarks/sparse_cases.py --threads 1 # one torch thread

A sparse fit makes each batch dense on its own (and prediction each chunk of
rows), so its peak stays near the sparse data's size; the dense fit holds the
dense array, rows x columns x 4 bytes, before it starts.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp


def one_hot_table(rows: int, columns: int, per_row: int = 10, seed: int = 0):
    """A CSR one-hot table of `per_row` categorical columns, and its labels.

    Each categorical column has `columns // per_row` categories; the class
    depends on a few of them, so the network has something to learn.
    """
    rng = np.random.RandomState(seed)
    width = columns // per_row
    codes = rng.randint(width, size=(rows, per_row))
    indices = (codes + width * np.arange(per_row)).ravel()
    indptr = np.arange(0, rows * per_row + 1, per_row)
    X = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), indices, indptr),
        shape=(rows, width * per_row),
    )
    y = (codes[:, 0] % 3 + (codes[:, 1] < width // 2)) % 3
    return X, y


def _rss_bytes() -> int:
    """The current resident set size, from /proc."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(form: str, rows: int, columns: int, epochs: int, threads: int) -> dict:
    """Fit and predict on one form of the table in this process."""
    import torch

    from qwertyclf import QwertyClassifier

    if threads:
        torch.set_num_threads(threads)

    X, y = one_hot_table(rows, columns)
    if form == "dense":
        X = X.toarray()
    if sp.issparse(X):
        data_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    else:
        data_bytes = X.nbytes
    model = QwertyClassifier(
        hidden_layer_sizes=(32,), batch_size=256, max_epochs=epochs, random_state=0
    )
    before = _rss_bytes()
    start = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    proba = model.predict_proba(X)
    predict_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "form": form,
        "data_bytes": data_bytes,
        "rss_before_fit": before,
        "peak_rss": peak,
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "train_accuracy": float((proba.argmax(1) == y).mean()),
    }


def run(rows: int, columns: int, epochs: int, threads: int) -> list[dict]:
    """Each form measured in its own process."""
    results = []
    for form in ("sparse", "dense"):
        command = [
            sys.executable,
            __file__,
            "--one",
            form,
            "--rows",
            str(rows),
            "--columns",
            str(columns),
            "--epochs",
            str(epochs),
            "--threads",
            str(threads),
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def lines(results: list[dict], rows: int, columns: int, epochs: int) -> list[str]:
    """The results as a Markdown table."""
    mib = 2.0**20
    out = [
        f"Fit of `QwertyClassifier(hidden_layer_sizes=(32,), batch_size=256, "
        f"max_epochs={epochs})` on {rows:,} rows x {columns:,} one-hot columns "
        "(float32), each form in a fresh process.",
        "",
        "| X | data (MiB) | RSS before fit (MiB) | peak RSS (MiB) "
        "| fit (s) | predict_proba (s) | train accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        out.append(
            f"| {r['form']} | {r['data_bytes'] / mib:,.0f} "
            f"| {r['rss_before_fit'] / mib:,.0f} | {r['peak_rss'] / mib:,.0f} "
            f"| {r['fit_seconds']:.1f} | {r['predict_seconds']:.2f} "
            f"| {r['train_accuracy']:.3f} |"
        )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--columns", type=int, default=5_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: its default)"
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke test")
    parser.add_argument("--one", choices=("sparse", "dense"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.columns, args.epochs = 5_000, 500, 1
    if args.one:
        result = measure(args.one, args.rows, args.columns, args.epochs, args.threads)
        print(json.dumps(result))
        return 0
    results = run(args.rows, args.columns, args.epochs, args.threads)
    print("\n".join(lines(results, args.rows, args.columns, args.epochs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
