"""Accuracy across the grid: per-seed long table, mean/sd over seeds, the paper alongside.

Stages (in display order): training accuracy, float test, the bit-exact fixed-point emulator
(per input mode), Lava Loihi2SimCfg (per input mode, on its subset) and Loihi 2 hardware
(where a `loihi2_accuracy` column exists). Accuracies are in % in every output. A stage that
was skipped (no fixed-point table, no Lava column) is simply absent, never a zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from neurokws import paper as paper_module
from neurokws.reports.tables import own_delays

KEY = ["dataset", "hidden", "delays", "seed"]
ARCH = ["dataset", "hidden", "delays"]   # one network of the grid (seeds pooled)
STAGES = ("train", "float_test", "emulator_aligned", "emulator_paper", "lava_aligned",
          "lava_paper", "loihi2")
STAGE_LABELS = {"train": "Train, float32", "float_test": "Test, float32",
                "emulator_aligned": "Test, int8 emulator, aligned",
                "emulator_paper": "Test, int8 emulator, paper input",
                "lava_aligned": "Test, Lava, aligned",
                "lava_paper": "Test, Lava, paper input",
                "loihi2": "Test, Loihi 2"}
PAPER_LABELS = {"float_test": "Paper: test, float32", "lava": "Paper: test, Lava",
                "loihi2": "Paper: test, Loihi 2 (1 model)"}
# Which paper stage an own stage is compared with (the paper has no training numbers).
PAPER_STAGE = {"float_test": "float_test", "lava_aligned": "lava", "lava_paper": "lava",
               "loihi2": "loihi2"}
SUMMARY_COLUMNS = ["dataset", "paper_dataset", "hidden", "delays", "stage", "source", "mean",
                   "sd", "n", "samples"]
# Column names with units in results/tables/accuracy_summary.csv.
CSV_NAMES = {"mean": "accuracy_mean_pct", "sd": "accuracy_sd_pct", "n": "n_seeds",
             "samples": "n_test_samples"}


def _stage_rows(frame: pd.DataFrame, column: str, stage: str,
                samples: str | None) -> pd.DataFrame:
    """One stage's per-seed rows (accuracy in %) from `column`; NaN rows dropped."""
    out = frame[KEY].copy()
    out["stage"] = stage
    out["accuracy"] = 100.0 * pd.to_numeric(frame[column], errors="coerce")
    out["samples"] = pd.to_numeric(frame[samples], errors="coerce") \
        if samples and samples in frame else np.nan
    return out[out["accuracy"].notna()]


def per_seed(float_table: pd.DataFrame | None, fixed_table: pd.DataFrame | None,
             bits: int) -> pd.DataFrame:
    """Long per-seed table: dataset, hidden, delays, seed, stage, accuracy (%), samples.
    Tables written before the grid had a delay axis have no `delays` column: no delays."""
    float_table, fixed_table = (None if t is None else
                                t.assign(delays=t["delays"].astype(bool)) if "delays" in t
                                else t.assign(delays=False) for t in (float_table, fixed_table))
    parts = []
    if float_table is not None and len(float_table):
        parts.append(_stage_rows(float_table, "train_accuracy", "train", None))
        parts.append(_stage_rows(float_table, "test_accuracy", "float_test", "n_test"))
    if fixed_table is not None and len(fixed_table):
        fixed = own_delays(fixed_table)
        fixed = fixed[fixed["bits"] == bits]
        if "method" in fixed:   # the paper's stages: post-training quantization
            fixed = fixed[fixed["method"] == "ptq"]
        n_test = None
        if float_table is not None and "n_test" in float_table:
            fixed = fixed.merge(float_table[[*KEY, "n_test"]], on=KEY, how="left")
            n_test = "n_test"
        for stage in STAGES[2:]:
            column = f"{stage}_accuracy"
            if column in fixed:
                count = f"{stage}_n" if f"{stage}_n" in fixed else n_test
                parts.append(_stage_rows(fixed, column, stage, count))
    columns = [*KEY, "stage", "accuracy", "samples"]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=columns)
    long = pd.concat(parts, ignore_index=True)[columns]
    return _sort(long, [*KEY])


def _sort(frame: pd.DataFrame, extra_keys: list[str]) -> pd.DataFrame:
    """Sort by dataset, hidden size, delays, stage order, then `extra_keys` (stable)."""
    order = {stage: i for i, stage in enumerate(STAGES)}
    frame = frame.assign(_stage=frame["stage"].map(order).fillna(len(order)))
    keys = [*ARCH, "_stage", *[k for k in extra_keys if k not in ARCH]]
    return frame.sort_values(keys, kind="stable").drop(columns="_stage").reset_index(drop=True)


def summarise(long: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample sd (NaN for one seed) and number of seeds per dataset/hidden/delays/stage."""
    columns = [*ARCH, "stage", "mean", "sd", "n", "samples"]
    if long.empty:
        return pd.DataFrame(columns=columns)
    grouped = long.groupby([*ARCH, "stage"], sort=False)
    summary = grouped.agg(mean=("accuracy", "mean"), sd=("accuracy", "std"),
                          n=("accuracy", "count"), samples=("samples", "median"))
    return _sort(summary.reset_index(), [])[columns]


def with_paper(summary: pd.DataFrame, paper_names: Mapping[str, str | None],
               paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Own rows (source 'ours') plus the paper's rows for the datasets/hidden sizes run.

    `paper_names` maps each workflow dataset to 'SHD'/'SSC' or None (see
    neurokws.paper.paper_dataset); paper rows keep the workflow's dataset name and carry the
    paper's stage names (float_test, lava, loihi2). The paper's network has no delays: its
    rows stand beside the delay-free cells only.
    """
    paper = paper_module.accuracy() if paper is None else paper
    ours = summary.assign(source="ours",
                          paper_dataset=summary["dataset"].map(dict(paper_names)))
    cells = ours[["dataset", "paper_dataset", "hidden", "delays"]].drop_duplicates()
    cells = cells[cells["paper_dataset"].notna() & ~cells["delays"].astype(bool)]
    ref = cells.merge(paper.rename(columns={"dataset": "paper_dataset"}),
                      on=["paper_dataset", "hidden"], how="inner")
    ref = ref.assign(source="paper", samples=np.nan)
    both = pd.concat([df for df in (ours, ref) if len(df)], ignore_index=True) \
        if len(ref) else ours
    order = {stage: i for i, stage in enumerate((*STAGES[:-1], "lava", STAGES[-1]))}
    both = both.assign(_stage=both["stage"].map(order), _src=(both["source"] != "ours"))
    both = both.sort_values([*ARCH, "_stage", "_src"], kind="stable")
    return both.drop(columns=["_stage", "_src"]).reset_index(drop=True)[SUMMARY_COLUMNS]


def comparison_table(full: pd.DataFrame) -> pd.DataFrame:
    """Wide table per dataset/hidden/delays: own stages next to the paper's (mean ± sd)."""
    rows = []
    for (dataset, hidden, delays), group in full.groupby(ARCH, sort=False):
        row: dict[str, object] = {"dataset": dataset, "hidden": int(hidden),
                                  "delays": "learned" if delays else "none"}
        for rec in group.itertuples(index=False):
            labels = PAPER_LABELS if rec.source == "paper" else STAGE_LABELS
            subset = rec.samples if rec.source == "ours" and rec.stage.startswith("lava") \
                else None
            row[labels.get(rec.stage, rec.stage)] = format_mean_sd(rec.mean, rec.sd, rec.n,
                                                                   subset)
        rows.append(row)
    return pd.DataFrame(rows)


def format_mean_sd(mean: float, sd: float, n: float, samples: float | None = None) -> str:
    """'84.65 ± 1.38 (n=5)' style text, '(n=2, 8 samples)' for a subset evaluation (Lava);
    '–' for a missing mean."""
    if mean is None or not np.isfinite(mean):
        return "–"
    text = f"{mean:.2f}"
    if sd is not None and np.isfinite(sd):
        text += f" ± {sd:.2f}"
    if samples is not None and np.isfinite(samples):
        return f"{text} (n={int(n)}, {int(samples)} samples)"
    return f"{text} (n={int(n)})"


def to_csv_frame(full: pd.DataFrame) -> pd.DataFrame:
    """with_paper output with unit-carrying column names, for accuracy_summary.csv."""
    return full.rename(columns=CSV_NAMES)


def from_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """accuracy_summary.csv back to with_paper's column names."""
    return frame.rename(columns={v: k for k, v in CSV_NAMES.items()})
