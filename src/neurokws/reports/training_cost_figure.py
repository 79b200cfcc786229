"""Figure 3: training memory and time per epoch against T, one line per method.

The numbers come from the measuring stage (`neurokws.profiling.training.training_cost`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import pandas as pd
import seaborn as sns
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    LogLocator,
    NullFormatter,
    NullLocator,
    ScalarFormatter,
)

from neurokws.profiling.training.training_cost import METHOD_LABELS, METHODS
from neurokws.reports.figures import new_figure, paper_style, save_figure


def _log_axis(ax, ticks: Sequence[int]) -> None:
    """Log2 x axis labelled at the measured T values."""
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(ticks)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())


def _log_y(ax, values: pd.Series) -> None:
    """Log y axis with plain labels at 1, 2, 5 x 10^k, starting at one of them."""
    ax.set_yscale("log")
    low = float(values[values > 0].min()) * 0.9 if (values > 0).any() else 1.0
    decade = 10 ** math.floor(math.log10(low))
    ax.set_ylim(bottom=max(m * decade for m in (1, 2, 5) if m * decade <= low))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_training_cost(frame: pd.DataFrame, png: str | os.PathLike,
                       pdf: str | os.PathLike | None = None) -> None:
    """Two panels: training memory vs T and time per epoch vs T, one line per method."""
    if frame.empty:
        raise ValueError("no training-cost measurements to plot")
    palette = dict(zip(METHODS, sns.color_palette("colorblind", 2), strict=True))
    markers = {"eventprop": "o", "bptt_spyx": "s"}
    ticks = sorted(int(t) for t in frame["n_steps"].unique())
    with paper_style():
        fig = new_figure(2.0)
        ax_mem, ax_time = fig.subplots(1, 2)
        for method, group in frame.groupby("method", sort=False):
            group = group.sort_values("n_steps")
            style = {"color": palette.get(method, "0.3"), "marker": markers.get(method, "^")}
            label = METHOD_LABELS.get(method, method)
            ax_mem.plot(group["n_steps"], group["train_mem_mib"], label=label, **style)
            if group["xla_buffers_mib"].notna().any():
                ax_mem.plot(group["n_steps"], group["xla_buffers_mib"], ls="--", lw=0.8,
                            color=style["color"], label="BPTT: XLA buffers per step")
            ax_time.plot(group["n_steps"], group["time_per_epoch_s"], label=label, **style)
        for ax, column in ((ax_mem, "train_mem_mib"), (ax_time, "time_per_epoch_s")):
            _log_axis(ax, ticks)
            _log_y(ax, frame[column])
            ax.set_xlabel("Timesteps T (trial 1 s)")
            ax.grid(alpha=0.4, which="major")
            sns.despine(ax=ax)
        ax_mem.set_ylabel("Peak training memory (MiB)")
        ax_time.set_ylabel("Time per epoch (s)")
        ax_mem.set_title("A", loc="left", fontweight="bold")
        ax_time.set_title("B", loc="left", fontweight="bold")
        fig.legend(*ax_mem.get_legend_handles_labels(), loc="outside upper center",
                   ncols=1, frameon=False)
        save_figure(fig, png, pdf)
