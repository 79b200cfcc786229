"""Shared helpers: the resolved config, the experiment grid, path builders and side venvs.

The config is resolved once here (neurokws.config.resolve_config: command-line strings
coerced, every key checked, the schema's defaults filled in); rules read it by plain
indexing and hand every value a script needs to it through `params`.
"""

import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from neurokws import paper, resources  # noqa: E402
from neurokws.backends import training_gpus  # noqa: E402
from neurokws.data.sources.convert import cochlea_from_settings  # noqa: E402
from neurokws.fixedpoint.inputs import INPUT_MODES  # noqa: E402
from neurokws.config import (  # noqa: E402
    COCHLEA_SOURCES,
    DOWNLOAD_SOURCES,
    GENERATED_SOURCES,
    QUANT_DIRS,
    cell_train_settings,
    dataset_splits,
    delay_training,
    deployed_bits,
    fine_tunes_delay_free,
    parse_precision,
    precision_tags,
    qat_settings,
    quant_method,
    quant_training,
    resolve_config,
    training_threads,
)
from neurokws.profiling.inference.profile import (  # noqa: E402
    PROFILERS,
    device_batch_sizes,
    device_gpus,
)
from neurokws.utils.records import DELAY_SUFFIX  # noqa: E402
from neurokws.utils.sidecar import ENVS  # noqa: E402

resolve_config(config)

DATASETS = list(config["datasets"])
HIDDEN = [int(h) for h in config["hidden_sizes"]]
SEEDS = [int(s) for s in config["seeds"]]
DELAY_AXIS = [bool(d) for d in config["delays"]]
CELL = "results/{dataset}/h{hidden}{delays}/seed{seed}"
DEPLOYED_BITS = deployed_bits(config)
METHODS = list(config["deploy"]["methods"])   # ptq -> int<b>/, qat -> qat<b>/ (QUANT_DIRS)
# A deployed model's folder: its method's prefix and precision_tag, <bits>[d<delay bits>].
LAVA = config["lava"]
LAVA_MODES = LAVA["input_modes"]
LAVA_CHUNKS = int(LAVA["chunks"])
PROFILING = config["profiling"]
TRAINING_COST = config["training_cost"]
RESOURCE_SCALE = config["resources"]


# Jobs that run on the submit host, not on compute nodes (the side venvs' rules in envs.smk
# too): the rules that need the internet or only gather small tables and figures. The
# directive `localrules:` takes rule names literally; this is the call it compiles to.
workflow.localrules(*resources.LOCAL_RULES)


wildcard_constraints:
    dataset="|".join(DATASETS),
    hidden=r"\d+",
    delays=f"({DELAY_SUFFIX})?",
    seed=r"\d+",
    split="train|valid|test",
    mode="|".join(INPUT_MODES),
    chunk=r"\d+",
    device="|".join(PROFILERS),
    batch=r"\d+",
    bits=r"\d+(d\d+)?",
    quant="|".join(QUANT_DIRS.values()),
    first=r"\d+",
    stop=r"\d+",


def source_of(dataset):
    return config["datasets"][dataset]["source"]


def datasets_of(*sources):
    """A wildcard regex matching exactly the datasets of these sources (none: matches nothing)."""
    names = [re.escape(d) for d in DATASETS if source_of(d) in sources]
    return "|".join(names) if names else "(?!)"


def cochlea_chunks(dataset):
    """Chunk files of a dataset's cochlea conversion (their count is a config value)."""
    n = int(config["datasets"][dataset]["cochlea"]["chunks"])
    return [f"results/{dataset}/cochlea/chunk{i}.npz" for i in range(n)]


def raw_split_path(dataset, split):
    """Where a dataset's raw Heidelberg-format HDF5 split lives (generated, downloaded, given)."""
    source = source_of(dataset)
    if source in GENERATED_SOURCES or source in COCHLEA_SOURCES:
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


def cells(delays=None):
    """All (dataset, hidden, delays, seed) cells of the grid as dicts (`delays`: only the
    cells with / without delays)."""
    axis = DELAY_AXIS if delays is None else [d for d in DELAY_AXIS if d == delays]
    return [
        {"dataset": d, "hidden": h, "delays": DELAY_SUFFIX if on else "", "seed": s}
        for d in DATASETS
        for h in HIDDEN
        for on in axis
        for s in SEEDS
    ]


def cell_paths(name, delays=None):
    """`name` (a file inside each cell's folder) for every cell of the grid."""
    return [f"{CELL}/{name}".format(**cell) for cell in cells(delays)]


def cell_has_delays(wildcards):
    """The cell's value on the grid's delay axis (config `delays`)."""
    return wildcards.delays == DELAY_SUFFIX


# The `model` and `training` sections without what only cells with delays (and QAT runs)
# use: what jobs of the paper's delay-free network are given, so that changing model.delays
# or training.delays reruns only the jobs that use them.
DELAY_FREE_MODEL = {k: v for k, v in config["model"].items() if k != "delays"}
PLAIN_TRAINING = {k: v for k, v in config["training"].items() if k not in ("delays", "qat")}


def cell_model(wildcards):
    """The `model` section a cell's jobs are given (DELAY_FREE_MODEL without delays)."""
    return config["model"] if cell_has_delays(wildcards) else DELAY_FREE_MODEL


def cell_delay_training(wildcards):
    """How the cell learns its delays (training.delays) as a dict, None without delays."""
    spec = delay_training(config, cell_has_delays(wildcards))
    return None if spec is None else spec.to_dict()


def fixed_paths(name, bits=None):
    """`name` inside each deployed model's folder (int<tag>/: ptq, qat<tag>/: qat) for every
    cell, method and precision (config.precision_tags; `bits`: only those weight bits, with
    the model's own delays)."""
    return [
        f"{CELL}/{QUANT_DIRS[m]}{tag}/{name}".format(**cell)
        for m in METHODS
        for cell in cells()
        for tag in (precision_tags(config, cell["delays"] == DELAY_SUFFIX)
                    if bits is None else [bits])
    ]


def deployed_model(wildcards):
    """What a deployment quantizes: the cell's float model (ptq) or its QAT model (qat)."""
    cell = CELL.format(**wildcards)
    if quant_method(wildcards.quant) == "qat":
        return f"{cell}/qat{wildcards.bits}/model.npz"
    return f"{cell}/model.npz"


def qat_inputs(wildcards):
    """A QAT run's inputs: the prepared splits, plus the float model it fine-tunes."""
    inputs = prepared_train_inputs(wildcards)
    if config["training"]["qat"]["init"] == "float":
        inputs["init"] = f"{CELL.format(**wildcards)}/model.npz"
    return inputs


def segment_inputs(wildcards):
    """What every training job of a cell reads: prepared splits, plus the GeNN side venv when
    mlGeNN trains, plus the delay-free twin's model that a cell with delays fine-tunes
    (training.delays.start delay_free), plus the marker of the segment before (if any)."""
    inputs = prepared_train_inputs(wildcards)
    if config["training"]["backend"] == "mlgenn":
        inputs["genn"] = side_env_stamp("genn")
    if cell_has_delays(wildcards) and fine_tunes_delay_free(config):
        inputs["init"] = f"{CELL.format(**{**wildcards, 'delays': ''})}/model.npz"
    first = int(wildcards.get("first", -1))
    chain = cell_segments(wildcards)
    if first >= 0 and (first, int(wildcards.stop)) not in chain[:-1]:
        raise WorkflowError(
            f"{CELL.format(**wildcards)}: epochs {first}..{int(wildcards.stop) - 1} are not a "
            f"segment of this cell's training (its segments: {chain}, the last one is rule "
            "train); request model.npz instead")
    before = [seg for seg in chain if seg[1] == (first if first >= 0 else chain[-1][0])]
    if before and before[0][1] > 0:
        inputs["previous"] = segment_marker(wildcards, before[0])
    return inputs


def train_inputs(wildcards):
    """The final training job's inputs: segment_inputs of the chain's last segment."""
    return segment_inputs(wildcards)


def segment_marker(wildcards, segment):
    """The marker file a training segment (first, stop) writes."""
    return f"{CELL.format(**wildcards)}/segments/epochs{segment[0]}-{segment[1]}.json"


def cell_segments(wildcards):
    """The cell's training as segments [(first, stop), ...] of epochs, one job each, each
    within resources.max_runtime and resources.segment_epochs (neurokws.resources.segments):
    under max_runtime they depend on the data's size, known once `prepare` (a checkpoint)
    has run. One segment without a limit."""
    epochs = cell_settings(wildcards)["epochs"]
    epoch_s = None
    if RESOURCE_SCALE["max_runtime"] is not None:   # needs the data's size
        stats = {}
        for split in prepared_train_inputs(wildcards):
            done = checkpoints.prepare.get(dataset=wildcards.dataset, split=split)
            stats[split] = resources.SplitStats.of(done.output.events)
        epoch_s = train_epoch_s(wildcards, stats)
    try:
        return resources.segments(epochs, epoch_s, RESOURCE_SCALE["max_runtime"],
                                  RESOURCE_SCALE, RESOURCE_SCALE["segment_epochs"])
    except resources.LimitError as exc:
        # (worded so that snakemake --lint sees no rule definition in this file)
        raise WorkflowError(f"training of {CELL.format(**wildcards)}: {exc}") from None


def train_epoch_s(wildcards, stats):
    """Estimated seconds of one of the cell's training epochs (neurokws.resources)."""
    ds, tr = config["datasets"][wildcards.dataset], config["training"]
    return resources.train_epoch_s(
        stats["train"], stats.get("valid"), n_hidden=int(wildcards.hidden),
        n_steps=config["model"]["n_steps"], batch_size=tr["batch_size"],
        blend_n_new=ds["blend_n_new"], blend="blend" in ds["augmentations"],
        threads=train_threads(wildcards), delays=cell_has_delays(wildcards))


def train_threads(wildcards):
    """Cores of a cell's training and float evaluation jobs (training.threads, per N)."""
    return training_threads(config, int(wildcards.hidden))


def cell_settings(wildcards):
    """Every training setting of the cell (neurokws.config.cell_train_settings), as a dict."""
    return cell_train_settings(
        config, wildcards.dataset, int(wildcards.hidden), cell_has_delays(wildcards)
    ).to_dict()


def side_env_stamp(name):
    """The stamp of side venv `name` (its age does not matter: the recipe rebuilds it)."""
    return ancient(str(ENVS[name].stamp))


def job_request(stage, wildcards, input, attempt):
    """The job's memory (MB) and time (min), from its input data (neurokws.resources); a
    first attempt above the config's resources.max_runtime / max_mem_mb stops the run
    (training is split into segments that fit instead)."""
    request = estimate(stage, wildcards, input, attempt)
    if attempt == 1 and request is not resources.UNTIL_INPUTS_EXIST:
        where = ", ".join(f"{k}={v}" for k, v in dict(wildcards).items())
        try:
            resources.check_limits(stage, where, request, 1, RESOURCE_SCALE)
        except resources.LimitError as exc:
            raise WorkflowError(str(exc)) from None
    return request


def estimate(stage, wildcards, input, attempt):
    """The job's request before the limits are checked (job_request)."""
    try:
        if stage == "prepare":
            return resources.prepare(input[0], attempt, RESOURCE_SCALE)
        if stage == "cochlea_chunk":
            cochlea = config["datasets"][wildcards.dataset]["cochlea"]
            return resources.cochlea_chunk(
                input.plan, chunks=int(cochlea["chunks"]),
                channels=cochlea_from_settings(cochlea).channels,
                attempt=attempt, scale=RESOURCE_SCALE)
        hidden, n_steps = int(wildcards.hidden), config["model"]["n_steps"]
        delays = cell_has_delays(wildcards)
        if stage in ("train", "train_segment", "train_qat"):
            if "train" not in input.keys():   # before the prepare checkpoint has run
                return resources.UNTIL_INPUTS_EXIST
            ds, tr = config["datasets"][wildcards.dataset], config["training"]
            train = resources.SplitStats.of(input.train)
            valid = resources.SplitStats.of(input.valid) if "valid" in input.keys() else None
            if stage == "train_qat":
                epochs = qat_settings(
                    config, wildcards.dataset, hidden, parse_precision(wildcards.bits)[0]
                ).epochs
            elif stage == "train_segment":
                epochs = int(wildcards.stop) - int(wildcards.first)
            else:
                first, stop = cell_segments(wildcards)[-1]
                epochs = stop - first
            return resources.train(
                train, valid, n_hidden=hidden, n_out=train.n_classes, n_in=train.n_channels,
                n_steps=n_steps, epochs=epochs, batch_size=tr["batch_size"],
                # mlGeNN takes a whole epoch's inputs at once
                block_batches=None if tr["backend"] == "mlgenn" else tr["block_batches"],
                blend_n_new=ds["blend_n_new"],
                blend="blend" in ds["augmentations"], threads=train_threads(wildcards),
                attempt=attempt, scale=RESOURCE_SCALE, delays=delays)
        test = resources.SplitStats.of(input.test)
        common = dict(n_hidden=hidden, n_steps=n_steps, attempt=attempt, scale=RESOURCE_SCALE,
                      delays=delays)
        if stage == "evaluate_float":
            return resources.evaluate_float(test, **common)
        if stage == "eval_fixed":
            return resources.eval_fixed(test, n_out=test.n_classes,
                                        n_modes=len(config["fixed_point"]["input_modes"]),
                                        **common)
        if stage == "eval_lava_chunk":
            subset = min(LAVA["n_samples"] or test.n_samples, test.n_samples)
            return resources.eval_lava_chunk(test, n_samples=-(-subset // LAVA_CHUNKS),
                                             **common)
        return resources.profile(test, device=wildcards.device,
                                 max_samples=PROFILING["max_samples"],
                                 idle_s=PROFILING["idle_s"],
                                 min_active_s=PROFILING["min_active_s"], **common)
    except FileNotFoundError:   # inputs not made yet: Snakemake asks again before submitting
        return resources.UNTIL_INPUTS_EXIST


def mem_mb(stage):
    return lambda wildcards, input, attempt: job_request(stage, wildcards, input, attempt).mem_mb


def runtime(stage):
    return lambda wildcards, input, attempt: job_request(stage, wildcards, input, attempt).runtime


def profile_paths():
    """Profile CSVs: the first seed of every (dataset, hidden), each device and batch size."""
    cells_ = [cell for cell in cells() if cell["seed"] == SEEDS[0]]
    return [
        f"{CELL}/profile/{device}_b{b}.csv".format(**cell)
        for device in PROFILING["devices"]
        for b in device_batch_sizes(device, PROFILING["batch_sizes"])
        for cell in cells_
    ]


def all_targets():
    targets = [f"results/{d}/figures/rasters.png" for d in DATASETS]
    targets += [
        f"results/{d}/prepared/{split}.npz" for d in DATASETS for split in dataset_splits(config, d)
    ]
    targets += ["results/tables/accuracy_float.csv"]
    targets += cell_paths("model.nir")
    targets += ["results/tables/accuracy_fixed.csv"]
    if PROFILING["devices"]:
        targets += ["results/tables/table2.csv"]
    return targets
