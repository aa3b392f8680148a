"""The benchmark script keeps working (its numbers come from full runs only)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_table(tmp_path):
    output = tmp_path / "benchmarks.md"
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
