"""Shared helpers: config validation, the experiment grid and path builders."""

import os
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from neurokws.config import (  # noqa: E402
    DOWNLOAD_SOURCES,
    check_config,
    dataset_splits,
    train_settings,
)


check_config(config, str(Path(workflow.basedir) / "config" / "schema.yaml"))
validate(config, schema="../../config/schema.yaml")

DATASETS = list(config["datasets"])
HIDDEN = [int(h) for h in config["hidden_sizes"]]
SEEDS = [int(s) for s in config["seeds"]]
CELL = "results/{dataset}/h{hidden}/seed{seed}"


# Jobs that need the internet run on the submit host, not on compute nodes.
localrules:
    download,
    lava_env,


wildcard_constraints:
    dataset="|".join(DATASETS),
    hidden=r"\d+",
    seed=r"\d+",
    split="train|valid|test",
    mode="aligned|paper",
    chunk=r"\d+",
    device="cpu|gpu|loihi|mlgenn",
    batch=r"\d+",
    bits=r"\d+",


def source_of(dataset):
    return config["datasets"][dataset]["source"]


def raw_split_path(dataset, split):
    """Where a dataset's raw Heidelberg-format HDF5 split lives (generated, downloaded, given)."""
    source = source_of(dataset)
    if source == "synthetic":
        return f"results/{dataset}/data/{split}.h5"
    if source in DOWNLOAD_SOURCES:
        corpus = DOWNLOAD_SOURCES[source]
        return f"resources/{corpus}/{corpus.lower()}_{split}.h5"
    return config["datasets"][dataset]["files"][split]


def raw_split_input(wildcards):
    return raw_split_path(wildcards.dataset, wildcards.split)


def prepared(dataset, split):
    return f"results/{dataset}/prepared/{split}.npz"


def prepared_train_inputs(wildcards):
    """Prepared splits used by training: train, plus valid where the dataset has one."""
    splits = [s for s in dataset_splits(config, wildcards.dataset) if s != "test"]
    return {split: prepared(wildcards.dataset, split) for split in splits}


def cells():
    """All (dataset, hidden, seed) cells of the grid as dicts."""
    return [
        {"dataset": d, "hidden": h, "seed": s} for d in DATASETS for h in HIDDEN for s in SEEDS
    ]


def cell_paths(name):
    """`name` (a file inside each cell's folder) for every cell of the grid."""
    return [f"{CELL}/{name}".format(**cell) for cell in cells()]


def bit_widths():
    return [int(b) for b in config.get("deploy", {}).get("bits", [8])]


def fixed_paths(name):
    """`name` inside each model's int<bits>/ folder, for every cell and bit width."""
    return [p for b in bit_widths() for p in cell_paths(f"int{b}/{name}")]


LAVA = config.get("lava", {})
LAVA_MODES = LAVA.get("input_modes", ["aligned"])
LAVA_CHUNKS = int(LAVA.get("chunks", 1))
LAVA_VENV = str(Path(workflow.basedir) / ".venv-lava")  # shared by all runs of this checkout
LAVA_STAMP = f"{LAVA_VENV}/.neurokws-lava-stamp"
LAVA_RECIPE = [
    str(Path(workflow.basedir) / "envs" / "lava" / name)
    for name in ("setup_lava_env.sh", "requirements.txt", "fixups.py")
] + [str(Path(workflow.basedir) / "envs" / "lib" / "build_venv.sh")]


def lava_python():
    """Lava's interpreter: the conda env's python with --sdm conda, else .venv-lava's."""
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "python"
    return f"{LAVA_VENV}/bin/python"


def lava_env_input(wildcards):
    """The venv stamp (its age does not matter), unless conda provides the Lava environment."""
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return []
    return [ancient(LAVA_STAMP)]


def train_runtime(wildcards, attempt):
    """SLURM time limit (min) of a training job, from measured throughput.

    epochs x samples/epoch x ~1.1 ms x (hidden/256)^1.8 per sample at T = 1000 on 2 threads
    (benchmarks/bench_training_throughput.py), doubled for evaluation and slower nodes,
    +30; times the attempt (a job stopped at its limit resumes from its checkpoint).
    """
    ds = config["datasets"][wildcards.dataset]
    n = {"shd": 8156, "ssc": 75466}.get(ds["source"]) or ds.get("synthetic", {}).get(
        "n_train", 10000
    )
    if "blend" in ds.get("augmentations", ["shift"]):
        n += ds.get("blend_n_new") or n
    steps = config.get("model", {}).get("n_steps", 1000)
    ms = 1.1 * (int(wildcards.hidden) / 256) ** 1.8 * steps / 1000
    return attempt * int(30 + 2 * ds.get("epochs", 50) * n * ms / 60000)


PROFILING = config.get("profiling", {})


def profile_paths():
    """Profile CSVs: the first seed of every (dataset, hidden), each device and batch size."""
    paths = []
    for device in PROFILING.get("devices", ["cpu", "gpu", "loihi"]):
        batches = [1] if device == "loihi" else PROFILING.get("batch_sizes", [1, 32])
        cells_ = [{"dataset": d, "hidden": h, "seed": SEEDS[0]} for d in DATASETS for h in HIDDEN]
        paths += [
            f"{CELL}/profile/{device}_b{b}.csv".format(**cell) for cell in cells_ for b in batches
        ]
    return paths


def all_targets():
    targets = [f"results/{d}/figures/rasters.png" for d in DATASETS]
    targets += [
        f"results/{d}/prepared/{split}.npz" for d in DATASETS for split in dataset_splits(config, d)
    ]
    targets += ["results/tables/accuracy_float.csv"]
    targets += cell_paths("model.nir")
    targets += ["results/tables/accuracy_fixed.csv"]
    if PROFILING.get("devices", ["cpu", "gpu", "loihi"]):
        targets += ["results/tables/table2.csv"]
    return targets
