"""Accuracy on real tables: qwertyclf's classifiers against the strongest anchors.

The tables are the team's list (`tables.py`: KEEL numeric and nominal tables,
mixed-type R data sets with missing values, the Palmer penguins), each taken
as stored, row order included. Every contender is fitted on the same outer
stratified folds (shuffled, fixed seed) of each table, in one run, and scored
on the held-out rows: accuracy, log-loss, fit time.

Contenders (``--contenders`` picks some):

- anchors: HistGradientBoosting (``categorical_features="from_dtype"``),
  LightGBM, CatBoost (with ``cat_features``), RealMLP-TD and TabM-D from
  pytabkit (numeric NaN imputed with the median plus missing indicators,
  categories kept as a ``category`` dtype), and scikit-learn's MLPClassifier
  and LogisticRegression behind a one-hot `ColumnTransformer` (median
  imputation, missing indicators and scaling for numbers; one-hot with a
  missing category for categories);
- QwertyClassifierCV and QwertyEnsembleClassifier given the raw DataFrame
  (categories and missing values included: where the installed qwertyclf
  cannot take them, the error is recorded for that table), and the same two
  behind the one-hot `ColumnTransformer` ("+onehot"), which shows what the
  built-in handling of raw tables buys.

The anchors need the `bench` extra (pytabkit, lightgbm, catboost); one that is
not installed is left out with a note. Results are saved after every
(table, contender) in ``benchmarks/results/accuracy.json``; ``--resume`` keeps
what is there (same folds and seed) and runs only what is missing, so
contenders can be added to an earlier run.

    python benchmarks/accuracy_cases.py                         # all, 5 folds
    python benchmarks/accuracy_cases.py --quick                 # 6 tables, 2 folds
    python benchmarks/accuracy_cases.py --tables mixed iris --contenders LightGBM
    python benchmarks/accuracy_cases.py --resume --figure       # fill in, page
"""

from __future__ import annotations

import argparse
import ast
import json
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import tables as table_registry
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent
HEADING = "## Accuracy on tables"
SEED = 0
#: Accuracies closer than this count as a tie (a rounding difference).
TIE = 1e-9
#: Log-losses closer than this count as a tie.
TIE_LOGLOSS = 1e-4
QUICK_TABLES = ("iris", "wine", "bupa", "breast", "penguins", "pbc")

ANCHORS = (
    "HistGradientBoosting",
    "LightGBM",
    "CatBoost",
    "RealMLP-TD",
    "TabM-D",
    "MLPClassifier",
    "LogisticRegression",
)
QWERTY = (
    "QwertyClassifierCV",
    "QwertyEnsembleClassifier",
    "QwertyClassifierCV+onehot",
    "QwertyEnsembleClassifier+onehot",
)
#: The anchors our estimators' mean accuracy and log-loss are held against.
TARGET_ANCHORS = tuple(a for a in ANCHORS if a != "LogisticRegression")
#: Contenders skipped on tables with more rows than ``--max-rows-slow``.
SLOW = ("RealMLP-TD", "TabM-D")
#: The unit of cost: ``QwertyClassifier()`` as it is (the seed network). It is
#: timed, not ranked: fit times of the others are counted in its fits.
COST_UNIT = "QwertyClassifier"


# --------------------------------------------------------------------------
# Preprocessing


def _numeric(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]


def _categorical(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]


def onehot() -> ColumnTransformer:
    """Numbers: median imputation, missing indicators, scaling; categories: one-hot.

    A missing category is a category of its own; categories unseen in
    training are all-zero rows.
    """
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True),
                    StandardScaler(),
                ),
                make_column_selector(dtype_exclude="category"),
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_include="category"),
            ),
        ],
        verbose_feature_names_out=False,
    )


class MedianWithIndicators(TransformerMixin, BaseEstimator):
    """Numeric NaN -> training median plus a 0/1 missing column; categories kept.

    A missing category becomes the category "missing". The output is a
    DataFrame whose categorical columns keep the ``category`` dtype, as
    pytabkit's models take it.
    """

    def fit(self, X, y=None):
        num = _numeric(X)
        self.medians_ = X[num].astype(float).median().fillna(0.0).to_dict()
        self.flagged_ = [c for c in num if X[c].isna().any()]
        return self

    def transform(self, X):
        out = X.copy()
        for c in self.flagged_:
            out[f"{c}_missing"] = X[c].isna().astype(float)
        for c, median in self.medians_.items():
            out[c] = X[c].astype(float).fillna(median)
        for c in _categorical(X):
            col = out[c]
            if "missing" not in col.cat.categories:
                col = col.cat.add_categories("missing")
            out[c] = col.fillna("missing")
        return out


def _for_catboost(X: pd.DataFrame) -> pd.DataFrame:
    """Categories as strings (missing -> "nan"), as CatBoost's cat_features need."""
    out = X.copy()
    for c in _categorical(X):
        out[c] = X[c].astype(object).where(X[c].notna(), "nan").astype(str)
    return out


# --------------------------------------------------------------------------
# Contenders


def available() -> dict[str, str]:
    """Contender -> why it cannot run here ("" where it can)."""
    out = dict.fromkeys((*ANCHORS, *QWERTY, COST_UNIT), "")
    for name, module in (
        ("LightGBM", "lightgbm"),
        ("CatBoost", "catboost"),
        ("RealMLP-TD", "pytabkit"),
        ("TabM-D", "pytabkit"),
    ):
        try:
            __import__(module)
        except ImportError:
            out[name] = f"{module} is not installed (the bench extra)"
    return out


def make(name: str, X: pd.DataFrame, seed: int, threads: int = 2):
    """A fresh, unfitted contender for table ``X`` (its columns and dtypes)."""
    if name == "HistGradientBoosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=seed
        )
    if name == "LightGBM":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(random_state=seed, n_jobs=threads, verbose=-1)
    if name == "CatBoost":
        from catboost import CatBoostClassifier

        return make_pipeline(
            FunctionTransformer(_for_catboost),
            CatBoostClassifier(
                cat_features=_categorical(X) or None,
                random_seed=seed,
                thread_count=threads,
                verbose=0,
                allow_writing_files=False,
            ),
        )
    if name in ("RealMLP-TD", "TabM-D"):
        from pytabkit.models.sklearn.sklearn_interfaces import (
            RealMLP_TD_Classifier,
            TabM_D_Classifier,
        )

        cls = RealMLP_TD_Classifier if name == "RealMLP-TD" else TabM_D_Classifier
        return make_pipeline(
            MedianWithIndicators(),
            cls(device="cpu", random_state=seed, n_threads=threads, verbosity=0),
        )
    if name == "MLPClassifier":
        from sklearn.neural_network import MLPClassifier

        return make_pipeline(onehot(), MLPClassifier(random_state=seed))
    if name == "LogisticRegression":
        from sklearn.linear_model import LogisticRegression

        return make_pipeline(onehot(), LogisticRegression(max_iter=1000))
    from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier

    if name == COST_UNIT:
        return QwertyClassifier(random_state=seed)
    models = {
        "QwertyClassifierCV": QwertyClassifierCV,
        "QwertyEnsembleClassifier": QwertyEnsembleClassifier,
    }
    name, settings = variant(name)
    base, _, encoded = name.partition("+")
    if base not in models:
        raise ValueError(f"unknown contender {name!r}; choose from {available()}")
    model = models[base](random_state=seed)
    if settings and base == "QwertyEnsembleClassifier":
        from sklearn.base import clone

        from qwertyclf._ensemble import DEFAULT_MEMBER

        model.set_params(estimator=clone(DEFAULT_MEMBER).set_params(**settings))
    elif settings:
        model.set_params(**settings)
    return make_pipeline(onehot(), model) if encoded == "onehot" else model


def variant(name: str) -> tuple[str, dict]:
    """``"Model[key=value,...]"`` -> ``("Model", {key: value})``.

    A variant of one of our contenders, for measuring a setting before it
    becomes a default: the settings go to `QwertyClassifierCV` itself, or to
    every member of `QwertyEnsembleClassifier` (its default member, changed).
    Values are Python literals, or text.
    """
    base, bracket, rest = name.partition("[")
    if not bracket:
        return name, {}
    if not rest.endswith("]"):
        raise ValueError(f"contender {name!r}: settings end with ']'")
    settings = {}
    for item in filter(None, rest[:-1].split(",")):
        key, _, text = item.partition("=")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        settings[key.strip()] = value
    return base, settings


# --------------------------------------------------------------------------
# Scoring


def scores(est, X_test, y_test, classes) -> tuple[float, float]:
    """Held-out accuracy and log-loss; probabilities aligned to ``classes``."""
    proba = np.asarray(est.predict_proba(X_test), dtype=np.float64)
    full = np.zeros((len(y_test), len(classes)))
    columns = np.searchsorted(classes, np.asarray(est.classes_))
    full[:, columns] = proba
    hits = classes[full.argmax(1)] == y_test
    # Clipped and renormalized: float32 outputs need not sum to one exactly.
    full = np.clip(full, 1e-15, 1)
    full /= full.sum(axis=1, keepdims=True)
    loss = log_loss(y_test, full, labels=classes)
    return float(hits.mean()), float(loss)


def run_contender(name, X, y, splits, threads=2) -> dict:
    """Fit ``name`` on every split; per-fold scores and times, or the error."""
    classes = np.unique(y)
    row = {"acc_folds": [], "logloss_folds": [], "fit_s_folds": []}
    for fold, (train, test) in enumerate(splits):
        est = make(name, X, seed=fold, threads=threads)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", UserWarning)
                est.fit(X.iloc[train], y[train])
            seconds = time.perf_counter() - start
            acc, loss = scores(est, X.iloc[test], y[test], classes)
        except Exception as exc:  # recorded, the run goes on
            return {
                "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                "trace": traceback.format_exc()[-1500:],
            }
        row["acc_folds"].append(acc)
        row["logloss_folds"].append(loss)
        row["fit_s_folds"].append(seconds)
    row["acc"] = float(np.mean(row["acc_folds"]))
    row["logloss"] = float(np.mean(row["logloss_folds"]))
    row["fit_s"] = float(np.median(row["fit_s_folds"]))
    row["fit_s_total"] = float(np.sum(row["fit_s_folds"]))
    return row


def evaluate(
    names,
    contenders,
    *,
    folds=5,
    seed=SEED,
    done=None,
    save=None,
    max_rows_slow=None,
    threads=2,
    log=print,
):
    """Score ``contenders`` on the tables ``names``; ``done`` holds earlier results.

    A (table, contender) already in ``done`` with the same folds and seed is
    kept. ``save`` is called with the results after every (table, contender).
    """
    results = dict(done or {})
    reasons = available()
    for table in names:
        entry = results.get(table)
        if entry is not None and (entry["folds"], entry["seed"]) != (folds, seed):
            entry = None  # other folds: measured again
        todo = [
            c
            for c in contenders
            if entry is None
            or c not in entry["contenders"]
            or "error" in entry["contenders"][c]
        ]
        if not todo:
            log(f"{table}: kept from the previous run")
            continue
        X, y = table_registry.load(table)
        spec = table_registry.REGISTRY[table]
        if entry is None:
            entry = {
                "kind": spec.kind,
                "source": spec.source,
                "dropped": list(spec.dropped),
                "n_samples": len(y),
                "n_features": X.shape[1],
                "n_categorical": len(_categorical(X)),
                "missing_cells": int(X.isna().sum().sum()),
                "n_classes": len(np.unique(y)),
                "folds": folds,
                "seed": seed,
                "contenders": {},
                "skipped": {},
            }
            results[table] = entry
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = list(splitter.split(np.zeros(len(y)), y))
        for name in todo:
            if reasons.get(name):
                entry["skipped"][name] = reasons[name]
                continue
            if name in SLOW and max_rows_slow is not None and len(y) > max_rows_slow:
                entry["skipped"][name] = f"more than {max_rows_slow} rows"
                continue
            start = time.perf_counter()
            row = run_contender(name, X, y, splits, threads=threads)
            entry["contenders"][name] = row
            entry["skipped"].pop(name, None)
            took = time.perf_counter() - start
            what = (
                f"error {row['error']}"
                if "error" in row
                else f"acc {row['acc']:.4f} logloss {row['logloss']:.4f}"
            )
            log(f"{table} [{len(y)} rows] {name}: {what} ({took:.0f} s)")
            if save is not None:
                save(results)
    return results


# --------------------------------------------------------------------------
# Summaries


def _ran(results: dict, *, unit: bool = False) -> dict[str, dict[str, dict]]:
    """Table -> contender -> row, for the contenders that finished there.

    The cost unit, timed but not ranked, is left out unless `unit`.
    """
    return {
        table: {
            n: r
            for n, r in t["contenders"].items()
            if "error" not in r and (unit or n != COST_UNIT)
        }
        for table, t in results.items()
    }


def cost_lines(results: dict) -> list[str]:
    """Fit time of our estimators in default fits, and against RealMLP-TD's.

    Per table, the total fit time over the folds divided by that of
    ``QwertyClassifier()`` (the median over tables is the target's measure);
    and the summed fit time against RealMLP-TD's and TabM-D's over the tables
    where both ran.
    """
    tick = {True: "met", False: "missed"}
    lines = []
    finished = _ran(results, unit=True)
    for ours in ("QwertyClassifierCV", "QwertyEnsembleClassifier"):
        ratios = [
            rows[ours]["fit_s_total"] / rows[COST_UNIT]["fit_s_total"]
            for rows in finished.values()
            if ours in rows and COST_UNIT in rows
        ]
        if ratios:
            median = float(np.median(ratios))
            lines.append(
                f"- Fit time of {ours}() in default `QwertyClassifier()` fits, "
                f"median over {len(ratios)} tables: {median:.1f} "
                f"(at most 10: {tick[median <= 10]}; range "
                f"{min(ratios):.1f} to {max(ratios):.1f})."
            )
        for rival in ("RealMLP-TD", "TabM-D"):
            both = [r for r in finished.values() if ours in r and rival in r]
            if not both:
                continue
            t = [sum(r[n]["fit_s_total"] for r in both) for n in (ours, rival)]
            lines.append(
                f"- Total fit time of {ours}() against {rival}'s on "
                f"{len(both)} tables: {t[0]:.0f} s vs {t[1]:.0f} s "
                f"({t[0] / t[1]:.2f}x; at most 1x: {tick[t[0] <= t[1]]})."
            )
    return lines


def overall(results: dict) -> dict:
    """Per contender, over the tables it ran on: means, ranks, times.

    Ranks (1 best, ties share the mean rank) are taken per table among the
    contenders that ran on it, on accuracy and on log-loss.
    """
    ran = _ran(results)
    names = list(dict.fromkeys(n for rows in ran.values() for n in rows))
    ranks = {n: [] for n in names}
    ranks_ll = {n: [] for n in names}
    for rows in ran.values():
        present = list(rows)
        if not present:
            continue
        acc = rankdata([-rows[n]["acc"] for n in present])
        ll = rankdata([rows[n]["logloss"] for n in present])
        for n, a, b in zip(present, acc, ll, strict=True):
            ranks[n].append(float(a))
            ranks_ll[n].append(float(b))
    out = {}
    for n in names:
        rows = [r[n] for r in ran.values() if n in r]
        out[n] = {
            "tables": len(rows),
            "acc": float(np.mean([r["acc"] for r in rows])),
            "logloss": float(np.mean([r["logloss"] for r in rows])),
            "rank": float(np.mean(ranks[n])),
            "rank_logloss": float(np.mean(ranks_ll[n])),
            "fit_s": float(np.median([s for r in rows for s in r["fit_s_folds"]])),
            "fit_s_total": float(np.sum([r["fit_s_total"] for r in rows])),
        }
    return out


def head_to_head(results: dict, ours=QWERTY, anchors=ANCHORS) -> dict:
    """Wins, ties and losses of each of ``ours`` against each anchor.

    Over the tables where both ran: on mean accuracy (higher wins) and on mean
    log-loss (lower wins). ``{ours: {anchor: {"acc": [w, t, l], "logloss":
    [w, t, l], "tables": n}}}``.
    """
    ran = _ran(results)
    out = {}
    for q in ours:
        for a in anchors:
            both = [rows for rows in ran.values() if q in rows and a in rows]
            if not both:
                continue
            d_acc = [r[q]["acc"] - r[a]["acc"] for r in both]
            d_ll = [r[a]["logloss"] - r[q]["logloss"] for r in both]

            def wtl(ds, tie):
                return [
                    sum(d > tie for d in ds),
                    sum(abs(d) <= tie for d in ds),
                    sum(d < -tie for d in ds),
                ]

            out.setdefault(q, {})[a] = {
                "acc": wtl(d_acc, TIE),
                "logloss": wtl(d_ll, TIE_LOGLOSS),
                "tables": len(both),
            }
    return out


def markdown(results: dict, summary: dict) -> str:
    """Summary (best mean rank first), head-to-head, then per-table tables."""
    lines = [
        "| contender | tables | mean accuracy | mean log-loss | mean rank (acc) "
        "| mean rank (log-loss) | median fit (s) | total fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, s in sorted(summary.items(), key=lambda kv: kv[1]["rank"]):
        lines.append(
            f"| {n} | {s['tables']} | {s['acc']:.4f} | {s['logloss']:.4f} | "
            f"{s['rank']:.2f} | {s['rank_logloss']:.2f} | {s['fit_s']:.2f} | "
            f"{s['fit_s_total']:.0f} |"
        )
    h2h = head_to_head(results)
    anchors = [a for a in ANCHORS if any(a in v for v in h2h.values())]
    if h2h:
        lines += [
            "",
            "Wins / ties / losses per table, accuracy then log-loss:",
            "",
            "| | " + " | ".join(anchors) + " |",
            "|---|" + "---|" * len(anchors),
        ]
        for q, row in h2h.items():
            cells = []
            for a in anchors:
                r = row.get(a)
                cells.append(
                    ""
                    if r is None
                    else "{}/{}/{}; {}/{}/{}".format(*r["acc"], *r["logloss"])
                )
            lines.append(f"| {q} | " + " | ".join(cells) + " |")
    names = list(summary)
    for metric, label in (("acc", "Accuracy"), ("logloss", "Log-loss")):
        lines += [
            "",
            f"{label} per table (mean over the folds; blank: not run, `err`: failed):",
            "",
            "| table | rows | " + " | ".join(names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for table, t in results.items():
            cells = []
            for n in names:
                r = t["contenders"].get(n)
                if r is None:
                    cells.append("")
                elif "error" in r:
                    cells.append("err")
                else:
                    cells.append(f"{r[metric]:.4f}")
            lines.append(f"| {table} | {t['n_samples']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: dict, summary: dict) -> list[str]:
    """Each of our estimators against each target anchor, marked met or missed.

    Means over the tables where both ran.
    """
    tick = {True: "met", False: "missed"}
    ran = _ran(results)
    lines = []
    for ours in QWERTY:
        if ours not in summary:
            continue
        for rival in TARGET_ANCHORS:
            both = [rows for rows in ran.values() if ours in rows and rival in rows]
            if not both:
                continue
            acc = [np.mean([r[n]["acc"] for r in both]) for n in (ours, rival)]
            ll = [np.mean([r[n]["logloss"] for r in both]) for n in (ours, rival)]
            lines.append(
                f"- {ours} against {rival} on {len(both)} tables: mean accuracy "
                f"{acc[0]:.4f} vs {acc[1]:.4f} ({tick[bool(acc[0] >= acc[1])]}), "
                f"mean log-loss {ll[0]:.4f} vs {ll[1]:.4f} "
                f"({tick[bool(ll[0] <= ll[1])]})."
            )
    ens, mlp = "QwertyEnsembleClassifier", "MLPClassifier"
    for ours in (ens, ens + "+onehot"):
        both = {t: rows for t, rows in ran.items() if ours in rows and mlp in rows}
        if not both:
            continue
        worse = [t for t, r in both.items() if r[ours]["logloss"] > r[mlp]["logloss"]]
        lines.append(
            f"- Log-loss of {ours} no worse than {mlp}'s on every table: "
            + ("met." if not worse else f"missed on {', '.join(worse)}.")
        )
    return lines


def page_section(results: dict, summary: dict, folds: int = 5) -> str:
    """The "Accuracy on tables" section of the benchmarks page."""
    skipped = sorted(
        {
            f"{n} on {t} ({why})"
            for t, e in results.items()
            for n, why in e.get("skipped", {}).items()
        }
    )
    dropped = [
        f"{t} ({', '.join(e['dropped'])})" for t, e in results.items() if e["dropped"]
    ]
    return "\n".join(
        [
            HEADING,
            "",
            "Produced by `python benchmarks/accuracy_cases.py --figure` (install "
            "the `bench` extra for LightGBM, CatBoost, RealMLP-TD and TabM-D): "
            f"outer stratified {folds}-fold cross-validation, shuffled with seed "
            f"{SEED}, on {len(results)} real tables (`benchmarks/tables.py`: KEEL "
            "numeric and nominal tables, mixed-type R data sets with missing "
            "values, the Palmer penguins), each as stored, row order included. "
            "Every contender is fitted on the same folds in one run. Accuracy and "
            "log-loss are means over the held-out folds; ranks are per table "
            "among the contenders that ran there; fit time is the median over "
            "every fit. `+onehot`: behind the one-hot `ColumnTransformer` that "
            "MLPClassifier and LogisticRegression get. `QwertyClassifier()` "
            "(the seed network, as it is) is timed, not ranked: it is the unit "
            "in which the cost target counts fit time.",
            "",
            "Columns dropped as identifiers or answers: "
            + ("; ".join(dropped) if dropped else "none")
            + ".",
            "",
            *(["Not run: " + "; ".join(skipped) + ".", ""] if skipped else []),
            "![Accuracy against fit time](images/accuracy-vs-time.png)",
            "",
            "### Targets",
            "",
            *targets(results, summary),
            *cost_lines(results),
            "",
            markdown(results, summary),
            "",
        ]
    )


def splice(page: Path, section: str) -> None:
    """Put ``section`` in place of the page's accuracy section (or append it)."""
    text = page.read_text() if page.exists() else "# Benchmarks\n"
    head, _, _ = text.partition(HEADING)
    page.write_text(head.rstrip("\n") + "\n\n" + section)


def figure(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.4, 4.2))
    markers = "osD^vP*X"
    for i, (name, s) in enumerate(summary.items()):
        ax.scatter(s["fit_s"], s["acc"], s=45, marker=markers[i % 8], label=name)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_xscale("log")
    ax.set_xlabel("median fit time per table (s, log scale)")
    ax.set_ylabel("mean held-out accuracy over the tables")
    ax.set_title("Accuracy against fit time")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def pick_tables(words) -> list[str]:
    """Table names from names and the groups "numeric", "nominal", "mixed"."""
    registry = table_registry.REGISTRY
    if not words:
        return list(registry)
    out = []
    for word in words:
        group = [n for n, t in registry.items() if t.kind == word]
        if word == "all":
            group = list(registry)
        if not group and word not in registry:
            raise SystemExit(
                f"unknown table {word!r}: choose from numeric, nominal, mixed, "
                f"all or {sorted(registry)}"
            )
        out += group or [word]
    return list(dict.fromkeys(out))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tables", nargs="*", default=None, help="names or numeric/nominal/mixed"
    )
    parser.add_argument("--contenders", nargs="*", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help=f"2 folds on {', '.join(QUICK_TABLES)}"
    )
    parser.add_argument(
        "--max-rows-slow",
        type=int,
        default=None,
        help=f"skip {' and '.join(SLOW)} on tables with more rows",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per fit (1: steady timings on a shared machine)",
    )
    parser.add_argument("--figure", action="store_true")
    parser.add_argument(
        "--resume", action="store_true", help="keep what the last run measured"
    )
    parser.add_argument(
        "--results", type=Path, default=ROOT / "results" / "accuracy.json"
    )
    parser.add_argument(
        "--page",
        type=Path,
        default=ROOT.parent / "docs" / "benchmarks.md",
        help="page whose accuracy section is rewritten (with --figure)",
    )
    args = parser.parse_args(argv)
    names = pick_tables(args.tables or (QUICK_TABLES if args.quick else None))
    folds = 2 if args.quick else args.folds
    known = [*ANCHORS, *QWERTY, COST_UNIT]
    contenders = args.contenders or known
    unknown = {c for c in contenders if variant(c)[0] not in known}
    if unknown:
        raise SystemExit(f"unknown contenders {sorted(unknown)}: choose from {known}")
    import torch

    torch.set_num_threads(args.threads)
    store = args.results
    done = (
        json.loads(store.read_text())["tables"]
        if args.resume and store.exists()
        else None
    )

    def save(results):
        store.parent.mkdir(parents=True, exist_ok=True)
        payload = {"tables": results, "summary": overall(results)}
        store.with_suffix(".tmp").write_text(json.dumps(payload, indent=1))
        store.with_suffix(".tmp").replace(store)

    with threadpool_limits(args.threads):
        results = evaluate(
            names,
            contenders,
            folds=folds,
            done=done,
            save=save,
            max_rows_slow=args.max_rows_slow,
            threads=args.threads,
            log=lambda line: print(line, flush=True),
        )
    save(results)
    summary = overall(results)
    print(markdown(results, summary))
    print("\n".join(targets(results, summary)))
    if args.figure:
        figure(summary, args.page.parent / "images" / "accuracy-vs-time.png")
        splice(args.page, page_section(results, summary, folds))


if __name__ == "__main__":
    main()
