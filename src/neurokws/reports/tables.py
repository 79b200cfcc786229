"""Tables across the grid, built from the per-cell JSON results."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from neurokws.utils.records import CELL_KEY, MODEL_KEY, read_record

STATIC_METRICS = ["footprint_bytes", "connection_sparsity"]   # deploy/metrics.py
WORKLOAD_METRICS = ["effective_synaptic_ops", "activation_sparsity"]   # per input mode
FLOAT_COLUMNS = [*CELL_KEY, "train_accuracy", "valid_accuracy",
                 "test_accuracy", "n_test", "selected_epoch", "selection",
                 "hidden_spikes_per_neuron_per_sample"]
# What a cell with delays learned (network.Delays.stats) and the model it fine-tuned, if any:
# columns only where some cell has them.
DELAY_COLUMNS = [f"{name}_{stat}" for name in ("d_in", "d_rec")
                 for stat in ("mean", "max", "nonzero")] + ["fine_tuned_from"]


def float_accuracy_table(metric_files: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per cell from eval_float.json files, sorted by dataset, hidden size, delays
    (without first), seed."""
    records = [read_record(path, "evaluate_float") for path in metric_files]
    columns = FLOAT_COLUMNS + [c for c in DELAY_COLUMNS
                               if any(r.get(c) is not None for r in records)]
    frame = pd.DataFrame([{column: record.get(column) for column in columns}
                          for record in records], columns=columns)
    return frame.sort_values(CELL_KEY, kind="stable").reset_index(drop=True)


def own_delays(fixed: pd.DataFrame) -> pd.DataFrame:
    """The rows of models deployed with their own delays (deploy.delay_bits adds narrower
    ones): per cell, method and weight bits, the widest delay bits."""
    if fixed is None or "delay_bits" not in fixed or fixed.empty:
        return fixed
    key = [k for k in (*CELL_KEY, "method", "bits") if k in fixed]
    widest = fixed.groupby(key, dropna=False)["delay_bits"].transform("max")
    return fixed[fixed["delay_bits"] == widest]


def fixed_accuracy_table(float_files: Sequence[str | os.PathLike],
                         fixed_files: Sequence[str | os.PathLike],
                         lava_files: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Per model, method (ptq, qat) and bit width: float test, emulator (each input mode)
    and Lava accuracy.

    Lava columns hold its subset's accuracy, size and the agreement rate with the emulator
    on the same samples; they are empty where Lava did not run. Output-layer spike counts
    (`*_output_spikes`: the readout was corrupted, docs/fixedpoint.md#output-threshold)
    appear only where some model has any.
    """
    key = CELL_KEY
    floats = pd.DataFrame([{**{k: r[k] for k in key},
                            "float_test_accuracy": r["test_accuracy"]}
                           for r in (read_record(p, "evaluate_float") for p in float_files)],
                          columns=[*key, "float_test_accuracy"])
    rows = []
    for record in (read_record(p, "eval_fixed", model=True) for p in fixed_files):
        row = {k: record[k] for k in (*key, *MODEL_KEY)}
        row["float_quantized_accuracy"] = record.get("float_quantized_accuracy")
        row.update({k: record.get("metrics", {}).get(k) for k in STATIC_METRICS})
        for mode, values in record["modes"].items():
            row[f"emulator_{mode}_accuracy"] = values["accuracy"]
            row[f"synaptic_ops_per_sample_{mode}"] = \
                values["activity_per_sample"]["synaptic_ops"]
            for metric in WORKLOAD_METRICS:
                row[f"{metric}_{mode}"] = values.get(metric)
            row[f"emulator_{mode}_output_spikes"] = values["output_spikes"]
        rows.append(row)
    fixed = pd.DataFrame(rows)
    for record in (read_record(p, "merge_lava", model=True) for p in lava_files):
        mode = record["input_mode"]
        match = np.logical_and.reduce([fixed[k] == record[k] for k in (*key, *MODEL_KEY)])
        fixed.loc[match, f"lava_{mode}_accuracy"] = record["accuracy"]
        fixed.loc[match, f"lava_{mode}_n"] = record["n_samples"]
        fixed.loc[match, f"lava_{mode}_agreement"] = record.get("agreement_with_emulator")
        fixed.loc[match, f"lava_{mode}_output_spikes"] = record["output_spikes"]
    quiet = [c for c in fixed.columns if c.endswith("_output_spikes")
             and not (pd.to_numeric(fixed[c], errors="coerce").fillna(0) > 0).any()]
    fixed = fixed.drop(columns=quiet)
    table = floats.merge(fixed, on=key, how="right") if len(fixed) else floats
    return table.sort_values([*key, *MODEL_KEY] if "bits" in table else key,
                             kind="stable").reset_index(drop=True)
