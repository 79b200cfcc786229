"""Table II as a figure: latency and energy per row of the profiling table, paper marked.

Input is the profiling stage's Table II CSV (neurokws.profiling.table2: latency_batch_ms,
energy_total_mJ, energy_dynamic_mJ, edp_uJs, precision, hardware, batch_size, hidden_size,
source, status). The paper's Table II column names (latency_ms, weight_precision, device) are
accepted too. Rows whose status is not "ok" carry no numbers and are left out.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from neurokws.reports.figures import PAPER_HATCH, new_figure, paper_style, save_figure

ALIASES = {"latency_ms": "latency_batch_ms", "weight_precision": "precision",
           "device": "hardware"}
SOURCE_LABELS = {"paper": "Paper (published)", "measured": "Measured here",
                 "estimate": "Estimate (model, not measured)"}
SOURCE_ORDER = {"paper": 0, "measured": 1, "estimate": 2}
NUMERIC = ("hidden_size", "batch_size", "latency_batch_ms", "energy_total_mJ",
           "energy_dynamic_mJ", "edp_uJs")


def normalise(table: pd.DataFrame) -> pd.DataFrame:
    """Rows with numbers, canonical column names, numeric columns as floats."""
    frame = table.copy()
    for alias, name in ALIASES.items():
        if alias in frame and name not in frame:
            frame = frame.rename(columns={alias: name})
    if "status" in frame:
        frame = frame[frame["status"].fillna("ok") == "ok"]
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce") if column in frame \
            else np.nan
    for column in ("source", "hardware", "precision"):
        frame[column] = frame[column].fillna("").astype(str) if column in frame else ""
    frame = frame[frame["latency_batch_ms"].notna() | frame["energy_total_mJ"].notna()]
    return frame.reset_index(drop=True)


def row_label(rec: pd.Series) -> str:
    """'N=256, B=1' label of one row (the hardware is its group's heading)."""
    return f"N={int(rec['hidden_size'])}, B={int(rec['batch_size'])}"


def layout(frame: pd.DataFrame) -> tuple[list[tuple[str, float]], np.ndarray]:
    """Group headings (hardware + precision) with their y slot, and each row's y slot."""
    headings, slots, y = [], [], 0.0
    previous = None
    for _, rec in frame.iterrows():
        group = f"{rec['hardware']} ({rec['precision']})" if rec["precision"] \
            else rec["hardware"]
        if group != previous:
            headings.append((group, y))
            y += 1.0
            previous = group
        slots.append(y)
        y += 1.0
    return headings, np.asarray(slots)


def plot_inference_cost(table: pd.DataFrame, png: str | os.PathLike,
                        pdf: str | os.PathLike | None = None) -> None:
    """Horizontal bars: latency per batch (ms) and energy per sample (mJ), log scales.

    Paper rows are hatched outlines, estimates dashed outlines, measurements filled; the
    dynamic energy is a tick inside the total-energy bar. Missing values are written "n/a".
    """
    frame = normalise(table)
    if frame.empty:
        raise ValueError("Table II has no rows with numbers to plot")
    colours = dict(zip(SOURCE_ORDER, sns.color_palette("colorblind", 3), strict=True))
    headings, slots = layout(frame)
    with paper_style():
        fig = new_figure(0.8 + 0.13 * (len(slots) + len(headings)))
        ax_lat, ax_en = fig.subplots(1, 2, sharey=True)
        for ax, column, xlabel in ((ax_lat, "latency_batch_ms", "Latency\nper batch (ms)"),
                                   (ax_en, "energy_total_mJ", "Energy\nper sample (mJ)")):
            values = frame[column].to_numpy(float)
            finite = values[np.isfinite(values) & (values > 0)]
            low = 10 ** np.floor(np.log10(finite.min())) if finite.size else 1.0
            for i, rec in frame.iterrows():
                colour = colours.get(rec["source"], "0.4")
                value, y = rec[column], slots[i]
                if not (np.isfinite(value) and value > 0):
                    ax.text(low * 1.15, y, "n/a", va="center", fontsize=5.5, color="0.4")
                    continue
                paper, estimate = rec["source"] == "paper", rec["source"] == "estimate"
                ax.barh(y, value - low, left=low, height=0.72,
                        color="white" if paper or estimate else colour, edgecolor=colour,
                        hatch=PAPER_HATCH if paper else None,
                        linestyle="--" if estimate else "-", linewidth=0.6)
                if column == "energy_total_mJ" and np.isfinite(rec["energy_dynamic_mJ"]):
                    ax.plot([rec["energy_dynamic_mJ"]] * 2, [y - 0.36, y + 0.36], color="0.1",
                            lw=0.9)
            ax.set_xscale("log")
            ax.set_xlim(left=low)
            ax.set_xlabel(xlabel)
            ax.grid(axis="x", alpha=0.4)
            sns.despine(ax=ax)
        for name, y in headings:
            ax_lat.annotate(name, (0, y), xycoords=("axes fraction", "data"), xytext=(-2, 0),
                            textcoords="offset points", ha="right", va="center",
                            fontweight="bold", fontsize=6, annotation_clip=False)
        ax_lat.set_yticks(slots, [row_label(r) for _, r in frame.iterrows()])
        ax_lat.set_ylim(slots.max() + 0.7, -0.7)
        ax_lat.tick_params(axis="y", labelsize=5.5, length=0)
        handles = [Patch(facecolor="white" if s != "measured" else colours[s],
                         edgecolor=colours[s], hatch=PAPER_HATCH if s == "paper" else None,
                         linestyle="--" if s == "estimate" else "-", label=SOURCE_LABELS[s])
                   for s in SOURCE_ORDER if (frame["source"] == s).any()]
        if frame["energy_dynamic_mJ"].notna().any():
            handles.append(ax_en.plot([], [], color="0.1", lw=0.9,
                                      label="Dynamic energy per sample")[0])
        fig.legend(handles=handles, loc="outside upper center", ncols=2, frameon=False)
        save_figure(fig, png, pdf)
