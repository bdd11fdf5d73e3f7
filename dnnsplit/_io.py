"""Writing files whole or not at all, with the user's permissions, tables as the same CSV
bytes on any machine, and to a stdout that may be closed or full (the command line and
``./run_all.sh`` then exit 74 with one line, never a traceback)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pandas as pd

__all__ = [
    "OutputError",
    "atomic_write",
    "csv_text",
    "require_stdout",
    "silence_stdout",
    "stdout_closed",
    "writable_folder",
    "write_stdout",
]


class OutputError(Exception):
    """A result could not be written (stdout closed or full, a folder not writable); the
    message is one line for the user."""


def stdout_closed() -> bool:
    """Whether this process was started with its stdout closed (``>&-``): Python then has
    no ``sys.stdout``, or file descriptor 1 is not open."""
    if sys.stdout is None:
        return True
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (captured output)
        return False
    try:
        os.fstat(descriptor)
    except OSError:
        return True
    return False


def require_stdout() -> None:
    """Refuse, before any work, a process whose stdout is closed (:func:`stdout_closed`)."""
    if stdout_closed():
        raise OutputError("stdout is closed: there is nowhere to write the result")


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's last flush of a
    closed or full stdout neither fails nor prints a second message."""
    try:
        descriptor = os.open(os.devnull, os.O_WRONLY)
        os.dup2(descriptor, sys.stdout.fileno())
        os.close(descriptor)
    except Exception:  # not a real file (tests capture stdout), or none at all
        pass


def write_stdout(text: str, what: str = "the result") -> None:
    """Write ``text`` to stdout and flush it; a closed or full stdout is an
    :class:`OutputError` whose message names ``what`` could not be written (and stdout is
    silenced, see :func:`silence_stdout`)."""
    try:
        if sys.stdout is None:
            raise BrokenPipeError
        try:
            descriptor = sys.stdout.fileno()
        except (AttributeError, ValueError, OSError):  # not a real file (captured output)
            descriptor = None
        if descriptor is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            # os.write in a loop: a partial write to a pipe whose reader left must end in
            # EPIPE here (a text stream may report the whole text as written)
            sys.stdout.flush()
            data = memoryview(text.encode(sys.stdout.encoding or "utf-8"))
            while data:
                data = data[os.write(descriptor, data) :]
    except BrokenPipeError:
        silence_stdout()
        raise OutputError(f"stdout was closed before {what} was written") from None
    except OSError as error:
        silence_stdout()
        raise OutputError(f"cannot write {what} to stdout: {error.strerror}") from None


def writable_folder(folder: str | os.PathLike[str]) -> str | None:
    """None if files can be written in ``folder`` (made if missing), else the reason why
    not (``"Read-only file system"``, ``"Permission denied"``). Tried by writing a file,
    which holds for root and read-only mounts alike."""
    folder = Path(folder)
    probe = folder / f".write-test.{secrets.token_hex(6)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(descriptor)
        probe.unlink()
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed into place.

    A reader never sees a half-written file, and a failure (or an interrupt) leaves the old
    file (or none) and no temporary file behind. The file gets the permissions of any file
    the user creates (``0o666`` less the umask), not the owner-only mode of
    :mod:`tempfile`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(raw)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def csv_text(frame: pd.DataFrame, float_format: str) -> str:
    """``frame`` as CSV text: rows in order, no index, floats in ``float_format`` (``"%.9g"``),
    LF line ends (the same table gives the same bytes on any machine)."""
    return frame.to_csv(index=False, float_format=float_format, lineterminator="\n")
