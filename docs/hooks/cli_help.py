"""Fill the command-line pages with real output of the `qwertyclf` command.

Markers a page can hold (each on a line of its own):

- `<!-- cli-help -->` or `<!-- cli-help: demo -->`: the `--help` text of the
  command or of a sub-command.
- `<!-- cli-setup -->` right before a fenced `python` block: the block is shown
  as written, and also run (before any `cli-run` of the page) in the page's
  scratch folder, for example to write a CSV file the commands then read.
- `<!-- cli-run: qwertyclf fit data.csv --target kind -->`: runs the shell
  command in the page's scratch folder and shows it with its output.

So the pages cannot drift from the command: they show what it printed while the
documentation was built. A command that fails is a warning, which `--strict`
turns into an error; to show a failure on purpose, end the command with
`; echo "exit code: $?"`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.cli_help")

HELP = re.compile(r"^<!-- cli-help(?::\s*(?P<command>[\w-]+))?\s*-->$", re.M)
RUN = re.compile(r"^<!-- cli-run:\s*(?P<command>.+?)\s*-->$", re.M)
SETUP = re.compile(r"^<!-- cli-setup -->\n+```python\n(?P<code>.*?)\n```", re.M | re.S)
WIDTH = "78"  # about what fits in a code block of the theme

_scratch: list[Path] = []


def _environment(folder):
    # The console script next to this interpreter comes first, and a fixed
    # width makes argparse wrap the same on every machine.
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "COLUMNS": WIDTH,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",
    }


def _run(command, folder):
    proc = subprocess.run(
        command,
        shell=True,
        cwd=folder,
        stdout=subprocess.PIPE,
        # One stream, so errors show where they happened.
        stderr=subprocess.STDOUT,
        text=True,
        env=_environment(folder),
        timeout=300,
    )
    output = proc.stdout.rstrip()
    if proc.returncode != 0:
        log.warning("`%s` exited with %d: %s", command, proc.returncode, output[-800:])
    return output


def _console(command, output):
    text = f"$ {command}"
    if output:
        text += f"\n{output}"
    return f"```console\n{text}\n```"


def on_page_markdown(markdown, page, config, files):
    if not (HELP.search(markdown) or RUN.search(markdown)):
        return markdown
    folder = Path(tempfile.mkdtemp(prefix="qwertyclf-docs-"))
    _scratch.append(folder)
    for match in SETUP.finditer(markdown):
        (folder / "setup.py").write_text(match.group("code"), encoding="utf-8")
        _run(f'"{sys.executable}" setup.py', folder)

    def show_help(match):
        command = match.group("command")
        shown = f"qwertyclf {command} --help" if command else "qwertyclf --help"
        return _console(shown, _run(shown, folder))

    def show_run(match):
        command = match.group("command")
        return _console(command, _run(command, folder))

    markdown = HELP.sub(show_help, markdown)
    return RUN.sub(show_run, markdown)


def on_post_build(config):
    while _scratch:
        shutil.rmtree(_scratch.pop(), ignore_errors=True)
