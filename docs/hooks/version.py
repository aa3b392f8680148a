"""Show the version of qwertyclf in the footer of every page.

The version is read from `pyproject.toml`, the one place it is written, so the
site cannot show another one than the package it documents.
"""

from __future__ import annotations

import re
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def project_version() -> str:
    """The `version` of the `[project]` table of `pyproject.toml`."""
    # A pattern rather than tomllib, which Python 3.10 lacks.
    text = PYPROJECT.read_text(encoding="utf-8")
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    version = project and re.search(r'^version\s*=\s*"([^"]+)"', project[1], re.M)
    if not version:
        raise ValueError(f"No [project] version in {PYPROJECT}.")
    return version[1]


def on_config(config):
    version = project_version()
    config["copyright"] = f"qwertyclf {version} · {config['copyright']}"
    return config
