"""Shared helpers: config validation, the experiment grid and path builders."""

import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from neurokws.config import DOWNLOAD_SOURCES, check_config, dataset_splits  # noqa: E402


check_config(config, str(Path(workflow.basedir) / "config" / "schema.yaml"))
validate(config, schema="../../config/schema.yaml")

DATASETS = list(config["datasets"])
HIDDEN = [int(h) for h in config["hidden_sizes"]]
SEEDS = [int(s) for s in config["seeds"]]
CELL = "results/{dataset}/h{hidden}/seed{seed}"


wildcard_constraints:
    dataset="|".join(DATASETS),
    hidden=r"\d+",
    seed=r"\d+",
    split="train|valid|test",
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


def all_targets():
    targets = [f"results/{d}/figures/rasters.png" for d in DATASETS]
    targets += [
        f"results/{d}/prepared/{split}.npz" for d in DATASETS for split in dataset_splits(config, d)
    ]
    targets += ["results/tables/accuracy_float.csv"]
    bits = config.get("deploy", {}).get("bits", [8])
    targets += cell_paths("model.nir")
    targets += [p for b in bits for p in cell_paths(f"int{b}/model.net")]
    return targets
