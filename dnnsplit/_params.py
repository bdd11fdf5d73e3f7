"""What each parameter of a public boundary takes, declared once, checked at the boundary.

Modelled on scikit-learn's parameter validation: every boundary of the library (the
:class:`~dnnsplit.Setup` fields, a scenario file's fields read by
:meth:`~dnnsplit.Scenario.from_dict`, :func:`~dnnsplit.evaluate`, :func:`~dnnsplit.solve`
and each public solver) declares, in one table next to it, a :class:`Constraint` per
parameter. The check runs where a value enters, and turns it into its canonical type or
raises one :class:`~dnnsplit.errors.InputError` naming the field; inside, the code
trusts what it is given (a public function called by another one is not checked again,
see :func:`declare`). The hostile-input tests read the same tables and generate their bad
values from them (:meth:`Constraint.invalid`), so a rule and its test cannot drift apart.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ParamSpec, TypeVar

import numpy as np

from dnnsplit._checks import MAX_WHOLE, json_data, number, number_pair
from dnnsplit.errors import InputError, check_choice, shown

__all__ = [
    "Choice",
    "Constraint",
    "Flag",
    "Instance",
    "Json",
    "Nullable",
    "Pair",
    "Real",
    "Text",
    "Whole",
    "check_all",
    "declare",
    "inside",
    "trusted",
]


class Constraint:
    """What one parameter takes (subclasses below)."""

    def check(self, value: Any, field: str) -> Any:
        """``value`` in its canonical type, or an :class:`InputError` naming ``field``."""
        raise NotImplementedError

    def invalid(self) -> tuple[Any, ...]:
        """Values this constraint refuses (the hostile-input tests try each)."""
        raise NotImplementedError

    def describe(self) -> str:
        """What it takes, in words (docs and help texts)."""
        raise NotImplementedError


def _number_invalid(low: float | None, high: float | None, whole: bool) -> tuple[Any, ...]:
    values: list[Any] = ["1", None, True, [1], float("nan"), float("inf"), 1j]
    if whole:
        values += [0.5, 2**64]
    if low is not None:
        values.append(low - (1 if whole else max(abs(low), 1.0) * 0.5 + 1e-9))
    if high is not None:
        values.append(high + (1 if whole else max(abs(high), 1.0)))
    return tuple(values)


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real number in ``[low, high]``; ``positive``: also above 0."""

    low: float | None = None
    high: float | None = None
    positive: bool = False

    def check(self, value: Any, field: str) -> float:
        return number(value, field, positive=self.positive, minimum=self.low, maximum=self.high)

    def invalid(self) -> tuple[Any, ...]:
        extra = (0.0, -1e-300) if self.positive else ()
        return _number_invalid(self.low, self.high, False) + extra

    def describe(self) -> str:
        low = "> 0" if self.positive else (f">= {self.low:g}" if self.low is not None else "")
        high = f"<= {self.high:g}" if self.high is not None else ""
        return " and ".join(p for p in ("a number", low, high) if p)


@dataclass(frozen=True)
class Whole(Constraint):
    """A whole number in ``[low, high]`` (within int64)."""

    low: int | None = None
    high: int | None = None

    def check(self, value: Any, field: str) -> int:
        return int(number(value, field, whole=True, minimum=self.low, maximum=self.high))

    def invalid(self) -> tuple[Any, ...]:
        return _number_invalid(self.low, self.high, True)

    def describe(self) -> str:
        low = f">= {self.low}" if self.low is not None else ""
        high = f"<= {self.high}" if self.high is not None and self.high < MAX_WHOLE else ""
        return " and ".join(p for p in ("a whole number", low, high) if p)


@dataclass(frozen=True)
class Pair(Constraint):
    """An inclusive range ``(low, high)`` of ``Real`` or ``Whole`` numbers, ``low <= high``,
    each at least ``minimum``; ``positive``: the low end above 0."""

    whole: bool = False
    minimum: float = 0.0
    positive: bool = False

    def check(self, value: Any, field: str) -> tuple[Any, Any]:
        low, high = number_pair(value, field, whole=self.whole, minimum=self.minimum)
        if self.positive and low <= 0:
            raise InputError(field, f"must be above 0 at its low end, got {shown(low)}")
        return (low, high)

    def invalid(self) -> tuple[Any, ...]:
        values: list[Any] = [(2, 1), [1], "1,2", None, (1, "2"), (float("nan"), 1), 5]
        values.append((self.minimum - 1, self.minimum + 1))
        if self.whole:
            values.append((0.5, 2))
        if self.positive:
            values.append((0, 1))
        return tuple(values)

    def describe(self) -> str:
        return f"a pair [low, high] of {'whole ' if self.whole else ''}numbers"


@dataclass(frozen=True)
class Choice(Constraint):
    """One of ``options`` (strings); an error calls a bad value an unknown ``noun``."""

    options: tuple[str, ...]
    noun: str = "value"

    def check(self, value: Any, field: str) -> str:
        return check_choice(value, self.options, field, self.noun)

    def invalid(self) -> tuple[Any, ...]:
        return (
            "",
            "no-such-" + self.noun,
            self.options[0].upper() + "!",
            None,
            1,
            [self.options[0]],
        )

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)


@dataclass(frozen=True)
class Flag(Constraint):
    """True or False (numpy's booleans too)."""

    def check(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise InputError(field, f"must be true or false, got {shown(value)}")
        return bool(value)

    def invalid(self) -> tuple[Any, ...]:
        return (1, 0, "yes", None, [True])

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Constraint):
    """A non-empty string (a path is taken as its string); ``what`` names it in errors."""

    what: str = "a non-empty string"

    def check(self, value: Any, field: str) -> str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise InputError(field, f"must be {self.what}, got {shown(value)}")
        return value

    def invalid(self) -> tuple[Any, ...]:
        return ("", "   ", None, 5, ["a"])

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class Instance(Constraint):
    """An instance of ``kind``, called ``name`` in errors (``a dnnsplit.Scenario``)."""

    kind: type
    name: str

    def check(self, value: Any, field: str) -> Any:
        if not isinstance(value, self.kind):
            raise InputError(field, f"must be {self.name}, got {shown(value)}")
        return value

    def invalid(self) -> tuple[Any, ...]:
        return (None, "x", 1, {})

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Json(Constraint):
    """An object of plain JSON data (see :func:`~dnnsplit._checks.json_data`)."""

    def check(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InputError(field, "must be an object")
        json_data(value, field)
        return value

    def invalid(self) -> tuple[Any, ...]:
        return ([1], "x", {"x": math.nan}, {"x": {1, 2}}, {1: 2})

    def describe(self) -> str:
        return "an object of JSON data"


@dataclass(frozen=True)
class Nullable(Constraint):
    """None, or what ``inner`` takes."""

    inner: Constraint

    def check(self, value: Any, field: str) -> Any:
        return None if value is None else self.inner.check(value, field)

    def invalid(self) -> tuple[Any, ...]:
        return tuple(v for v in self.inner.invalid() if v is not None)

    def describe(self) -> str:
        return f"{self.inner.describe()}, or null"


def check_all(
    values: Mapping[str, Any], constraints: Mapping[str, Constraint], prefix: str = ""
) -> dict[str, Any]:
    """Each of ``values`` (those with a constraint) checked, errors naming
    ``prefix + name``."""
    return {
        name: constraints[name].check(value, prefix + name) if name in constraints else value
        for name, value in values.items()
    }


def check_fields(instance: Any, constraints: Mapping[str, Constraint], prefix: str = "") -> None:
    """Check every field of a frozen dataclass ``instance`` (in its ``__post_init__``)
    against ``constraints`` and store the canonical values; errors name ``prefix + field``."""
    values = {f.name: getattr(instance, f.name) for f in fields(instance)}
    for name, value in check_all(values, constraints, prefix).items():
        object.__setattr__(instance, name, value)


T = TypeVar("T")


def replace_fields(instance: T, changes: Mapping[str, Any], prefix: str = "") -> T:
    """A copy of the dataclass ``instance`` with ``changes`` (as :func:`dataclasses.replace`),
    but an unknown field is an :class:`~dnnsplit.errors.InputError` naming
    ``prefix + field`` and listing the allowed ones."""
    names = {f.name for f in fields(instance)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in changes if k not in names)
    if unknown:
        raise InputError(
            f"{prefix}{unknown[0]}", f"unknown field; allowed: {', '.join(sorted(names))}"
        )
    return replace(instance, **changes)  # type: ignore[type-var]


P = ParamSpec("P")
R = TypeVar("R")

#: True while a declared function runs: the functions it calls trust their arguments.
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("dnnsplit_inside", default=False)


def inside() -> bool:
    """Whether a declared function of the library is running (its callees trust)."""
    return _INSIDE.get()


def trusted(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``function`` as the library's inside does: declared functions it calls do not
    check their arguments again."""
    token = _INSIDE.set(True)
    try:
        return function(*args, **kwargs)
    finally:
        _INSIDE.reset(token)


def declare(
    constraints: Mapping[str, Constraint],
    *,
    fields: Mapping[str, str] | None = None,
    then: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check the parameters named in ``constraints`` when the function is called from
    outside the library, replacing each by its canonical value (an error names the
    parameter, or its name in ``fields``), then run ``then`` on the checked arguments (a
    rule across parameters); a call made while another declared function runs is trusted
    (not checked again). The declarations are the function's ``constraints`` attribute,
    and ``fields`` its ``fields`` (the tests read them)."""
    names = dict(fields or {})

    def wrap(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:  # pragma: no cover - a programming error, caught at import
            raise TypeError(f"{function.__name__} has no parameters {sorted(unknown)}")

        @functools.wraps(function)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            if _INSIDE.get():
                return function(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, constraint in constraints.items():
                field = names.get(name, name)
                bound.arguments[name] = constraint.check(bound.arguments[name], field)
            if then is not None:
                then(bound.arguments)
            return trusted(function, *bound.args, **bound.kwargs)

        checked.constraints = dict(constraints)  # type: ignore[attr-defined]
        checked.fields = {name: names.get(name, name) for name in constraints}  # type: ignore[attr-defined]
        return checked

    return wrap
