"""The bit-width sweep: accuracy and cost of every deployed model per method and bit width.

From the fixed-point table (tables.fixed_accuracy_table): per (dataset, hidden, delays,
method, bits, delay_bits) and seed the emulator's accuracy (aligned input, what training saw), the
float engine on the same integers (train/qat.deployed_forward), the float model's test
accuracy and the NeuroBench-style metrics (deploy/metrics.py); then their mean and sd over
seeds. The figure shows both, so that one collapsed seed is seen as one.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from neurokws.reports.figures import COLUMN_WIDTH_IN, new_figure, paper_style, save_figure
from neurokws.utils.records import CELL_KEY, MODEL_KEY

GROUP = [k for k in CELL_KEY if k != "seed"]
SEED_KEY = [*GROUP, *MODEL_KEY, "seed"]   # one deployed model
METHOD_LABELS = {"ptq": "post-training quantization", "qat": "quantization-aware training"}
ACCURACIES = {"emulator_aligned_accuracy": "emulator", "float_quantized_accuracy":
              "float_quantized", "float_test_accuracy": "float"}
MEANS = ["footprint_bytes", "connection_sparsity", "effective_synaptic_ops_aligned",
         "activation_sparsity_aligned"]
METHOD_DODGE = 0.18   # x distance (in bits) between the methods' columns in the figure


def _sorted(table: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The sweep's row order: group, method, weight and delay bits from high to low, then
    `key`'s rest."""
    rest = [k for k in key if k not in (*GROUP, *MODEL_KEY)]
    by = [*GROUP, *MODEL_KEY, *rest]
    return table.sort_values(by, ascending=[True] * (len(GROUP) + 1) + [False, False]
                             + [True] * len(rest), kind="stable").reset_index(drop=True)


def seed_table(fixed: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, hidden, delays, method, bits, delay_bits, seed): the
    accuracies in % (`emulator`, `float_quantized`, `float`; NaN where not measured) and the
    cost metrics."""
    frame = fixed[SEED_KEY].copy()
    for column, name in ACCURACIES.items():
        frame[name] = (100.0 * pd.to_numeric(fixed[column], errors="coerce")
                       if column in fixed else np.nan)
    for column in MEANS:
        frame[column] = pd.to_numeric(fixed[column], errors="coerce") if column in fixed \
            else np.nan
    if not len(frame):
        return frame
    # One row per model already (tables.fixed_accuracy_table); a repeated one is averaged.
    frame = frame.groupby(SEED_KEY, sort=True, as_index=False).mean()
    return _sorted(frame, SEED_KEY)


def sweep_table(seeds: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, hidden, delays, method, bits, delay_bits) of `seed_table`'s
    rows: seeds,
    accuracies (% mean and sample sd over seeds) and the cost metrics' means."""
    rows = []
    for key, part in seeds.groupby([*GROUP, *MODEL_KEY], sort=True):
        row = dict(zip([*GROUP, *MODEL_KEY], key, strict=True))
        row["n_seeds"] = int(part["seed"].nunique())
        for name in ACCURACIES.values():
            values = part[name].dropna()
            row[f"{name}_mean"] = float(values.mean()) if len(values) else np.nan
            row[f"{name}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
        for column in MEANS:
            row[column] = float(part[column].mean())
        rows.append(row)
    table = pd.DataFrame(rows)
    return _sorted(table, [*GROUP, *MODEL_KEY]) if len(table) else table


def plot_sweep(seeds: pd.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike) -> Figure:
    """Emulator accuracy against weight bits, one panel per (dataset, hidden, delays): per
    method (and, with delays, per delay bit width) its mean +- sd over seeds (sweep_table)
    and every seed as a dot of the same colour, the series side by side (dodged in x);
    the float model's mean dashed. `seeds` is seed_table's frame."""
    table = sweep_table(seeds)
    groups = list(table.groupby(GROUP, sort=True)) if len(table) else []
    with paper_style():
        fig = new_figure(2.4, COLUMN_WIDTH_IN * max(len(groups), 1))
        axes = fig.subplots(1, max(len(groups), 1), squeeze=False)[0]
        for ax, (key, part) in zip(axes, groups, strict=False):
            in_group = np.logical_and.reduce([seeds[k] == v
                                              for k, v in zip(GROUP, key, strict=True)])
            series = sorted({(m, int(d)) for m, d in zip(part["method"], part["delay_bits"],
                                                         strict=True)},
                            key=lambda s: (s[0], -s[1]))
            widest = max(d for _, d in series)
            for i, (method, delay_bits) in enumerate(series):
                dodge = (i - (len(series) - 1) / 2) * METHOD_DODGE * 2 / max(len(series), 2)
                rows = part[(part["method"] == method) & (part["delay_bits"] == delay_bits)
                            ].sort_values("bits")
                label = METHOD_LABELS.get(method, method)
                if len(series) > len({m for m, _ in series}):   # delay bits swept
                    label = f"{method}, {delay_bits}-bit delays"
                bars = ax.errorbar(rows["bits"] + dodge, rows["emulator_mean"],
                                   yerr=rows["emulator_sd"], marker="o", label=label,
                                   ls="-" if delay_bits == widest else ":")
                points = seeds[in_group & (seeds["method"] == method)
                               & (seeds["delay_bits"] == delay_bits)].dropna(
                    subset=["emulator"])
                ax.scatter(points["bits"] + dodge, points["emulator"], s=6, zorder=3,
                           color=bars.lines[0].get_color(), edgecolors="white",
                           linewidths=0.3)
            ax.axhline(float(part["float_mean"].mean()), color="0.3", ls="--",
                       label="float model")
            dataset, hidden, delays = key
            ax.set_title(f"{dataset}, N = {hidden}{', delays' if delays else ''}")
            ax.set_xlabel("weight bits")
            ax.set_xticks(sorted(part["bits"].unique()))
            ax.invert_xaxis()
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("emulator test accuracy (%)")
        if groups:
            one_seed = Line2D([], [], ls="", marker="o", markersize=2.5, color="0.3",
                              markeredgecolor="white", markeredgewidth=0.3, label="one seed")
            shown = None
            for ax in axes:   # a legend where a panel's series differ from the one before
                handles, labels = ax.get_legend_handles_labels()
                if labels and labels != shown:
                    ax.legend(handles=[*handles, one_seed])
                    shown = labels
        else:
            axes[0].text(0.5, 0.5, "no deployed models", ha="center", va="center")
        save_figure(fig, png, pdf)
    return fig
