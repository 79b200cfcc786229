"""With and without learned delays: each dataset, hidden size and seed side by side.

From the fixed-point table (tables.fixed_accuracy_table: per cell its float test accuracy, the
emulator's per input mode and Lava's on its seeded subset, the same samples for every cell)
at one bit width, post-training quantization: per (dataset, hidden, stage) the seeds that
have both cells, mean and sample sd of each and of the paired difference, with minus
without, in points. From the float table (tables.float_accuracy_table): what the cells with
delays learned (network.Delays.stats).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurokws.reports.accuracy import STAGE_LABELS, STAGES
from neurokws.reports.tables import own_delays

PAIR = ["dataset", "hidden", "seed"]
EFFECT_COLUMNS = ["dataset", "hidden", "stage", "n_seeds", "without_mean", "without_sd",
                  "with_mean", "with_sd", "difference_mean", "difference_sd"]


def delay_effect(fixed: pd.DataFrame, bits: int) -> pd.DataFrame:
    """Accuracy (%) without and with delays and their paired difference per dataset,
    hidden size and stage (STAGES order; float_test, emulator_<mode>, lava_<mode>), over
    the seeds that have both cells; empty where the grid has no such pairs."""
    if fixed is None or fixed.empty or "delays" not in fixed:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    rows = own_delays(fixed)
    rows = rows[rows["bits"] == bits]
    if "method" in rows:
        rows = rows[rows["method"] == "ptq"]
    rows = rows.assign(delays=rows["delays"].astype(bool))
    plain, delayed = (rows[rows["delays"] == flag].set_index(PAIR) for flag in (False, True))
    both = plain.index.intersection(delayed.index)
    out = []
    for stage in STAGES:
        column = f"{stage}_accuracy"
        if column not in rows:
            continue
        frame = pd.DataFrame({
            "without": 100.0 * pd.to_numeric(plain.loc[both, column], errors="coerce"),
            "with": 100.0 * pd.to_numeric(delayed.loc[both, column], errors="coerce")},
            index=both).dropna()
        frame["difference"] = frame["with"] - frame["without"]
        for (dataset, hidden), group in frame.groupby(level=["dataset", "hidden"],
                                                      sort=False):
            row = {"dataset": dataset, "hidden": int(hidden), "stage": stage,
                   "n_seeds": len(group)}
            for name in ("without", "with", "difference"):
                row[f"{name}_mean"] = float(group[name].mean())
                row[f"{name}_sd"] = (float(group[name].std()) if len(group) > 1 else np.nan)
            out.append(row)
    return pd.DataFrame(out, columns=EFFECT_COLUMNS)


def effect_rows(effect: pd.DataFrame) -> pd.DataFrame:
    """delay_effect as a display table: mean ± sd strings, stage labels."""
    def pm(row, name: str) -> str:
        mean, sd = row[f"{name}_mean"], row[f"{name}_sd"]
        sign = "+" if name == "difference" and mean >= 0 else ""
        return f"{sign}{mean:.2f}" + ("" if pd.isna(sd) else f" ± {sd:.2f}")

    return pd.DataFrame([{"dataset": r["dataset"], "N": r["hidden"],
                          "stage": STAGE_LABELS.get(r["stage"], r["stage"]),
                          "seeds": r["n_seeds"], "without delays": pm(r, "without"),
                          "with delays": pm(r, "with"),
                          "with - without (points)": pm(r, "difference")}
                         for r in effect.to_dict("records")])


def learned_rows(floats: pd.DataFrame | None) -> pd.DataFrame:
    """Per cell with delays: what it learned per connection (mean and largest delay in
    steps, share of synapses above 0)."""
    if floats is None or floats.empty or "delays" not in floats:
        return pd.DataFrame()
    cells = floats[floats["delays"].astype(bool)]
    rows = []
    for r in cells.to_dict("records"):
        row = {"dataset": r["dataset"], "N": int(r["hidden"]), "seed": int(r["seed"])}
        for name, label in (("d_in", "input"), ("d_rec", "recurrent")):
            if pd.notna(r.get(f"{name}_mean", np.nan)):
                row[f"{label}: mean / max (steps), share > 0"] = (
                    f"{r[f'{name}_mean']:.2f} / {int(r[f'{name}_max'])}, "
                    f"{r[f'{name}_nonzero']:.3f}")
        rows.append(row)
    return pd.DataFrame(rows)
