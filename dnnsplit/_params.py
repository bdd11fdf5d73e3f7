"""What each parameter of a public boundary takes, declared once, checked at the boundary.

Modelled on scikit-learn's parameter validation: each boundary (the :class:`~dnnsplit.Setup`
fields, a scenario file's fields, :func:`~dnnsplit.evaluate`, :func:`~dnnsplit.solve`, each
public solver) declares a :class:`Constraint` per parameter in one table next to it. The
check turns a value into its canonical type or raises one
:class:`~dnnsplit.errors.InputError` naming the field; inside, the code trusts (see
:func:`declare`; a frozen dataclass uses :func:`declare_fields`). The hostile-input tests
draw their bad and good values from the same tables (:meth:`Constraint.invalid`,
:meth:`Constraint.valid`), so a rule and its test cannot drift apart.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
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
    "Numbers",
    "Pair",
    "Real",
    "Seed",
    "Text",
    "Whole",
    "check_all",
    "declare",
    "declare_fields",
    "metavar",
    "replace_fields",
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

    def valid(self) -> tuple[Any, ...]:
        """Values it takes, its edges among them (the tests check that the body takes each
        too); none only where the declaration alone can make none (a class's instance)."""
        raise NotImplementedError


#: A magnitude just above zero: the least a relative tolerance is taken of (a zero value keeps
#: a tie band), and its negative the hostile tests' least negative number.
NEAR_ZERO = 1e-300


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
        extra = (0.0, -NEAR_ZERO) if self.positive else ()
        return _number_invalid(self.low, self.high, False) + extra

    def valid(self) -> tuple[Any, ...]:
        edges = [e for e in (self.low, self.high) if e is not None]
        edges = [float(e) for e in edges if not (self.positive and e <= 0)]
        low = self.low if self.low is not None else -math.inf
        high = self.high if self.high is not None else math.inf
        inner: Any = 1 if low <= 1 <= high else (low + high) / 2  # an int: a number too
        return tuple(dict.fromkeys([*edges, inner]))


@dataclass(frozen=True)
class Whole(Constraint):
    """A whole number in ``[low, high]`` (within int64)."""

    low: int | None = None
    high: int | None = None

    def check(self, value: Any, field: str) -> int:
        return int(number(value, field, whole=True, minimum=self.low, maximum=self.high))

    def invalid(self) -> tuple[Any, ...]:
        return _number_invalid(self.low, self.high, True)

    def valid(self) -> tuple[Any, ...]:
        low = self.low if self.low is not None else 0
        high = [] if self.high is None else [self.high]
        inner = [np.int64(low + 1)] if low + 1 <= min(high, default=low + 1) else []  # numpy's
        return tuple(dict.fromkeys([low, *inner, *high]))


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

    def valid(self) -> tuple[Any, ...]:
        low = max(self.minimum, 1) if self.positive else self.minimum
        if self.whole:
            low = math.ceil(low)
        return ((low, low), [low, low + 1])


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

    def valid(self) -> tuple[Any, ...]:
        return self.options


@dataclass(frozen=True)
class Flag(Constraint):
    """True or False (numpy's booleans too)."""

    def check(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise InputError(field, f"must be true or false, got {shown(value)}")
        return bool(value)

    def invalid(self) -> tuple[Any, ...]:
        return (1, 0, "yes", None, [True])

    def valid(self) -> tuple[Any, ...]:
        return (True, False, np.True_)


@dataclass(frozen=True)
class Text(Constraint):
    """A non-empty string (a path is taken as its string); ``what`` names it in errors,
    ``examples`` are strings it takes that mean something where it is declared (a shipped
    profile's name, say; the tests try them)."""

    what: str = "a non-empty string"
    examples: tuple[str, ...] = ("x",)

    def check(self, value: Any, field: str) -> str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise InputError(field, f"must be {self.what}, got {shown(value)}")
        return value

    def invalid(self) -> tuple[Any, ...]:
        return ("", "   ", None, 5, ["a"])

    def valid(self) -> tuple[Any, ...]:
        return self.examples


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

    def valid(self) -> tuple[Any, ...]:
        """The default instance, where every argument of the class has a default."""
        needed = [
            p for p in inspect.signature(self.kind).parameters.values() if p.default is p.empty
        ]
        return () if needed else (self.kind(),)


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

    def valid(self) -> tuple[Any, ...]:
        return ({}, {"note": "x", "values": [1, 2.5, None, True, {"k": "v"}]})


@dataclass(frozen=True)
class Nullable(Constraint):
    """None, or what ``inner`` takes."""

    inner: Constraint

    def check(self, value: Any, field: str) -> Any:
        return None if value is None else self.inner.check(value, field)

    def invalid(self) -> tuple[Any, ...]:
        return tuple(v for v in self.inner.invalid() if v is not None)

    def valid(self) -> tuple[Any, ...]:
        return (None, *self.inner.valid())


@dataclass(frozen=True)
class Numbers(Constraint):
    """A sequence (not a string), each of its values as ``each`` takes it; canonical: a
    list."""

    each: Constraint

    def check(self, value: Any, field: str) -> list[Any]:
        if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
            raise InputError(field, f"must be a sequence of numbers, got {shown(value)}")
        return [self.each.check(v, f"{field}[{k}]") for k, v in enumerate(value)]

    def invalid(self) -> tuple[Any, ...]:
        return ("abc", None, 5, *([bad] for bad in self.each.invalid() if bad is not None))

    def valid(self) -> tuple[Any, ...]:
        return tuple([good] for good in self.each.valid())


@dataclass(frozen=True)
class Seed(Constraint):
    """A seed: a whole number ``0..MAX_WHOLE`` (pass an int for reproducible output), or a
    :class:`numpy.random.Generator`, taken as it is."""

    def check(self, value: Any, field: str) -> int | np.random.Generator:
        if isinstance(value, np.random.Generator):
            return value
        return Whole(0, MAX_WHOLE).check(value, field)

    def invalid(self) -> tuple[Any, ...]:
        return Whole(0, MAX_WHOLE).invalid()

    def valid(self) -> tuple[Any, ...]:
        return (*Whole(0, MAX_WHOLE).valid(), np.random.default_rng(0))


def metavar(options: Sequence[str]) -> str:
    """``{a,b,c}``: a command line's help for a declared choice (the library checks it)."""
    return "{" + ",".join(options) + "}"


def check_all(
    values: Mapping[str, Any], constraints: Mapping[str, Constraint], prefix: str = ""
) -> dict[str, Any]:
    """Each of ``values`` (those with a constraint) checked, errors naming
    ``prefix + name``."""
    return {
        name: constraints[name].check(value, prefix + name) if name in constraints else value
        for name, value in values.items()
    }


T = TypeVar("T")
C = TypeVar("C", bound=type)


def declare_fields(
    constraints: Mapping[str, Constraint],
    *,
    prefix: str = "",
    then: Callable[[Any], None] | None = None,
) -> Callable[[C], C]:
    """Make a dataclass (the decorator written *below* ``@dataclass``) check the fields
    named in ``constraints`` when an instance is made, storing their canonical values
    (errors name ``prefix + field``), then run ``then`` on it (a rule across fields). As
    with :func:`declare`, the class keeps ``constraints`` and the error names ``fields``."""

    def wrap(cls: C) -> C:
        unknown = set(constraints) - set(cls.__annotations__)
        if unknown:  # pragma: no cover - a programming error, caught at import
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")

        def __post_init__(self: Any) -> None:
            """Check the declared fields, storing their canonical values; then the rule."""
            for name, constraint in constraints.items():
                value = constraint.check(getattr(self, name), prefix + name)
                object.__setattr__(self, name, value)
            if then is not None:
                then(self)

        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]
        cls.constraints = dict(constraints)  # type: ignore[attr-defined]
        cls.fields = {name: prefix + name for name in constraints}  # type: ignore[attr-defined]
        return cls

    return wrap


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
