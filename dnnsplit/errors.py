"""Errors that carry the name of the field a user got wrong.

Every bad input (a malformed scenario or profile, an unknown policy, an impossible
partition) is reported as one :class:`InputError` whose message starts with the field it
is about, so that the command line can print it as one line and exit with status 2.
"""

from __future__ import annotations

__all__ = ["InputError", "SolverRefusal"]


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
