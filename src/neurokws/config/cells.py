"""Per-cell settings from a resolved config (one dataset x hidden size x delays x seed):
the network (`network_config`, the `model` section), training (`train_settings`: the
dataset's and the `training` section's keys of the same names, plus the Table I value for
the hidden size), delay training, QAT and the deployed precisions. The settings classes are
filled from the config by field name (`from_sections`), so a new key is one field."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from neurokws import paper
from neurokws.config.schema import default_config
from neurokws.data.formats.events import N_CHANNELS
from neurokws.model.network import NetworkConfig
from neurokws.utils.errors import ConfigError

DOWNLOAD_SOURCES = {"shd": "SHD", "ssc": "SSC"}
SPLITS_WITH_VALID = {"ssc"}
COCHLEA_SOURCES = ("spoken_digits", "audio")   # audio through neurokws.data.cochlea
GENERATED_SOURCES = ("synthetic", "sequence")  # spikes made by a generator


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


T = typing.TypeVar("T")
_SCALARS = {int: int, float: float, str: str, bool: bool}
_UNION = type(int | None)   # X | None annotations (typing.Optional is typing.Union)


def from_sections(cls: type[T], sections: Sequence[Mapping[str, Any]], **given: Any) -> T:
    """An instance of the settings dataclass `cls`: each field not `given` takes the value
    of the config key of the same name in the first of `sections` that has it, converted to
    the field's declared type (int, float, str, bool, a tuple; None where the type allows
    it). A field that no section has is a programming error (KeyError naming it)."""
    hints = typing.get_type_hints(cls)
    values = dict(given)
    for field in dataclasses.fields(cls):
        if field.name in values:
            continue
        section = next((s for s in sections if field.name in s), None)
        if section is None:
            raise KeyError(f"{cls.__name__}.{field.name}: no config key of that name in "
                           "its sections")
        values[field.name] = _convert(hints[field.name], section[field.name])
    return cls(**values)


def _convert(kind: Any, value: Any) -> Any:
    options = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union,
                                                                     _UNION) else (kind,)
    if value is None and type(None) in options:
        return None
    base = next(o for o in options if o is not type(None))
    if typing.get_origin(base) is tuple:
        return tuple(value)
    return _SCALARS[base](value) if base in _SCALARS else value



@functools.cache
def _default_model() -> dict[str, Any]:
    return default_config()["model"]


def default_network(n_hidden: int, n_out: int, n_in: int = N_CHANNELS,
                    **fields: Any) -> NetworkConfig:
    """A NetworkConfig with the schema's `model` defaults; `fields` (NetworkConfig names,
    e.g. n_steps=250, dt=0.5) override them. For tests, benchmarks and notebooks."""
    net = network_config({"model": _default_model()}, n_hidden, n_out, n_in)
    return dataclasses.replace(net, **fields)


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
    start = {"init_in": 0.0, "init_rec": 0.0} if fine_tunes_delay_free(config) else {}
    return from_sections(DelayTraining, (config["training"]["delays"],), **start)


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
    """The TrainSettings of one cell of a resolved config: each field the dataset's or the
    `training` section's key of its name; the regulariser's strengths the dataset's values
    for this hidden size (Table I)."""
    try:
        ds = config["datasets"][dataset]
    except KeyError as exc:
        raise ConfigError(f"dataset '{dataset}' is not in config 'datasets'") from exc
    upper = value_for_hidden(ds["reg_lambda"], hidden, f"datasets.{dataset}.reg_lambda")
    lower_value = ds.get("reg_lambda_lower")  # optional key: absent means "as reg_lambda"
    lower = (upper if lower_value is None else
             value_for_hidden(lower_value, hidden, f"datasets.{dataset}.reg_lambda_lower"))
    return from_sections(TrainSettings, (ds, config["training"]), reg_lambda_upper=upper,
                         reg_lambda_lower=lower)


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
    fine_tuning = qat["init"] == "float"
    # qat.lr_quanta is the rate; QuantTraining.lr_quanta says the rate is in quanta
    return from_sections(QuantTraining, (config["deploy"], qat), bits=int(bits),
                         exponents=None, lr_quanta=fine_tuning,
                         scale_search=int(qat["scale_search"]) if fine_tuning else 0)


def deployed_bits(config: dict) -> int:
    """The weight bit width whose deployment Table II profiles and Figure 4 shows: the
    paper's 8 bits when `deploy.bits` has it, else the widest configured."""
    bits = [int(b) for b in config["deploy"]["bits"]]
    return paper.WEIGHT_BITS if paper.WEIGHT_BITS in bits else max(bits)
