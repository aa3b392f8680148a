"""Ablation: techniques switched on, one at a time, in one regularised network.

One `QwertyClassifier(hidden_layer_sizes=(256, 256), preprocessing="robust",
early_stopping=True, max_epochs=200)`, the "plain" variant, and the same
network with one technique (or two) switched on (`VARIANTS`): BatchEnsemble
members (`batch_ensemble=4`), a numerical embedding (`numeric_embedding`
"pbld" or "plr") and both. Every variant is fitted on the same outer
stratified folds (shuffled, fixed seed) of real tables (`tables.py`) and
scored on the held-out rows: accuracy, log-loss and fit time.

The tables are those of the shared list (`tables.REGISTRY`) with at most
`--max-rows` rows, smallest first (ties in the list's order); with
`--budget` minutes, no table is started once that much wall-clock time has
gone, so the tables run are the smallest ones, never chosen by result.
Each table runs whole (every fold and variant), and the raw per-fold
results are saved as JSON after each table (`--out`, default
`benchmarks/results/ablation.json`), with the wall-clock minutes spent;
`--resume` keeps the tables that file holds and goes on with the next ones,
with a budget of its own.

The printed table gives, per variant, the mean accuracy and log-loss over
tables (each table's mean over folds), the median fit time over all fits,
the differences to "plain" (accuracy in percentage points, log-loss, and
the median over (table, fold) of the fit-time ratio), and the tables where
the variant's mean accuracy (and log-loss) is better, equal (within
`TIE_ACCURACY`, `TIE_LOG_LOSS`) or worse than plain's. `--page` puts it in
the section "Ablation: techniques on one network" of `docs/benchmarks.md`.

Fit times are the process's CPU seconds (`time.process_time`) of one
PyTorch thread, so that other work on a shared machine slows the run but
hardly changes them.

    python benchmarks/ablation_cases.py --budget 40 --page
    python benchmarks/ablation_cases.py --budget 10 --resume --page
    python benchmarks/ablation_cases.py --tables pima heart --folds 3
    python benchmarks/ablation_cases.py --from-json benchmarks/results/ablation.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tables as table_registry
import torch
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold

from qwertyclf import QwertyClassifier

HERE = Path(__file__).resolve().parent
HEADING = "## Ablation: techniques on one network"
#: The heading of the section that follows this one on the page.
NEXT_HEADING = "## Accuracy on tables"
#: Variant name -> the parameters it sets on the plain network.
VARIANTS = {
    "plain": {},
    "batch_ensemble=4": {"batch_ensemble": 4},
    "numeric_embedding=pbld": {"numeric_embedding": "pbld"},
    "numeric_embedding=plr": {"numeric_embedding": "plr"},
    "pbld+batch_ensemble=4": {"numeric_embedding": "pbld", "batch_ensemble": 4},
}
#: Per-table mean differences to plain that count as a tie.
TIE_ACCURACY = 0.001
TIE_LOG_LOSS = 0.001


def model(variant: str, seed: int) -> QwertyClassifier:
    """The classifier measured: the plain network with `variant`'s parameters."""
    return QwertyClassifier(
        hidden_layer_sizes=(256, 256),
        preprocessing="robust",
        early_stopping=True,
        max_epochs=200,
        random_state=seed,
        **VARIANTS[variant],
    )


def small_tables(max_rows: int) -> list[str]:
    """The shared list's tables with at most `max_rows` rows, smallest first."""
    rows = {name: len(table_registry.load(name)[1]) for name in table_registry.REGISTRY}
    return sorted((n for n in rows if rows[n] <= max_rows), key=rows.__getitem__)


def run(
    names, variants, folds: int, *, budget=None, out=None, seed: int = 0, done=None
):
    """Per-fold results of each variant on each table, as a list of dicts.

    With `budget` (seconds), no table starts once that much time has gone;
    with `out`, the results so far are written there after each table.
    `done`, the saved results of an earlier run, are kept, and the tables
    they hold are not run again.
    """
    results = [] if done is None else list(done["results"])
    minutes = 0.0 if done is None else done["config"]["wall_minutes"]
    finished = {r["table"] for r in results}
    names = [name for name in names if name not in finished]
    X, y = table_registry.load(names[0])
    for variant in variants:  # untimed: the first fit of a process pays one-off costs
        model(variant, seed).set_params(max_epochs=2).fit(X, y)
    start = time.perf_counter()
    for name in names:
        if budget is not None and time.perf_counter() - start > budget:
            print(f"budget spent: {name} and the tables after it not run")
            break
        X, y = table_registry.load(name)
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
        for fold, (train, test) in enumerate(splits):
            for variant in variants:
                clf = model(variant, seed + fold)
                began = time.process_time()
                clf.fit(X.iloc[train], y[train])
                seconds = time.process_time() - began
                proba = clf.predict_proba(X.iloc[test])
                row = {
                    "table": name,
                    "fold": fold,
                    "variant": variant,
                    "accuracy": accuracy_score(y[test], clf.classes_[proba.argmax(1)]),
                    "log_loss": log_loss(y[test], proba, labels=clf.classes_),
                    "fit_seconds": seconds,
                    "epochs": int(clf.n_iter_),
                }
                results.append(row)
                print(
                    f"{name:14s} fold {fold} {variant:24s} acc {row['accuracy']:.3f} "
                    f"log-loss {row['log_loss']:.3f} fit {seconds:.1f} s, "
                    f"{row['epochs']} epochs",
                    flush=True,
                )
        if out is not None:
            spent = minutes + (time.perf_counter() - start) / 60
            save(out, results, folds, seed, spent)
    return results


def save(path: Path, results: list, folds: int, seed: int, minutes: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "folds": folds,
        "seed": seed,
        "variants": VARIANTS,
        "wall_minutes": minutes,
    }
    path.write_text(json.dumps({"config": config, "results": results}, indent=1))


def summary(results: list) -> str:
    """The Markdown table: per variant, its means, fit time and deltas to plain."""
    variants = list(dict.fromkeys(r["variant"] for r in results))
    by = {}
    for r in results:
        by.setdefault((r["variant"], r["table"]), []).append(r)
    # Only tables every variant finished.
    names = [
        t
        for t in dict.fromkeys(r["table"] for r in results)
        if all((v, t) in by for v in variants)
    ]

    def table_means(variant, key):
        return np.array([np.mean([r[key] for r in by[variant, t]]) for t in names])

    def fit_times(variant):
        return {(t, r["fold"]): r["fit_seconds"] for t in names for r in by[variant, t]}

    base = variants[0]
    base_acc, base_loss = table_means(base, "accuracy"), table_means(base, "log_loss")
    base_fit = fit_times(base)
    lines = [
        "| variant | mean accuracy | mean log-loss | median fit (s) | "
        "Δ accuracy (pp) | Δ log-loss | fit-time ratio | "
        "W/T/L accuracy | W/T/L log-loss |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in variants:
        acc, loss = table_means(variant, "accuracy"), table_means(variant, "log_loss")
        fits = fit_times(variant)
        ratio = np.median([fits[key] / base_fit[key] for key in fits])
        d_acc, d_loss = acc - base_acc, loss - base_loss
        wtl_acc = _wins_ties_losses(d_acc, TIE_ACCURACY)
        wtl_loss = _wins_ties_losses(-d_loss, TIE_LOG_LOSS)
        if variant == base:
            deltas = "| | | | | |"
        else:
            deltas = (
                f"| {100 * d_acc.mean():+.2f} | {d_loss.mean():+.4f} | "
                f"{ratio:.2f} | {wtl_acc} | {wtl_loss} |"
            )
        lines.append(
            f"| {variant} | {acc.mean():.4f} | {loss.mean():.4f} | "
            f"{np.median(list(fits.values())):.2f} " + deltas
        )
    return "\n".join(lines), names


def _wins_ties_losses(gain: np.ndarray, tie: float) -> str:
    wins, losses = int((gain > tie).sum()), int((gain < -tie).sum())
    return f"{wins}/{len(gain) - wins - losses}/{losses}"


def page_section(results: list, folds: int, minutes: float) -> str:
    table, names = summary(results)
    return "\n".join(
        [
            HEADING,
            "",
            "Produced by `python benchmarks/ablation_cases.py --budget 40 --page` "
            "(niced, one PyTorch thread, on 2 CPU cores shared with other work; "
            "fit times are CPU seconds of the process): "
            '`QwertyClassifier(hidden_layer_sizes=(256, 256), preprocessing="robust", '
            "early_stopping=True, max_epochs=200)` as it is (plain) and with one "
            "technique (or two) switched on, outer stratified "
            f"{folds}-fold cross-validation "
            "(shuffled, seed 0) on the smallest tables of the shared list "
            "(`benchmarks/tables.py`, at most 5,000 rows), as many as ran in "
            f"{minutes:.0f} minutes of wall-clock time: {len(names)} tables "
            f"({', '.join(names)}). "
            "Accuracy and log-loss are means over tables of each table's mean "
            "over folds; the fit time is the median over all fits, its ratio the "
            "median over (table, fold) of the variant's fit time over plain's. "
            "W/T/L: tables where the variant's mean is better than plain's, "
            f"within {TIE_ACCURACY * 100:g} pp of accuracy (or {TIE_LOG_LOSS} of "
            "log-loss) of it, or worse.",
            "",
            table,
            "",
        ]
    )


def splice(page: Path, section: str) -> None:
    """Put `section` in place of the page's ablation section, before the
    accuracy section (or at the end)."""
    text = page.read_text()
    if HEADING in text:
        head, _, rest = text.partition(HEADING)
        _, heading, tail = rest.partition(NEXT_HEADING)
    else:
        head, heading, tail = text.partition(NEXT_HEADING)
    page.write_text(head.rstrip("\n") + "\n\n" + section + "\n" + heading + tail)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", help="default: the small tables")
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--budget", type=float, help="minutes; no table starts after")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ablation.json")
    parser.add_argument("--from-json", type=Path, help="summarise saved results")
    parser.add_argument(
        "--resume", action="store_true", help="keep --out's tables, run the next"
    )
    parser.add_argument(
        "--page",
        nargs="?",
        const=HERE.parent / "docs" / "benchmarks.md",
        type=Path,
        help="write the section into this page (default docs/benchmarks.md)",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
    else:
        torch.set_num_threads(1)
        names = args.tables or small_tables(args.max_rows)
        budget = None if args.budget is None else 60 * args.budget
        done = json.loads(args.out.read_text()) if args.resume else None
        run(
            names,
            args.variants,
            args.folds,
            budget=budget,
            out=args.out,
            done=done,
        )
        saved = json.loads(args.out.read_text())
    results, config = saved["results"], saved["config"]
    print(summary(results)[0])
    if args.page:
        splice(
            args.page, page_section(results, config["folds"], config["wall_minutes"])
        )


if __name__ == "__main__":
    main()
