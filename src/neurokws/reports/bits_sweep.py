"""The bit-width sweep: accuracy and cost of every deployed model per method and bit width.

From the fixed-point table (tables.fixed_accuracy_table): per (dataset, hidden, delays,
method, bits) the mean and sd over seeds of the emulator's accuracy (aligned input, what
training saw), of the float engine on the same integers (train/qat.deployed_forward), the
float model's test accuracy, and the NeuroBench-style metrics (deploy/metrics.py).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from neurokws.reports.figures import COLUMN_WIDTH_IN, new_figure, paper_style, save_figure
from neurokws.reports.tables import CELL_KEY, MODEL_KEY

GROUP = [k for k in CELL_KEY if k != "seed"]
METHOD_LABELS = {"ptq": "post-training quantization", "qat": "quantization-aware training"}
ACCURACIES = {"emulator_aligned_accuracy": "emulator", "float_quantized_accuracy":
              "float_quantized", "float_test_accuracy": "float"}
MEANS = ["footprint_bytes", "connection_sparsity", "effective_synaptic_ops_aligned",
         "activation_sparsity_aligned"]


def sweep_table(fixed: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, hidden, delays, method, bits): seeds, accuracies (% mean and
    sd over seeds) and the cost metrics' means. Tables from before QAT are all ptq."""
    fixed = fixed if "method" in fixed else fixed.assign(method="ptq")
    rows = []
    for key, part in fixed.groupby([*GROUP, *MODEL_KEY], sort=True):
        row = dict(zip([*GROUP, *MODEL_KEY], key, strict=True))
        row["n_seeds"] = int(part["seed"].nunique())
        for column, name in ACCURACIES.items():
            values = 100.0 * pd.to_numeric(part.get(column), errors="coerce").dropna() \
                if column in part else pd.Series(dtype=float)
            row[f"{name}_mean"] = float(values.mean()) if len(values) else np.nan
            row[f"{name}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
        for column in MEANS:
            row[column] = (float(pd.to_numeric(part[column], errors="coerce").mean())
                           if column in part else np.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    if not len(table):
        return table
    return table.sort_values([*GROUP, "method", "bits"], ascending=[True] * len(GROUP)
                             + [True, False], kind="stable").reset_index(drop=True)


def plot_sweep(table: pd.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike) -> Figure:
    """Emulator accuracy against weight bits, one line per method (mean +- sd over seeds),
    the float model's accuracy as a dashed line; one panel per (dataset, hidden, delays)."""
    groups = list(table.groupby(GROUP, sort=True)) if len(table) else []
    with paper_style():
        fig = new_figure(2.4, COLUMN_WIDTH_IN * max(len(groups), 1))
        axes = fig.subplots(1, max(len(groups), 1), squeeze=False)[0]
        for ax, (key, part) in zip(axes, groups, strict=False):
            for method, rows in part.groupby("method", sort=True):
                rows = rows.sort_values("bits")
                ax.errorbar(rows["bits"], rows["emulator_mean"], yerr=rows["emulator_sd"],
                            marker="o", label=METHOD_LABELS.get(method, method))
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
            axes[0].legend()
        else:
            axes[0].text(0.5, 0.5, "no deployed models", ha="center", va="center")
        save_figure(fig, png, pdf)
    return fig
