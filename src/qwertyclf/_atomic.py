"""Crash-safe file writes: a temporary file in the same folder, then a rename.

`atomic_write(path)` writes to `.{name}.{pid}-{random}.qwertyclf-tmp` beside
`path`, flushes and fsyncs it, and `os.replace`s it over `path` (an atomic
rename on POSIX and Windows), then fsyncs the folder where that is possible.
A write that raises, or is interrupted, removes its temporary file and leaves
the previous `path` as it was. A process killed mid-write (SIGKILL, power
loss) cannot clean up; its temporary file is named after the target and its
process, so the next write of that same path removes every leftover whose
process is no longer running. Temporaries of a live process (another save in
progress, in this process or another) are left alone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_SUFFIX = ".qwertyclf-tmp"


def temporary_name(path: str | os.PathLike, pid: int | None = None) -> Path:
    """A fresh temporary file name for a write of `path`.

    Examples
    --------
    >>> name = temporary_name("models/clf.safetensors", pid=42).name
    >>> name.startswith(".clf.safetensors.42-"), name.endswith(".qwertyclf-tmp")
    (True, True)
    """
    path = Path(path)
    pid = os.getpid() if pid is None else pid
    return path.with_name(f".{path.name}.{pid}-{secrets.token_hex(4)}{_SUFFIX}")


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Leftover temporaries of writes of `path` whose process has ended.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = temporary_name(folder / "m", pid=2**22 + 1).write_bytes(b"half")
    >>> [p.name.split(".")[2].split("-")[0] for p in stale_temporaries(folder / "m")]
    ['4194305']
    """
    path = Path(path)
    prefix = f".{path.name}."
    stale = []
    for candidate in path.parent.glob(f".{_glob_escape(path.name)}.*{_SUFFIX}"):
        middle = candidate.name[len(prefix) : -len(_SUFFIX)]
        pid, _, token = middle.partition("-")
        if pid.isdigit() and token and not _running(int(pid)):
            stale.append(candidate)
    return stale


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a binary handle whose contents replace `path` only when complete.

    Parameters
    ----------
    path : str or path-like
        The file to write.

    Yields
    ------
    handle : binary file
        Write the whole new contents to it.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "report.txt"
    >>> with atomic_write(target) as handle:
    ...     _ = handle.write(b"done")
    >>> target.read_bytes(), sorted(p.name for p in target.parent.iterdir())
    (b'done', ['report.txt'])
    """
    path = Path(path)
    for leftover in stale_temporaries(path):
        with contextlib.suppress(OSError):
            leftover.unlink()
    temporary = temporary_name(path)
    try:
        with open(temporary, "xb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable where the system allows syncing a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _running(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":
        # On Windows os.kill would end the process: never guess there.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep it
    return True


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
