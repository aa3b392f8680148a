"""A hardened reader and writer of safetensors files, and nothing more.

A safetensors file is an 8-byte little-endian header length, a JSON header
(an optional `__metadata__` map of strings to strings, and one entry per
tensor with its dtype, shape and byte range), then the tensors' bytes. A
file may come from anyone, so reading trusts nothing in it: the header's
size, the number of JSON values in it, duplicate keys, nesting depth, every
tensor entry and the byte ranges against the file's length are checked
before any tensor is allocated, within the `Limits` the caller gives.

What the metadata must hold, which tensors a file must have and what a
refusal says to the user belong to the format built on top
(`qwertyclf._persistence`): it passes in the checks of its own.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import save as _serialise

from ._atomic import atomic_write
from ._dtypes import ITEMSIZE, NETWORK_DTYPES


class Unreadable(ValueError):
    """The file is not a well-formed safetensors file within the limits."""


@dataclass(frozen=True)
class Limits:
    """What a file may hold at most, so that reading it stays cheap.

    Parameters
    ----------
    header_bytes : int
        Length of the JSON header.
    json_values : int
        JSON values (numbers, strings, lists, objects) in one JSON document.
    json_depth : int
        Nesting of lists and objects in one JSON document.
    tensors : int
        Tensors in the file.
    text : int
        Length of a tensor's name.

    Examples
    --------
    >>> Limits(2**20, 1000, 4, 16, 100).tensors
    16
    """

    header_bytes: int
    json_values: int
    json_depth: int
    tensors: int
    text: int


@dataclass
class Container:
    """An open safetensors file whose header has been checked.

    `metadata` is the header's `__metadata__` map, `entries` its tensor
    entries by name, `data_start` the offset of the tensors' bytes.
    """

    handle: Any
    metadata: dict
    entries: dict
    data_start: int


def save(path: str | os.PathLike, tensors: dict, metadata: dict) -> Path:
    """Write `tensors` and the `metadata` strings to `path`, atomically.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> save(folder / "t.safetensors", {"w": torch.zeros(2)}, {"a": "b"}).name
    't.safetensors'
    """
    path = Path(path)
    # Serialised in memory, then written through a temporary file and an
    # atomic rename: a failed or killed save leaves the previous file intact,
    # whatever the installed safetensors does in its own save_file.
    content = _serialise(tensors, metadata=metadata)
    with atomic_write(path) as handle:
        handle.write(content)
    return path


def check_header(metadata: dict, tensors: dict, limits: Limits) -> None:
    """Refuse to write a header that reading would refuse.

    The header is built as safetensors will write it, with byte offsets of
    the widest size.

    Raises
    ------
    Unreadable
        Naming the limit passed.
    """
    entries = {
        name: {"dtype": "F64", "shape": list(t.shape), "data_offsets": [0, 2**63]}
        for name, t in tensors.items()
    }
    header = json.dumps({"__metadata__": metadata, **entries}, separators=(",", ":"))
    if len(header) > limits.header_bytes:
        raise Unreadable(
            f"its JSON header would have {len(header)} bytes, more than the "
            f"{limits.header_bytes // 2**20} MiB a model file may have"
        )
    parse_json(header, "its header", Unreadable, limits)
    if len(tensors) > limits.tensors:
        raise Unreadable(
            f"it would hold {len(tensors)} tensors, more than the "
            f"{limits.tensors} a model file may have"
        )


@contextmanager
def open_container(
    path: Path,
    *,
    limits: Limits,
    entry_keys: Collection[str],
    check_metadata: Callable[[dict], None],
) -> Iterator[Container]:
    """Open `path` and check its header; raise `Unreadable` for a bad one.

    The header's length and JSON are checked first, then `check_metadata`
    is called with the metadata map (the format's own check: what it
    raises passes through), then every tensor entry (exactly the keys
    `entry_keys`, a known dtype, a shape, byte ranges covering the data).

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> path = save(pathlib.Path(tempfile.mkdtemp()) / "t.safetensors",
    ...             {"w": torch.zeros(2)}, {"a": "b"})
    >>> keys = {"dtype", "shape", "data_offsets"}
    >>> with open_container(path, limits=Limits(2**20, 1000, 4, 16, 100),
    ...                     entry_keys=keys, check_metadata=print) as file:
    ...     file.entries["w"]["shape"]
    {'a': 'b'}
    [2]
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        header_length, header = _read_header(handle, size, limits)
        metadata, entries = _split_header(header)
        check_metadata(metadata)
        data_start = 8 + header_length
        _check_entries(entries, size - data_start, limits, set(entry_keys))
        yield Container(handle, metadata, entries, data_start)


def read_arrays(file: Container, entries: dict) -> Iterator[tuple[str, np.ndarray]]:
    """The arrays of the checked `entries` of a network's dtypes, in file order.

    Each is read into a fresh NumPy array in native byte order.
    """
    for name, entry in sorted(entries.items(), key=lambda e: e[1]["data_offsets"]):
        array = np.empty(entry["shape"], dtype=NETWORK_DTYPES[entry["dtype"]][1])
        file.handle.seek(file.data_start + entry["data_offsets"][0])
        view = memoryview(array.reshape(-1).view(np.uint8))
        filled = 0
        while filled < len(view):
            count = file.handle.readinto(view[filled:])
            if not count:
                raise Unreadable("the file ended inside its tensor data")
            filled += count
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        yield name, array


def _read_header(handle, size: int, limits: Limits) -> tuple[int, Any]:
    """The safetensors header length and its parsed JSON."""
    if size < 8:
        raise Unreadable(
            f"the file has {size} bytes, fewer than the 8 of a safetensors "
            "header length"
        )
    header_length = int.from_bytes(handle.read(8), "little")
    if header_length > size - 8:
        raise Unreadable(
            f"its header length, {header_length} bytes, points past the end of "
            f"the file ({size} bytes)"
        )
    if header_length > limits.header_bytes:
        raise Unreadable(
            f"its JSON header has {header_length} bytes, more than the "
            f"{limits.header_bytes // 2**20} MiB a model file may have"
        )
    raw = handle.read(header_length)
    if len(raw) != header_length:
        raise Unreadable("the file ended inside its header")
    # qwertyclf writes ASCII headers (other characters are escaped in the
    # JSON): Python then holds the header at one byte a character.
    if not raw.isascii():
        raise Unreadable("its header holds bytes that are not ASCII")
    return header_length, parse_json(raw, "its header", Unreadable, limits)


def _split_header(header: Any) -> tuple[dict, dict]:
    if not isinstance(header, dict):
        raise Unreadable("its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(v, str) for v in metadata.values()
    ):
        raise Unreadable("its metadata is not a map of strings to strings")
    if not all(v.isascii() for v in metadata.values()):
        raise Unreadable("its metadata holds characters that are not ASCII")
    return metadata, header


def _check_entries(
    entries: dict, data_length: int, limits: Limits, entry_keys: set
) -> None:
    """Tensor entries well formed, byte ranges exactly covering the data."""
    if len(entries) > limits.tensors:
        raise Unreadable(
            f"it lists {len(entries)} tensors, more than the {limits.tensors} a "
            "model file may have"
        )
    ranges = []
    for name, entry in entries.items():
        shown = short(name)
        if (
            len(name) > limits.text
            or not isinstance(entry, dict)
            or set(entry) != entry_keys
        ):
            raise Unreadable(f"the header entry of tensor {shown} is malformed")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in ITEMSIZE:
            raise Unreadable(f"tensor {shown} has unknown dtype {short(dtype)}")
        if not (
            isinstance(shape, list)
            and len(shape) <= 8
            and all(is_int(n) and n >= 0 for n in shape)
        ):
            raise Unreadable(f"tensor {shown} has a malformed shape {short(shape)}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(is_int(n) for n in offsets)
            and 0 <= offsets[0] <= offsets[1]
        ):
            raise Unreadable(
                f"tensor {shown} has malformed data offsets {short(offsets)}"
            )
        needed = math.prod(shape) * ITEMSIZE[dtype]
        if offsets[1] - offsets[0] != needed:
            raise Unreadable(
                f"tensor {shown} of shape {short(shape)} and dtype {dtype} needs "
                f"{short(needed)} bytes, but its data offsets span "
                f"{short(offsets[1] - offsets[0])}"
            )
        ranges.append((offsets[0], offsets[1], shown))
    end = 0
    for begin, stop, shown in sorted(ranges):
        if begin != end:
            raise Unreadable(
                f"the data of tensor {shown} does not start where the previous "
                "tensor's ends"
            )
        end = stop
    if end > data_length:
        raise Unreadable(
            f"the file is truncated: its header describes {short(end)} bytes of "
            f"tensor data, but only {data_length} follow it"
        )
    if end < data_length:
        raise Unreadable(f"{data_length - end} bytes follow the last tensor's data")


def parse_json(
    text: str | bytes, what: str, error: type[ValueError], limits: Limits
) -> Any:
    """Parse JSON with bounded size and depth and no duplicate keys.

    Examples
    --------
    >>> parse_json('{"a": [1, 2]}', "it", ValueError, Limits(100, 100, 4, 1, 1))
    {'a': [1, 2]}
    """
    comma, bracket, brace = (
        (b",", b"[", b"{") if isinstance(text, bytes) else (",", "[", "{")
    )
    # Every value but the first follows a comma or opens a list or an
    # object, so this bounds the number of Python objects parsing can make.
    values = text.count(comma) + text.count(bracket) + text.count(brace)
    if values > limits.json_values:
        raise error(
            f"{what} holds about {values} JSON values, more than the "
            f"{limits.json_values} a model file may have"
        )
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise error(f"{what} has the key {short(exc.args[0])} twice") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not valid JSON ({exc})") from None
    _check_depth(value, what, error, limits.json_depth)
    return value


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _check_depth(value, what: str, error: type[ValueError], max_depth: int) -> None:
    stack = [(value, 1)] if isinstance(value, (list, dict)) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > max_depth:
            raise error(
                f"{what} nests lists or objects more than {max_depth} levels deep"
            )
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, (list, dict))
        )


def is_int(value) -> bool:
    """Whether a JSON value is an integer (not a bool).

    Examples
    --------
    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


def short(value, limit: int = 60) -> str:
    """`repr(value)`, cut short: messages quote values from untrusted files.

    Examples
    --------
    >>> short("x" * 100, 10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
