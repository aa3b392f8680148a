"""Run skorch's own tests with QwertyClassifier's net in place of skorch's.

The tests come from the installed skorch package (``skorch/tests``), copied to
a temporary directory laid out like skorch's repository (``skorch/tests/``,
run from its parent, as some tests expect). The selection -- ``callbacks/``,
``test_classifier.py`` and ``test_net.py`` -- runs twice, at the same time:

* the baseline, with plain ``skorch.NeuralNetClassifier``;
* ours, with ``skorch.NeuralNetClassifier`` replaced by the class of
  ``QwertyClassifier(max_epochs=1).fit(X, y).net_`` (see ``qwertyclf_swap``).

A test counts against us if it fails with our class and does not fail in the
baseline (on this machine, in this environment), unless it is listed in
``EXCEPTED`` below. The exit status is 1 if any test counts against us, or if
a test still built a plain ``NeuralNetClassifier`` while the swap was on (the
swap did not reach it); 0 otherwise.

Usage::

    python .ci/skorch_suite/run.py [--report PATH] [--keep] [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The part of skorch's suite that exercises NeuralNetClassifier and NeuralNet.
SELECTION = ["callbacks", "test_classifier.py", "test_net.py"]

#: Tests whose failure with our class is expected and says nothing about its
#: behaviour, keyed by test id, with the reason. Keep this list short: a test
#: belongs here only if it fails because of the class's *name* (a repr or
#: message that spells out ``NeuralNetClassifier``), never because of what
#: the class does. CUDA-only tests (a ``cuda`` parameter, or skipped for want
#: of a CUDA device) are excepted by rule, see ``is_excepted``.
EXCEPTED: dict[str, str] = {
    "skorch/tests/test_net.py::TestNeuralNet::test_repr_uninitialized_works": (
        "asserts the repr starts with "
        "\"<class 'skorch.classifier.NeuralNetClassifier'>\""
    ),
    "skorch/tests/test_net.py::TestNeuralNet::test_repr_initialized_works": (
        "asserts the repr starts with "
        "\"<class 'skorch.classifier.NeuralNetClassifier'>\""
    ),
    "skorch/tests/test_net.py::TestNeuralNet::test_repr_fitted_works": (
        "asserts the repr starts with "
        "\"<class 'skorch.classifier.NeuralNetClassifier'>\""
    ),
}


def skorch_tests_dir() -> Path:
    """The ``tests`` directory inside the installed skorch package."""
    spec = importlib.util.find_spec("skorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("skorch is not installed")
    tests = Path(next(iter(spec.submodule_search_locations))) / "tests"
    if not (tests / "conftest.py").is_file():
        raise SystemExit(f"skorch's tests are not installed (no {tests}/conftest.py)")
    return tests


def pytest_command(workdir: Path, outcomes: Path, swap: bool, extra) -> list[str]:
    """The pytest command line for one of the two runs."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "qwertyclf_swap",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(workdir),
        "-q",
        "-rfE",
        "--outcomes",
        str(outcomes),
    ]
    if importlib.util.find_spec("pytest_timeout") is not None:
        command += ["-o", "timeout=600"]
    if swap:
        command.append("--swap-net")
    command += [f"skorch/tests/{part}" for part in SELECTION]
    return command + list(extra)


def is_excepted(nodeid: str, result: dict) -> str | None:
    """Why a failure with our class is excepted, or None if it counts."""
    if nodeid in EXCEPTED:
        return EXCEPTED[nodeid]
    if result.get("cuda_only"):
        return "CUDA-only test"
    return None


def run_both(workdir: Path, extra) -> tuple[dict, dict, float]:
    """Run the baseline and ours side by side; return both outcome files."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.setdefault("MPLBACKEND", "Agg")
    # Two runs share the machine: one intra-op thread each.
    env.setdefault("OMP_NUM_THREADS", "1")
    runs = {}
    start = time.perf_counter()
    for name, swap in [("baseline", False), ("ours", True)]:
        outcomes = workdir / f"{name}.json"
        log = open(workdir / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115
        process = subprocess.Popen(
            pytest_command(workdir, outcomes, swap, extra),
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        runs[name] = (process, log, outcomes)
    loaded = {}
    for name, (process, log, outcomes) in runs.items():
        code = process.wait()
        log.close()
        if not outcomes.is_file():
            tail = (workdir / f"{name}.log").read_text(encoding="utf-8")[-4000:]
            raise SystemExit(f"the {name} run did not finish (exit {code}):\n{tail}")
        loaded[name] = json.loads(outcomes.read_text(encoding="utf-8"))
    return loaded["baseline"], loaded["ours"], time.perf_counter() - start


def summarize(baseline: dict, ours: dict) -> tuple[str, bool]:
    """A Markdown report, and whether the suite passes."""
    base, mine = baseline["results"], ours["results"]
    failed_base = {k for k, v in base.items() if v["outcome"] == "failed"}
    failed_ours = {k for k, v in mine.items() if v["outcome"] == "failed"}
    missing = sorted(set(base) - set(mine))
    new = sorted(failed_ours - failed_base)
    counting = [k for k in new if not is_excepted(k, mine[k])]
    excepted = [k for k in new if is_excepted(k, mine[k])]
    leaks = sorted(k for k, v in mine.items() if v.get("built_original"))
    built = sum(v.get("built_swapped", False) for v in mine.values())

    def counts(results):
        tally = {}
        for v in results.values():
            tally[v["outcome"]] = tally.get(v["outcome"], 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(tally.items()))

    lines = [
        "# skorch's test suite with QwertyClassifier's net",
        "",
        f"- class under test: `{ours['swapped']}`",
        f"- baseline (plain skorch): {counts(base)}",
        f"- ours: {counts(mine)}; {built} tests built the class under test",
        f"- failing with ours only: {len(counting)} "
        f"(plus {len(excepted)} excepted); failing in both: "
        f"{len(failed_ours & failed_base)}; failing in the baseline only: "
        f"{len(failed_base - failed_ours)}",
        "",
    ]
    if counting:
        lines += ["## Failing with our class, not with plain skorch", ""]
        lines += [f"- `{k}`: {_one_line(mine[k])}" for k in counting]
        lines.append("")
    if excepted:
        lines += ["## Excepted", ""]
        lines += [f"- `{k}`: {is_excepted(k, mine[k])}" for k in excepted]
        lines.append("")
    stale = sorted(k for k in EXCEPTED if k not in excepted)
    if stale:
        lines += ["## Exceptions that did not apply (remove them)", ""]
        lines += [f"- `{k}`" for k in stale]
        lines.append("")
    if leaks:
        lines += [
            "## Tests that built a plain NeuralNetClassifier despite the swap",
            "",
        ]
        lines += [f"- `{k}`" for k in leaks]
        lines.append("")
    if missing:
        lines += ["## Tests run in the baseline but not with our class", ""]
        lines += [f"- `{k}`" for k in missing]
        lines.append("")
    ok = not counting and not leaks and not missing and built > 0
    lines.append("PASS" if ok else "FAIL")
    return "\n".join(lines), ok


def _one_line(result: dict) -> str:
    message = " ".join(result.get("message", "").split())
    return f"({result.get('when')}) {message[:300]}"


def main(argv=None) -> int:
    """Copy skorch's tests, run both, report; 1 if ours fails where skorch passes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, help="also write the report here")
    parser.add_argument(
        "--details", type=Path, help="write both runs' outcomes here (JSON)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (kept anyway when the suite fails)",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to both runs")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="skorch-suite-"))
    try:
        shutil.copytree(
            skorch_tests_dir(),
            workdir / "skorch" / "tests",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        baseline, ours, seconds = run_both(workdir, args.pytest_args)
        report, ok = summarize(baseline, ours)
        report += f"\n\n({seconds:.0f} s, both runs in parallel)\n"
        print(report)
        if args.report:
            args.report.write_text(report, encoding="utf-8")
        if args.details:
            args.details.write_text(
                json.dumps({"baseline": baseline, "ours": ours}, indent=1),
                encoding="utf-8",
            )
        if not ok:
            args.keep = True
            print(f"pytest logs: {workdir}/baseline.log, {workdir}/ours.log")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
