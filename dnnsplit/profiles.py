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

Optional columns (the profiler writes them): ``iqr_s``, ``alone_s``, ``within_noise``,
``macs``, ``params``, ``repeats``, ``threads``, ``cores``.

Estimated profiles follow the roofline rule of docs/model.md ("Stage timings"): a convolution takes
FLOPs / effective FLOP/s, a fully connected layer streams its weights once (weight bytes /
memory bandwidth), a pooling layer moves its input and output once (bytes / bandwidth).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dnnsplit._io import atomic_write
from dnnsplit.chains import BYTES_PER_VALUE, CHAINS, Chain, chain_figures, get_chain
from dnnsplit.errors import InputError
from dnnsplit.paths import MEASUREMENTS_DIR

__all__ = [
    "HARDWARE",
    "PROVENANCE_COLUMNS",
    "REQUIRED_COLUMNS",
    "Hardware",
    "Profile",
    "chain_profile",
    "estimate_profile",
    "list_profiles",
    "load_profile",
    "read_profile",
    "write_estimated_profiles",
    "write_profile",
]

PROVENANCE_COLUMNS = ("method", "source", "hardware", "framework", "date")
REQUIRED_COLUMNS = ("model", "stage_index", "stage", "time_s", "output_bytes", *PROVENANCE_COLUMNS)
METHODS = ("measured", "estimated")
MAX_STAGE_SECONDS = 600.0  # a stage slower than this is a unit mistake, not a Raspberry Pi
MIN_FLOPS = 20e6  # no machine that runs a DNN is this slow: a slower stage is in ms, not s


@dataclass(frozen=True, eq=False)
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

    def __post_init__(self) -> None:
        for name in ("time_s", "output_bytes"):
            array = np.array(getattr(self, name))
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        object.__setattr__(self, "provenance", dict(self.provenance))

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


def _fail(row: int | None, column: str, problem: str, origin: str) -> InputError:
    where = f"{origin}: " if origin else ""
    place = f"row {row}, column {column}" if row is not None else f"column {column}"
    return InputError(f"{where}{place}", problem)


def profile_from_frame(frame: pd.DataFrame, *, name: str, origin: str = "") -> Profile:
    """Validate a profile table and turn it into a :class:`Profile`.

    Checks the schema, units (seconds, bytes), that times are finite and non-negative,
    that stage indices run 0..S, and, for a known model, the stage names and byte counts
    against the analytic chain. The first problem found is raised as one
    :class:`~dnnsplit.errors.InputError` naming the row (1-based data rows, as a
    spreadsheet shows them after the header) and the column.
    """
    for column in frame.columns:
        lowered = str(column).lower()
        if lowered.startswith("time_") and lowered != "time_s":
            raise _fail(None, str(column), "times must be in seconds, in column time_s", origin)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise _fail(
            None, missing[0], "missing (required: " + ", ".join(REQUIRED_COLUMNS) + ")", origin
        )
    if len(frame) < 2:
        raise _fail(None, "stage_index", "needs the input row (0) and at least one stage", origin)

    def row_of(position: int) -> int:
        return position + 1

    for column in ("stage_index", "output_bytes"):
        values = pd.to_numeric(frame[column], errors="coerce")
        for position, value in enumerate(values):
            if not np.isfinite(value) or value != math.floor(value) or value < 0:
                raise _fail(
                    row_of(position),
                    column,
                    f"not a non-negative whole number: {frame[column].iloc[position]!r}",
                    origin,
                )
    times = pd.to_numeric(frame["time_s"], errors="coerce")
    for position, value in enumerate(times):
        raw = frame["time_s"].iloc[position]
        if not np.isfinite(value):
            raise _fail(row_of(position), "time_s", f"not a number of seconds: {raw!r}", origin)
        if value < 0:
            raise _fail(row_of(position), "time_s", f"negative time {value!r}", origin)
        if value > MAX_STAGE_SECONDS:
            raise _fail(
                row_of(position),
                "time_s",
                f"{value!r} s for one stage: are these milliseconds? times must be in seconds",
                origin,
            )
    indices = pd.to_numeric(frame["stage_index"]).astype(int).to_numpy()
    expected = np.arange(len(frame))
    if not np.array_equal(indices, expected):
        position = int(np.flatnonzero(indices != expected)[0])
        raise _fail(
            row_of(position),
            "stage_index",
            f"expected {position} (rows run 0..S, row 0 the input)",
            origin,
        )
    if float(times.iloc[0]) != 0.0:
        raise _fail(1, "time_s", "the input row (stage_index 0) must have time 0", origin)
    out_bytes = pd.to_numeric(frame["output_bytes"]).astype(np.int64).to_numpy()
    if np.any(out_bytes[:-1] == 0):
        position = int(np.flatnonzero(out_bytes[:-1] == 0)[0])
        raise _fail(
            row_of(position),
            "output_bytes",
            "zero bytes: every tensor but nothing has a size",
            origin,
        )
    for column in ("model", *PROVENANCE_COLUMNS):
        values = frame[column].astype(str).to_numpy()
        bad = np.flatnonzero((values != values[0]) | (values == "") | (values == "nan"))
        if bad.size:
            raise _fail(
                row_of(int(bad[0])),
                column,
                "must be one non-empty value, the same on every row",
                origin,
            )
    method = str(frame["method"].iloc[0])
    if method not in METHODS:
        raise _fail(1, "method", f"{method!r}; expected one of {', '.join(METHODS)}", origin)
    stage_names = tuple(frame["stage"].astype(str).iloc[1:])
    if str(frame["stage"].iloc[0]) != "input":
        raise _fail(1, "stage", "row 0 must be the input, named 'input'", origin)
    model = str(frame["model"].iloc[0])
    if model in CHAINS:
        chain = get_chain(model)
        figures = chain_figures(chain)
        if len(figures) != len(stage_names):
            raise _fail(
                None,
                "stage_index",
                f"model {model} has {len(figures)} stages, the file {len(stage_names)}",
                origin,
            )
        for position, figure in enumerate(figures, start=1):
            seconds = float(times.iloc[position])
            if figure.macs and seconds > 0 and 2 * figure.macs / seconds < MIN_FLOPS:
                raise _fail(
                    row_of(position),
                    "time_s",
                    f"{seconds:g} s for one stage ({2 * figure.macs / seconds / 1e6:.1f} "
                    "MFLOP/s): are these milliseconds? times must be in seconds",
                    origin,
                )
        expected_bytes = [chain.input_bytes] + [f.output_bytes for f in figures]
        for position, (got, want, figure_name) in enumerate(
            zip(out_bytes, expected_bytes, ["input", *chain.stage_names], strict=True)
        ):
            if str(frame["stage"].iloc[position]) != figure_name:
                raise _fail(
                    row_of(position),
                    "stage",
                    f"{frame['stage'].iloc[position]!r}; "
                    f"model {model} names this stage {figure_name!r}",
                    origin,
                )
            if int(got) != int(want):
                raise _fail(
                    row_of(position),
                    "output_bytes",
                    f"{int(got)}; model {model} outputs {int(want)} bytes here (float32)",
                    origin,
                )
    known = set(REQUIRED_COLUMNS)
    extra_columns = [c for c in frame.columns if c not in known]
    extra = frame.iloc[1:][extra_columns].reset_index(drop=True) if extra_columns else None
    return Profile(
        name=name,
        model=model,
        stage_names=stage_names,
        time_s=times.to_numpy(dtype=float)[1:],
        output_bytes=out_bytes[1:],
        input_bytes=int(out_bytes[0]),
        provenance={c: str(frame[c].iloc[0]) for c in PROVENANCE_COLUMNS},
        extra=extra,
    )


def read_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and validate a profile CSV file (see the module docstring for its columns)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"stage": str})
    except FileNotFoundError:
        raise InputError("profile", f"no such file {path.name!r}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError("profile", f"{path.name} is not a readable CSV ({error})") from None
    return profile_from_frame(frame, name=path.stem, origin=path.name)


def list_profiles() -> list[str]:
    """Names of the profiles shipped in ``data/measurements/``."""
    return sorted(p.stem for p in MEASUREMENTS_DIR.glob("*.csv"))


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A shipped profile by name (``"alexnet-pi3b-estimated"``) or a profile CSV by path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".csv" or candidate.exists():
        return read_profile(candidate)
    path = MEASUREMENTS_DIR / f"{name_or_path}.csv"
    if not path.exists():
        known = ", ".join(list_profiles()) or "none"
        raise InputError("profile", f"unknown profile {str(name_or_path)!r}; shipped: {known}")
    return read_profile(path)


def _format_frame(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.9g", lineterminator="\n")
    return buffer.getvalue()


def write_profile(profile: Profile, path: str | os.PathLike[str]) -> Path:
    """Write ``profile`` as CSV, whole or not at all (a temporary file renamed into place)."""
    path = Path(path)
    text = _format_frame(profile.to_frame())
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
        Effective FLOP/s on convolutions.
    bandwidth : float
        Bytes/s for streaming weights and pooling traffic.
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
            "roofline estimate: conv 2*MACs / 5.76 GFLOP/s (Inception-v3, 5.7 G MACs, 1.98 s on "
            "a Pi 3B with TensorFlow, public Pi benchmark); FC weights and pooling bytes / "
            "2 GB/s (assumed memory bandwidth)"
        ),
    ),
    "i7-6700hq": Hardware(
        name="Intel Core i7-6700HQ",
        key="i7-6700hq",
        flops=70e9,
        bandwidth=15e9,
        source=(
            "roofline estimate: conv 2*MACs / 70 GFLOP/s (from Inception-v3 at 0.227 s on an "
            "i7-3740QM, ~50 GFLOP/s, scaled to a 4-core Skylake); FC weights and pooling bytes "
            "/ 15 GB/s (assumed memory bandwidth)"
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

    ``t_s = 2·conv_MACs / flops + 4·FC_params / bandwidth + pool_bytes / bandwidth``.

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
            2 * f.conv_macs / hardware.flops
            + (BYTES_PER_VALUE * f.linear_params + f.pool_bytes_moved) / hardware.bandwidth
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


ESTIMATED_MODELS = ("alexnet", "alexnet11")


def write_estimated_profiles(directory: str | os.PathLike[str] = MEASUREMENTS_DIR) -> list[Path]:
    """(Re)write the estimated Pi 3B+ and i7-6700HQ profiles of the AlexNet chains."""
    written = []
    for model in ESTIMATED_MODELS:
        for hardware in HARDWARE.values():
            profile = estimate_profile(model, hardware)
            written.append(write_profile(profile, Path(directory) / f"{profile.name}.csv"))
    return written
