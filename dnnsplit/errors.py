"""Errors that carry the name of the field a user got wrong.

Every bad input (a malformed scenario or profile, an unknown policy, an impossible
partition) is reported as one :class:`InputError` whose message starts with the field it
is about, so that the command line can print it as one line and exit with status 2.
"""

from __future__ import annotations

__all__ = ["InputError", "SolverRefusal", "check_choice", "unknown_choice"]


class InputError(ValueError):
    """Bad input, reported as ``"<field>: <problem>"``.

    Parameters
    ----------
    field : str
        Where the problem is, e.g. ``"devices[3].max_stage"`` or ``"profile row 4, time_s"``.
    problem : str
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class SolverRefusal(InputError):
    """A solver declines a problem it cannot finish or cannot certify (names the size)."""


def unknown_choice(field: str, noun: str, value: object, allowed: tuple[str, ...]) -> InputError:
    """The error for a ``value`` of ``field`` outside ``allowed``, listing the allowed ones."""
    return InputError(field, f"unknown {noun} {value!r}; expected one of {', '.join(allowed)}")


def check_choice(value: object, allowed: tuple[str, ...], field: str, noun: str = "value") -> str:
    """``value`` if it is one of ``allowed``, else :func:`unknown_choice`'s error."""
    if value not in allowed:
        raise unknown_choice(field, noun, value, allowed)
    return str(value)
