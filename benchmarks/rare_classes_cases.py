"""Benchmark case for rare classes: early stopping beside a class of one row.

Early stopping holds out a stratified tenth of the training rows. A class
seen in a single training row cannot be stratified; the hold-out then keeps
one row of every class in training and draws the held-out rows from the
others, so the network still stops early. The previous rule switched early
stopping off instead: each member of `QwertyEnsembleClassifier()` trained all
its 100 epochs whenever the rows it trained on held a class once.

This case fits `QwertyEnsembleClassifier()` as it is and under that previous
rule (its members' `early_stopping=False` on the folds whose training rows
hold a class once), side by side on the same outer stratified folds (shuffled,
seed 0), on generated tables (`sklearn.datasets.make_classification`, 12
features of which 6 informative, 3 % of labels flipped) whose last class keeps
only `rare` rows: with 1 or 2 rows, some or all training folds hold it once.
It reports, per table, mean accuracy and log-loss over the folds and the
median fit time:

    nice -n 5 python benchmarks/rare_classes_cases.py
    nice -n 5 python benchmarks/rare_classes_cases.py --quick   # smoke test
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from accuracy_cases import scores
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold

#: (rows, classes, rows left to the last class) of each generated table.
TABLES = [(400, 4, 2), (300, 3, 2), (800, 5, 2), (600, 6, 1), (500, 4, 1)]


def make_table(rows: int, n_classes: int, rare: int, seed: int):
    """A generated table whose last class keeps only `rare` of its rows."""
    X, y = make_classification(
        rows,
        n_features=12,
        n_informative=6,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=0.03,
        random_state=seed,
    )
    keep = np.ones(len(y), dtype=bool)
    keep[np.flatnonzero(y == n_classes - 1)[rare:]] = False
    return X[keep], y[keep]


def class_seen_once(y) -> bool:
    """Whether some class of `y` has a single row."""
    return bool(np.unique(y, return_counts=True)[1].min() == 1)


def model_for(rule: str, y_train, quick: bool):
    """The ensemble a fold fits: as it is ("stops early"), or the previous rule."""
    from qwertyclf import QwertyEnsembleClassifier
    from qwertyclf._ensemble import DEFAULT_MEMBER

    if rule not in ("stops early", "previous rule"):
        raise ValueError(f"unknown rule {rule!r}")
    member = clone(DEFAULT_MEMBER).set_params(max_epochs=5 if quick else 100)
    if rule == "previous rule" and class_seen_once(y_train):
        member.set_params(early_stopping=False)
    return QwertyEnsembleClassifier(
        member, n_estimators=2 if quick else 10, random_state=0
    )


def run(tables, folds: int, quick: bool) -> list[dict]:
    """Both rules on every table, on the same folds."""
    results = []
    for seed, (rows, n_classes, rare) in enumerate(tables):
        X, y = make_table(rows, n_classes, rare, seed)
        classes = np.unique(y)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            # The rare class has fewer rows than folds: that is the point.
            warnings.simplefilter("ignore", UserWarning)
            splits = list(splitter.split(X, y))
        for rule in ("stops early", "previous rule"):
            accs, losses, times = [], [], []
            for train, test in splits:
                model = model_for(rule, y[train], quick)
                start = time.perf_counter()
                model.fit(X[train], y[train])
                times.append(time.perf_counter() - start)
                acc, loss = scores(model, X[test], y[test], classes)
                accs.append(acc)
                losses.append(loss)
            results.append(
                {
                    "table": f"{rows} rows, {n_classes} classes, last {rare}",
                    "folds_with_a_single_row": sum(
                        class_seen_once(y[train]) for train, _ in splits
                    ),
                    "rule": rule,
                    "acc": float(np.mean(accs)),
                    "logloss": float(np.mean(losses)),
                    "fit_s": float(np.median(times)),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    return results


def table_lines(results: list[dict]) -> list[str]:
    """A Markdown table of the results, plus the means over tables per rule."""
    lines = [
        "| table | training folds holding a class once | rule | accuracy "
        "| log-loss | median fit (s) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['table']} | {r['folds_with_a_single_row']} | {r['rule']} "
            f"| {r['acc']:.4f} | {r['logloss']:.4f} | {r['fit_s']:.2f} |"
        )
    for rule in dict.fromkeys(r["rule"] for r in results):
        rows = [r for r in results if r["rule"] == rule]
        lines.append(
            f"| **mean** | | {rule} | {np.mean([r['acc'] for r in rows]):.4f} "
            f"| {np.mean([r['logloss'] for r in rows]):.4f} "
            f"| {np.median([r['fit_s'] for r in rows]):.2f} |"
        )
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    tables = TABLES[:1] if args.quick else TABLES
    print("\n".join(table_lines(run(tables, args.folds, args.quick))))


if __name__ == "__main__":
    main()
