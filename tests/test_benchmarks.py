"""The benchmark script keeps working (its numbers come from full runs only)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_table(tmp_path):
    output = tmp_path / "benchmarks.md"
    output.write_text("# old page\n\n## Accuracy on tables\n\nkept section\n")
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
    assert text.endswith("\n\n## Accuracy on tables\n\nkept section\n")
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


def _accuracy_results():
    def contender(acc, logloss, fit_s, gap=None):
        row = {"acc": acc, "logloss": logloss, "fit_s": fit_s}
        if gap is not None:
            row["bayes_gap_pp"] = gap
        return row

    return {
        "a": {
            "contenders": {
                "QwertyClassifier (scaled)": contender(0.90, 0.30, 1.0),
                "QwertyClassifierCV": contender(0.95, 0.20, 4.0),
                "QwertyEnsembleClassifier": contender(0.94, 0.25, 2.0),
                "MLPClassifier": contender(0.93, 0.22, 0.5),
                "HistGradientBoosting": contender(0.92, 0.30, 0.3),
            }
        },
        "b": {
            "contenders": {
                "QwertyClassifier (scaled)": contender(0.80, 0.50, 2.0, 1.0),
                "QwertyClassifierCV": contender(0.85, 0.40, 30.0, 0.2),
                "QwertyEnsembleClassifier": contender(0.84, 0.41, 3.0, 0.4),
                "MLPClassifier": contender(0.83, 0.45, 1.0, 0.6),
                "HistGradientBoosting": contender(0.86, 0.35, 0.4, 0.1),
            }
        },
    }


def test_accuracy_summary_and_targets():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import accuracy_cases

    results = _accuracy_results()
    summary = accuracy_cases.overall(results)
    cv = summary["QwertyClassifierCV"]
    assert cv["acc"] == pytest.approx(0.90)
    assert cv["fit_ratio"] == pytest.approx(9.5)  # median of 4x and 15x
    assert cv["bayes_gap_mean_pp"] == pytest.approx(0.2)
    assert cv["rank"] == pytest.approx(1.5)  # first on a, second on b
    lines = accuracy_cases.targets(results, summary)
    text = "\n".join(lines)
    assert "mean 0.20 pp (target <= 0.3, met)" in text
    assert "mean accuracy 0.9000 vs 0.8900 (met)" in text
    assert "9.50x a default fit (median; target <= 10x, met)" in text
    assert "every table: missed on a." in text


def test_accuracy_section_replaces_the_old_one(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import accuracy_cases

    page = tmp_path / "benchmarks.md"
    page.write_text(
        "# Benchmarks\n\n## Speed\n\n| a |\n## Accuracy on tables\n\nstale numbers\n"
    )
    results = _accuracy_results()
    section = accuracy_cases.page_section(
        results, accuracy_cases.overall(results), quick=False
    )
    accuracy_cases.splice(page, section)
    text = page.read_text()
    assert "stale numbers" not in text
    # A blank line before the heading, or markdown reads it as a table row.
    assert "| a |\n\n## Accuracy on tables\n" in text
    assert text.count("## Accuracy on tables") == 1


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
