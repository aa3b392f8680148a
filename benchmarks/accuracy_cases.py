"""Accuracy on tables: the library's classifiers against scikit-learn's and RealMLP.

Every contender is fitted on the same repeated stratified folds of each
table and scored on the held-out rows: accuracy, log-loss and fit time.
The tables are offline: scikit-learn's bundled classification sets,
`make_classification` tables of several shapes, and problems from
`qwertyclf.datasets` whose Bayes-optimal classifier is known (there the gap
to the Bayes accuracy is measured on the same held-out rows, which removes
the folds' noise). RealMLP-TD comes from `pytabkit` (the `bench` extra); it
is left out, with a note, where that is not installed.

    python benchmarks/accuracy_cases.py            # every table, 5 folds
    python benchmarks/accuracy_cases.py --quick    # a few tables, 3 folds
    python benchmarks/accuracy_cases.py --figure   # also draws the page figure
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from qwertyclf import QwertyClassifier, QwertyClassifierCV, QwertyEnsembleClassifier
from qwertyclf.datasets import make_gaussian_classes, make_qwerty

ROOT = Path(__file__).resolve().parent
BASELINE = "QwertyClassifier (scaled)"
HEADING = "## Accuracy on tables"


def tables(quick: bool) -> dict:
    """Name -> (X, y, Bayes classifier or None)."""
    out = {}
    for name, loader in (
        ("iris", load_iris),
        ("wine", load_wine),
        ("breast_cancer", load_breast_cancer),
        ("digits", load_digits),
    ):
        X, y = loader(return_X_y=True)
        out[name] = (X, y, None)
    shapes = {
        "clf_500x10_binary": dict(n_samples=500, n_features=10, n_informative=5),
        "clf_2000x20_5class": dict(
            n_samples=2000,
            n_features=20,
            n_informative=10,
            n_redundant=4,
            n_classes=5,
            flip_y=0.05,
        ),
        "clf_1000x40_imbalanced": dict(
            n_samples=1000, n_features=40, n_informative=8, weights=[0.8, 0.2]
        ),
    }
    for name, kwargs in shapes.items():
        X, y = make_classification(random_state=0, **kwargs)
        out[name] = (X, y, None)
    bayes = {
        "qwerty": make_qwerty(300, random_state=0, return_X_y=False),
        "gauss_10x20": make_gaussian_classes(
            2000,
            n_classes=10,
            n_features=20,
            covariances=16.0,
            random_state=0,
            return_X_y=False,
        ),
        "gauss_unequal_cov": make_gaussian_classes(
            1500,
            n_classes=4,
            n_features=6,
            covariances=[1.0, 4.0, 9.0, 2.0],
            random_state=1,
            return_X_y=False,
        ),
        "gauss_imbalanced": make_gaussian_classes(
            1500,
            n_classes=3,
            n_features=5,
            covariances=3.0,
            priors=[0.7, 0.2, 0.1],
            random_state=2,
            return_X_y=False,
        ),
    }
    for name, data in bayes.items():
        out[name] = (data.data, data.target, data.bayes_estimator)
    if quick:
        keep = ("breast_cancer", "wine", "clf_500x10_binary", "qwerty", "gauss_10x20")
        out = {name: out[name] for name in keep}
    return out


def contenders(seed: int, only=None) -> dict:
    """Name -> a fresh estimator."""
    made = {
        BASELINE: make_pipeline(StandardScaler(), QwertyClassifier(random_state=seed)),
        "QwertyClassifier": QwertyClassifier(random_state=seed),
        "QwertyClassifierCV": QwertyClassifierCV(random_state=seed),
        "QwertyEnsembleClassifier": make_pipeline(
            StandardScaler(), QwertyEnsembleClassifier(random_state=seed)
        ),
        "MLPClassifier": make_pipeline(
            StandardScaler(), MLPClassifier(random_state=seed)
        ),
        "HistGradientBoosting": HistGradientBoostingClassifier(random_state=seed),
        "LogisticRegression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        ),
    }
    try:
        from pytabkit import RealMLP_TD_Classifier

        made["RealMLP-TD"] = RealMLP_TD_Classifier(
            device="cpu", random_state=seed, n_threads=2, verbosity=0
        )
    except ImportError:
        pass
    if only:
        made = {name: est for name, est in made.items() if name in only}
    return made


def evaluate(quick: bool, only=None, done=None, save=None) -> dict:
    """Score every contender on every table; ``done`` holds tables to skip.

    ``save`` is called with the results after each table, so an interrupted
    run keeps what it measured and ``--resume`` goes on from there.
    """
    folds, repeats = (3, 1) if quick else (5, 1)
    results = dict(done or {})
    for table, (X, y, bayes) in tables(quick).items():
        if table in results:
            print(f"{table}: kept from the previous run", flush=True)
            continue
        classes = np.unique(y)
        splitter = RepeatedStratifiedKFold(
            n_splits=folds, n_repeats=repeats, random_state=0
        )
        rows = {}
        bayes_hits = []
        for split, (train, test) in enumerate(splitter.split(X, y)):
            if bayes is not None:
                bayes_hits.append(np.mean(bayes.predict(X[test]) == y[test]))
            for name, est in contenders(split, only).items():
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(X[train], y[train])
                seconds = time.perf_counter() - start
                proba = np.asarray(est.predict_proba(X[test]), dtype=np.float64)
                hits = classes[proba.argmax(1)] == y[test]
                row = rows.setdefault(name, {"acc": [], "logloss": [], "fit_s": []})
                row["acc"].append(float(hits.mean()))
                row["logloss"].append(
                    float(log_loss(y[test], np.clip(proba, 1e-15, 1), labels=classes))
                )
                row["fit_s"].append(seconds)
        summary = {
            name: {
                "acc": float(np.mean(r["acc"])),
                "logloss": float(np.mean(r["logloss"])),
                "fit_s": float(np.median(r["fit_s"])),
            }
            for name, r in rows.items()
        }
        if bayes_hits:
            for name in summary:
                gap = np.mean(bayes_hits) - summary[name]["acc"]
                summary[name]["bayes_gap_pp"] = float(100 * gap)
        results[table] = {
            "n_samples": len(y),
            "n_features": X.shape[1],
            "n_classes": len(classes),
            "bayes_acc": float(np.mean(bayes_hits)) if bayes_hits else None,
            "contenders": summary,
        }
        print(f"{table}: done", flush=True)
        if save is not None:
            save(results)
    return results


def overall(results: dict) -> dict:
    """Per contender: mean accuracy, log-loss, rank, time ratio and Bayes gaps."""
    names = list(next(iter(results.values()))["contenders"])
    ranks = {name: [] for name in names}
    for table in results.values():
        accs = np.array([table["contenders"][n]["acc"] for n in names])
        order = (-accs).argsort().argsort() + 1.0
        for name, rank in zip(names, order, strict=True):
            ranks[name].append(rank)
    out = {}
    for name in names:
        rows = [t["contenders"][name] for t in results.values()]
        base = [
            t["contenders"].get(BASELINE, {}).get("fit_s") for t in results.values()
        ]
        ratios = [
            r["fit_s"] / b for r, b in zip(rows, base, strict=True) if b is not None
        ]
        gaps = [r["bayes_gap_pp"] for r in rows if "bayes_gap_pp" in r]
        out[name] = {
            "acc": float(np.mean([r["acc"] for r in rows])),
            "logloss": float(np.mean([r["logloss"] for r in rows])),
            "rank": float(np.mean(ranks[name])),
            "fit_ratio": float(np.median(ratios)) if ratios else None,
            "fit_s": float(np.median([r["fit_s"] for r in rows])),
            "bayes_gap_mean_pp": float(np.mean(gaps)) if gaps else None,
            "bayes_gap_worst_pp": float(np.max(gaps)) if gaps else None,
        }
    return out


def markdown(results: dict, summary: dict) -> str:
    """The summary table (best mean rank first), then every table's rows."""
    lines = [
        "| contender | mean accuracy | mean log-loss | mean rank | fit time vs "
        f"{BASELINE} (median) | mean / worst Bayes gap (pp) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in sorted(summary.items(), key=lambda kv: kv[1]["rank"]):
        gap = (
            ""
            if s["bayes_gap_mean_pp"] is None
            else f"{s['bayes_gap_mean_pp']:.2f} / {s['bayes_gap_worst_pp']:.2f}"
        )
        ratio = "" if s["fit_ratio"] is None else f"{s['fit_ratio']:.2f}x"
        lines.append(
            f"| {name} | {s['acc']:.4f} | {s['logloss']:.4f} | {s['rank']:.2f} | "
            f"{ratio} | {gap} |"
        )
    lines += [
        "",
        "| table | contender | accuracy | log-loss | fit (s) | Bayes gap (pp) |",
        "|---|---|---|---|---|---|",
    ]
    for table, t in results.items():
        for name, r in t["contenders"].items():
            gap = r.get("bayes_gap_pp")
            lines.append(
                f"| {table} | {name} | {r['acc']:.4f} | {r['logloss']:.4f} | "
                f"{r['fit_s']:.2f} | {'' if gap is None else f'{gap:.2f}'} |"
            )
    return "\n".join(lines)


def targets(results: dict, summary: dict) -> list[str]:
    """The accuracy goals of `QwertyClassifierCV`, each marked met or missed."""
    cv = summary.get("QwertyClassifierCV")
    if cv is None:
        return []
    tick = {True: "met", False: "missed"}
    lines = []
    if cv["bayes_gap_mean_pp"] is not None:
        lines.append(
            f"- Bayes gap of QwertyClassifierCV: mean {cv['bayes_gap_mean_pp']:.2f} pp "
            f"(target <= 0.3, {tick[cv['bayes_gap_mean_pp'] <= 0.3]}), worst "
            f"{cv['bayes_gap_worst_pp']:.2f} pp (target <= 0.7, "
            f"{tick[cv['bayes_gap_worst_pp'] <= 0.7]})."
        )
    for rival in ("HistGradientBoosting", "RealMLP-TD"):
        if rival in summary:
            other = summary[rival]
            lines.append(
                f"- Against {rival}: mean accuracy {cv['acc']:.4f} vs "
                f"{other['acc']:.4f} ({tick[cv['acc'] >= other['acc']]}), mean "
                f"log-loss {cv['logloss']:.4f} vs {other['logloss']:.4f} "
                f"({tick[cv['logloss'] <= other['logloss']]})."
            )
    if cv["fit_ratio"] is not None:
        lines.append(
            f"- Fit time of QwertyClassifierCV: {cv['fit_ratio']:.2f}x a default "
            f"fit (median; target <= 10x, {tick[cv['fit_ratio'] <= 10]})"
            + (
                f", {cv['fit_s']:.2f} s against RealMLP-TD's "
                f"{summary['RealMLP-TD']['fit_s']:.2f} s (median per table; "
                f"{tick[cv['fit_s'] <= summary['RealMLP-TD']['fit_s']]})."
                if "RealMLP-TD" in summary
                else "."
            )
        )
    ens, mlp = "QwertyEnsembleClassifier", "MLPClassifier"
    if ens in summary and mlp in summary:
        worse = [
            name
            for name, t in results.items()
            if t["contenders"][ens]["logloss"] > t["contenders"][mlp]["logloss"]
        ]
        lines.append(
            f"- Log-loss of {ens} no worse than {mlp}'s on every table: "
            + ("met." if not worse else f"missed on {', '.join(worse)}.")
        )
    return lines


def page_section(results: dict, summary: dict, quick: bool) -> str:
    """The "Accuracy on tables" section of the benchmarks page."""
    folds = 3 if quick else 5
    return "\n".join(
        [
            HEADING,
            "",
            "Produced by `python benchmarks/accuracy_cases.py --figure"
            + (" --quick` (few tables and folds: not representative)" if quick else "`")
            + " (install the `bench` extra for RealMLP-TD): "
            f"{folds}-fold stratified cross-validation on {len(results)} "
            "offline tables, every contender fitted on the same folds in one "
            "run. Accuracy and log-loss are means over the held-out folds, fit "
            "time the median per fit. The Bayes gap is the Bayes-optimal "
            "classifier's accuracy minus the contender's, on the same held-out "
            "rows, where the data's distribution is known.",
            "",
            "![Accuracy against fit time](images/accuracy-vs-time.png)",
            "",
            "### Targets",
            "",
            *targets(results, summary),
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--figure", action="store_true")
    parser.add_argument("--contenders", nargs="*", default=None)
    parser.add_argument(
        "--resume", action="store_true", help="keep the tables of the last run"
    )
    parser.add_argument(
        "--page",
        type=Path,
        default=ROOT.parent / "docs" / "benchmarks.md",
        help="page whose accuracy section is rewritten (with --figure)",
    )
    args = parser.parse_args(argv)
    store = ROOT / "results" / "accuracy.json"
    done = json.loads(store.read_text())["tables"] if args.resume else None

    def save(results):
        store.parent.mkdir(exist_ok=True)
        summary = overall(results)
        store.write_text(json.dumps({"tables": results, "summary": summary}, indent=1))

    results = evaluate(args.quick, args.contenders, done, save)
    summary = overall(results)
    print(markdown(results, summary))
    print("\n".join(targets(results, summary)))
    if args.figure:
        figure(summary, args.page.parent / "images" / "accuracy-vs-time.png")
        splice(args.page, page_section(results, summary, args.quick))


if __name__ == "__main__":
    main()
