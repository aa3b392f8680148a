"""The benchmark script keeps working (its numbers come from full runs only)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_table(tmp_path):
    output = tmp_path / "benchmarks.md"
    kept = (
        "## Bayes gap on known distributions\n\nkept gaps\n\n"
        "## Ablation: techniques on one network\n\nkept ablation\n\n"
        "## Accuracy on tables\n\nkept section\n"
    )
    output.write_text("# old page\n\n## (h) Start-up\n\nstale\n\n" + kept)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = output.read_text()
    for title in (
        "(a) Qwerty workload",
        "(b) Large table",
        "(c) Inference",
        "(d) GridSearchCV",
        "Memory of case (b)",
    ):
        assert title in text
    assert "# old page" not in text
    assert text.endswith("\n\n" + kept)
    assert "stale" not in text
    for contender in (
        "qwertyclf QwertyClassifier",
        "scikit-learn MLPClassifier",
        "skorch NeuralNetClassifier",
        "notebook DataLoader loop",
    ):
        assert f"| {contender} |" in text
    # Every table row has a positive median and a ratio.
    rows = [line for line in text.splitlines() if line.startswith("| qwertyclf")]
    assert len(rows) == 4
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1].replace(",", "")) > 0
        assert cells[2].endswith("x")


def _row(acc, logloss, fit_s):
    return {
        "acc": acc,
        "logloss": logloss,
        "fit_s": fit_s,
        "fit_s_total": 2 * fit_s,
        "acc_folds": [acc, acc],
        "logloss_folds": [logloss, logloss],
        "fit_s_folds": [fit_s, fit_s],
    }


def _accuracy_results():
    def table(rows):
        return {
            "n_samples": 100,
            "dropped": [],
            "skipped": {},
            "folds": 2,
            "seed": 0,
            "contenders": rows,
        }

    return {
        "a": table(
            {
                "QwertyClassifierCV": _row(0.95, 0.20, 4.0),
                "QwertyEnsembleClassifier": _row(0.94, 0.25, 2.0),
                "MLPClassifier": _row(0.93, 0.22, 0.5),
                "HistGradientBoosting": _row(0.92, 0.30, 0.3),
            }
        ),
        "b": table(
            {
                "QwertyClassifierCV": _row(0.85, 0.40, 30.0),
                "QwertyEnsembleClassifier": _row(0.84, 0.41, 3.0),
                "MLPClassifier": _row(0.83, 0.45, 1.0),
                "HistGradientBoosting": _row(0.86, 0.35, 0.4),
            }
        ),
        "c": table(
            {
                "QwertyClassifierCV": {"error": "ValueError: could not convert"},
                "QwertyEnsembleClassifier": _row(0.70, 0.60, 1.0),
                "MLPClassifier": _row(0.70, 0.50, 1.0),
                "HistGradientBoosting": _row(0.60, 0.70, 0.2),
            }
        ),
    }


def _accuracy_cases():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import accuracy_cases

    return accuracy_cases


def test_accuracy_summary_and_targets():
    accuracy_cases = _accuracy_cases()
    results = _accuracy_results()
    summary = accuracy_cases.overall(results)
    cv = summary["QwertyClassifierCV"]
    assert cv["tables"] == 2  # the failed table is left out
    assert cv["acc"] == pytest.approx(0.90)
    assert cv["rank"] == pytest.approx(1.5)  # first on a, second on b
    assert cv["fit_s"] == pytest.approx(17.0)  # median of 4, 4, 30, 30
    assert cv["fit_s_total"] == pytest.approx(68.0)
    # On c, the ensemble ties MLPClassifier on accuracy: both share rank 1.5.
    assert summary["QwertyEnsembleClassifier"]["rank"] == pytest.approx(
        (2 + 3 + 1.5) / 3
    )
    lines = accuracy_cases.targets(results, summary)
    text = "\n".join(lines)
    assert "against HistGradientBoosting on 2 tables: mean accuracy 0.9000 vs " in text
    assert "0.8900 (met)" in text
    assert "every table: missed on a, c." in text
    # Both estimators are held against every target anchor that ran.
    assert "- QwertyEnsembleClassifier against MLPClassifier on 3 tables" in text
    assert "- QwertyClassifierCV against MLPClassifier on 2 tables" in text


def test_accuracy_cost_counts_default_fits_and_leaves_the_unit_unranked():
    accuracy_cases = _accuracy_cases()
    results = _accuracy_results()
    unit = accuracy_cases.COST_UNIT
    results["a"]["contenders"][unit] = _row(0.5, 1.0, 0.5)  # 4.0 s: 8 fits
    results["b"]["contenders"][unit] = _row(0.5, 1.0, 2.0)  # 30 s: 15 fits
    results["b"]["contenders"]["RealMLP-TD"] = _row(0.8, 0.5, 20.0)
    summary = accuracy_cases.overall(results)
    assert unit not in summary
    assert summary["QwertyClassifierCV"]["rank"] == pytest.approx(1.5)
    text = "\n".join(accuracy_cases.cost_lines(results))
    assert (
        "QwertyClassifierCV() in default `QwertyClassifier()` fits, median over "
        "2 tables: 11.5 (at most 10: missed; range 8.0 to 15.0)" in text
    )
    assert "QwertyEnsembleClassifier() in default" in text
    assert "median over 2 tables: 2.8 (at most 10: met; range 1.5 to 4.0)" in text
    assert (
        "Total fit time of QwertyClassifierCV() against RealMLP-TD's on 1 "
        "tables: 60 s vs 40 s (1.50x; at most 1x: missed)" in text
    )


def test_accuracy_head_to_head_counts_wins_ties_losses():
    accuracy_cases = _accuracy_cases()
    h2h = accuracy_cases.head_to_head(_accuracy_results())
    ens = h2h["QwertyEnsembleClassifier"]
    assert ens["MLPClassifier"] == {
        "acc": [2, 1, 0],
        "logloss": [1, 0, 2],
        "tables": 3,
    }
    assert h2h["QwertyClassifierCV"]["HistGradientBoosting"]["acc"] == [1, 0, 1]
    assert "RealMLP-TD" not in ens  # never ran


def test_accuracy_section_replaces_the_old_one(tmp_path):
    accuracy_cases = _accuracy_cases()
    page = tmp_path / "benchmarks.md"
    page.write_text(
        "# Benchmarks\n\n## Speed\n\n| a |\n## Accuracy on tables\n\nstale numbers\n"
    )
    results = _accuracy_results()
    section = accuracy_cases.page_section(results, accuracy_cases.overall(results))
    accuracy_cases.splice(page, section)
    text = page.read_text()
    assert "stale numbers" not in text
    # A blank line before the heading, or markdown reads it as a table row.
    assert "| a |\n\n## Accuracy on tables\n" in text
    assert text.count("## Accuracy on tables") == 1
    assert "| c | 100 | err |" in text


def test_accuracy_scores_align_probabilities_to_all_classes():
    accuracy_cases = _accuracy_cases()
    np = pytest.importorskip("numpy")

    class Fitted:  # saw only classes "a" and "c" in training
        classes_ = np.array(["a", "c"])

        def predict_proba(self, X):
            return np.array([[0.9, 0.1], [0.2, 0.8]])

    acc, loss = accuracy_cases.scores(
        Fitted(), None, np.array(["a", "b"]), np.array(["a", "b", "c"])
    )
    assert acc == 0.5
    assert loss == pytest.approx((-np.log(0.9) - np.log(1e-15)) / 2)


def test_accuracy_preprocessing_for_the_anchors():
    accuracy_cases = _accuracy_cases()
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    X = pd.DataFrame(
        {
            "n": [1.0, np.nan, 3.0, 5.0],
            "full": [1.0, 2.0, 3.0, 4.0],
            "c": pd.Categorical(["u", None, "v", "u"]),
        }
    )
    before = X.copy()
    out = accuracy_cases.MedianWithIndicators().fit(X).transform(X)
    assert out["n"].tolist() == [1.0, 3.0, 3.0, 5.0]
    assert out["n_missing"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert "full_missing" not in out
    assert isinstance(out["c"].dtype, pd.CategoricalDtype)
    assert out["c"].tolist() == ["u", "missing", "v", "u"]
    pd.testing.assert_frame_equal(X, before)  # the caller's frame is untouched
    encoded = accuracy_cases.onehot().fit_transform(X)
    # n (scaled), its indicator, full; c as u, v and missing.
    assert encoded.shape == (4, 6)
    assert not np.isnan(encoded).any()
    cat = accuracy_cases._for_catboost(X)
    assert cat["c"].tolist() == ["u", "nan", "v", "u"]


def test_accuracy_picks_tables_by_name_and_group():
    accuracy_cases = _accuracy_cases()
    picked = accuracy_cases.pick_tables(["iris", "mixed", "iris"])
    assert picked[0] == "iris"
    assert "penguins" in picked and "diamonds" in picked
    assert picked.count("iris") == 1
    assert "letter" not in picked
    with pytest.raises(SystemExit, match="unknown table 'nope'"):
        accuracy_cases.pick_tables(["nope"])


# The table registry: parsers on inline text, no network, no cache.


def _tables():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import tables

    return tables


def test_keel_parser_reads_headerless_csv_with_nominal_columns():
    tables = _tables()
    pd = pytest.importorskip("pandas")
    text = "40-49, premeno, 3, 1.5, no-recurrence\n30-39, ge40, 1, 2.0, recurrence\n"
    X, y = tables.parse_keel(text)
    assert list(X.columns) == ["x0", "x1", "x2", "x3"]
    assert isinstance(X["x0"].dtype, pd.CategoricalDtype)
    assert X["x0"].tolist() == ["40-49", "30-39"]  # stored order, stripped
    assert X["x2"].dtype.kind == "i" and X["x3"].dtype.kind == "f"
    assert y.tolist() == ["no-recurrence", "recurrence"]


def test_keel_parser_labels_and_at_headers():
    tables = _tables()
    text = "@relation t\n@attribute a real\n@data\n0.5,-1.0\n0.7,1.0\n0.1,-1.0\n"
    X, y = tables.parse_keel(text)
    assert X.shape == (3, 1)
    assert y.dtype.kind == "i" and y.tolist() == [-1, 1, -1]  # 1.0 / -1.0 labels
    X, y = tables.parse_keel("1, ?, a\n2, 3, b\n")
    assert X["x1"].isna().tolist() == [True, False]


def test_r_csv_parser_drops_row_names_missing_targets_and_columns():
    tables = _tables()
    pd = pytest.importorskip("pandas")
    text = (
        '"","id","age","sex","ok","y"\n'
        '"1",7,31,"f",TRUE,"yes"\n'
        '"2",8,NA,NA,FALSE,"no"\n'
        '"3",9,40,"m",TRUE,NA\n'
        '"4",10,NA,"NA_not",FALSE,"no"\n'
    )
    X, y = tables.parse_r_csv(text, "y", drop=["id"])
    assert list(X.columns) == ["age", "sex", "ok"]
    assert y.tolist() == ["yes", "no", "no"]  # row 3 had no target
    assert X["age"].isna().tolist() == [False, True, True]
    assert isinstance(X["sex"].dtype, pd.CategoricalDtype)
    assert X["sex"].isna().tolist() == [False, True, False]
    assert X["ok"].dtype == bool and X["ok"].tolist() == [True, False, False]
    with pytest.raises(ValueError, match="target column 'z'"):
        tables.parse_r_csv(text, "z")
    with pytest.raises(ValueError, match=r"columns to drop \['ID'\]"):
        tables.parse_r_csv(text, "y", drop=["ID"])


def test_registry_lists_every_table_with_sources_and_reasons():
    tables = _tables()
    reg = tables.REGISTRY
    assert len(reg) == 26 + 5 + 13
    assert {t.kind for t in reg.values()} == {"numeric", "nominal", "mixed"}
    assert reg["biopsy"].dropped == {"ID": "sample identifier"}
    assert "death" in reg["Aids2"].dropped
    assert reg["Fishing"].target == "mode"
    assert all(why for t in reg.values() for why in t.dropped.values())
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        tables.load("nope")


def test_benchmarks_run_without_openblas_overrides(tmp_path):
    # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE make numpy's OpenBLAS run another
    # kernel than the CPU's own; a benchmark script starts again without them.
    import json
    import os

    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, os, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        "import cases, threadpoolctl\n"
        "cases.without_blas_overrides(sys.argv)\n"
        "print(json.dumps([[os.environ.get(n) for n in cases.BLAS_OVERRIDES],\n"
        "    sorted(lib.get('architecture') or '' for lib in\n"
        "           threadpoolctl.threadpool_info())]))\n"
    )

    def run(env):
        done = subprocess.run(
            [sys.executable, str(probe)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return json.loads(done.stdout.splitlines()[-1])

    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    forced = {**clean, "OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_L2_SIZE": "65536"}
    variables, kernels = run(forced)
    assert variables == [None, None]
    assert kernels == run(clean)[1]


def test_cv_blend_selection_and_temperature():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import cv_blend_cases as blend

    np = pytest.importorskip("numpy")
    y = np.array([0, 1, 0, 1])
    right = np.array([[0.8, 0.2], [0.3, 0.7], [0.7, 0.3], [0.2, 0.8]])
    wrong = right[:, ::-1]
    # The better candidate gets every step; a failed one (None) is passed over.
    assert blend.greedy([wrong, None, right], y).tolist() == [0.0, 0.0, 1.0]
    assert blend.forward([wrong, None, right], y).tolist() == [0.0, 0.0, 1.0]
    # Too timid probabilities get a temperature below 1, which sharpens them.
    timid = blend.tempered(right, 3.0)
    t = blend.temperature(timid, y)
    assert t < 1
    assert blend.loss(y, blend.tempered(timid, t)) < blend.loss(y, timid)


def test_accuracy_contender_variants_carry_settings():
    accuracy_cases = _accuracy_cases()
    pd = pytest.importorskip("pandas")
    assert accuracy_cases.variant("QwertyClassifierCV") == ("QwertyClassifierCV", {})
    assert accuracy_cases.variant("QwertyClassifierCV[n_candidates=3,cv=4]") == (
        "QwertyClassifierCV",
        {"n_candidates": 3, "cv": 4},
    )
    X = pd.DataFrame({"a": [0.0, 1.0]})
    cv = accuracy_cases.make("QwertyClassifierCV[n_candidates=3]", X, seed=1)
    assert (cv.n_candidates, cv.random_state) == (3, 1)
    ensemble = accuracy_cases.make(
        "QwertyEnsembleClassifier[lr=0.01,activation=tanh]", X, seed=0
    )
    member = ensemble.estimator
    assert (member.lr, member.activation, member.weight_decay) == (0.01, "tanh", 0.01)
    with pytest.raises(ValueError, match="end with"):
        accuracy_cases.variant("QwertyClassifierCV[n_candidates=3")


def _ablation_cases():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ablation_cases

    return ablation_cases


def _ablation_results():
    rows = []
    # variant -> table -> (accuracy, log-loss, fit seconds) on each of 2 folds
    measured = {
        "plain": {"a": (0.80, 0.40, 1.0), "b": (0.90, 0.30, 2.0)},
        "other": {"a": (0.82, 0.35, 3.0), "b": (0.90, 0.31, 4.0)},
    }
    for variant, tables in measured.items():
        for table, (acc, loss, seconds) in tables.items():
            for fold in range(2):
                rows.append(
                    {
                        "table": table,
                        "fold": fold,
                        "variant": variant,
                        "accuracy": acc,
                        "log_loss": loss,
                        "fit_seconds": seconds,
                        "epochs": 10,
                    }
                )
    # A table only one variant finished is left out.
    rows.append({**rows[0], "table": "c"})
    return rows


def test_ablation_summary_against_plain():
    ablation_cases = _ablation_cases()
    table, names = ablation_cases.summary(_ablation_results())
    assert names == ["a", "b"]
    plain, other = table.splitlines()[2:]
    assert plain.startswith("| plain | 0.8500 | 0.3500 | 1.50 |")
    cells = [c.strip() for c in other.strip("|").split("|")]
    # +1 pp accuracy, -0.02 log-loss, fit time ratios 3 and 2 (median 2.5);
    # accuracy better on a, tied on b; log-loss better on a, worse on b.
    assert cells == [
        "other",
        "0.8600",
        "0.3300",
        "3.50",
        "+1.00",
        "-0.0200",
        "2.50",
        "1/1/0",
        "1/0/1",
    ]


def test_ablation_section_goes_before_the_accuracy_section(tmp_path):
    ablation_cases = _ablation_cases()
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n## Speed\n\n| a |\n## Accuracy on tables\n\nacc\n")
    section = ablation_cases.page_section(_ablation_results(), folds=2, minutes=3.0)
    ablation_cases.splice(page, section)
    first = page.read_text()
    assert "| a |\n\n## Ablation: techniques on one network\n" in first
    assert first.endswith("\n\n## Accuracy on tables\n\nacc\n")
    assert "2 tables (a, b)" in first
    # Written again, it replaces itself.
    ablation_cases.splice(page, section.replace("| plain |", "| plain again |"))
    second = page.read_text()
    assert second.count("## Ablation") == 1
    assert "| plain again |" in second
    assert second.endswith("\n\n## Accuracy on tables\n\nacc\n")


def test_rare_categories_tables_and_summary(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import rare_categories_cases as rc

    X, y = rc.make_table("noise", 50)
    assert X["id"].nunique() == 50 and set(y) == {0, 1}
    X, y = rc.make_table("signal", 50)
    assert list(X.columns) == ["x0", "x1", "x2", "x3", "x4", "town"]
    with pytest.raises(ValueError, match="kind"):
        rc.make_table("other", 10)
    row = {"table": "noise", "acc": 0.5, "logloss": 0.7, "inputs": 7}
    lines = rc.table_lines(
        [
            {**row, "contender": "QwertyClassifierCV (default)", "fit_s": 2.0},
            {
                **row,
                "contender": "QwertyClassifierCV (min_frequency=None)",
                "fit_s": 5.0,
            },
        ]
    )
    assert lines[2].endswith("| 2.00 |  |") and lines[3].endswith("| 5.00 | 2.5 |")
    assert [rc._value(w) for w in ("default", "None", "2", "0.01")] == [
        "default",
        None,
        2,
        0.01,
    ]


def test_rare_classes_case_compares_the_two_rules(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import numpy as np
    import rare_classes_cases as rcl

    _, y = rcl.make_table(200, 3, 1, seed=0)
    assert np.bincount(y)[2] == 1 and rcl.class_seen_once(y)
    assert not rcl.class_seen_once(np.array([0, 0, 1, 1]))
    previous = rcl.model_for("previous rule", y, quick=True)
    assert not previous.estimator.early_stopping
    assert rcl.model_for(
        "previous rule", np.r_[y, 2], quick=True
    ).estimator.early_stopping
    assert rcl.model_for("stops early", y, quick=True).estimator.early_stopping
    with pytest.raises(ValueError, match="unknown rule"):
        rcl.model_for("other", y, quick=True)
    results = rcl.run([(120, 3, 2)], folds=3, quick=True)
    assert [r["rule"] for r in results] == ["stops early", "previous rule"]
    assert results[0]["folds_with_a_single_row"] >= 1
    lines = rcl.table_lines(results)
    assert len(lines) == 2 + 2 + 2 and lines[-1].startswith(
        "| **mean** | | previous rule"
    )
