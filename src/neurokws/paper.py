"""The paper's published numbers, in one place.

Shoesmith, Knight, Mészáros, Timcheck, Nowotny, "Eventprop training for efficient
neuromorphic applications", NICE 2025 (arXiv 2503.04341). Every report, the Loihi 2 cost
model and the configs' checks cite this module; nothing else writes these numbers.

- Table I: regularisation strength per (dataset, hidden size), epochs and augmentations
  (section II-D: 50 epochs with blend augmentation, otherwise 100).
- Table II: SHD inference cost per sample (Jetson Orin Nano GPU, Loihi 2).
- Section III / Figure 4: test accuracy over 5 seeds (float, Lava) and one Loihi 2 model.
- Training time per epoch on a datacentre GPU with mlGeNN (section III-A).
- Figure 3: the qualitative findings of the Eventprop vs BPTT (Spyx) comparison.
- Constants of the paper's code that our reproduction follows (blends per SHD epoch, the
  Lava input format, the examples of Figure 2) and the SOP counts behind Table II.

Imports only the standard library (pandas inside the table builders), so it also loads in
the side environments (neurokws.utils.sidecar).
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a table is built: this module stays stdlib-only
    import pandas as pd

DATASETS = ("SHD", "SSC")
SEEDS = 5                      # models trained per (dataset, hidden size)
HIDDEN_SIZES = (256, 512, 1024)

# Table I: (dataset, hidden) -> reg_lambda (initialises reg_lambda_upper and _lower).
TABLE_I_REG_LAMBDA = {
    ("SHD", 256): 2.5e-10, ("SHD", 512): 5e-10, ("SHD", 1024): 5e-11,
    ("SSC", 256): 2.5e-9, ("SSC", 512): 5e-10, ("SSC", 1024): 2.5e-10,
}
EPOCHS = {"SHD": 50, "SSC": 100}
AUGMENTATIONS = {"SHD": ("shift", "blend"), "SSC": ("shift",)}
BLEND_N_NEW = 7644             # blends added per SHD epoch in the paper's training script

# Split sizes of the Heidelberg data sets (Cramer et al. 2020), as the paper used them.
TRAIN_SAMPLES = {"SHD": 8156, "SSC": 75466}
TEST_SAMPLES = {"SHD": 2264, "SSC": 20382}
WEIGHT_BITS = 8                # the paper deploys 8-bit weights (post-training quantization)

# Test accuracy in % (section III, Figure 4): (float mean, float sd, Lava mean, Lava sd,
# Loihi 2 single model).
_ACCURACY = {
    ("SHD", 256): (84.65, 1.38, 82.12, 1.40, 83.75),
    ("SHD", 512): (86.98, 2.06, 86.12, 2.07, 89.49),
    ("SHD", 1024): (86.95, 1.18, 86.17, 1.90, 85.38),
    ("SSC", 256): (59.55, 1.55, 57.79, 1.06, 58.91),
    ("SSC", 512): (62.52, 0.64, 60.08, 2.65, 61.74),
    ("SSC", 1024): (63.65, 1.05, 62.98, 1.13, 62.50),
}

# Training time per epoch on a datacentre GPU with mlGeNN (section III-A), seconds.
EPOCH_TIME_S = {("SHD", 256): 21.5, ("SHD", 1024): 69.3,
                ("SSC", 256): 129.0, ("SSC", 1024): 441.0}

# Figure 3 (section III-A): Spyx 0.1.19 / JAX 0.4.26 BPTT vs mlGeNN Eventprop, SHD, batch 32,
# no augmentation, NVIDIA RTX A5000. Only the qualitative findings are in the text.
FIGURE3_SETUP = "SHD, batch 32, no augmentation, RTX A5000 GPU, mlGeNN vs Spyx"
FIGURE3_NOTES = (
    "Eventprop peak memory stays essentially constant in the number of timesteps, BPTT "
    "(Spyx) memory grows linearly; Spyx is faster for few timesteps, mlGeNN Eventprop is "
    f"faster beyond about 500 timesteps ({FIGURE3_SETUP}).")

# Table II (SHD, T = 1000 steps, the 2264 test samples): hidden size, weight precision,
# hardware, batch size, total and dynamic energy per sample (mJ), latency per batch (ms),
# EDP (uJ s, as published: the authors computed it from unrounded values). Loihi 2: Oheo
# Gulch single-chip system, IO-unconstrained; Jetson Orin Nano 8GB at 15 W, energy from the
# VDD_CPU_GPU_CV + VDD_SOC rails (jtop).
TABLE_II_DATASET = "SHD"
TABLE_II_N_STEPS = 1000
TABLE_II_TEST_SAMPLES = TEST_SAMPLES["SHD"]
_TABLE_II = """\
hidden_size,weight_precision,hardware,batch_size,energy_total_mJ,energy_dynamic_mJ,latency_ms,edp_uJs
256,fp32,Jetson Orin Nano GPU,1,82.3,23.8,25.5,2102.0
512,fp32,Jetson Orin Nano GPU,1,85.0,25.3,26.0,2214.8
1024,fp32,Jetson Orin Nano GPU,1,92.0,29.1,27.4,2522.5
256,fp32,Jetson Orin Nano GPU,128,3.7,1.9,103.3,384.6
512,fp32,Jetson Orin Nano GPU,128,6.5,3.7,156.4,1018.2
1024,fp32,Jetson Orin Nano GPU,64,15.5,9.7,161.2,2506.6
256,int8,Loihi 2,1,0.19,0.11,2.33,0.44
512,int8,Loihi 2,1,0.27,0.15,2.37,0.63
1024,int8,Loihi 2,1,0.50,0.31,2.56,1.29
"""
# Synaptic operations over the whole SHD test set behind Table II's Loihi rows
# (docs/profiling.md#synaptic-operations), per hidden size.
SOP_PER_TEST_SET = {256: 7.15e9, 512: 1.88e10, 1024: 5.34e10}
PROFILING_BATCH_SIZES = (1, 32, 64, 128, 256)   # batch sizes the paper profiled on the GPU

# The paper fed Lava per-frame event counts as graded spikes of this many bits
# (docs/fixedpoint.md#input-modes).
LAVA_INPUT_MESSAGE_BITS = 8
# The examples the paper's Figure 2 shows.
FIGURE2_WORDS = {"shd": "zwei", "ssc": "left"}


def table_ii(as_printed: bool = False) -> pd.DataFrame:
    """Table II as a frame; as_printed=True keeps every cell as the printed text (so its
    number of decimals, i.e. its rounding, is known)."""
    import pandas as pd

    return pd.read_csv(io.StringIO(_TABLE_II), dtype=str if as_printed else None)


def accuracy() -> pd.DataFrame:
    """Long table: dataset, hidden, stage (float_test|lava|loihi2), mean, sd, n (in %)."""
    import pandas as pd

    rows = []
    for (dataset, hidden), (f_m, f_sd, l_m, l_sd, loihi) in _ACCURACY.items():
        rows += [
            {"dataset": dataset, "hidden": hidden, "stage": "float_test", "mean": f_m,
             "sd": f_sd, "n": SEEDS},
            {"dataset": dataset, "hidden": hidden, "stage": "lava", "mean": l_m, "sd": l_sd,
             "n": SEEDS},
            {"dataset": dataset, "hidden": hidden, "stage": "loihi2", "mean": loihi,
             "sd": math.nan, "n": 1},
        ]
    return pd.DataFrame(rows, columns=["dataset", "hidden", "stage", "mean", "sd", "n"])


def paper_dataset(name: str, source: str | None = None) -> str | None:
    """The paper dataset ('SHD'/'SSC') a workflow dataset corresponds to, else None.

    Source shd/ssc decides; generated data never match; user files (source 'files') or an
    unknown source match by name (SHD or SSC, case-insensitive).
    """
    if source is not None and source.lower() in ("shd", "ssc"):
        return source.upper()
    if source is not None and source.lower() in ("synthetic", "sequence"):
        return None
    return name.upper() if name.upper() in DATASETS else None
