"""Fill the command-line pages with real output of the `qwertyclf` command.

Generated parts a page can hold (see `page_regions.py`: an opening marker,
the output, and an end marker, each on a line of its own):

- `<!-- cli-help -->` or `<!-- cli-help: demo -->` ... `<!-- end cli-help -->`:
  the `--help` text of the command or of a sub-command.
- `<!-- cli-run: qwertyclf fit data.csv --target kind -->` ...
  `<!-- end cli-run -->`: runs the shell command in the page's scratch folder
  and shows it with its output.

A plain marker, with no end marker, can also sit right before a fenced
`python` block: `<!-- cli-setup -->`. The block is shown as written, and also
run (before any `cli-run` of the page) in the page's scratch folder, for
example to write a CSV file the commands then read.

So the pages cannot drift from the command: the site shows what it printed
while the documentation was built, and `python docs/hooks/page_regions.py`
writes the same into the pages. A command that fails is a warning, which
`--strict` turns into an error; to show a failure on purpose, end the command
with `; echo "exit code: $?"`.
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

import page_regions

log = logging.getLogger("mkdocs.hooks.cli_help")

KINDS = ("cli-help", "cli-run")
SETUP = re.compile(r"^<!-- cli-setup -->\n+```python\n(?P<code>.*?)\n```", re.M | re.S)
WIDTH = "78"  # about what fits in a code block of the theme


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
    for marker in page_regions.unclosed(markdown, KINDS):
        log.warning("%s: %s has no end marker.", page.file.src_uri, marker)
    return render_page(markdown)


def render_page(markdown):
    """`markdown` with the output of every command between its markers, run now."""
    if not page_regions.regions(markdown, KINDS):
        return markdown
    folder = Path(tempfile.mkdtemp(prefix="qwertyclf-docs-"))
    try:
        for match in SETUP.finditer(markdown):
            (folder / "setup.py").write_text(match.group("code"), encoding="utf-8")
            _run(f'"{sys.executable}" setup.py', folder)

        def render(kind, command):
            if kind == "cli-help":
                command = (
                    f"qwertyclf {command} --help" if command else "qwertyclf --help"
                )
            return _console(command, _run(command, folder))

        return page_regions.fill(markdown, KINDS, render)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
