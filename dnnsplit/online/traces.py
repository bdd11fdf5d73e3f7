"""Uplink rate traces: how fast a device can send, second by second (docs/online.md).

A :class:`RateTrace` is a piecewise-constant rate: ``rates_bps[k]`` from ``times_s[k]``
until the next time; after the last one it holds, or the trace repeats with ``period_s``
(as Mahimahi replays its traces). A transmission of ``bits`` started at ``t`` ends when the
trace has carried that many bits (:meth:`RateTrace.finish`): a rate change mid-transmission
slows or speeds its rest. Sources: a CSV ``time_s,rate_mbit`` (:func:`read_rate_csv`),
Mahimahi's packet-delivery format turned into a rate per window (:func:`read_mahimahi`),
and a seeded two-state Gilbert–Elliott channel (:func:`two_state`).

Files are read with bounded effort: at most :data:`~dnnsplit._checks.MAX_FILE_BYTES` of
UTF-8 text and :data:`MAX_TRACE_LINES` lines; every error is one
:class:`~dnnsplit.errors.InputError` naming the field that gave the file and the line.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dnnsplit._checks import read_text
from dnnsplit.errors import InputError, shown
from dnnsplit.model import QUANTA_GUARD, check_bytes, read_only

__all__ = [
    "MAHIMAHI_PACKET_BITS",
    "MAX_TRACE_LINES",
    "RateTrace",
    "read_mahimahi",
    "read_rate_csv",
    "read_trace",
    "two_state",
]

#: Mahimahi: each line of a trace is one opportunity to deliver a packet of 1500 bytes.
MAHIMAHI_PACKET_BITS = 1500 * 8
#: The most lines a trace file may hold (a minute of a 1 Gbit/s Mahimahi trace has 5·10⁶).
MAX_TRACE_LINES = 10_000_000
#: Anything but a line of up to 12 digits in a Mahimahi trace.
_NOT_A_STAMP = re.compile(r"[^0-9\s]|\d[ \t\r\f\v]+\d|\d{13}")
#: The header a rate CSV starts with.
CSV_HEADER = ("time_s", "rate_mbit")
#: The most segments a generated trace may have (a guard against a mean stay far too short
#: for the horizon).
MAX_SEGMENTS = 10_000_000


@dataclass(frozen=True, eq=False)
class RateTrace:
    """A piecewise-constant uplink rate.

    Attributes
    ----------
    times_s : numpy.ndarray
        Start of each segment, s: the first 0, strictly increasing (read-only).
    rates_bps : numpy.ndarray
        Rate of each segment, bit/s, positive (read-only).
    period_s : float or None
        None: the last rate holds for ever. Else the trace repeats with this period
        (every time below it).
    """

    times_s: np.ndarray
    rates_bps: np.ndarray
    period_s: float | None = None

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=float)
        rates = np.asarray(self.rates_bps, dtype=float)
        if times.ndim != 1 or times.shape != rates.shape or times.size == 0:
            raise InputError("trace", "needs one rate per time, at least one segment")
        if times[0] != 0 or not np.all(np.diff(times) > 0) or not np.all(np.isfinite(times)):
            raise InputError("trace", "times must start at 0 and increase strictly")
        if not np.all(np.isfinite(rates)) or not np.all(rates > 0):
            raise InputError("trace", "rates must be positive and finite")
        if self.period_s is not None and not times[-1] < self.period_s < math.inf:
            raise InputError("trace", "the period must exceed the last time")
        object.__setattr__(self, "times_s", read_only(times))
        object.__setattr__(self, "rates_bps", read_only(rates))

    @cached_property
    def _carried(self) -> np.ndarray:
        """Bits carried from 0 to each segment's start."""
        return np.concatenate([[0.0], np.cumsum(self.rates_bps[:-1] * np.diff(self.times_s))])

    @cached_property
    def _period_bits(self) -> float:
        """Bits carried over one period (0 for a trace that does not repeat)."""
        if self.period_s is None:
            return 0.0
        return float(self._carried[-1] + self.rates_bps[-1] * (self.period_s - self.times_s[-1]))

    @classmethod
    def constant(cls, rate_bps: float) -> RateTrace:
        """A rate that never changes."""
        return cls(np.array([0.0]), np.array([float(rate_bps)]))

    def rate_at(self, t: float) -> float:
        """The rate at time ``t`` (s)."""
        return float(self.rates_bps[self._segment(t % self.period_s if self.period_s else t)])

    def _segment(self, t: float) -> int:
        """The segment holding ``t`` (within a period): the last that starts by ``t``."""
        return max(int(np.searchsorted(self.times_s, t, side="right")) - 1, 0)

    def changes(self, end: float) -> tuple[np.ndarray, np.ndarray]:
        """``(times, rates)``: the rate at 0 and at every change before ``end``."""
        if self.period_s is None:
            keep = self.times_s < end
            return self.times_s[keep].copy(), self.rates_bps[keep].copy()
        repeats = math.ceil(end / self.period_s)
        check_bytes(16.0 * repeats * self.times_s.size, "horizon_s", "the trace's changes")
        times = (self.times_s[None, :] + self.period_s * np.arange(repeats)[:, None]).ravel()
        rates = np.tile(self.rates_bps, repeats)
        keep = times < end
        return _merged(times[keep], rates[keep])  # across a repeat's seam

    def _sent(self, t: float) -> float:
        """Bits the trace carries from 0 to ``t``."""
        laps = 0.0
        if self.period_s is not None:
            laps, t = divmod(t, self.period_s)
        k = self._segment(t)
        within = self._carried[k] + self.rates_bps[k] * (t - self.times_s[k])
        return float(laps * self._period_bits + within)

    def finish(self, start: float, bits: float) -> float:
        """When a transmission of ``bits`` started at ``start`` (s) ends (the trace's rate
        integrated from ``start``)."""
        if bits <= 0:
            return start
        target = self._sent(start) + bits
        carried = self._carried
        laps = 0.0
        if self.period_s is not None:
            laps, target = divmod(target, self._period_bits)
        k = max(int(np.searchsorted(carried, target, side="right")) - 1, 0)
        within = self.times_s[k] + (target - carried[k]) / self.rates_bps[k]
        end = laps * self.period_s + within if self.period_s is not None else within
        return float(max(end, start))

    def at_offset(self, offset_s: float) -> RateTrace:
        """The trace seen from ``offset_s`` on: the rate at ``t`` is this trace's at
        ``t + offset_s`` (a repeating trace is rotated, another one cut)."""
        if offset_s == 0:
            return self
        if self.period_s is not None:
            offset_s %= self.period_s
            shifted = np.concatenate([self.times_s, self.times_s + self.period_s])
            rates = np.tile(self.rates_bps, 2)
            keep = (shifted >= offset_s) & (shifted < offset_s + self.period_s)
            times, kept = shifted[keep] - offset_s, rates[keep]
            if times.size == 0 or times[0] > 0:
                times = np.concatenate([[0.0], times])
                kept = np.concatenate([[self.rate_at(offset_s)], kept])
            return RateTrace(times, kept, self.period_s)
        k = self._segment(offset_s)
        times = np.concatenate([[0.0], self.times_s[k + 1 :] - offset_s])
        return RateTrace(times, self.rates_bps[k:].copy())


def _merged(times: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive segments of one rate as one."""
    keep = np.concatenate([[True], rates[1:] != rates[:-1]])
    return times[keep], rates[keep]


def _text(path: str | os.PathLike[str], field: str, kind: str) -> tuple[str, str]:
    """The file's name and text (bounded: its size by ``read_text``, its lines here)."""
    text = read_text(path, field, kind)
    name = os.path.basename(os.fspath(path))
    if text.count("\n") > MAX_TRACE_LINES:
        raise InputError(field, f"{name} has more than {MAX_TRACE_LINES:,} lines "
                         "(dnnsplit.online.traces.MAX_TRACE_LINES)")  # fmt: skip
    return name, text


def _line_of(text: str, position: int) -> tuple[int, str]:
    """The number (from 1) and the text of the line holding character ``position``."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text.count("\n", 0, position) + 1, text[start : end if end >= 0 else len(text)]


def read_rate_csv(path: str | os.PathLike[str], field: str = "trace") -> RateTrace:
    """A trace from a CSV file ``time_s,rate_mbit`` (header first; the last rate holds).

    Raises
    ------
    InputError
        Naming ``field``, the file and the line: no header, no row, a row without two
        numbers, a first time other than 0, times that do not increase strictly, a rate
        that is not a positive finite number.
    """
    name, text = _text(path, field, "rate CSV")
    rows = [(k + 1, line.strip()) for k, line in enumerate(text.split("\n")) if line.strip()]
    header = tuple(cell.strip() for cell in rows[0][1].split(",")) if rows else ()
    if header != CSV_HEADER:
        raise InputError(field, f"{name} line 1: the header must be {','.join(CSV_HEADER)}, "
                         f"got {shown(header)}")  # fmt: skip
    if len(rows) < 2:
        raise InputError(field, f"{name}: the trace is empty (no row after the header)")
    times = np.empty(len(rows) - 1)
    rates = np.empty(len(rows) - 1)
    for k, (number, line) in enumerate(rows[1:]):
        cells = line.split(",")
        where = f"{name} line {number}"
        if len(cells) != 2:
            raise InputError(field,
                             f"{where}: needs two values time_s,rate_mbit, got {shown(line)}")
        try:
            time, rate = float(cells[0]), float(cells[1])
        except ValueError:
            raise InputError(field, f"{where}: not two numbers: {shown(line)}") from None
        if not math.isfinite(time) or (k == 0 and time != 0) or (k and time <= times[k - 1]):
            must = "be 0" if k == 0 else f"exceed the previous time {times[k - 1]:g}"
            raise InputError(field, f"{where}: time_s must {must}, got {shown(cells[0].strip())}")
        if not (math.isfinite(rate) and rate > 0):
            raise InputError(field, f"{where}: rate_mbit must be positive and finite, "
                             f"got {shown(cells[1].strip())}")  # fmt: skip
        times[k], rates[k] = time, rate * 1e6
    return RateTrace(*_merged(times, rates))


def read_mahimahi(path: str | os.PathLike[str], window_s: float = 1.0,
                  field: str = "trace") -> RateTrace:  # fmt: skip
    """A repeating trace from Mahimahi's packet-delivery format.

    Each line holds a whole number of milliseconds, non-decreasing; each line is one
    opportunity to deliver a 1500-byte packet (several lines may share a millisecond).
    The trace repeats after its last timestamp (as ``mm-link`` replays it). The rate of
    a window of ``window_s`` seconds is its opportunities × 12,000 bits / the window's
    length (the last window may be shorter). **[choice]** A window without any
    opportunity (an outage) gets the rate of one packet per window, so the rate stays
    positive, as the delay model needs: an outage is then a very slow window.

    Raises
    ------
    InputError
        Naming ``field``, the file and the line: no timestamp, a line that is not a whole
        number ≥ 0, timestamps that decrease, a last timestamp of 0 (no period).
    """
    name, text = _text(path, field, "Mahimahi trace")
    wrong = _NOT_A_STAMP.search(text)
    if wrong is not None:
        number, line = _line_of(text, wrong.start())
        raise InputError(field, f"{name} line {number}: must be a whole number of milliseconds, "
                         f"got {shown(line.strip())}")  # fmt: skip
    stamps = np.array(text.split(), dtype=np.int64)
    if stamps.size == 0:
        raise InputError(field, f"{name}: the trace is empty (no timestamp)")
    falls = np.flatnonzero(np.diff(stamps) < 0)
    if falls.size:
        k = int(falls[0]) + 1
        stamp = next(itertools.islice(re.finditer(r"\d+", text), k, None))  # the k-th's place
        number, _ = _line_of(text, stamp.start())
        raise InputError(field, f"{name} line {number}: timestamps must not decrease "
                         f"({stamps[k]} after {stamps[k - 1]})")  # fmt: skip
    period = float(stamps[-1]) / 1000.0
    if period <= 0:
        raise InputError(field, f"{name}: the last timestamp must be above 0 ms (the period)")
    windows = math.ceil(period / window_s - QUANTA_GUARD)  # a whole count stays whole
    check_bytes(24.0 * windows, field, f"{windows:,} windows of {window_s:g} s")
    starts = np.arange(windows) * window_s
    lengths = np.minimum(starts + window_s, period) - starts
    # a stamp at the period's end is the next lap's stamp at 0 (mm-link's rule)
    seconds = stamps.astype(float) / 1000.0 % period
    window = np.minimum((seconds / window_s).astype(np.int64), windows - 1)
    rates = np.maximum(np.bincount(window, minlength=windows), 1) * MAHIMAHI_PACKET_BITS / lengths
    return RateTrace(*_merged(starts, rates), period)


def read_trace(path: str | os.PathLike[str], window_s: float = 1.0,
               field: str = "trace") -> RateTrace:  # fmt: skip
    """A rate CSV (first line ``time_s,rate_mbit``) or, otherwise, a Mahimahi trace."""
    _, text = _text(path, field, "trace")
    first = text.lstrip().split("\n", 1)[0].strip()
    if first.replace(" ", "").startswith(CSV_HEADER[0] + ","):
        return read_rate_csv(path, field)
    return read_mahimahi(path, window_s, field)


def two_state(good_bps: float, bad_bps: float, mean_good_s: float, mean_bad_s: float,
              horizon_s: float, rng: np.random.Generator) -> RateTrace:  # fmt: skip
    """A seeded two-state (good/bad) Markov-modulated rate up to ``horizon_s``.

    The link stays in each state an exponential time of mean ``mean_good_s`` (rate
    ``good_bps``) or ``mean_bad_s`` (rate ``bad_bps``), then switches; the first state is
    drawn from the stationary distribution (good with probability ``mean_good_s /
    (mean_good_s + mean_bad_s)``). The last state holds beyond the horizon. Draws come from
    ``rng`` only (pass a seeded :class:`numpy.random.Generator`).
    """
    expected = 2 * horizon_s / (mean_good_s + mean_bad_s) + 16
    if expected > MAX_SEGMENTS:
        raise InputError("mean_good_s", f"stays this short give about {expected:.3g} rate "
                         f"changes over the horizon, more than {MAX_SEGMENTS:,} "
                         "(dnnsplit.online.traces.MAX_SEGMENTS)")  # fmt: skip
    good = bool(rng.random() < mean_good_s / (mean_good_s + mean_bad_s))
    times, rates = [0.0], [good_bps if good else bad_bps]
    clock = 0.0
    while True:
        clock += float(rng.exponential(mean_good_s if good else mean_bad_s))
        if clock >= horizon_s:
            break
        good = not good
        times.append(clock)
        rates.append(good_bps if good else bad_bps)
    return RateTrace(*_merged(np.array(times), np.array(rates)))
