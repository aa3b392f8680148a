"""Benchmark cases for batched model selection: (e) grid search, (e') grid
search over a Pipeline with its scaler inside, (f) cost per model against the
number of models trained together, (g) QwertyClassifierCV and
QwertyEnsembleClassifier against one default network.

`run.py` calls `run_all` and appends the Markdown it returns; run this file
on its own to time these cases only:

    python benchmarks/search_cases.py            # full sizes
    python benchmarks/search_cases.py --quick    # smoke test
    python benchmarks/search_cases.py --case grid       # (e) only
    python benchmarks/search_cases.py --case pipeline   # (e') only
    python benchmarks/search_cases.py --case ratios     # (e'') only
    python benchmarks/search_cases.py --case cv         # (g) only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from qwertyclf import (  # noqa: E402
    QwertyClassifier,
    QwertyClassifierCV,
    QwertyEnsembleClassifier,
)
from qwertyclf._batched import fit_batched  # noqa: E402
from qwertyclf.datasets import make_gaussian_classes, make_qwerty  # noqa: E402
from qwertyclf.model_selection import BatchedGridSearchCV  # noqa: E402

GRID = {
    "hidden_layer_sizes": [(8,), (16,), (8, 8)],
    "activation": ["relu", "tanh"],
}


def case_batched_grid(repeats: int, folds: int = 5, epochs: int = 100, n_jobs=2):
    """(e) The grid of case (d), batched with n_jobs=1 and `n_jobs`, beside
    GridSearchCV of both models with `n_jobs`."""
    X, y = make_qwerty(random_state=42)

    def batched(jobs):
        return BatchedGridSearchCV(
            QwertyClassifier(max_epochs=epochs, random_state=0),
            {**GRID, "lr": [0.01, 0.003]},
            cv=folds,
            n_jobs=jobs,
        )

    searches = {
        f"BatchedGridSearchCV(QwertyClassifier), n_jobs={n_jobs}": batched(n_jobs),
        "BatchedGridSearchCV(QwertyClassifier), n_jobs=1": batched(1),
        "GridSearchCV(QwertyClassifier)": GridSearchCV(
            QwertyClassifier(max_epochs=epochs, random_state=0),
            {**GRID, "lr": [0.01, 0.003]},
            cv=folds,
            n_jobs=n_jobs,
        ),
        "GridSearchCV(MLPClassifier)": GridSearchCV(
            cases.mlp((8,), 16, epochs, 0.01),
            {**GRID, "learning_rate_init": [0.01, 0.003]},
            cv=folds,
            n_jobs=n_jobs,
        ),
    }
    # The two batched searches alternate run by run, so that a disturbance
    # (another process on the cores) falls on both alike.
    fits = {name: (lambda s=search: s.fit(X, y)) for name, search in searches.items()}
    names = list(fits)
    seconds, fitted = {name: [] for name in names}, {}
    pair = names[:2]

    def timed(name):
        start = time.perf_counter()
        fitted[name] = fits[name]()
        seconds[name].append(time.perf_counter() - start)

    if cases.WARM_UP:
        # GridSearchCV's first, which starts joblib's worker processes as any
        # earlier parallel call of a session does: the batched search with
        # n_jobs=2 then finds them running.
        for name in names[2:] + pair:
            fits[name]()
    for _ in range(repeats):
        for name in pair:
            timed(name)
    for name in names[2:]:
        for _ in range(repeats):
            timed(name)
    return [
        cases.Row(
            "e",
            name,
            seconds[name],
            rows=len(fitted[name].cv_results_["params"]) * folds,
            accuracy=float(fitted[name].best_score_),
            notes={"best_params": fitted[name].best_params_},
        )
        for name in names
    ]


def case_search_ratios(rounds: int, folds: int = 5, epochs: int = 100, n_jobs=2):
    """(e'') The batched search with n_jobs=1 and `n_jobs` beside GridSearchCV.

    Every round fits the four searches of (e) once each, one after the
    other, in an order that rotates from round to round; each round gives
    the batched searches' ratios to the round's GridSearchCV times, and the
    medians of those ratios are reported. On a machine that other processes
    share, a disturbance falls on the searches of one round alike, where
    medians of times taken minutes apart would compare different loads.
    """
    X, y = make_qwerty(random_state=42)
    grid = {**GRID, "lr": [0.01, 0.003]}

    def qwerty():
        return QwertyClassifier(max_epochs=epochs, random_state=0)

    searches = {
        "batched, n_jobs=1": lambda: BatchedGridSearchCV(qwerty(), grid, cv=folds),
        f"batched, n_jobs={n_jobs}": lambda: BatchedGridSearchCV(
            qwerty(), grid, cv=folds, n_jobs=n_jobs
        ),
        "GridSearchCV(QwertyClassifier)": lambda: GridSearchCV(
            qwerty(), grid, cv=folds, n_jobs=n_jobs
        ),
        "GridSearchCV(MLPClassifier)": lambda: GridSearchCV(
            cases.mlp((8,), 16, epochs, 0.01),
            {**GRID, "learning_rate_init": [0.01, 0.003]},
            cv=folds,
            n_jobs=n_jobs,
        ),
    }
    names = list(searches)
    if cases.WARM_UP:
        for name in names:
            searches[name]().fit(X, y)
    seconds = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            searches[name]().fit(X, y)
            seconds[name].append(time.perf_counter() - start)
    times = {name: np.array(values) for name, values in seconds.items()}
    qwerty_s, mlp_s = times[names[2]], times[names[3]]
    return {
        "seconds": seconds,
        "ratios": {
            name: {
                "vs GridSearchCV(MLPClassifier)": float(np.median(times[name] / mlp_s)),
                "vs GridSearchCV(QwertyClassifier)": float(
                    np.median(times[name] / qwerty_s)
                ),
            }
            for name in names[:2]
        },
        f"n_jobs={n_jobs} vs n_jobs=1": float(
            np.median(times[names[1]] / times[names[0]])
        ),
    }


def grid_lines(grid, folds: int) -> list[str]:
    """Markdown for `case_batched_grid`."""
    batched, batched_one, qwerty, mlp = grid
    lines = [
        "",
        f"## (e) Batched grid search: 12 candidates x {folds} folds on the qwerty "
        "data, n_jobs=2 (and the batched search with n_jobs=1 beside it)",
        "",
        "The two batched searches alternate run by run, after one untimed "
        "fit of every search: GridSearchCV's start joblib's worker processes, "
        "which then stay running, as after any parallel call of a session. "
        "With n_jobs=2 the batched search sends its two runs to those "
        "workers when the time they save exceeds what the workers cost "
        "(1 s running, 3 s to start); without running workers it trains "
        "them in its own process, as with n_jobs=1.",
        "",
        "| search | median time (s) | vs GridSearchCV(QwertyClassifier) "
        "(median) | vs GridSearchCV(MLPClassifier) (median) | best time (s) "
        "| vs GridSearchCV(QwertyClassifier) (best) | vs GridSearchCV(MLPClassifier) "
        "(best) | best score | runs (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in grid:
        lines.append(
            f"| {row.contender} | {row.median:.3f} | "
            f"{row.median / qwerty.median:.2f}x | {row.median / mlp.median:.2f}x | "
            f"{row.best:.3f} | {row.best / qwerty.best:.2f}x | "
            f"{row.best / mlp.best:.2f}x | {row.accuracy:.3f} | {_runs(row)} |"
        )
    lines += [
        "",
        f"n_jobs=2 against n_jobs=1 for the batched search: "
        f"{batched.median / batched_one.median:.2f}x (median), "
        f"{batched.best / batched_one.best:.2f}x (best).",
    ]
    same = batched.notes["best_params"] == qwerty.notes["best_params"]
    return [
        *lines,
        "",
        f"Best parameters of the batched search: `{batched.notes['best_params']}` "
        f"({'the same as' if same else 'different from'} GridSearchCV's).",
    ]


def ratio_lines(result: dict) -> list[str]:
    """Markdown for `case_search_ratios`."""
    lines = [
        "",
        "## (e'') Batched grid search, n_jobs=1 and n_jobs=2, interleaved with "
        "GridSearchCV: medians of per-round ratios",
        "",
        "| search | vs GridSearchCV(MLPClassifier) | vs GridSearchCV(QwertyClassifier) "
        "|",
        "|---|---|---|",
    ]
    for name, ratios in result["ratios"].items():
        lines.append(
            f"| {name} | {ratios['vs GridSearchCV(MLPClassifier)']:.3f}x | "
            f"{ratios['vs GridSearchCV(QwertyClassifier)']:.3f}x |"
        )
    (key,) = [k for k in result if k.startswith("n_jobs=")]
    lines += ["", f"{key}: {result[key]:.3f}x (median of per-round ratios).", ""]
    for name, values in result["seconds"].items():
        lines.append(f"- {name}: " + ", ".join(f"{v:.2f}" for v in values) + " s")
    return lines


def case_pipeline_grid(repeats: int, folds: int = 5, epochs: int = 100, n_jobs=1):
    """(e') The grid of (e) over make_pipeline(StandardScaler(), QwertyClassifier()).

    The scaler is fitted inside each fold, as a search without leaks fits it:
    GridSearchCV fits it for every (candidate, fold); the batched search once
    per fold, and trains the 12 x `folds` networks as batched runs.
    """
    X, y = make_qwerty(random_state=42)
    pipe = make_pipeline(
        StandardScaler(), QwertyClassifier(max_epochs=epochs, random_state=0)
    )
    grid = {
        f"qwertyclassifier__{name}": values
        for name, values in {**GRID, "lr": [0.01, 0.003]}.items()
    }
    searches = {
        "GridSearchCV(pipe)": GridSearchCV(pipe, grid, cv=folds, n_jobs=n_jobs),
        "BatchedGridSearchCV(pipe)": BatchedGridSearchCV(
            pipe, grid, cv=folds, n_jobs=n_jobs
        ),
    }
    rows = []
    for name, search in searches.items():
        seconds, fitted = cases.timed(lambda search=search: search.fit(X, y), repeats)
        rows.append(
            cases.Row(
                "e'",
                name,
                seconds,
                rows=len(fitted.cv_results_["params"]) * folds,
                accuracy=float(fitted.best_score_),
                notes={"best_params": fitted.best_params_},
            )
        )
    return rows


def pipeline_lines(rows, folds: int) -> list[str]:
    """The Markdown section of (e'): median and best of the runs, ratios."""
    serial = rows[0]
    lines = [
        "",
        f"## (e') Batched grid search over a Pipeline: make_pipeline(StandardScaler(), "
        f"QwertyClassifier()), 12 candidates x {folds} folds on the qwerty data, "
        "n_jobs=1",
        "",
        "| search | median time (s) | best time (s) | median vs GridSearchCV(pipe) "
        "| best vs GridSearchCV(pipe) | best score | runs (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.contender} | {row.median:.3f} | {min(row.seconds):.3f} | "
            f"{row.median / serial.median:.2f}x | "
            f"{min(row.seconds) / min(serial.seconds):.2f}x | "
            f"{row.accuracy:.3f} | {_runs(row)} |"
        )
    same = rows[1].notes["best_params"] == serial.notes["best_params"]
    lines += [
        "",
        f"Best parameters of the batched search: `{rows[1].notes['best_params']}` "
        f"({'the same as' if same else 'different from'} GridSearchCV's).",
    ]
    return lines


def case_cost_per_model(repeats: int, sizes=(1, 10, 100, 1000), epochs: int = 100):
    """(f) Seconds per model when K qwerty-sized networks train as one run."""
    X, y = make_qwerty(random_state=42)
    X, y = X[:720], y[:720]
    rng = np.random.RandomState(0)
    serial, _ = cases.timed(
        lambda: QwertyClassifier(max_epochs=epochs, random_state=0).fit(X, y), repeats
    )
    rows = [cases.Row("f", "1 ordinary fit", serial, rows=1)]
    for K in sizes:
        models = [
            QwertyClassifier(
                max_epochs=epochs,
                lr=float(lr),
                hidden_layer_sizes=(int(width),),
                random_state=k,
            )
            for k, (lr, width) in enumerate(
                zip(
                    10 ** rng.uniform(-3, -1.5, K),
                    rng.choice([4, 8, 16], K),
                    strict=True,
                )
            )
        ]
        seconds, _ = cases.timed(
            lambda models=models: fit_batched(models, X, y), repeats
        )
        label = "1 model" if K == 1 else f"{K} models"
        rows.append(cases.Row("f", f"{label}, one run", seconds, rows=K))
    return rows


def case_cv(repeats: int, n_samples: int = 3000, epochs: int = 100):
    """(g) QwertyClassifierCV and the default ensemble beside one default network."""
    bunch = make_gaussian_classes(
        n_samples,
        n_classes=10,
        n_features=20,
        covariances=16.0,
        random_state=0,
        return_X_y=False,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.3, random_state=0, stratify=bunch.target
    )
    contenders = {
        "QwertyClassifier() (default)": QwertyClassifier(
            max_epochs=epochs, random_state=0
        ),
        "QwertyClassifierCV()": QwertyClassifierCV(max_epochs=epochs, random_state=0),
        "QwertyEnsembleClassifier()": QwertyEnsembleClassifier(random_state=0),
        "MLPClassifier() (default)": MLPClassifier(max_iter=epochs, random_state=0),
    }
    rows = []
    for name, model in contenders.items():
        seconds, fitted = cases.timed(
            lambda model=model: model.fit(X_train, y_train), repeats
        )
        proba = fitted.predict_proba(X_test)
        rows.append(
            cases.Row(
                "g",
                name,
                seconds,
                rows=len(X_train),
                accuracy=float(fitted.score(X_test, y_test)),
                notes={
                    "log_loss": float(log_loss(y_test, proba)),
                    "best_params": getattr(fitted, "best_params_", None),
                },
            )
        )
    bayes = float(bunch.bayes_estimator.score(X_test, y_test))
    return rows, bayes


def _runs(row) -> str:
    return ", ".join(f"{s:.3f}" for s in row.seconds)


def plot_cost_per_model(cost: list, path: Path) -> None:
    """Save (f) as a figure: seconds per model against K, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one, batched = cost[0], cost[1:]
    sizes = [row.rows for row in batched]
    per_model = [row.median / row.rows for row in batched]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, per_model, "o-", label="K models trained as one batched run")
    ax.axhline(one.median, color="grey", ls="--", label="one ordinary fit")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="models in the run (K)",
        ylabel="seconds per model",
        title="Cost per model: qwerty-sized networks, 100 epochs",
    )
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_all(repeats: int, quick: bool = False, figure: Path | None = None) -> list[str]:
    """Run (e), (e''), (e'), (f) and (g); return their Markdown sections.

    With `figure`, (f) is also drawn there and the section shows it (the path
    relative to the Markdown file is `images/<name>`).
    """
    folds, epochs = (2, 5) if quick else (5, 100)
    sizes = (1, 8) if quick else (1, 10, 100, 1000)
    print("(e) batched grid search ...", flush=True)
    grid = case_batched_grid(repeats, folds=folds, epochs=epochs)
    print("(e'') batched grid search, n_jobs 1 and 2, interleaved ...", flush=True)
    ratios = case_search_ratios(repeats, folds=folds, epochs=epochs)
    print("(e') batched grid search over a Pipeline ...", flush=True)
    pipeline = case_pipeline_grid(repeats, folds=folds, epochs=epochs)
    print("(f) cost per model ...", flush=True)
    cost = case_cost_per_model(repeats, sizes=sizes, epochs=epochs)
    print("(g) QwertyClassifierCV ...", flush=True)
    cv_rows, bayes = case_cv(repeats, n_samples=600 if quick else 3000, epochs=epochs)

    lines = [
        *grid_lines(grid, folds),
        *ratio_lines(ratios),
        *pipeline_lines(pipeline, folds),
        "",
        f"## (f) Cost per model: K qwerty-sized networks ({epochs} epochs, widths "
        "4-16, learning rates 1e-3 to 3e-2) trained as one batched run, one process",
        "",
        "| models | median time (s) | seconds per model | per model vs one "
        "ordinary fit | runs (s) |",
        "|---|---|---|---|---|",
    ]
    one = cost[0].median
    for row in cost:
        per_model = row.median / row.rows
        lines.append(
            f"| {row.contender} | {row.median:.3f} | {per_model:.4f} | "
            f"{per_model / one:.3f}x | {_runs(row)} |"
        )
    if figure is not None:
        plot_cost_per_model(cost, figure)
        lines += ["", f"![Seconds per model against K](images/{figure.name})"]
    return lines + cv_lines(cv_rows, bayes)


def cv_lines(cv_rows, bayes: float) -> list[str]:
    """Case (g)'s section: the CV and the ensemble beside one default fit."""
    default = cv_rows[0]
    lines = [
        "",
        "## (g) QwertyClassifierCV and QwertyEnsembleClassifier: "
        "make_gaussian_classes, 10 classes x 20 features, "
        "70/30 split",
        "",
        f"Bayes-optimal accuracy on the test rows: {bayes:.3f}.",
        "",
        "| model | median fit time (s) | time vs one default fit | test accuracy "
        "| test log-loss | runs (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in cv_rows:
        lines.append(
            f"| {row.contender} | {row.median:.3f} | "
            f"{row.median / default.median:.2f}x | {row.accuracy:.3f} | "
            f"{row.notes['log_loss']:.3f} | {_runs(row)} |"
        )
    chosen = cv_rows[1].notes["best_params"]
    lines += ["", f"QwertyClassifierCV chose `{chosen}`.", ""]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--case",
        choices=["all", "grid", "pipeline", "ratios", "cv"],
        default="all",
        help="cases to run",
    )
    args = parser.parse_args(argv)
    if argv is None:
        cases.without_blas_overrides(sys.argv)
    cases.quiet()
    cases.WARM_UP = not args.quick
    repeats = args.repeats or (1 if args.quick else 3)
    start = time.perf_counter()
    if args.case == "ratios":
        folds, epochs = (2, 5) if args.quick else (5, 100)
        rounds = args.repeats or (1 if args.quick else 5)
        print("\n".join(ratio_lines(case_search_ratios(rounds, folds, epochs))))
    elif args.case == "grid":
        folds, epochs = (2, 5) if args.quick else (5, 100)
        grid = case_batched_grid(repeats, folds=folds, epochs=epochs)
        print("\n".join(grid_lines(grid, folds)))
    elif args.case == "pipeline":
        folds, epochs = (2, 5) if args.quick else (5, 100)
        rows = case_pipeline_grid(repeats, folds=folds, epochs=epochs)
        print("\n".join(pipeline_lines(rows, folds)))
    elif args.case == "cv":
        rows, bayes = case_cv(repeats, n_samples=600 if args.quick else 3000)
        print("\n".join(cv_lines(rows, bayes)))
    else:
        print("\n".join(run_all(repeats, quick=args.quick)))
    print(f"\n({time.perf_counter() - start:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
