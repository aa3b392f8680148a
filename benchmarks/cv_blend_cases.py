"""What post-hoc steps on QwertyClassifierCV's held-out folds would buy.

`QwertyClassifierCV()` has trained every candidate on every fold, so it
knows each candidate's out-of-fold probabilities for free. This benchmark
fits `QwertyClassifierCV(selection="best")` once per outer fold and scores,
from that one fit, the ways those out-of-fold probabilities could be used:

- ``best``: the best candidate's fold networks (`selection="best"`);
- ``greedy``: greedy ensemble selection (Caruana et al., 2004), with
  replacement, 10 steps: the candidate weights that minimise the out-of-fold
  log-loss of the weighted mean; what `QwertyClassifierCV()` predicts
  (`selection="auto"`), with the same weights (`qwertyclf._selection.greedy_weights`);
- ``forward``: candidates added one at a time, equally weighted, while the
  out-of-fold log-loss falls by more than 1e-4;
- ``uniform``: every candidate, equally weighted;
- ``+T``: each of those with one temperature fitted on its out-of-fold
  probabilities (bounded to 1/4.5 .. 4.5).

Each network's out-of-fold rows are its candidate's held-out fold, the rows
its early stopping watched: the selection sees the same rows the stopping
did, as it would inside the estimator. The candidates' networks are read from
the estimator's fit by wrapping the function that trains them (the estimator
keeps the chosen ones' only).

Per variant: mean accuracy and log-loss over the tables (each the mean over
its outer folds), the change against ``best``, and wins / ties / losses
against ``best`` over the tables. None of them changes the fit time.

    python benchmarks/cv_blend_cases.py --results blend.json --tables iris wine
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import tables as table_registry
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

import qwertyclf._cv as cv_module
from qwertyclf import QwertyClassifierCV
from qwertyclf._base import mean_proba
from qwertyclf._selection import greedy_weights
from qwertyclf._table import encode

FORWARD_TOL = 1e-4
LOG_T_BOUND = 1.5


def loss(y, proba) -> float:
    """Log-loss of index labels `y`, the probabilities clipped and renormalised."""
    proba = np.clip(proba, 1e-15, 1)
    return log_loss(
        y, proba / proba.sum(1, keepdims=True), labels=range(proba.shape[1])
    )


def greedy(oof, y) -> np.ndarray:
    """Candidate weights from greedy selection with replacement, as the CV's."""
    return greedy_weights([None if p is None else [p] for p in oof], [y])


def forward(oof, y) -> np.ndarray:
    """Equal weights on the candidates added while the log-loss falls."""
    chosen, current = [], np.inf
    while True:
        tried = {
            c: loss(y, np.mean([oof[i] for i in [*chosen, c]], axis=0))
            for c, p in enumerate(oof)
            if p is not None and c not in chosen
        }
        if not tried or min(tried.values()) >= current - FORWARD_TOL:
            break
        best = min(tried, key=tried.get)
        chosen.append(best)
        current = tried[best]
    weights = np.zeros(len(oof))
    weights[chosen] = 1 / len(chosen)
    return weights


def tempered(proba, t) -> np.ndarray:
    """`proba` with its log divided by the temperature `t`, renormalised."""
    z = np.log(np.clip(proba, 1e-15, 1)) / t
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def temperature(proba, y) -> float:
    """The temperature that minimises the log-loss of `proba`."""
    found = minimize_scalar(
        lambda log_t: loss(y, tempered(proba, np.exp(log_t))),
        bounds=(-LOG_T_BOUND, LOG_T_BOUND),
        method="bounded",
    )
    return float(np.exp(found.x))


class Recorder:
    """Wraps the function that trains the CV's networks, keeping its output."""

    def __init__(self):
        self.original = cv_module._fit_models
        self.last = None

    def __call__(self, models, X, y, train_rows, valid_rows, *args, **kwargs):
        fitted = self.original(models, X, y, train_rows, valid_rows, *args, **kwargs)
        self.last = {"fitted": fitted, "X": X, "y": y, "valid": valid_rows}
        return fitted


def one_fit(recorder, X, y, train, test, classes, seed) -> dict:
    """Every variant's held-out probabilities from one fit of the CV."""
    cv = QwertyClassifierCV(random_state=seed, selection="best")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv.fit(X.iloc[train], y[train])
    run = recorder.last
    n_folds = len(cv.estimators_)
    fitted = run["fitted"]
    y_index = np.searchsorted(cv.classes_, run["y"])
    X_test = encode(cv, X.iloc[test], cv.encoder_)
    columns = np.searchsorted(classes, cv.classes_)
    oof, held_out = [], []
    for c in range(len(fitted) // n_folds):
        networks = fitted[c * n_folds : (c + 1) * n_folds]
        if any(isinstance(n, Exception) for n in networks):
            oof.append(None)
            held_out.append(None)
            continue
        p = np.zeros((len(y_index), len(cv.classes_)))
        for f, network in enumerate(networks):
            rows = run["valid"][c * n_folds + f]
            p[rows] = mean_proba([network], cv.classes_, run["X"][rows])
        oof.append(p)
        q = np.zeros((len(test), len(classes)))
        q[:, columns] = mean_proba(networks, cv.classes_, X_test)
        held_out.append(q)
    best = int(np.argmin(cv.cv_results_["rank_test_score"]))
    weights = {
        "best": np.eye(len(oof))[best],
        "greedy": greedy(oof, y_index),
        "forward": forward(oof, y_index),
        "uniform": np.array([p is not None for p in oof], dtype=float),
    }
    out = {}
    for name, w in weights.items():
        w = w / w.sum()
        used = [c for c in range(len(oof)) if w[c] > 0]
        blend_oof = sum(w[c] * oof[c] for c in used)
        blend = sum(w[c] * held_out[c] for c in used)
        out[name] = blend
        out[name + "+T"] = tempered(blend, temperature(blend_oof, y_index))
    return out


def run(names, results: dict, path: Path | None, folds: int = 5, seed: int = 0):
    """Score every variant on the tables `names`; tables in `results` are kept."""
    recorder = Recorder()
    cv_module._fit_models = recorder
    try:
        for name in names:
            if name in results:
                continue
            X, y = table_registry.load(name)
            classes = np.unique(y)
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
            rows = {}
            for fold, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
                y_test = np.searchsorted(classes, y[test])
                for variant, proba in one_fit(
                    recorder, X, y, train, test, classes, seed + fold
                ).items():
                    row = rows.setdefault(variant, {"acc": [], "ll": []})
                    row["acc"].append(float((proba.argmax(1) == y_test).mean()))
                    row["ll"].append(loss(y_test, proba))
            results[name] = rows
            print(name, {v: round(np.mean(r["acc"]), 4) for v, r in rows.items()})
            if path is not None:
                path.write_text(json.dumps(results))
    finally:
        cv_module._fit_models = recorder.original
    return results


def summary(results: dict) -> str:
    """The Markdown table: each variant against ``best``."""
    tables = list(results)
    variants = list(results[tables[0]])
    mean = {
        v: np.array(
            [[np.mean(results[t][v][m]) for m in ("acc", "ll")] for t in tables]
        )
        for v in variants
    }
    lines = [
        f"| variant | accuracy | log-loss | Δ accuracy (pp) | Δ log-loss | "
        f"accuracy w/t/l | log-loss w/t/l ({len(tables)} tables) |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for v in variants:
        d = mean[v] - mean["best"]
        acc = [int((d[:, 0] > 1e-9).sum()), 0, int((d[:, 0] < -1e-9).sum())]
        ll = [int((d[:, 1] < -1e-4).sum()), 0, int((d[:, 1] > 1e-4).sum())]
        acc[1], ll[1] = len(tables) - acc[0] - acc[2], len(tables) - ll[0] - ll[2]
        lines.append(
            f"| {v} | {mean[v][:, 0].mean():.4f} | {mean[v][:, 1].mean():.4f} | "
            f"{100 * d[:, 0].mean():+.2f} | {d[:, 1].mean():+.4f} | "
            f"{'/'.join(map(str, acc))} | {'/'.join(map(str, ll))} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(table_registry.REGISTRY))
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {}
    if args.results is not None and args.results.exists():
        results = json.loads(args.results.read_text())
    run(args.tables, results, args.results, folds=args.folds)
    print(summary({t: results[t] for t in args.tables if t in results}))


if __name__ == "__main__":
    main()
