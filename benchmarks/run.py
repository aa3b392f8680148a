"""Time qwertyclf against scikit-learn's MLPClassifier and plain skorch.

    python benchmarks/run.py            # full run, writes docs/benchmarks.md
    python benchmarks/run.py --quick    # small sizes, one repeat (smoke test)
    python benchmarks/run.py accuracy [--resume] [--tables ...] [--contenders ...]
                                        # the accuracy cases (accuracy_cases.py)

Every case runs in this one process: a warm-up, then `--repeats` timed runs;
the table reports medians and the best run, each with its ratio to
MLPClassifier. Peak memory of the large training case is measured in a child
process (`--memory-probe`). If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set,
the script runs itself again without them: they make numpy's OpenBLAS use an
older kernel, which slows scikit-learn and flatters every ratio.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ablation_cases  # noqa: E402
import accuracy_cases  # noqa: E402
import cases  # noqa: E402
import numpy as np  # noqa: E402
import search_cases  # noqa: E402
import sklearn  # noqa: E402
import skorch  # noqa: E402
import startup_cases  # noqa: E402
import torch  # noqa: E402

import qwertyclf  # noqa: E402

REFERENCE = "scikit-learn MLPClassifier"
TITLES = {
    "a": "(a) Qwerty workload: fit, 720 rows x 2 features, 2-8-3 ReLU, "
    "batch 16, {epochs} epochs, Adam lr 0.01",
    "ablation": "(a') What the fast path buys: case (a) with pieces switched off",
    "b": "(b) Large table: fit, {n:,} rows x 20 features, 10 classes, "
    "hidden (64, 64), batch 512, 3 epochs",
    "c": "(c) Inference: predict_proba on {n:,} float32 rows x 20 features, "
    "hidden (64, 64), the contenders interleaved",
    "d": "(d) GridSearchCV: 12 candidates x {folds} folds on the qwerty data, n_jobs=2",
}


def machine_info() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- Date: {datetime.date.today().isoformat()}",
        f"- CPU: {cpu}, {torch.get_num_threads()} torch threads, "
        f"{len(__import__('os').sched_getaffinity(0))} cores available",
        f"- Python {platform.python_version()}, qwertyclf {qwertyclf.__version__}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"skorch {skorch.__version__}, numpy {np.__version__}",
        "- BLAS and OpenMP (threadpoolctl: internal_api version (architecture, "
        "num_threads, library)): " + "; ".join(cases.blas_kernels()),
        "- OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (the script removes "
        "them), so OpenBLAS runs the kernel it picks for this CPU",
    ]


def table(rows: list[cases.Row], throughput: bool) -> list[str]:
    reference = next(r for r in rows if r.contender == REFERENCE)
    if throughput:
        head = (
            "| contender | median rows/s | speed vs MLPClassifier (median) "
            "| best rows/s | speed vs MLPClassifier (best) | runs (s) |"
        )
    else:
        head = (
            "| contender | median time (s) | time vs MLPClassifier (median) "
            "| best time (s) | time vs MLPClassifier (best) | accuracy | runs (s) |"
        )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        runs = ", ".join(f"{s:.3f}" for s in row.seconds)
        if throughput:
            # Interleaved runs: the median of the per-round ratios.
            ratio = row.paired_ratio or row.throughput / reference.throughput
            best = row.best_throughput / reference.best_throughput
            lines.append(
                f"| {row.contender} | {row.throughput:,.0f} | {ratio:.2f}x "
                f"| {row.best_throughput:,.0f} | {best:.2f}x | {runs} |"
            )
        else:
            ratio = row.median / reference.median
            best = row.best / reference.best
            accuracy = "" if row.accuracy is None else f"{row.accuracy:.3f}"
            lines.append(
                f"| {row.contender} | {row.median:.3f} | {ratio:.2f}x "
                f"| {row.best:.3f} | {best:.2f}x | {accuracy} | {runs} |"
            )
    return lines


def resident_bytes(field: str = "VmRSS") -> int:
    """Current (VmRSS) or peak (VmHWM) resident memory of this process.

    The peak is read from /proc rather than `getrusage`, whose `ru_maxrss`
    carries over the parent's peak into a freshly started child.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_probe(folder: Path) -> dict:
    """Peak resident memory that fitting case (b) adds, in this (child) process.

    The data is loaded from `.npy` files, so nothing but the arrays themselves
    is resident before the fit starts.
    """
    X, y = np.load(folder / "X.npy"), np.load(folder / "y.npy")
    qwertyclf.QwertyClassifier(max_epochs=1).fit(X[:64], y[:64])  # warm up torch
    before = resident_bytes()
    qwertyclf.QwertyClassifier(
        hidden_layer_sizes=(64, 64), batch_size=512, max_epochs=3, lr=1e-3
    ).fit(X, y)
    after = resident_bytes("VmHWM")
    return {"input_bytes": X.nbytes + y.nbytes, "added_peak_bytes": after - before}


#: Headings of the page's sections that other scripts write, in page order.
KEPT_HEADINGS = (
    "## Bayes gap on known distributions",
    ablation_cases.HEADING,
    accuracy_cases.HEADING,
)


def kept_sections(page: str) -> str:
    """The page from the first section another script writes to its end."""
    starts = [
        m.start()
        for heading in KEPT_HEADINGS
        for m in re.finditer(f"^{re.escape(heading)}$", page, re.M)
    ]
    return page[min(starts) :] if starts else ""


def main(argv=None) -> int:
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["accuracy"]:
        # The accuracy benchmark on real tables: its own options, results
        # saved per (table, contender) so `--resume` goes on where it stopped.
        accuracy_cases.main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, 1 repeat, no warm-up"
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--output", type=Path, default=HERE.parent / "docs" / "benchmarks.md"
    )
    parser.add_argument("--memory-probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if from_command_line:
        cases.without_blas_overrides(sys.argv)
    cases.quiet()
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe)))
        return 0

    repeats = args.repeats or (1 if args.quick else 5)
    cases.WARM_UP = not args.quick
    epochs = 5 if args.quick else 100
    n_large = 4_000 if args.quick else 500_000
    folds = 2 if args.quick else 5

    sections = {}
    print("(a) qwerty workload ...", flush=True)
    sections["a"] = cases.case_seed(repeats, epochs=epochs)
    print("(a') fast-path ablation ...", flush=True)
    sections["ablation"] = cases.case_ablation(repeats, epochs=epochs)
    print("(b) large table ...", flush=True)
    sections["b"], fitted = cases.case_large(repeats, n_large)
    print("(c) inference ...", flush=True)
    sections["c"] = cases.case_predict(repeats, fitted)
    print("(c') inference by input dtype ...", flush=True)
    inference_lines = startup_cases.inference_lines(
        startup_cases.case_inference(repeats, fitted), n_large
    )
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "X.npy", fitted["X"])
        np.save(Path(folder) / "y.npy", fitted["y"])
        del fitted
        probe = subprocess.run(
            [sys.executable, __file__, "--memory-probe", folder],
            check=True,
            capture_output=True,
            text=True,
        )
    memory = json.loads(probe.stdout)
    print("(d) grid search ...", flush=True)
    sections["d"] = cases.case_grid(repeats, folds=folds, epochs=epochs)
    search_lines = search_cases.run_all(
        repeats,
        quick=args.quick,
        figure=args.output.parent / "images" / "cost-per-model.png",
    )
    print("(h) start-up ...", flush=True)
    startup_lines = startup_cases.startup_lines(
        startup_cases.case_startup(1 if args.quick else 10)
    )

    lines = [
        "# Benchmarks",
        "",
        "Produced by `python benchmarks/run.py`"
        + (
            " --quick (small sizes, no warm-up: not representative)"
            if args.quick
            else ""
        )
        + f": each case is run once to warm up, then {repeats} times; medians and "
        "best runs, each with its ratio to scikit-learn's MLPClassifier, all in "
        "one process. Accuracy is on the held-out 20% (case a) or the best "
        "cross-validated score (case d). The machine is shared: where median and "
        "best disagree, another process held a core during some runs.",
        "",
        "## Machine",
        "",
        *machine_info(),
    ]
    params = {"epochs": epochs, "n": n_large, "folds": folds}
    for key, rows in sections.items():
        lines += ["", f"## {TITLES[key].format(**params)}", ""]
        if any(row.paired for row in rows):
            lines += [
                "Each round runs every contender once, in turn; the median "
                "speed ratio is the median of the rounds' ratios, the best "
                "one compares best runs.",
                "",
            ]
        lines += table(rows, throughput=key in "bc")
    ratio = memory["added_peak_bytes"] / memory["input_bytes"]
    lines += [
        "",
        "## Memory of case (b)",
        "",
        f"Fitting QwertyClassifier on the {n_large:,}-row table (loaded from "
        "disk in a fresh process) raised its peak resident memory by "
        f"{memory['added_peak_bytes'] / 2**20:,.1f} MiB, {ratio:.2f}x the "
        f"{memory['input_bytes'] / 2**20:,.1f} MiB of input arrays (X as "
        "float64 and y).",
        "",
    ]
    lines += inference_lines
    lines += search_lines
    lines += startup_lines
    text = "\n".join(lines)
    # The sections other scripts write (Bayes gap, accuracy) come after the
    # speed cases; keep them as they are.
    if args.output.exists():
        kept = kept_sections(args.output.read_text())
        text = text.rstrip("\n") + "\n\n" + kept if kept else text
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
