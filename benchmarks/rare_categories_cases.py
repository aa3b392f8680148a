"""Benchmark case for rare categories: what pooling them by default buys.

`QwertyClassifierCV` and `QwertyEnsembleClassifier` pool the categories seen
in a single training row into one input (`min_frequency=2`). This case fits
each of them with that default and with other values (`--values`; by default
the default and every category kept, `min_frequency=None`) on two generated
tables of `--rows` rows, side by side on the same outer stratified folds
(shuffled, seed 0):

- ``noise``: five numeric columns that decide the class (with noise), an
  identifier column (a different string in every row) and a column of 300
  random towns: the two string columns carry nothing;
- ``signal``: the same numeric columns and a column of 100 towns, each of
  which shifts the class: about 10 rows a town, so the towns are signal.

It reports, per table and estimator, mean accuracy and log-loss over the
folds, the median fit time, and the fit-time ratio against the first value
compared (`--values`, by default the estimators' own `min_frequency`, then
None):

    nice -n 5 python benchmarks/rare_categories_cases.py
    nice -n 5 python benchmarks/rare_categories_cases.py --values 2 5 None
    nice -n 5 python benchmarks/rare_categories_cases.py --quick   # smoke test
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold


def make_table(kind: str, rows: int, seed: int = 0):
    """A table of five numeric columns and string columns (see the module)."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 5)), columns=[f"x{i}" for i in range(5)])
    logit = X.x0 + X.x1 - X.x2 + rng.normal(scale=0.8, size=rows)
    if kind == "noise":
        X["id"] = [f"row{i}" for i in range(rows)]
        X["town"] = rng.randint(300, size=rows).astype(str)
    elif kind == "signal":
        town = rng.randint(100, size=rows)
        effect = rng.normal(scale=1.5, size=100)
        X["town"] = town.astype(str)
        logit = logit + effect[town]
    else:
        raise ValueError(f"kind must be 'noise' or 'signal', got {kind!r}.")
    return X, (logit > 0).astype(int).to_numpy()


def contenders(quick: bool, values) -> dict:
    """Each estimator with each `min_frequency` of `values` ("default": its own)."""
    from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier

    if quick:
        cv = QwertyClassifierCV(n_candidates=1, cv=2, max_epochs=3, random_state=0)
        ensemble = QwertyEnsembleClassifier(
            QwertyClassifier(max_epochs=3), n_estimators=2, random_state=0
        )
    else:
        cv = QwertyClassifierCV(random_state=0)
        ensemble = QwertyEnsembleClassifier(random_state=0)
    out = {}
    for name, estimator in (
        ("QwertyClassifierCV", cv),
        ("QwertyEnsembleClassifier", ensemble),
    ):
        for value in values:
            if value == "default":
                out[f"{name} (default)"] = estimator
            else:
                out[f"{name} (min_frequency={value})"] = clone(estimator).set_params(
                    min_frequency=value
                )
    return out


def run(rows: int, folds: int, quick: bool, values) -> list[dict]:
    """Every contender on both tables, on the same folds."""
    results = []
    for kind in ("noise", "signal"):
        X, y = make_table(kind, rows)
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y))
        for name, estimator in contenders(quick, values).items():
            accs, losses, times = [], [], []
            for train, test in splits:
                model = clone(estimator)
                start = time.perf_counter()
                model.fit(X.iloc[train], y[train])
                times.append(time.perf_counter() - start)
                proba = model.predict_proba(X.iloc[test])
                accs.append(accuracy_score(y[test], model.classes_[proba.argmax(1)]))
                losses.append(log_loss(y[test], proba, labels=model.classes_))
            results.append(
                {
                    "table": kind,
                    "contender": name,
                    "acc": float(np.mean(accs)),
                    "logloss": float(np.mean(losses)),
                    "fit_s": float(np.median(times)),
                    "inputs": int(model.encoder_.n_outputs),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    return results


def table_lines(results: list[dict]) -> list[str]:
    """A Markdown table; fit-time ratios are against each estimator's first row."""
    lines = [
        "| table | contender | network inputs | accuracy | log-loss | median fit (s) "
        "| fit-time ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    first: dict = {}
    for r in results:
        key = (r["table"], r["contender"].split(" ")[0])
        ratio = f"{r['fit_s'] / first[key]:.1f}" if key in first else ""
        first.setdefault(key, r["fit_s"])
        lines.append(
            f"| {r['table']} | {r['contender']} | {r['inputs']} | {r['acc']:.4f} "
            f"| {r['logloss']:.4f} | {r['fit_s']:.2f} | {ratio} |"
        )
    return lines


def _value(text: str):
    """A `--values` word: "default", None, an int or a float."""
    if text in ("default", "None"):
        return None if text == "None" else text
    return float(text) if "." in text else int(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--values",
        nargs="*",
        type=_value,
        default=["default", None],
        help='min_frequency values to compare: "default", "None", ints, floats',
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    rows, folds = (120, 2) if args.quick else (args.rows, args.folds)
    print("\n".join(table_lines(run(rows, folds, args.quick, args.values))))


if __name__ == "__main__":
    main()
