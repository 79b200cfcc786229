"""The workflow config: one schema holds every key, its default and its check.

`config/schema.yaml` is the only place a default is written. `resolve_config` turns what a
user gave (a YAML file, `--config` overrides) into the config every rule reads: command-line
strings coerced to the types the schema asks for, every violation reported by its dotted
key, then the schema's defaults filled in (Snakemake's `validate(set_default=True)`).
Downstream code reads the resolved config with plain indexing and never supplies a default
of its own; `default_config()` gives the defaults to code that runs outside a workflow.

Per-cell values (one dataset x hidden size x seed) are derived here too: `network_config`
(the `model` section) and `train_settings` (dataset + `training` sections + Table I value).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from neurokws import paper
from neurokws.data.events import N_CHANNELS
from neurokws.model.network import NetworkConfig
from neurokws.utils.errors import ConfigError
from neurokws.utils.paths import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"
DOWNLOAD_SOURCES = {"shd": "SHD", "ssc": "SSC"}
SPLITS_WITH_VALID = {"ssc"}
COCHLEA_SOURCES = ("spoken_digits", "audio")   # audio through neurokws.data.cochlea
GENERATED_SOURCES = ("synthetic", "sequence")  # spikes made by a generator
_MINIMAL = {"datasets": {"default": {"source": "synthetic"}}, "hidden_sizes": [1], "seeds": [0]}


@dataclass(frozen=True)
class TrainSettings:
    """Everything the trainer needs for one (dataset, hidden size, seed) cell."""

    epochs: int
    batch_size: int
    lr: float
    adam_beta1: float
    adam_beta2: float
    adam_eps: float
    ease_in_start_lr: float
    ease_in_factor: float
    plateau_fast: float
    plateau_slow: float
    plateau_patience: int
    plateau_factor: float
    lr_anneal: str
    nu_upper: float
    reg_lambda_upper: float
    reg_lambda_lower: float
    rescue_increment: float
    augmentations: tuple[str, ...]
    shift_max: int
    blend_n_new: int | None
    select_checkpoint: str
    progress_bar: bool
    block_batches: int | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augmentations"] = list(self.augmentations)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSettings:
        """Inverse of to_dict (e.g. a rule's `params.settings`)."""
        return cls(**{**data, "augmentations": tuple(data["augmentations"])})


@dataclass(frozen=True)
class DelayTraining:
    """How delays are learned (config `training.delays`): Adam's rate for the delays (steps
    per update) and the upper ends (steps) of the uniform initial delays per connection."""

    lr: float
    init_in: float
    init_rec: float

    def __post_init__(self) -> None:
        if not self.lr >= 0 or min(self.init_in, self.init_rec) < 0:
            raise ValueError("training.delays: lr and the initial ranges must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DelayTraining:
        return cls(**data)


@dataclass(frozen=True)
class QuantTraining:
    """Quantization-aware training (train/qat.py) for one deployment: the weight bit width
    (config `deploy.bits`) and the scale percentile (`deploy.percentile`), exactly as the
    deployment's quantization will use them; for fine-tuning a float model
    (`training.qat.init: float`) also the scale held fixed and the rate in quanta."""

    bits: int           # checked where it is used, by deploy.quantize.quantize
    percentile: float
    # Fine-tuning (None: QAT from scratch, the scale re-derived every batch): the power-of-two
    # scales (hidden, output) held fixed, those of the starting model's post-training
    # quantization (train/qat.py fix_scale), and Adam's rate in weight quanta per layer.
    exponents: tuple[int, int] | None = None
    lr_quanta: bool = False   # the settings' lr is in quanta of each layer's weight step
    # an epoch replaces PTQ's candidate only above its selection accuracy p by this many
    # standard errors sqrt(p (1 - p) / n) (train.loop.select_start)
    margin_se: float = 0.0
    # fine-tuning's scales: besides PTQ's, each layer's exponent up to this many powers of
    # two lower is tried on the selection split (train.loop.search_scale; 0: PTQ's)
    scale_search: int = 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["exponents"] = None if self.exponents is None else list(self.exponents)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> QuantTraining:
        data = dict(data)
        if data.get("exponents") is not None:
            data["exponents"] = tuple(int(e) for e in data["exponents"])
        return cls(**data)


@functools.cache
def _schema_text(path: str) -> str:
    return Path(path).read_text()


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The JSON schema (a fresh copy: validation may write defaults into subschemas)."""
    return yaml.safe_load(_schema_text(str(path)))


def resolve_config(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH
                   ) -> dict[str, Any]:
    """Coerce, check and complete `config` in place (and return it); ConfigError if bad."""
    if not config:
        raise ConfigError(
            "no config given: run with `--configfile config/config.yaml` (the embedded "
            "default), `--configfile config/paper.yaml` (the paper's grid) or your own file.")
    schema = load_schema(schema_path)
    coerce_strings(config, schema, schema)
    check_config(config, schema_path)
    from snakemake.utils import validate

    validate(config, str(schema_path), set_default=True)
    maxima = config["model"]["delays"]   # checks of the completed config
    if True in [bool(d) for d in config["delays"]] and not max(maxima["max_in"],
                                                                maxima["max_rec"]):
        raise ConfigError("invalid config (see config/schema.yaml for every key):\n  - "
                          "'delays' has true, but 'model.delays' max_in and max_rec are both "
                          "0: give the cells with delays a maximum above 0, or set "
                          "delays: [false]")
    return config


def default_config(**sections: Any) -> dict[str, Any]:
    """A resolved config for code outside the workflow: the schema's defaults for every
    section not given; `sections` (top-level keys: datasets=..., model=..., ...) as given.
    Without datasets/hidden_sizes/seeds, one synthetic dataset 'default' x [1] x [0]."""
    return resolve_config(copy.deepcopy({**_MINIMAL, **sections}))


@functools.cache
def _default_model() -> dict[str, Any]:
    return default_config()["model"]


def default_network(n_hidden: int, n_out: int, n_in: int = N_CHANNELS,
                    **fields: Any) -> NetworkConfig:
    """A NetworkConfig with the schema's `model` defaults; `fields` (NetworkConfig names,
    e.g. n_steps=250, dt=0.5) override them. For tests, benchmarks and notebooks."""
    net = network_config({"model": _default_model()}, n_hidden, n_out, n_in)
    return dataclasses.replace(net, **fields)


def schema_default(dotted: str) -> Any:
    """The schema's default of one key, e.g. 'deploy.percentile' or 'model' (a section);
    dataset keys under the minimal config's dataset: 'datasets.default.shift_max'."""
    value: Any = default_config()
    for part in dotted.split("."):
        try:
            value = value[part]
        except (KeyError, TypeError) as exc:
            raise KeyError(f"config/schema.yaml has no default for '{dotted}'") from exc
    return copy.deepcopy(value)


# ---- command-line strings -> schema types --------------------------------------------------

def _deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local '$ref' ('#/$defs/name'), merging the referring schema's other keys."""
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _alternatives(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _deref(schema, root)
    options = schema.get("oneOf") or schema.get("anyOf")
    if not options:
        return [schema]
    return [alt for option in options for alt in _alternatives(option, root)]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if kind is None:
        return {"string"} if any(isinstance(v, str) for v in schema.get("enum", [])) else set()
    return {kind} if isinstance(kind, str) else set(kind)


def _coerce_scalar(text: str, options: list[dict[str, Any]]) -> Any:
    types = set().union(*(_types(o) for o in options))
    if "string" in types or not types:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and "number" in types:  # YAML 1.1 reads '1e-3' as text
        try:
            value = float(text)
        except ValueError:
            return text
    if isinstance(value, bool):
        return value if "boolean" in types else text
    if isinstance(value, int) and types & {"integer", "number"}:
        return value
    if isinstance(value, float) and "number" in types:
        return value
    if value is None and "null" in types:
        return None
    return text


def coerce_strings(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """Convert strings where the schema expects a number, boolean or null (in place).

    Snakemake parses nested `--config key='{a: 1}'` values with YAML's BaseLoader, so every
    leaf arrives as a string; a string stays a string wherever the schema allows one.
    """
    options = _alternatives(schema, root)
    if isinstance(value, str):
        return _coerce_scalar(value, options)
    if isinstance(value, dict):
        for key in list(value):
            for option in options:
                sub = option.get("properties", {}).get(key)
                extra = option.get("additionalProperties")
                if sub is None and isinstance(extra, dict):
                    sub = extra
                if sub is not None:
                    value[key] = coerce_strings(value[key], sub, root)
                    break
    elif isinstance(value, list):
        for option in options:
            items = option.get("items")
            if isinstance(items, dict):
                value[:] = [coerce_strings(v, items, root) for v in value]
                break
    return value


# ---- checks ----------------------------------------------------------------------------------

def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def check_config(config: dict, schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise ConfigError listing every schema violation by its dotted key, plus grid checks.

    Runs before the default-filling validation so that users see short, key-named messages
    instead of schema dumps.
    """
    import jsonschema

    schema = load_schema(schema_path)
    validator_cls = jsonschema.validators.validator_for(schema)
    problems = []
    for error in sorted(validator_cls(schema).iter_errors(config), key=lambda e: list(e.path)):
        where = _key_path(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in unknown:
                problems.append(f"unknown key '{_key_path([*error.absolute_path, key])}'")
            continue
        message = error.message
        if isinstance(error.instance, str) and error.validator == "type":
            message += (" (values given with --config arrive as text; use a YAML file with "
                        "--configfile for nested settings)")
        problems.append(f"'{where}': {message}")
    if not problems:
        problems = _grid_problems(config)
    if problems:
        raise ConfigError("invalid config (see config/schema.yaml for every key):\n  - "
                          + "\n  - ".join(problems))


def _grid_problems(config: dict) -> list[str]:
    """Checks a JSON schema cannot express: per-hidden maps cover every hidden size (and
    per-bits maps every bit width)."""
    problems = []
    # (a config checked before the schema's defaults are filled in may lack these sections)
    training = config.get("training") or {}
    threads = training["threads"] if "threads" in training else None
    if isinstance(threads, dict):
        missing = sorted(set(config["hidden_sizes"]) - {int(k) for k in threads})
        if missing:
            problems.append(f"'training.threads' has no value for hidden size(s) {missing}")
    limits = config.get("resources") or {}
    cap = limits["max_threads"] if "max_threads" in limits else None
    if cap is not None:
        profiling = config.get("profiling") or {}
        asked = {"training.threads": max(threads.values()) if isinstance(threads, dict)
                 else threads,
                 "profiling.threads": profiling["threads"] if "threads" in profiling else None}
        for key, value in asked.items():
            if value is not None and value > cap:
                problems.append(f"'{key}' asks for {value} cores, more than "
                                f"'resources.max_threads' ({cap}): lower it or raise the cap "
                                "to the node's cores")
    qat = training["qat"] if "qat" in training else {}
    epochs = qat["epochs"] if "epochs" in qat else None
    deploy = config.get("deploy") or {}
    if isinstance(epochs, dict) and "bits" in deploy:
        missing = sorted({int(b) for b in deploy["bits"]} - {int(k) for k in epochs})
        if missing:
            problems.append(f"'training.qat.epochs' has no value for bit width(s) {missing}")
    for name, ds in config["datasets"].items():
        for key in ("reg_lambda", "reg_lambda_lower"):
            value = ds.get(key)
            if isinstance(value, dict):
                missing = sorted(set(config["hidden_sizes"]) - {int(k) for k in value})
                if missing:
                    problems.append(f"'datasets.{name}.{key}' has no value for hidden "
                                    f"size(s) {missing}")
        for source in ("files", "audio"):
            if ds["source"] == source and source not in ds:
                problems.append(f"'datasets.{name}.{source}' is required when source is "
                                f"'{source}'")
    return problems


# ---- per-cell values -------------------------------------------------------------------------

def value_for_hidden(value: float | dict, hidden: int, key: str) -> float:
    """Pick a per-hidden-size value: a plain number, or a map hidden size -> number."""
    if isinstance(value, dict):
        table = {int(k): float(v) for k, v in value.items()}
        if hidden not in table:
            raise ConfigError(
                f"config key '{key}' has no entry for hidden size {hidden} "
                f"(has {sorted(table)}); add '{hidden}: <value>' or give one number.")
        return table[hidden]
    return float(value)


def training_threads(config: dict, hidden: int) -> int:
    """Cores a training job of hidden size `hidden` uses (training.threads)."""
    return int(value_for_hidden(config["training"]["threads"], hidden, "training.threads"))


def network_config(config: dict, n_hidden: int, n_out: int, n_in: int,
                   delays: bool = False) -> NetworkConfig:
    """The NetworkConfig of one cell from a resolved config's `model` section; `delays`:
    the cell's value on the grid's delay axis (False: the paper's delay-free network)."""
    model = config["model"]
    top = model["delays"] if delays else {"max_in": 0, "max_rec": 0}
    if delays and not max(top["max_in"], top["max_rec"]):
        raise ConfigError("a cell with delays needs model.delays.max_in or max_rec > 0")
    return NetworkConfig(n_hidden=int(n_hidden), n_out=int(n_out), n_in=int(n_in),
                         n_steps=int(model["n_steps"]), dt=float(model["dt_ms"]),
                         tau_mem=float(model["tau_mem_ms"]), tau_syn=float(model["tau_syn_ms"]),
                         v_th=float(model["v_th"]), max_delay_in=int(top["max_in"]),
                         max_delay_rec=int(top["max_rec"]))


def delay_training(config: dict, delays: bool) -> DelayTraining | None:
    """How a cell learns its delays (`training.delays`), None for a cell without delays.
    Fine-tuning the delay-free model (start delay_free) starts every delay at 0."""
    if not delays:
        return None
    spec = config["training"]["delays"]
    if fine_tunes_delay_free(config):
        return DelayTraining(lr=float(spec["lr"]), init_in=0.0, init_rec=0.0)
    return DelayTraining(lr=float(spec["lr"]), init_in=float(spec["init_in"]),
                         init_rec=float(spec["init_rec"]))


def fine_tunes_delay_free(config: dict) -> bool:
    """Whether the cells with delays fine-tune their delay-free twin's trained model
    (`training.delays.start: delay_free`) instead of training from scratch."""
    return config["training"]["delays"]["start"] == "delay_free"


def cell_train_settings(config: dict, dataset: str, hidden: int, delays: bool
                        ) -> TrainSettings:
    """The TrainSettings of one cell of the grid: the dataset's (train_settings), or for a
    cell with delays that fine-tunes its delay-free twin, `training.delays.epochs` at
    `weight_lr`, cosine-annealed, no ease-in (as qat_settings)."""
    settings = train_settings(config, dataset, hidden)
    if not (delays and fine_tunes_delay_free(config)):
        return settings
    spec = config["training"]["delays"]
    lr = float(spec["weight_lr"])
    return dataclasses.replace(settings, epochs=int(spec["epochs"]), lr=lr,
                               ease_in_start_lr=lr, lr_anneal="cosine")


def train_settings(config: dict, dataset: str, hidden: int) -> TrainSettings:
    """The TrainSettings of one cell of a resolved config: dataset + training sections."""
    try:
        ds = config["datasets"][dataset]
    except KeyError as exc:
        raise ConfigError(f"dataset '{dataset}' is not in config 'datasets'") from exc
    tr = config["training"]
    upper = value_for_hidden(ds["reg_lambda"], hidden, f"datasets.{dataset}.reg_lambda")
    lower_value = ds.get("reg_lambda_lower")  # optional key: absent means "as reg_lambda"
    lower = (upper if lower_value is None else
             value_for_hidden(lower_value, hidden, f"datasets.{dataset}.reg_lambda_lower"))
    return TrainSettings(
        epochs=int(ds["epochs"]), batch_size=int(tr["batch_size"]), lr=float(tr["lr"]),
        adam_beta1=float(tr["adam_beta1"]), adam_beta2=float(tr["adam_beta2"]),
        adam_eps=float(tr["adam_eps"]), ease_in_start_lr=float(tr["ease_in_start_lr"]),
        ease_in_factor=float(tr["ease_in_factor"]), plateau_fast=float(tr["plateau_fast"]),
        plateau_slow=float(tr["plateau_slow"]), plateau_patience=int(tr["plateau_patience"]),
        plateau_factor=float(tr["plateau_factor"]), lr_anneal=str(tr["lr_anneal"]),
        nu_upper=float(tr["nu_upper"]),
        reg_lambda_upper=upper, reg_lambda_lower=lower,
        rescue_increment=float(tr["rescue_increment"]),
        augmentations=tuple(ds["augmentations"]), shift_max=int(ds["shift_max"]),
        blend_n_new=ds["blend_n_new"], select_checkpoint=str(tr["select_checkpoint"]),
        progress_bar=bool(tr["progress_bar"]), block_batches=tr["block_batches"])


def dataset_splits(config: dict, dataset: str) -> list[str]:
    """Splits a dataset provides: train and test, plus valid where the source has one."""
    ds = config["datasets"][dataset]
    has_valid = (ds["source"] in SPLITS_WITH_VALID
                 or (ds["source"] == "files" and "valid" in ds["files"])
                 or (ds["source"] == "audio" and ds["audio"]["valid_split"]))
    return ["train", "valid", "test"] if has_valid else ["train", "test"]


QUANT_DIRS = {"ptq": "int", "qat": "qat"}   # deploy.methods -> a model's directory prefix


def quant_method(prefix: str) -> str:
    """The deploy.methods entry of a model directory prefix (`int` -> ptq, `qat` -> qat)."""
    return {v: k for k, v in QUANT_DIRS.items()}[prefix]


def precision_tag(bits: int, delay_bits: int | None = None) -> str:
    """A deployed model's folder suffix after its method's prefix (QUANT_DIRS): `<bits>`
    (weight bits; delays as the model has them) or `<bits>d<delay bits>` (delays held in
    fewer bits, deploy.delay_bits: model.network.with_delay_bits), e.g. qat4d3/."""
    return f"{int(bits)}" if delay_bits is None else f"{int(bits)}d{int(delay_bits)}"


def parse_precision(tag: str) -> tuple[int, int | None]:
    """(weight bits, delay bits or None) of a precision_tag."""
    bits, _, delay_bits = str(tag).partition("d")
    return int(bits), (int(delay_bits) if delay_bits else None)


def precision_tags(config: dict, delays: bool) -> list[str]:
    """The precisions a cell deploys at: every weight bit width (`deploy.bits`), and in a
    cell with delays also each of them with every `deploy.delay_bits` narrower than the
    model's own delays (model.delays: 62 steps take 6 bits)."""
    bits = [int(b) for b in config["deploy"]["bits"]]
    own = max(config["model"]["delays"]["max_in"], config["model"]["delays"]["max_rec"])
    narrower = [int(d) for d in config["deploy"]["delay_bits"]
                if delays and int(d) < int(own).bit_length()]
    return [precision_tag(b, d) for b in bits for d in [None, *narrower]]


def qat_settings(config: dict, dataset: str, hidden: int, bits: int) -> TrainSettings:
    """The TrainSettings of a cell's QAT run at `bits` (`training.qat`): fine-tuning the
    float model (init float: qat.epochs, one number or per bit width, at qat.lr_quanta
    weight steps, cosine-annealed, no ease-in, selected on the validation split, which a
    held-out share of the training split stands in for where the dataset has none) or the
    cell's own settings (init scratch)."""
    settings = train_settings(config, dataset, hidden)
    spec = config["training"]["qat"]
    if spec["init"] == "scratch":
        return settings
    epochs = spec["epochs"]
    if isinstance(epochs, dict):
        table = {int(k): int(v) for k, v in epochs.items()}
        if int(bits) not in table:
            raise ConfigError(
                f"config key 'training.qat.epochs' has no entry for {bits} bits (has "
                f"{sorted(table)}); add '{bits}: <epochs>' or give one number.")
        epochs = table[int(bits)]
    return dataclasses.replace(settings, epochs=int(epochs),
                               lr=float(spec["lr_quanta"]),
                               ease_in_start_lr=float(spec["lr_quanta"]), lr_anneal="cosine",
                               select_checkpoint="best_valid")


def quant_training(config: dict, bits: int) -> QuantTraining:
    """The QAT target of one bit width: `bits` and deploy.percentile, as deployment uses;
    fine-tuning (training.qat.init float) takes its rate in weight quanta and searches its
    scales (both fixed from the starting model by train.loop.train)."""
    qat = config["training"]["qat"]
    return QuantTraining(bits=int(bits), percentile=float(config["deploy"]["percentile"]),
                         lr_quanta=qat["init"] == "float", margin_se=float(qat["margin_se"]),
                         scale_search=int(qat["scale_search"]) if qat["init"] == "float" else 0)


def deployed_bits(config: dict) -> int:
    """The weight bit width whose deployment Table II profiles and Figure 4 shows: the
    paper's 8 bits when `deploy.bits` has it, else the widest configured."""
    bits = [int(b) for b in config["deploy"]["bits"]]
    return paper.WEIGHT_BITS if paper.WEIGHT_BITS in bits else max(bits)
