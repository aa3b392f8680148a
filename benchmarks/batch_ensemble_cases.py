"""What `batch_ensemble` buys: BatchEnsemble members against the plain network.

One `QwertyClassifier(hidden_layer_sizes=(256, 256), preprocessing="robust",
early_stopping=True, max_epochs=200)` per setting of `batch_ensemble`, fitted
on the same outer stratified folds (shuffled, fixed seed) of a few small real
tables (`tables.py`) and scored on the held-out rows: accuracy, log-loss and
fit time. The table printed gives, per `batch_ensemble`, the mean accuracy
and log-loss over tables (each table's mean over folds), the median fit time
and epochs (early stopping ends fits at different epochs) and the median time
per epoch over all fits, and the first three as ratios to the first `k`.

Fit times are wall-clock seconds of one PyTorch thread; on a busy machine
they are rough.

    python benchmarks/batch_ensemble_cases.py
    python benchmarks/batch_ensemble_cases.py --tables pima heart --k 1 4 --folds 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import tables as table_registry
import torch
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold

from qwertyclf import QwertyClassifier

TABLES = ["pima", "australian", "heart", "wdbc", "contraceptive", "penguins"]
KS = [1, 4, 8, 16]


def model(k: int, seed: int) -> QwertyClassifier:
    """The classifier measured, with `batch_ensemble=k`."""
    return QwertyClassifier(
        hidden_layer_sizes=(256, 256),
        preprocessing="robust",
        early_stopping=True,
        max_epochs=200,
        random_state=seed,
        batch_ensemble=k,
    )


def run(names, ks, folds: int, seed: int = 0) -> dict:
    """(table, k) -> list of (accuracy, log-loss, fit seconds, epochs), per fold."""
    results = {}
    X, y = table_registry.load(names[0])
    for k in ks:  # untimed: the first fit of a process pays one-off costs
        model(k, seed).set_params(max_epochs=2).fit(X, y)
    for name in names:
        X, y = table_registry.load(name)
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
        for fold, (train, test) in enumerate(splits):
            for k in ks:
                clf = model(k, seed + fold)
                start = time.perf_counter()
                clf.fit(X.iloc[train], y[train])
                seconds = time.perf_counter() - start
                proba = clf.predict_proba(X.iloc[test])
                row = (
                    accuracy_score(y[test], clf.classes_[proba.argmax(1)]),
                    log_loss(y[test], proba, labels=clf.classes_),
                    seconds,
                    clf.n_iter_,
                )
                results.setdefault((name, k), []).append(row)
                print(
                    f"{name:14s} fold {fold} k={k:2d}: acc {row[0]:.3f} "
                    f"log-loss {row[1]:.3f} fit {row[2]:.1f} s, {row[3]} epochs",
                    flush=True,
                )
    return results


def summary(results: dict, names, ks) -> str:
    """The Markdown tables: per k, mean accuracy and log-loss, median fit time;
    per table, the accuracy of each k."""
    rows = {}
    for k in ks:
        per_table = np.array([np.mean(results[name, k], axis=0) for name in names])
        fits = np.array([r[2:] for name in names for r in results[name, k]])
        rows[k] = (
            per_table[:, 0].mean(),
            per_table[:, 1].mean(),
            np.median(fits[:, 0]),
            np.median(fits[:, 1]),
            np.median(fits[:, 0] / fits[:, 1]),
        )
    base = rows[ks[0]]
    lines = [
        f"| batch_ensemble | accuracy | log-loss | median fit (s) | median epochs | "
        f"median s/epoch | acc / k={ks[0]} | log-loss / k={ks[0]} | "
        f"fit / k={ks[0]} |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, (acc, loss, fit, epochs, per_epoch) in rows.items():
        lines.append(
            f"| {k} | {acc:.4f} | {loss:.4f} | {fit:.2f} | {epochs:.0f} | "
            f"{per_epoch:.3f} | {acc / base[0]:.3f} | {loss / base[1]:.3f} | "
            f"{fit / base[2]:.2f} |"
        )
    per_table = ["", "| table | " + " | ".join(f"acc k={k}" for k in ks) + " |"]
    per_table.append("|---|" + "---:|" * len(ks))
    for name in names:
        accs = [np.mean([r[0] for r in results[name, k]]) for k in ks]
        per_table.append(f"| {name} | " + " | ".join(f"{a:.4f}" for a in accs) + " |")
    return "\n".join(lines + per_table)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=TABLES)
    parser.add_argument("--k", nargs="+", type=int, default=KS)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = run(args.tables, args.k, args.folds)
    print(summary(results, args.tables, args.k))


if __name__ == "__main__":
    main()
