"""Fig. 4: the stage times of every shipped profile (notebook 01): the table, the figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from dnnsplit.paper.captions import Caption
from dnnsplit.paper.plots import PANEL, finish_figure, paper_style
from dnnsplit.profiles import list_profiles, load_profile

__all__ = ["stage_profiles", "stage_times"]


def stage_profiles(names: Sequence[str] = ()) -> pd.DataFrame:
    """Stage times of several profiles as a tidy table (Fig. 4), with provenance columns.

    Rows follow the order of ``names`` (empty: every shipped profile, by name), then the
    stages.
    """
    profiles = [(name, load_profile(name)) for name in tuple(names) or tuple(list_profiles())]
    rows = [
        {
            "profile": name,
            "model": profile.model,
            "stage_index": index,
            "stage": stage,
            "time_s": float(seconds),
            "output_bytes": int(profile.output_bytes[index - 1]),
            **profile.provenance,
        }
        for name, profile in profiles
        for index, (stage, seconds) in enumerate(
            zip(profile.stage_names, profile.time_s, strict=True), start=1
        )
    ]
    return pd.DataFrame(rows)  # in the order given: the figure keeps it


def stage_times(frame: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Fig. 4: stage delays of each profile, side by side (log scale), one panel per DNN
    model; the legend says per profile whether it is measured or ESTIMATED."""
    with paper_style():
        frame = frame.assign(label=frame["hardware"] + " (" + frame["method"].str.upper() + ")")
        labels = list(dict.fromkeys(frame["label"]))  # one colour per profile in every panel
        colours = dict(zip(labels, sns.color_palette("colorblind", len(labels)), strict=True))
        models = list(dict.fromkeys(frame["model"]))
        fig, axes = plt.subplots(
            len(models), 1, figsize=(PANEL[0] * 2, 3.0 * len(models)), squeeze=False
        )
        for ax, model in zip(axes[:, 0], models, strict=True):
            part = frame[frame.model == model].assign(time_ms=lambda f: 1000 * f["time_s"])
            order = list(dict.fromkeys(part.sort_values("stage_index")["stage"]))
            sns.barplot(
                data=part, x="stage", y="time_ms", hue="label", order=order, ax=ax,
                errorbar=None, hue_order=labels, palette=colours,
            )
            ax.set_yscale("log")
            ax.set(xlabel=f"{model} stage", ylabel="time (ms, log scale)", title=f"{model}")
            ax.tick_params(axis="x", rotation=45, labelsize=8)
            ax.get_legend().remove()
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        handles = [mpl.patches.Patch(color=colours[label], label=label) for label in labels]
        fig.legend(handles=handles, frameon=False, fontsize=8, loc="upper center", ncol=2)
        return finish_figure(fig, [], caption)
