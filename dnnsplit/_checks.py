"""Field checks shared by scenario files, the setup object and the command line.

Each check returns the value in its canonical Python type or raises one
:class:`~dnnsplit.errors.InputError` naming the field.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from dnnsplit.errors import InputError

__all__ = ["mapping", "number", "number_pair"]


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

    Booleans are refused; numpy scalars are accepted. ``positive`` means > 0.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a whole number" if whole else "a number"
        raise InputError(where, f"must be {kind}, got {value!r}")
    if isinstance(value, numbers.Integral):
        exact: Any = int(value)
    else:
        exact = float(value)
        if not math.isfinite(exact):
            raise InputError(where, f"must be finite, got {value!r}")
        if whole:
            if exact != math.floor(exact):
                raise InputError(where, f"must be a whole number, got {value!r}")
            exact = int(exact)
    if positive and exact <= 0:
        raise InputError(where, f"must be positive, got {value!r}")
    if minimum is not None and exact < minimum:
        raise InputError(where, f"must be at least {minimum:g}, got {value!r}")
    if maximum is not None and exact > maximum:
        raise InputError(where, f"must be at most {maximum:g}, got {value!r}")
    if not whole:
        try:
            exact = float(exact)
        except OverflowError:
            raise InputError(where, f"is too large, got {value!r}") from None
    return exact


def number_pair(value: Any, where: str, *, whole: bool = False, minimum: float = 0.0) -> tuple:
    """An inclusive range ``(low, high)`` with ``minimum <= low <= high``."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise InputError(where, f"must be a pair [low, high], got {value!r}")
    low = number(value[0], f"{where}[0]", whole=whole, minimum=minimum)
    high = number(value[1], f"{where}[1]", whole=whole, minimum=minimum)
    if low > high:
        raise InputError(where, f"low {low:g} exceeds high {high:g}")
    return (low, high)


def mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    """``value`` if it is a mapping whose keys are all in ``allowed``."""
    if not isinstance(value, Mapping):
        raise InputError(where or "scenario", f"must be an object, got {type(value).__name__}")
    unknown = sorted((str(k) for k in value if k not in allowed), key=str)
    if unknown:
        raise InputError(
            f"{where}.{unknown[0]}" if where else unknown[0],
            f"unknown field; allowed: {', '.join(sorted(allowed))}",
        )
    return dict(value)
