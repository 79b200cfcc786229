"""The paper's published numbers as data (spec 01 "Published results", Table II CSV).

Accuracies are test accuracies in % over 5 seeds (mean, sd); Loihi 2 figures are one model
each (sd NaN, n 1). The paper reports training accuracy only graphically (Figure 4), so no
training row exists here. Only SHD and SSC have published values.
"""

from __future__ import annotations

import math

import pandas as pd

PAPER_DATASETS = ("SHD", "SSC")
PAPER_SEEDS = 5

# (dataset, hidden): (float mean, float sd, Lava mean, Lava sd, Loihi 2 single model)
_ACCURACY = {
    ("SHD", 256): (84.65, 1.38, 82.12, 1.40, 83.75),
    ("SHD", 512): (86.98, 2.06, 86.12, 2.07, 89.49),
    ("SHD", 1024): (86.95, 1.18, 86.17, 1.90, 85.38),
    ("SSC", 256): (59.55, 1.55, 57.79, 1.06, 58.91),
    ("SSC", 512): (62.52, 0.64, 60.08, 2.65, 61.74),
    ("SSC", 1024): (63.65, 1.05, 62.98, 1.13, 62.50),
}

# Training time per epoch on a datacentre GPU with mlGeNN (spec 01), seconds.
PAPER_EPOCH_TIME_S = {("SHD", 256): 21.5, ("SHD", 1024): 69.3,
                      ("SSC", 256): 129.0, ("SSC", 1024): 441.0}

# Figure 3 setup (section III-A): Spyx 0.1.19 / JAX 0.4.26 BPTT vs mlGeNN Eventprop, SHD,
# batch 32, no augmentation, NVIDIA RTX A5000. Only the qualitative findings are in the text.
PAPER_FIGURE3_NOTES = (
    "Eventprop peak memory stays essentially constant in the number of timesteps, BPTT "
    "(Spyx) memory grows linearly; Spyx is faster for few timesteps, mlGeNN Eventprop is "
    "faster beyond about 500 timesteps (SHD, batch 32, RTX A5000 GPU).")


def paper_accuracy() -> pd.DataFrame:
    """Long table: dataset, hidden, stage (float_test|lava|loihi2), mean, sd, n (in %)."""
    rows = []
    for (dataset, hidden), (f_m, f_sd, l_m, l_sd, loihi) in _ACCURACY.items():
        rows += [
            {"dataset": dataset, "hidden": hidden, "stage": "float_test", "mean": f_m,
             "sd": f_sd, "n": PAPER_SEEDS},
            {"dataset": dataset, "hidden": hidden, "stage": "lava", "mean": l_m, "sd": l_sd,
             "n": PAPER_SEEDS},
            {"dataset": dataset, "hidden": hidden, "stage": "loihi2", "mean": loihi,
             "sd": math.nan, "n": 1},
        ]
    return pd.DataFrame(rows, columns=["dataset", "hidden", "stage", "mean", "sd", "n"])


def paper_dataset(name: str, source: str | None = None) -> str | None:
    """The paper dataset ('SHD'/'SSC') a workflow dataset corresponds to, else None.

    Source shd/ssc decides; synthetic data never match; user files (source 'files') or an
    unknown source match by name (SHD or SSC, case-insensitive).
    """
    if source is not None and source.lower() in ("shd", "ssc"):
        return source.upper()
    if source is not None and source.lower() == "synthetic":
        return None
    return name.upper() if name.upper() in PAPER_DATASETS else None
