"""Benchmark cases for start-up and inference: (h) the command's start-up and a
cold prediction, each in a fresh process; (c') predict_proba and predict with
float32 and float64 input beside MLPClassifier.

`run.py` calls `case_inference` with the models fitted for case (b) and
`case_startup`, and appends the Markdown they return. Run on its own, this file
times (c') on models fitted briefly on a sample (the speed of prediction does
not depend on the weights) and (h):

    python benchmarks/startup_cases.py            # 500,000 rows, 5 repeats
    python benchmarks/startup_cases.py --quick    # smoke test
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402
import numpy as np  # noqa: E402

from qwertyclf import QwertyClassifier  # noqa: E402
from qwertyclf.datasets import make_qwerty  # noqa: E402

QWERTY = "qwertyclf QwertyClassifier"
MLP = "scikit-learn MLPClassifier"
#: Seconds over the baseline that issue 12 set as targets.
HELP_TARGET, PREDICT_TARGET = 0.5, 1.0


def _command(name: str) -> list[str]:
    # The console script next to this interpreter, as a user would run it.
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "qwertyclf"]


def _wall_seconds(command: list[str], repeats: int, cwd: Path) -> list[float]:
    """Wall-clock seconds of `command` in fresh processes, one run to warm up."""
    seconds = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
        if i:  # the first run fills the file cache
            seconds.append(time.perf_counter() - start)
    return seconds


def case_startup(repeats: int) -> list[dict]:
    """(h) Start-up: `--help` over bare Python, a 10-row prediction over imports."""
    python = sys.executable
    qwertyclf = _command("qwertyclf")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        X, y = make_qwerty(random_state=0)
        QwertyClassifier(max_epochs=5, random_state=0).fit(X, y).save(
            folder / "model.safetensors"
        )
        np.savetxt(
            folder / "rows.csv", X[:10], delimiter=",", header="x0,x1", comments=""
        )
        runs = {
            "python -c pass": [python, "-c", "pass"],
            "qwertyclf --help": [*qwertyclf, "--help"],
            'python -c "import torch, sklearn.neural_network"': [
                python,
                "-c",
                "import torch, sklearn.neural_network",
            ],
            "qwertyclf predict model.safetensors rows.csv (10 rows)": [
                *qwertyclf,
                "predict",
                "model.safetensors",
                "rows.csv",
            ],
        }
        timed = {
            name: _wall_seconds(command, repeats, folder)
            for name, command in runs.items()
        }
    names = list(timed)
    rows = []
    for i, name in enumerate(names):
        median = statistics.median(timed[name])
        row = {"command": name, "median": median, "runs": timed[name]}
        if i % 2:  # measured against the baseline above it
            row["over"] = median - statistics.median(timed[names[i - 1]])
            row["target"] = HELP_TARGET if i == 1 else PREDICT_TARGET
        rows.append(row)
    return rows


def case_inference(repeats: int, fitted: dict) -> list[cases.Row]:
    """(c') predict_proba and predict, float32 and float64 input."""
    rows = []
    for input_name, X in (("float32", fitted["X32"]), ("float64", fitted["X"])):
        for method in ("predict_proba", "predict"):
            for name in (QWERTY, MLP):
                predict = getattr(fitted["models"][name], method)
                seconds, out = cases.timed(lambda f=predict, X=X: f(X), repeats)
                row = cases.Row("c'", name, seconds, rows=len(X))
                row.notes = {"input": input_name, "method": method}
                if method == "predict_proba":
                    row.notes["output"] = str(out.dtype)
                rows.append(row)
    return rows


def inference_lines(rows: list[cases.Row], n: int) -> list[str]:
    lines = [
        "",
        f"## (c') Inference by input dtype: {n:,} rows x 20 features, hidden (64, 64)",
        "",
        "Both estimators return float32 probabilities for float32 input and "
        "float64 otherwise.",
        "",
        "| method | input | contender | median rows/s | speed vs MLPClassifier "
        "(median) | best rows/s | speed vs MLPClassifier (best) | runs (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        reference = next(
            r
            for r in rows
            if r.contender == MLP
            and r.notes["input"] == row.notes["input"]
            and r.notes["method"] == row.notes["method"]
        )
        runs = ", ".join(f"{s:.3f}" for s in row.seconds)
        lines.append(
            f"| {row.notes['method']} | {row.notes['input']} | {row.contender} "
            f"| {row.throughput:,.0f} | {row.throughput / reference.throughput:.2f}x "
            f"| {row.best_throughput:,.0f} "
            f"| {row.best_throughput / reference.best_throughput:.2f}x | {runs} |"
        )
    return lines


def startup_lines(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## (h) Start-up: each command in a fresh process, wall-clock time",
        "",
        "Every time includes starting Python. `--help` is measured against bare "
        "Python, the 10-row prediction (which loads a saved model) against "
        "importing PyTorch and scikit-learn.",
        "",
        "| command | median (s) | over the line above (s) | target (s) | runs (s) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        runs = ", ".join(f"{s:.3f}" for s in row["runs"])
        over = f"{row['over']:+.3f}" if "over" in row else ""
        target = ""
        if "target" in row:
            met = "met" if row["over"] <= row["target"] else "missed"
            target = f"<= {row['target']:.1f} ({met})"
        lines.append(
            f"| `{row['command']}` | {row['median']:.3f} | {over} | {target} | {runs} |"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    args = parser.parse_args(argv)
    if argv is None:
        cases.without_blas_overrides(sys.argv)
    cases.quiet()
    repeats = 1 if args.quick else 5
    n = 4_000 if args.quick else 500_000
    X, y = cases.large_data(n)
    sample = slice(0, min(n, 20_000))
    fitted = {
        "X": X,
        "X32": X.astype(np.float32),
        "models": {
            QWERTY: QwertyClassifier(
                hidden_layer_sizes=(64, 64), batch_size=512, max_epochs=1
            ).fit(X[sample], y[sample]),
            MLP: cases.mlp((64, 64), 512, 1, 1e-3).fit(X[sample], y[sample]),
        },
    }
    lines = inference_lines(case_inference(repeats, fitted), n)
    lines += startup_lines(case_startup(1 if args.quick else 10))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
