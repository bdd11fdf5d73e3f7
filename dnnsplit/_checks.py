"""Field checks shared by scenario files, the setup object, profiles and the command line.

Each check returns the value in its canonical Python type or raises one
:class:`~dnnsplit.errors.InputError` naming the field. The rules every number follows
(docs/interface.md, "Bad input"):

- booleans and strings are not numbers; numpy scalars, decimals and any
  :class:`numbers.Real` are;
- NaN and infinities are refused, and so is a value too large for a float;
- a whole number must fit a signed 64-bit integer (:data:`MAX_WHOLE`), whatever its type;
- negative zero becomes zero.

Reading files goes through :func:`read_text` (bounded size, UTF-8, one error per failure).
"""

from __future__ import annotations

import decimal
import math
import numbers
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dnnsplit.errors import InputError, shown

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_WHOLE",
    "frozen",
    "json_data",
    "mapping",
    "number",
    "number_pair",
    "path_text",
    "read_text",
    "walk",
]

#: The largest whole number any field takes: the int64 maximum (arrays are int64).
MAX_WHOLE = 2**63 - 1
#: Input files (scenarios, setups, profiles) larger than this are refused unread, 64 MiB.
MAX_FILE_BYTES = 64 * 1024**2
#: JSON/YAML data of ``meta`` may hold at most this many values (lists, objects, scalars).
MAX_DATA_NODES = 10_000_000


def _bound(limit: float) -> str:
    return str(limit) if isinstance(limit, int) else f"{limit:g}"


def number(
    value: Any,
    where: str,
    *,
    positive: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
) -> Any:
    """``value`` as a float (or an int when ``whole``), or an error naming ``where``.

    Booleans are refused; numpy scalars are accepted. ``positive`` means > 0. A whole
    number must lie in ``-MAX_WHOLE..MAX_WHOLE``; any other number must be a finite float.
    """
    kind = type(value)
    if kind is float:  # fast path of the common case (no abc checks)
        exact: Any = value
        if not math.isfinite(exact):
            raise InputError(where, f"must be finite, got {shown(value)}")
    elif isinstance(value, np.timedelta64 | np.datetime64):  # numpy counts these integers
        raise InputError(where, f"must be a plain number, not a time with units: {shown(value)}")
    elif kind is int or (
        not isinstance(value, bool | np.bool_) and isinstance(value, numbers.Integral)
    ):
        exact = int(value)
    elif isinstance(value, numbers.Real | decimal.Decimal) and not isinstance(
        value, bool | np.bool_
    ):
        try:
            with np.errstate(all="ignore"):
                exact = float(value)
        except (OverflowError, ValueError, TypeError):
            raise InputError(where, f"is too large for a number, got {shown(value)}") from None
        if not math.isfinite(exact):
            raise InputError(where, f"must be finite, got {shown(value)}")
    else:
        what = "a whole number" if whole else "a number"
        raise InputError(where, f"must be {what}, got {shown(value)}")
    if isinstance(exact, float):
        exact += 0.0  # -0.0 -> 0.0
        if whole:
            if exact != math.floor(exact):
                raise InputError(where, f"must be a whole number, got {shown(value)}")
            exact = int(exact)
    if positive and exact <= 0:
        raise InputError(where, f"must be positive, got {shown(value)}")
    if minimum is not None and exact < minimum:
        raise InputError(where, f"must be at least {_bound(minimum)}, got {shown(value)}")
    if maximum is not None and exact > maximum:
        raise InputError(where, f"must be at most {_bound(maximum)}, got {shown(value)}")
    if whole:
        if not -MAX_WHOLE <= exact <= MAX_WHOLE:
            raise InputError(
                where, f"is out of range: whole numbers lie within ±{MAX_WHOLE}, got {shown(value)}"
            )
        return exact
    if isinstance(exact, int):
        try:
            return float(exact)
        except OverflowError:
            raise InputError(where, f"is too large for a number, got {shown(value)}") from None
    return exact


def number_pair(value: Any, where: str, *, whole: bool = False, minimum: float = 0.0) -> tuple:
    """An inclusive range ``(low, high)`` with ``minimum <= low <= high``."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InputError(where, f"must be a pair [low, high], got {shown(value)}")
    low = number(value[0], f"{where}[0]", whole=whole, minimum=minimum)
    high = number(value[1], f"{where}[1]", whole=whole, minimum=minimum)
    if low > high:
        raise InputError(where, f"low {low:g} exceeds high {high:g}")
    return (low, high)


def key_text(key: Any) -> str:
    """A mapping key as a field name: itself if a plain name (a non-empty, printable string
    without surrounding spaces or a ": "), else its ``repr`` (so an empty key, or one with
    a line break, still gives one readable line)."""
    plain = (
        isinstance(key, str)
        and key != ""
        and key.isprintable()
        and key == key.strip()
        and ": " not in key
        and len(key) <= 80
    )
    return key if plain else shown(key, 40)


def mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    """``value`` if it is a mapping whose keys are all in ``allowed``.

    Keys of any type are reported (a YAML file may have ``1:`` or ``null:`` as a key).
    """
    if not isinstance(value, Mapping):
        raise InputError(where or "scenario", f"must be an object, got {type(value).__name__}")
    unknown = [k for k in value if not (isinstance(k, str) and k in allowed)]
    if unknown:
        first = sorted(unknown, key=key_text)[0]
        name, kind = key_text(first), type(first).__name__
        odd = "" if isinstance(first, str) else f" (a key of type {kind}, not a name)"
        problem = f"unknown field{odd}; allowed: {', '.join(sorted(allowed))}"
        raise InputError(f"{where}.{name}" if where else name, problem)
    return dict(value)


#: A step of a walk through data: ``(True, index)`` into a list, ``(False, key)`` into an
#: object.
Step = tuple[bool, Any]


def walk(value: Any, repeated: Callable[[list[Step]], None] | None = None) -> Iterator[Any]:
    """Every value inside ``value`` (itself first), depth first in document order, each
    yielded as ``(value, steps)``: ``steps`` (a list the walk reuses, read it before the
    next step) leads from ``value`` to it (see :func:`path_text`).

    One iterator per open list or object: the walk's own memory grows with the depth of
    the data and the number of its containers, not with the number of its values. A
    container met a second time (a YAML alias, or data inside itself) is not walked again;
    ``repeated(steps)`` is called where it is met.
    """
    seen: set[int] = set()
    steps: list[Step] = []
    frames: list[Iterator[tuple[Step, Any]]] = []
    item = value
    while True:
        yield item, steps
        if isinstance(item, dict | list):
            if id(item) in seen:
                if repeated is not None:
                    repeated(steps)
            else:
                seen.add(id(item))
                if isinstance(item, dict):
                    frames.append(((False, k), v) for k, v in item.items())
                else:
                    frames.append(((True, k), v) for k, v in enumerate(item))
                steps.append((True, None))
        while frames:
            step = next(frames[-1], None)
            if step is not None:
                steps[-1], item = step
                break
            frames.pop()
            steps.pop()
        else:
            return


def path_text(steps: list[Step], where: str = "") -> str:
    """The field name of a walk's ``steps`` below ``where``: ``meta.x[1]``."""
    parts = [where]
    for is_index, key in steps:
        if is_index:
            parts.append(f"[{key}]")
        else:
            parts.append(f".{key_text(key)}" if parts[-1] else key_text(key))
    return "".join(parts)


def json_data(value: Any, where: str) -> None:
    """Raise unless ``value`` is plain JSON data: objects with string keys, lists, strings,
    finite numbers, booleans and null, with no object reached twice (a YAML alias) or
    inside itself, and at most :data:`MAX_DATA_NODES` values (walked by :func:`walk`: a
    path is spelled out only for an error)."""

    def repeated(steps: list[Step]) -> None:
        raise InputError(
            path_text(steps, where), "repeats an object (a YAML alias); write the data out"
        )

    for count, (item, steps) in enumerate(walk(value, repeated), start=1):
        if count > MAX_DATA_NODES:
            raise InputError(where, f"holds more than {MAX_DATA_NODES} values")
        if isinstance(item, float):
            if not math.isfinite(item):
                raise InputError(path_text(steps, where), f"must be finite, got {shown(item)}")
        elif isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise InputError(
                        path_text([*steps, (False, key)], where), "keys must be strings"
                    )
        elif not (item is None or isinstance(item, str | bool | int | list)):
            raise InputError(
                path_text(steps, where), f"must be JSON data, got {type(item).__name__}"
            )


def frozen(array: Any, dtype: Any = None) -> np.ndarray:
    """A read-only copy of ``array`` that cannot be made writeable again.

    The copy's own buffer is locked and a view of it is returned: numpy refuses to set
    ``writeable`` on a view of a read-only base, so no holder of the result can change it.
    """
    base = np.array(array, dtype=dtype)
    base.flags.writeable = False
    return base.view()


def read_text(path: str | os.PathLike[str], field: str, kind: str) -> str:
    """The text of a UTF-8 file, or one :class:`InputError` naming ``field``.

    A byte-order mark is dropped and CRLF line ends are read as LF (both simply work).
    Refused, each with its own message: a missing file, a directory, an unreadable file, a
    file larger than :data:`MAX_FILE_BYTES`, an empty file, UTF-16/32 text, any other bytes
    that are not UTF-8, and binary data (NUL bytes).

    Parameters
    ----------
    path : path-like
        The file.
    field : str
        The field named in errors (``scenario``, ``profile``, ``setup``).
    kind : str
        What the file should be, for messages (``"CSV"``, ``"JSON file"``).
    """
    try:
        path = Path(path)
    except TypeError:
        raise InputError(field, f"must be a file path, got {shown(path)}") from None
    where = shown(str(path))
    if "\x00" in str(path):
        raise InputError(field, f"{where} is not a file name (it holds a NUL byte)")
    try:
        if path.is_dir():
            raise InputError(field, f"cannot read {where}: it is a directory, not a {kind}")
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(field, f"cannot read {where}: no such file") from None
    except PermissionError:
        raise InputError(field, f"cannot read {where}: permission denied") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InputError(field, f"cannot read {where}: {reason}") from None
    name = path.name

    def unreadable(reason: str) -> InputError:
        return InputError(field, f"{name} is not a readable {kind} ({reason})")

    if len(data) > MAX_FILE_BYTES:
        raise unreadable(f"larger than {MAX_FILE_BYTES // 1024**2} MiB")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise unreadable("it is UTF-16 or UTF-32 text; save it as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise unreadable("the file is empty")
    if b"\x00" in data:
        raise unreadable("binary data, not UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise unreadable(
            f"not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start}; "
            "save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n")
