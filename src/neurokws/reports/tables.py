"""Tables across the grid, built from the per-cell JSON results."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import pandas as pd

FLOAT_COLUMNS = ["dataset", "hidden", "seed", "train_accuracy", "valid_accuracy",
                 "test_accuracy", "n_test", "selected_epoch", "selection",
                 "hidden_spikes_per_neuron_per_sample"]


def float_accuracy_table(metric_files: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per cell from eval_float.json files, sorted by dataset, hidden size, seed."""
    rows = []
    for path in metric_files:
        with open(path) as handle:
            record = json.load(handle)
        rows.append({column: record.get(column) for column in FLOAT_COLUMNS})
    frame = pd.DataFrame(rows, columns=FLOAT_COLUMNS)
    return frame.sort_values(["dataset", "hidden", "seed"], kind="stable").reset_index(drop=True)
