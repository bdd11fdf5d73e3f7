"""Stage profiles: how long each stage of a DNN takes on one machine, and what it sends.

A profile is the measured (or estimated) time ``t_s`` of every stage on one piece of
hardware and the bytes ``b_s`` of every stage's output, ``b_0`` being the input (docs/model.md,
"Per-device quantities"). Profiles live in ``data/measurements/`` as CSV files, one row per
stage, with provenance on every row so that a figure can say what its numbers stand on:

========== ================================================================
column      meaning
========== ================================================================
model       chain name (``alexnet``, ``vgg16``, ...; see ``dnnsplit.chains``)
stage_index 0 for the input tensor, then 1..S
stage       stage name (``input`` on row 0)
time_s      seconds for the stage alone on this hardware (0 on row 0)
output_bytes bytes of the stage's output tensor (row 0: the input tensor)
method      ``measured`` or ``estimated``
source      how the numbers were obtained (tool, rule and constants)
hardware    what they were obtained on (or for)
framework   DNN framework and version (``analytic`` for estimates)
date        ISO date the file was made
========== ================================================================

The optional columns of :data:`OPTIONAL_COLUMNS` (spreads, stages timed alone, counts) are
the profiler's. Estimated profiles follow the roofline rule of docs/model.md ("Stage
timings"; :func:`estimate_profile`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._checks import MAX_WHOLE, frozen, read_text
from dnnsplit._io import atomic_write, csv_text
from dnnsplit._params import Constraint, Real, Text, Whole, declare_fields
from dnnsplit.chains import CHAINS, Chain, chain_figures, get_chain
from dnnsplit.errors import InputError, shown
from dnnsplit.paths import MEASUREMENTS_DIR

__all__ = [
    "DEFAULT_PROFILE",
    "HARDWARE",
    "PROFILE_NAME",
    "PROVENANCE_COLUMNS",
    "REQUIRED_COLUMNS",
    "Hardware",
    "Profile",
    "chain_profile",
    "estimate_profile",
    "list_profiles",
    "load_profile",
    "profile_path",
    "read_profile",
    "write_estimated_profiles",
    "write_profile",
]

#: The profile a setup draws its scenarios from unless told otherwise (docs/model.md).
DEFAULT_PROFILE = "alexnet-pi3b-estimated"
#: A stage profile, as a setup or a scenario file names it: a shipped name or a CSV path.
PROFILE_NAME = Text("a profile name or path", examples=(DEFAULT_PROFILE,))

PROVENANCE_COLUMNS = ("method", "source", "hardware", "framework", "date")
REQUIRED_COLUMNS = ("model", "stage_index", "stage", "time_s", "output_bytes", *PROVENANCE_COLUMNS)
METHODS = ("measured", "estimated")
MAX_STAGE_SECONDS = 600.0  # a stage slower than this is a unit mistake, not a Raspberry Pi
MIN_FLOPS = 20e6  # no machine that runs a DNN is this slow: a slower stage is in ms, not s


def _array(values: Any, where: str, length: int, dtype: Any) -> np.ndarray:
    """``values`` as a 1-d array of ``length`` (``dtype`` None: as given), or an error."""
    try:
        array = np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise InputError(where, "must be a list of numbers") from None
    if array.shape != (length,):
        raise InputError(where, f"needs one value per stage ({length}), got shape {array.shape}")
    if dtype is None and array.dtype.kind not in "iufO":  # O: Python ints beyond int64
        raise InputError(where, "must be a list of numbers")
    return array


#: What the plain fields of a :class:`Profile` take (its stages are checked as a whole).
PROFILE_FIELDS: dict[str, Constraint] = {"name": Text(), "model": Text(), "input_bytes": Whole(1)}
#: What a number of seconds, and a count (of bytes, say), take.
SECONDS = Real(low=0.0)
COUNT = Whole(0)


def _check_stages(profile: Profile) -> None:
    """The rule across a profile's stages: one name, time and output size per stage, each
    time finite and at least 0, only the last output empty."""
    names = profile.stage_names
    if not isinstance(names, list | tuple) or not names:
        raise InputError("profile.stage_names", "must be a non-empty list of stage names")
    names = tuple(Text().check(name, f"profile.stage_names[{k}]") for k, name in enumerate(names))
    object.__setattr__(profile, "stage_names", names)
    n = len(names)
    times = _array(profile.time_s, "profile.time_s", n, float)
    bad = np.flatnonzero(~(np.isfinite(times) & (times >= 0)))
    if bad.size:
        k = int(bad[0])
        raise InputError(f"profile.time_s[{k}]", f"must be a finite time >= 0, got {times[k]!r}")
    out = [
        COUNT.check(b, f"profile.output_bytes[{k}]")
        for k, b in enumerate(_array(profile.output_bytes, "profile.output_bytes", n, None))
    ]
    if 0 in out[:-1]:
        raise InputError(
            f"profile.output_bytes[{out.index(0)}]",
            "zero bytes: only the last stage's output may be empty",
        )
    object.__setattr__(profile, "time_s", frozen(times + 0.0))
    object.__setattr__(profile, "output_bytes", frozen(out, dtype=np.int64))
    if not isinstance(profile.provenance, Mapping):
        raise InputError("profile.provenance", "must be a mapping")
    object.__setattr__(profile, "provenance", dict(profile.provenance))


@dataclass(frozen=True, eq=False)
@declare_fields(PROFILE_FIELDS, prefix="profile.", then=_check_stages)
class Profile:
    """Stage times and output sizes of one DNN on one piece of hardware.

    Attributes
    ----------
    name : str
        Profile name (the CSV file's stem for shipped profiles).
    model : str
        Chain name.
    stage_names : tuple of str
        Stage names, stages 1..S.
    time_s : numpy.ndarray
        ``t_s``, seconds per stage, shape (S,).
    output_bytes : numpy.ndarray
        ``b_s``, bytes of each stage's output, shape (S,).
    input_bytes : int
        ``b_0``, bytes of the input tensor.
    provenance : dict
        ``method``, ``source``, ``hardware``, ``framework``, ``date``.
    extra : pandas.DataFrame or None
        Optional per-stage columns (spread, stage timed alone, ...), rows 1..S.
    """

    name: str
    model: str
    stage_names: tuple[str, ...]
    time_s: np.ndarray
    output_bytes: np.ndarray
    input_bytes: int
    provenance: dict[str, str] = field(default_factory=dict)
    extra: pd.DataFrame | None = None

    @property
    def n_stages(self) -> int:
        return len(self.stage_names)

    @property
    def estimated(self) -> bool:
        return self.provenance.get("method") == "estimated"

    @property
    def label(self) -> str:
        """Short caption text: hardware and method, e.g. ``"Raspberry Pi 3B+ (estimated)"``."""
        return f"{self.provenance.get('hardware', '?')} ({self.provenance.get('method', '?')})"

    def bytes_sent(self) -> np.ndarray:
        """``b_p`` for p = 0..S-1 followed by 0 for p = S (nothing sent), shape (S+1,)."""
        return np.concatenate([[self.input_bytes], self.output_bytes[:-1], [0]]).astype(float)

    def to_frame(self) -> pd.DataFrame:
        """The profile as the CSV's rows (row 0 the input)."""
        rows = {
            "model": self.model,
            "stage_index": np.arange(self.n_stages + 1),
            "stage": ["input", *self.stage_names],
            "time_s": np.concatenate([[0.0], self.time_s]),
            "output_bytes": np.concatenate([[self.input_bytes], self.output_bytes]).astype(int),
        }
        frame = pd.DataFrame(rows)
        if self.extra is not None:
            padded = pd.concat([self.extra.iloc[:0].reindex([0]), self.extra], ignore_index=True)
            for column in self.extra.columns:
                frame[column] = padded[column].to_numpy()
        for column in PROVENANCE_COLUMNS:
            frame[column] = self.provenance.get(column, "")
        return frame

    def to_dict(self) -> dict:
        """The scenario-file form of this profile (docs/interface.md, ``profile``)."""
        return {
            "input_bytes": int(self.input_bytes),
            "stages": [
                {"name": n, "device_s": float(t), "output_bytes": int(b)}
                for n, t, b in zip(self.stage_names, self.time_s, self.output_bytes, strict=True)
            ],
        }


# --- reading and validation ------------------------------------------------------------

#: Columns a profile may carry besides :data:`REQUIRED_COLUMNS` (the profiler writes them),
#: each checked on the stage rows 1..S (row 0, the input, may leave them empty).
_SECONDS_COLUMNS = ("iqr_s", "alone_s", "alone_iqr_s")
_COUNT_COLUMNS = ("macs", "params", "repeats", "threads", "cores")
OPTIONAL_COLUMNS = (*_SECONDS_COLUMNS, "within_noise", *_COUNT_COLUMNS)


def _fail(row: int | None, column: str, problem: str, origin: str) -> InputError:
    """The error about ``column`` (on data row ``row``, 1-based) of the file ``origin``."""
    place = f"row {row}, column {column}" if row is not None else f"column {column}"
    return InputError(f"{origin}: {place}" if origin else place, problem)


def _text(raw: Any) -> str:
    """A cell as the user wrote it (numpy scalars as plain numbers), for messages."""
    return shown(raw.item() if isinstance(raw, np.generic) else raw)


def _empty(raw: Any) -> bool:
    return bool(pd.isna(raw)) or str(raw).strip() == ""


def _cells(frame: pd.DataFrame, column: str, origin: str, *, whole: bool, optional: bool) -> list:
    """The numbers of ``column``, one per row (None for an empty optional cell on row 0).

    Every cell must be a finite number (a whole number within int64 when ``whole``) that is
    not negative; anything else is an error naming the row and the column.
    """
    kind = "a non-negative whole number" if whole else "a non-negative number"
    out: list = []
    for position, value in enumerate(pd.to_numeric(frame[column], errors="coerce").tolist()):
        raw = frame[column].iloc[position]
        if optional and position == 0 and _empty(raw):
            out.append(None)
            continue
        if isinstance(raw, bool | np.bool_) or value is None:
            raise _fail(position + 1, column, f"not {kind}: {_text(raw)}", origin)
        try:
            out.append((COUNT if whole else SECONDS).check(value, column))
        except InputError:
            if isinstance(value, int | float) and value > MAX_WHOLE and math.isfinite(value):
                problem = f"{_text(raw)} is too large (at most {MAX_WHOLE})"
            else:
                problem = f"not {kind}: {_text(raw)}"
            raise _fail(position + 1, column, problem, origin) from None
    return out


def profile_from_frame(frame: pd.DataFrame, *, name: str, origin: str = "") -> Profile:
    """Validate a profile table and turn it into a :class:`Profile`.

    Checks the schema (the required columns, each once; the optional columns of
    :data:`OPTIONAL_COLUMNS` and no others), units (seconds, bytes), that times are finite
    and non-negative, that byte counts are whole numbers within int64, that stage indices
    run 0..S, and, for a known model, the stage names and byte counts against the analytic
    chain. The first problem found is raised as one :class:`~dnnsplit.errors.InputError`
    naming the row (1-based data rows, as a spreadsheet shows them after the header) and the
    column.
    """

    def fail(row: int | None, column: str, problem: str) -> InputError:
        return _fail(row, column, problem, origin)

    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            "profile", f"must be a table (pandas.DataFrame), got {type(frame).__name__}"
        )
    labels = [str(column) for column in frame.columns]
    for column in labels:
        lowered = column.lower()
        if lowered.startswith("time_") and lowered != "time_s" and column not in OPTIONAL_COLUMNS:
            raise fail(None, column, "times must be in seconds, in column time_s")
    repeated = sorted({c for c in labels if labels.count(c) > 1})
    if repeated:
        raise fail(None, repeated[0], "appears more than once in the header")
    missing = [c for c in REQUIRED_COLUMNS if c not in labels]
    if missing:
        raise fail(None, missing[0], f"missing (required: {', '.join(REQUIRED_COLUMNS)})")
    unknown = [c for c in labels if c not in REQUIRED_COLUMNS and c not in OPTIONAL_COLUMNS]
    if unknown:
        label = unknown[0] if 0 < len(unknown[0]) <= 40 else shown(unknown[0], 40)
        raise fail(None, label, f"unknown column; optional columns: {', '.join(OPTIONAL_COLUMNS)}")
    frame = frame.set_axis(labels, axis=1)
    if len(frame) < 2:
        raise fail(None, "stage_index", "needs the input row (0) and at least one stage")
    indices = _cells(frame, "stage_index", origin, whole=True, optional=False)
    out_bytes = _cells(frame, "output_bytes", origin, whole=True, optional=False)
    times = pd.to_numeric(frame["time_s"], errors="coerce")
    for row, value in enumerate(times.tolist(), start=1):
        raw = frame["time_s"].iloc[row - 1]
        if value is None or isinstance(raw, bool | np.bool_) or not np.isfinite(float(value)):
            raise fail(row, "time_s", f"not a number of seconds: {_text(raw)}")
        if value < 0:
            raise fail(row, "time_s", f"negative time {value!r}")
        if value > MAX_STAGE_SECONDS:
            raise fail(
                row,
                "time_s",
                f"{value!r} s for one stage: are these milliseconds? times must be in seconds",
            )
    wrong = [k for k, index in enumerate(indices) if index != k]
    if wrong:
        raise fail(
            wrong[0] + 1, "stage_index", f"expected {wrong[0]} (rows run 0..S, row 0 the input)"
        )
    if float(times.iloc[0]) != 0.0:
        raise fail(1, "time_s", "the input row (stage_index 0) must have time 0")
    if 0 in out_bytes[:-1]:
        raise fail(
            out_bytes.index(0) + 1,
            "output_bytes",
            "zero bytes: every tensor but nothing has a size",
        )
    for column in ("model", *PROVENANCE_COLUMNS):
        values = frame[column].astype(str).to_numpy()
        bad = np.flatnonzero((values != values[0]) | (values == "") | (values == "nan"))
        if bad.size:
            raise fail(
                int(bad[0]) + 1, column, "must be one non-empty value, the same on every row"
            )
    method = str(frame["method"].iloc[0])
    if method not in METHODS:
        raise fail(1, "method", f"{shown(method)}; expected one of {', '.join(METHODS)}")
    stages = frame["stage"].tolist()
    for row, stage in enumerate(stages, start=1):
        if not isinstance(stage, str) or not stage.strip():
            raise fail(row, "stage", "must be a non-empty stage name")
    if stages[0] != "input":
        raise fail(1, "stage", "row 0 must be the input, named 'input'")
    # the optional columns, on the stage rows (row 0, the input, may leave them empty)
    for column in (*_SECONDS_COLUMNS, *_COUNT_COLUMNS):
        if column in frame.columns:
            _cells(frame, column, origin, whole=column in _COUNT_COLUMNS, optional=True)
    if "within_noise" in frame.columns:
        for row, raw in enumerate(frame["within_noise"].tolist(), start=1):
            if (row == 1 and _empty(raw)) or isinstance(raw, bool | np.bool_):
                continue
            if str(raw) not in ("True", "False"):
                raise fail(row, "within_noise", f"must be True or False, got {_text(raw)}")
    model = str(frame["model"].iloc[0])
    if model in CHAINS:
        chain = get_chain(model)
        figures = chain_figures(chain)
        if len(figures) != len(stages) - 1:
            raise fail(
                None,
                "stage_index",
                f"model {model} has {len(figures)} stages, the file {len(stages) - 1}",
            )
        for row, figure in enumerate(figures, start=2):
            seconds = float(times.iloc[row - 1])
            if figure.macs and seconds > 0 and 2 * figure.macs / seconds < MIN_FLOPS:
                raise fail(
                    row,
                    "time_s",
                    f"{seconds:g} s for one stage ({2 * figure.macs / seconds / 1e6:.1f} "
                    "MFLOP/s): are these milliseconds? times must be in seconds",
                )
        sizes = [chain.input_bytes, *(f.output_bytes for f in figures)]
        named = zip(stages, out_bytes, sizes, ["input", *chain.stage_names], strict=True)
        for row, (stage, got, want, figure_name) in enumerate(named, start=1):
            if stage != figure_name:
                raise fail(
                    row, "stage", f"{shown(stage)}; model {model} names this stage {figure_name!r}"
                )
            if int(got) != int(want):
                raise fail(
                    row,
                    "output_bytes",
                    f"{int(got)}; model {model} outputs {int(want)} bytes here (float32)",
                )
    extra_columns = [c for c in frame.columns if c not in REQUIRED_COLUMNS]
    return Profile(
        name=name,
        model=model,
        stage_names=tuple(stages[1:]),
        time_s=times.to_numpy(dtype=float)[1:],
        output_bytes=np.array(out_bytes[1:], dtype=np.int64),
        input_bytes=int(out_bytes[0]),
        provenance={c: str(frame[c].iloc[0]) for c in PROVENANCE_COLUMNS},
        extra=frame.iloc[1:][extra_columns].reset_index(drop=True) if extra_columns else None,
    )


#: Profiles already parsed, by file name and content: a sweep draws thousands of
#: scenarios from one file. The key is the text itself (hashed), so an edited file is
#: parsed again and a cached profile is never stale.
_PARSED: dict[tuple[str, str], Profile] = {}
_PARSED_MAX = 64


def read_profile(path: str | os.PathLike[str], field: str = "profile") -> Profile:
    """Read and validate a profile CSV file (columns: the module docstring; the file's
    rules: :func:`~dnnsplit._checks.read_text`, each column named once in its header); an
    error about the file as a whole names ``field``. The same text read again is not parsed
    again; each caller gets its own copy of the optional columns."""
    text = read_text(path, field, "CSV")
    name = Path(path).name
    key = (name, hashlib.sha256(text.encode()).hexdigest())
    if key not in _PARSED:
        try:
            header = next(csv.reader(io.StringIO(text)), [])
        except csv.Error as error:
            raise InputError(field, f"{name} is not a readable CSV ({error})") from None
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:
            raise _fail(None, repeated[0], "appears more than once in the header", name)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype={"stage": str})
        except (ValueError, OverflowError) as error:  # pandas' ParserError is a ValueError
            raise InputError(field, f"{name} is not a readable CSV ({error})") from None
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = profile_from_frame(frame, name=Path(path).stem, origin=name)
    known = _PARSED[key]
    return replace(known, extra=None if known.extra is None else known.extra.copy())


def list_profiles() -> list[str]:
    """Names of the profiles shipped in ``data/measurements/``."""
    return sorted(p.stem for p in MEASUREMENTS_DIR.glob("*.csv"))


def profile_path(name_or_path: str | os.PathLike[str], field: str = "profile") -> Path:
    """The file of a profile: a shipped one by name (``"alexnet-pi3b-estimated"``), or a
    profile CSV by path; errors name ``field``.

    A name ending in ``.csv``, holding a path separator, or naming an existing file or
    directory is a path (which may not exist: reading it says so); anything else is
    looked up among the shipped profiles, and an unknown name is an error listing them.
    """
    text = PROFILE_NAME.check(name_or_path, field)
    candidate = Path(text)
    try:
        exists = "\x00" not in text and candidate.exists()
    except OSError:
        exists = False
    if candidate.suffix.lower() == ".csv" or exists or os.sep in text or "\x00" in text:
        return candidate
    path = MEASUREMENTS_DIR / f"{text}.csv"
    try:
        shipped = path.is_file()
    except OSError:  # a name too long for the file system
        shipped = False
    if not shipped:
        known = ", ".join(list_profiles()) or "none"
        raise InputError(field, f"unknown profile {shown(text)}; shipped: {known}")
    return path


def load_profile(name_or_path: str | os.PathLike[str], field: str = "profile") -> Profile:
    """A shipped profile by name (``"alexnet-pi3b-estimated"``) or a profile CSV by path
    (found by :func:`profile_path`). An error about the name or the file as a whole names
    ``field`` (the field that named the profile: ``setup.profile``, ``bs.profile``); one
    inside the file names the file, its row and its column."""
    return read_profile(profile_path(name_or_path, field), field)


def write_profile(profile: Profile, path: str | os.PathLike[str]) -> Path:
    """Write ``profile`` as CSV, whole or not at all (a temporary file renamed into place)."""
    path = Path(path)
    text = csv_text(profile.to_frame(), "%.9g")  # 9 digits: a stage time to the nanosecond
    profile_from_frame(pd.read_csv(io.StringIO(text)), name=profile.name)  # never write junk
    return atomic_write(path, text)


# --- roofline estimates for the paper's hardware --------------------------------------


@dataclass(frozen=True)
class Hardware:
    """Constants of the roofline rule for one machine (docs/model.md, "Stage timings").

    Attributes
    ----------
    name : str
        Human-readable hardware name.
    key : str
        Short key used in profile names.
    flops : float
        Effective FLOP/s (the roof for compute-bound layers).
    bandwidth : float
        Memory bandwidth in bytes/s (the roof for memory-bound layers).
    source : str
        Where the constants come from.
    """

    name: str
    key: str
    flops: float
    bandwidth: float
    source: str


_INCEPTION_V3_FLOP = 2 * 5.7e9  # multiply-adds counted as two FLOPs

HARDWARE: dict[str, Hardware] = {
    "pi3b": Hardware(
        name="Raspberry Pi 3B+",
        key="pi3b",
        flops=_INCEPTION_V3_FLOP / 1.98,  # ≈ 5.8 GFLOP/s
        bandwidth=2e9,
        source=(
            "roofline estimate: per layer the larger of 2*MACs / 5.76 GFLOP/s (Inception-v3, "
            "5.7 G MACs, 1.98 s on a Pi 3B with TensorFlow, public Pi benchmark) and bytes "
            "moved (weights + input + output) / 2 GB/s (assumed memory bandwidth)"
        ),
    ),
    "i7-6700hq": Hardware(
        name="Intel Core i7-6700HQ",
        key="i7-6700hq",
        flops=70e9,
        bandwidth=15e9,
        source=(
            "roofline estimate: per layer the larger of 2*MACs / 70 GFLOP/s (from Inception-v3 "
            "at 0.227 s on an i7-3740QM, ~50 GFLOP/s, scaled to a 4-core Skylake) and bytes "
            "moved (weights + input + output) / 15 GB/s (assumed memory bandwidth)"
        ),
    ),
}


def chain_profile(
    chain: Chain,
    name: str,
    time_s: np.ndarray,
    provenance: dict[str, str],
    extra: pd.DataFrame | None = None,
) -> Profile:
    """A profile of ``chain`` with the given stage times and provenance.

    Stage names and output bytes come from the layer shapes; the analytic ``macs`` and
    ``params`` columns follow the columns of ``extra`` (one row per stage).
    """
    figures = chain_figures(chain)
    analytic = pd.DataFrame(
        {"macs": [f.macs for f in figures], "params": [f.params for f in figures]}
    )
    if extra is not None:
        analytic = pd.concat([extra.reset_index(drop=True), analytic], axis=1)
    return Profile(
        name=name,
        model=chain.name,
        stage_names=chain.stage_names,
        time_s=np.asarray(time_s, dtype=float),
        output_bytes=np.array([f.output_bytes for f in figures], dtype=np.int64),
        input_bytes=chain.input_bytes,
        provenance=provenance,
        extra=analytic,
    )


def estimate_profile(model: str, hardware: Hardware, *, date: str = "2026-11-26") -> Profile:
    """Roofline estimate of a chain's stage times on ``hardware`` (docs/model.md, "Stage timings").

    Each layer takes the larger of its compute time and its memory time,
    ``max(FLOPs / flops, bytes moved / bandwidth)``, where bytes moved are its float32
    weights, input and output once each (:attr:`dnnsplit.chains.StageFigures.layers`); a
    stage takes the sum over its layers. Convolutions with many multiply-adds per byte
    (AlexNet's, VGG's) are compute-bound; fully connected, pooling, depthwise and 1×1 layers
    are mostly memory-bound.

    Parameters
    ----------
    model : str
        Chain name.
    hardware : Hardware
        Constants of the rule.
    date : str
        Date written in the provenance (fixed so the file is reproducible byte for byte).
    """
    chain = get_chain(model)
    figures = chain_figures(chain)
    times = np.array(
        [
            math.fsum(
                max(flops / hardware.flops, moved / hardware.bandwidth) for flops, moved in f.layers
            )
            for f in figures
        ]
    )
    return chain_profile(
        chain,
        f"{model}-{hardware.key}-estimated",
        times,
        {
            "method": "estimated",
            "source": hardware.source,
            "hardware": hardware.name,
            "framework": "analytic (no framework; FLOPs and bytes from layer shapes)",
            "date": date,
        },
    )


#: Chains with estimated profiles for the paper's hardware: AlexNet (the paper's DNN, in
#: its 8 stages and the fine 11), and the networks of the "beyond AlexNet" study.
ESTIMATED_MODELS = ("alexnet", "alexnet11", "vgg16", "resnet18", "mobilenetv2")


def write_estimated_profiles(directory: str | os.PathLike[str] = MEASUREMENTS_DIR) -> list[Path]:
    """(Re)write the estimated Pi 3B+ and i7-6700HQ profiles of :data:`ESTIMATED_MODELS`."""
    written = []
    for model in ESTIMATED_MODELS:
        for hardware in HARDWARE.values():
            profile = estimate_profile(model, hardware)
            written.append(write_profile(profile, Path(directory) / f"{profile.name}.csv"))
    return written
