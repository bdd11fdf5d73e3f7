"""Errors that carry the name of the field a user got wrong, or of the part that failed.

Bad input is one :class:`InputError` whose message starts with its field (the command
line prints one line, exit 2); a testbed that cannot do what it was asked raises a
:class:`TestbedError` naming the part and the cause (one line, exit 1).
"""

from __future__ import annotations

import re

__all__ = [
    "InputError",
    "SolverRefusal",
    "TestbedError",
    "check_choice",
    "shown",
    "unknown_choice",
]

#: The longest text of a user's value that an error message quotes (longer ones are cut).
MAX_SHOWN = 80
_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).strip()


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for an error message: one line, at most ``limit`` characters.

    Safe for any value: an integer too long to print in decimal is described by its size,
    and a value whose ``repr`` fails is described by its type.
    """
    try:
        text = repr(value)
    except ValueError:  # int beyond sys.get_int_max_str_digits()
        bits = value.bit_length() if isinstance(value, int) else 0
        return f"<a whole number of {bits} bits>"
    except Exception:  # a hostile object's __repr__
        return f"<{type(value).__name__}>"
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(ValueError):
    """Bad input, reported as ``"<field>: <problem>"``, always on one line.

    Parameters
    ----------
    field : str
        Where the problem is, e.g. ``"devices[3].max_stage"`` or ``"profile row 4, time_s"``.
    problem : str
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = _one_line(str(field))
        self.problem = _one_line(str(problem))
        super().__init__(f"{self.field}: {self.problem}")


class SolverRefusal(InputError):
    """A solver declines a problem it cannot finish or cannot certify (names the size)."""


class TestbedError(RuntimeError):
    """The testbed could not do what it was asked: ``"<part>: <cause>"``, one line.

    Neither bad input (an :class:`InputError`) nor a bug: the BS did not start, a device
    stopped answering, ``ip`` or ``tc`` failed, the BS refused a request.

    Parameters
    ----------
    part : str
        What failed, e.g. ``"the BS"``, ``"device 3"``, ``"tc"``.
    cause : str
        Why, in words a user can act on (an exit status, a tool's message).
    """

    __test__ = False  # a name pytest would otherwise try to collect

    def __init__(self, part: str, cause: str) -> None:
        self.part = _one_line(str(part))
        self.cause = _one_line(str(cause))
        super().__init__(f"{self.part}: {self.cause}")


def unknown_choice(field: str, noun: str, value: object, allowed: tuple[str, ...]) -> InputError:
    """The error for a ``value`` of ``field`` outside ``allowed``, listing the allowed ones."""
    return InputError(field, f"unknown {noun} {shown(value)}; expected one of {', '.join(allowed)}")


def check_choice(value: object, allowed: tuple[str, ...], field: str, noun: str = "value") -> str:
    """``value`` if it is one of ``allowed`` (a string), else :func:`unknown_choice`'s error."""
    if not isinstance(value, str) or value not in allowed:
        raise unknown_choice(field, noun, value, allowed)
    return str(value)
