"""Run skorch's own tests with QwertyClassifier's net in place of skorch's.

The tests come from the installed skorch package (``skorch/tests``), copied to
a temporary directory laid out like skorch's repository (``skorch/tests/``,
run from its parent, as some tests expect). The selection -- ``callbacks/``,
``test_classifier.py`` and ``test_net.py`` -- runs twice, at the same time:

* the baseline, with plain ``skorch.NeuralNetClassifier``;
* ours, with ``skorch.NeuralNetClassifier`` replaced by the class of
  ``QwertyClassifier(max_epochs=1).fit(X, y).net_`` (see ``qwertyclf_swap``).

A test counts against us if it fails with our class and does not fail in the
baseline (on this machine, in this environment), unless it is excepted:

* it only means something on a CUDA device (a ``cuda`` parameter, or a skip
  for want of one);
* it fails only because of the class's name: the tests that fail with ours
  run once more with a plain subclass of skorch's class that carries our
  class's name and nothing else, and a test that fails there too, at the same
  line with the same error, asserts the name (a repr, or a message that
  spells out ``NeuralNetClassifier``);
* it is listed in ``EXCEPTED``, with the reason.

The exit status is 1 if any test counts against us, if a test still built a
plain ``NeuralNetClassifier`` while the swap was on (the swap did not reach
it), or if a test of the baseline did not run with ours; 0 otherwise.

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

#: Failures with our class that are accepted, keyed by test id, with the
#: reason. Name-only and CUDA-only failures are recognised without a list
#: (see the module docstring); nothing else needs an exception at present.
EXCEPTED: dict[str, str] = {}


def skorch_tests_dir() -> Path:
    """The ``tests`` directory inside the installed skorch package."""
    spec = importlib.util.find_spec("skorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("skorch is not installed")
    tests = Path(next(iter(spec.submodule_search_locations))) / "tests"
    if not (tests / "conftest.py").is_file():
        raise SystemExit(f"skorch's tests are not installed (no {tests}/conftest.py)")
    return tests


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.setdefault("MPLBACKEND", "Agg")
    # Two runs share the machine: one intra-op thread each.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def start_pytest(workdir: Path, name: str, swap: str | None, targets, extra):
    """Start one pytest run in `workdir`; its outcomes go to ``name.json``."""
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
        str(workdir / f"{name}.json"),
    ]
    if importlib.util.find_spec("pytest_timeout") is not None:
        command += ["-o", "timeout=600"]
    if swap:
        command.append(f"--swap-net={swap}")
    log = open(workdir / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115
    process = subprocess.Popen(
        [*command, *targets, *extra],
        cwd=workdir,
        env=_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return name, process, log


def finish_pytest(workdir: Path, run) -> dict:
    """Wait for a run started by `start_pytest`; return its outcomes."""
    name, process, log = run
    code = process.wait()
    log.close()
    outcomes = workdir / f"{name}.json"
    if not outcomes.is_file():
        tail = (workdir / f"{name}.log").read_text(encoding="utf-8")[-4000:]
        raise SystemExit(f"the {name} run did not finish (exit {code}):\n{tail}")
    return json.loads(outcomes.read_text(encoding="utf-8"))


def _failed(results: dict) -> set[str]:
    return {k for k, v in results.items() if v["outcome"] == "failed"}


def name_only(ours: dict, control: dict, ours_module: str, control_module: str):
    """Whether a failure with ours is the very failure of the renamed class.

    Same phase, same line, same message once the two classes' module paths
    are set aside.
    """
    if control.get("outcome") != "failed":
        return False

    def where_and_what(result, module):
        message = result.get("message", "").replace(module, "<module>.")
        return result.get("when"), result.get("crash"), " ".join(message.split())

    return where_and_what(ours, ours_module) == where_and_what(control, control_module)


def summarize(baseline: dict, ours: dict, control: dict) -> tuple[str, bool]:
    """A Markdown report, and whether the suite passes."""
    base, mine = baseline["results"], ours["results"]
    checked = control.get("results", {})
    failed_base, failed_ours = _failed(base), _failed(mine)
    missing = sorted(set(base) - set(mine))
    ours_module = ours["swapped"].rpartition(".")[0] + "."
    control_module = (control.get("swapped") or "").rpartition(".")[0] + "."

    def why_excepted(nodeid):
        if nodeid in EXCEPTED:
            return EXCEPTED[nodeid]
        if mine[nodeid].get("cuda_only"):
            return "CUDA-only test"
        if name_only(
            mine[nodeid], checked.get(nodeid, {}), ours_module, control_module
        ):
            return (
                "fails the same way with a plain subclass of skorch's class "
                "that only carries our class's name: " + _one_line(checked[nodeid])
            )
        return None

    new = sorted(failed_ours - failed_base)
    excepted = {k: why for k in new if (why := why_excepted(k))}
    counting = [k for k in new if k not in excepted]
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
    sections = [
        (
            "Failing with our class, not with plain skorch",
            [f"- `{k}`: {_one_line(mine[k])}" for k in counting],
        ),
        ("Excepted", [f"- `{k}`: {why}" for k, why in excepted.items()]),
        (
            "Tests that built a plain NeuralNetClassifier despite the swap",
            [f"- `{k}`" for k in leaks],
        ),
        (
            "Tests run in the baseline but not with our class",
            [f"- `{k}`" for k in missing],
        ),
        (
            "Failing in the baseline (plain skorch) too",
            [f"- `{k}`: {_one_line(base[k])}" for k in sorted(failed_base)],
        ),
    ]
    for title, items in sections:
        if items:
            lines += [f"## {title}", "", *items, ""]
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
        "--details", type=Path, help="write every run's outcomes here (JSON)"
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
        start = time.perf_counter()
        targets = [f"skorch/tests/{part}" for part in SELECTION]
        runs = [
            start_pytest(workdir, "baseline", None, targets, args.pytest_args),
            start_pytest(workdir, "ours", "ours", targets, args.pytest_args),
        ]
        baseline, ours = (finish_pytest(workdir, run) for run in runs)
        # The tests that fail with ours only, once more with a class that
        # differs from skorch's by its name alone.
        suspects = sorted(_failed(ours["results"]) - _failed(baseline["results"]))
        control = {}
        if suspects:
            run = start_pytest(workdir, "renamed", "renamed", suspects, [])
            control = finish_pytest(workdir, run)
        report, ok = summarize(baseline, ours, control)
        seconds = time.perf_counter() - start
        report += f"\n\n({seconds:.0f} s; baseline and ours side by side)\n"
        print(report)
        if args.report:
            args.report.write_text(report, encoding="utf-8")
        if args.details:
            args.details.write_text(
                json.dumps(
                    {"baseline": baseline, "ours": ours, "renamed": control}, indent=1
                ),
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
