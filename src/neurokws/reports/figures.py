"""Paper-column-width figure style (7-8 pt) and the Figure 4 style accuracy bar chart."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from neurokws.reports.accuracy import PAPER_LABELS, STAGE_LABELS, STAGES
from neurokws.utils.atomic import atomic_path

COLUMN_WIDTH_IN = 3.5    # one column of the paper (IEEE two-column)
TEXT_WIDTH_IN = 7.16     # both columns
PAPER_RC = {"font.size": 7, "axes.labelsize": 7, "axes.titlesize": 7, "legend.fontsize": 6,
            "legend.title_fontsize": 6, "xtick.labelsize": 6.5, "ytick.labelsize": 6.5,
            "axes.linewidth": 0.6, "grid.linewidth": 0.4, "lines.linewidth": 1.0,
            "lines.markersize": 3.5, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
            "xtick.major.size": 2.5, "ytick.major.size": 2.5, "patch.linewidth": 0.5,
            "hatch.linewidth": 0.5, "errorbar.capsize": 1.5, "pdf.fonttype": 42,
            "ps.fonttype": 42, "savefig.dpi": 300, "font.family": "sans-serif"}
# One colour per kind of result; the paper's bars reuse it, hatched on white.
_PALETTE = sns.color_palette("colorblind", 10)
STAGE_COLOURS = {"train": _PALETTE[7], "float_test": _PALETTE[0], "emulator_aligned": _PALETTE[2],
                 "emulator_paper": _PALETTE[9], "lava_aligned": _PALETTE[1],
                 "lava_paper": _PALETTE[3], "loihi2": _PALETTE[4]}
PAPER_HATCH = "//////"


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Matplotlib rc settings for figures printed at the paper's column width."""
    style = {**sns.axes_style("ticks"), **PAPER_RC}
    with mpl.rc_context(style):
        yield


def new_figure(height_in: float, width_in: float = COLUMN_WIDTH_IN) -> Figure:
    """A constrained-layout Figure (no pyplot state); call inside paper_style()."""
    return Figure(figsize=(width_in, height_in), layout="constrained")


def save_figure(fig: Figure, png: str | os.PathLike, pdf: str | os.PathLike | None = None,
                dpi: int = 300) -> None:
    """Write `fig` atomically as PNG (and PDF); call inside paper_style()."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=dpi)
    if pdf is not None:
        with atomic_path(pdf) as tmp:
            fig.savefig(tmp)


def _series(full: pd.DataFrame) -> list[tuple[str, str]]:
    """(source, stage) bar series present in the data, each paper bar after its own one."""
    present = set(zip(full["source"], full["stage"], strict=True))
    ours = [stage for stage in STAGES if ("ours", stage) in present]
    lava = [stage for stage in ours if stage.startswith(("lava", "emulator"))]
    anchor = {"float_test": "float_test", "lava": lava[-1] if lava else None,
              "loihi2": "loihi2"}
    series: list[tuple[str, str]] = []
    for stage in ours:
        series.append(("ours", stage))
        series += [("paper", p) for p, a in anchor.items() if a == stage
                   and ("paper", p) in present]
    series += [("paper", p) for p in anchor if ("paper", p) in present
               and ("paper", p) not in series]
    return series


def _label(source: str, stage: str, samples: float | None, bits: int = 8) -> str:
    """Legend text of one series; Lava names its subset size."""
    if source == "paper":
        return PAPER_LABELS[stage]
    text = STAGE_LABELS[stage].replace("int8", f"int{bits}")
    if stage.startswith("lava") and samples is not None and np.isfinite(samples):
        text += f" ({int(samples)} samples)"
    return text


def _colour(series: list[tuple[str, str]], index: int) -> tuple:
    """Colour of a series: a paper bar takes the colour of the own bar before it."""
    source, stage = series[index]
    if source == "paper":
        before = [st for src, st in series[:index] if src == "ours"]
        if stage == "lava" and before and before[-1].startswith(("lava", "emulator")):
            return STAGE_COLOURS[before[-1]]
        return STAGE_COLOURS["lava_paper" if stage == "lava" else stage]
    return STAGE_COLOURS[stage]


def plot_accuracy(full: pd.DataFrame, png: str | os.PathLike,
                  pdf: str | os.PathLike | None = None, title: str | None = None,
                  bits: int = 8) -> Figure:
    """Figure 4: bars per hidden size (mean ± sd over seeds), one panel per dataset; a
    network with learned delays gets its own group ("N = 128, delays") beside its size.

    `full` is accuracy.with_paper output (fixed-point stages at `bits` weight bits). Own
    results are filled bars; the paper's published values are hatched outlines of the same
    colour, labelled "Paper".
    """
    if full.empty:
        raise ValueError("no accuracy results to plot")
    datasets = list(dict.fromkeys(full["dataset"]))
    series = _series(full)
    full = full.assign(delays=full["delays"].astype(bool))
    lookup = {(r.dataset, (int(r.hidden), r.delays), r.source, r.stage): r
              for r in full.itertuples(index=False)}
    with paper_style():
        fig = new_figure(0.55 + 1.35 * len(datasets) + 0.13 * math.ceil(len(series) / 2))
        axes = fig.subplots(len(datasets), 1, squeeze=False)[:, 0]
        width = 0.8 / len(series)
        handles: dict[str, Patch] = {}
        for ax, dataset in zip(axes, datasets, strict=True):
            mine = full[full["dataset"] == dataset]
            hidden = sorted({(int(h), bool(d)) for h, d in zip(mine["hidden"], mine["delays"],
                                                                strict=True)})
            for s, (source, stage) in enumerate(series):
                xs, means, sds, samples = [], [], [], []
                for i, h in enumerate(hidden):
                    rec = lookup.get((dataset, h, source, stage))
                    if rec is not None:
                        xs.append(i - 0.4 + (s + 0.5) * width)
                        means.append(rec.mean)
                        sds.append(rec.sd if np.isfinite(rec.sd) else 0.0)
                        samples.append(rec.samples)
                if not xs:
                    continue
                colour = _colour(series, s)
                paper = source == "paper"
                ax.bar(xs, means, width * 0.92, yerr=sds, color="white" if paper else colour,
                       edgecolor=colour if paper else "none", hatch=PAPER_HATCH if paper
                       else None, linewidth=0.6, error_kw={"elinewidth": 0.6,
                                                           "ecolor": "0.15"})
                finite = [v for v in samples if v is not None and np.isfinite(v)]
                label = _label(source, stage, max(finite) if finite else None, bits)
                handles.setdefault(label, Patch(facecolor="white" if paper else colour,
                                                edgecolor=colour, hatch=PAPER_HATCH
                                                if paper else None, label=label))
            ax.set_xticks(range(len(hidden)), [f"N = {h}" + (", delays" if d else "")
                                               for h, d in hidden])
            ax.set_xlim(-0.5, len(hidden) - 0.5)
            ax.set_ylim(0, 100)
            ax.set_yticks(range(0, 101, 20))
            ax.set_ylabel("Accuracy (%)")
            ax.grid(axis="y", alpha=0.5)
            ax.set_axisbelow(True)
            paper_name = full.loc[full["dataset"] == dataset, "paper_dataset"].dropna()
            suffix = "" if paper_name.empty or paper_name.iloc[0] == dataset \
                else f" (paper: {paper_name.iloc[0]})"
            ax.set_title(f"{dataset}{suffix}", loc="left", fontweight="bold")
            sns.despine(ax=ax)
        axes[-1].set_xlabel("Hidden neurons")
        fig.legend(handles=list(handles.values()), loc="outside upper center", ncols=2,
                   frameon=False, handlelength=1.6, columnspacing=1.0)
        if title:
            fig.suptitle(title)
        save_figure(fig, png, pdf)
    return fig
