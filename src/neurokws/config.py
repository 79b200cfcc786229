"""Resolve the validated workflow config into per-cell settings (dataset x hidden x seed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from neurokws.model.network import NetworkConfig
from neurokws.utils.errors import ConfigError

DOWNLOAD_SOURCES = {"shd": "SHD", "ssc": "SSC"}
SPLITS_WITH_VALID = {"ssc"}


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
    nu_upper: float
    reg_lambda_upper: float
    reg_lambda_lower: float
    rescue_increment: float
    augmentations: tuple[str, ...]
    shift_max: int
    blend_n_new: int | None
    select_checkpoint: str
    progress_bar: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augmentations"] = list(self.augmentations)
        return data


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


def network_config(config: dict, n_hidden: int, n_out: int, n_in: int = 700) -> NetworkConfig:
    """The NetworkConfig of one cell from the `model` section."""
    model = config.get("model", {})
    return NetworkConfig(n_hidden=int(n_hidden), n_out=int(n_out), n_in=int(n_in),
                         n_steps=int(model.get("n_steps", 1000)),
                         dt=float(model.get("dt_ms", 1.0)),
                         tau_mem=float(model.get("tau_mem_ms", 20.0)),
                         tau_syn=float(model.get("tau_syn_ms", 5.0)),
                         v_th=float(model.get("v_th", 1.0)))


def train_settings(config: dict, dataset: str, hidden: int) -> TrainSettings:
    """The TrainSettings of one cell: dataset section + training section + Table I value."""
    try:
        ds = config["datasets"][dataset]
    except KeyError as exc:
        raise ConfigError(f"dataset '{dataset}' is not in config 'datasets'") from exc
    tr = config.get("training", {})
    reg = ds.get("reg_lambda", 2.5e-10)
    upper = value_for_hidden(reg, hidden, f"datasets.{dataset}.reg_lambda")
    lower_value = ds.get("reg_lambda_lower")
    lower = (upper if lower_value is None else
             value_for_hidden(lower_value, hidden, f"datasets.{dataset}.reg_lambda_lower"))
    return TrainSettings(
        epochs=int(ds.get("epochs", 50)), batch_size=int(tr.get("batch_size", 32)),
        lr=float(tr.get("lr", 1e-3)), adam_beta1=float(tr.get("adam_beta1", 0.9)),
        adam_beta2=float(tr.get("adam_beta2", 0.999)), adam_eps=float(tr.get("adam_eps", 1e-8)),
        ease_in_start_lr=float(tr.get("ease_in_start_lr", 1e-6)),
        ease_in_factor=float(tr.get("ease_in_factor", 1.05)),
        plateau_fast=float(tr.get("plateau_fast", 0.8)),
        plateau_slow=float(tr.get("plateau_slow", 0.85)),
        plateau_patience=int(tr.get("plateau_patience", 50)),
        plateau_factor=float(tr.get("plateau_factor", 0.5)),
        nu_upper=float(tr.get("nu_upper", 14.0)),
        reg_lambda_upper=upper, reg_lambda_lower=lower,
        rescue_increment=float(tr.get("rescue_increment", 0.002)),
        augmentations=tuple(ds.get("augmentations", ["shift"])),
        shift_max=int(ds.get("shift_max", 40)),
        blend_n_new=ds.get("blend_n_new"),
        select_checkpoint=str(tr.get("select_checkpoint", "auto")),
        progress_bar=bool(tr.get("progress_bar", True)))


def dataset_splits(config: dict, dataset: str) -> list[str]:
    """Splits a dataset provides: train and test, plus valid where the source has one."""
    ds = config["datasets"][dataset]
    has_valid = (ds["source"] in SPLITS_WITH_VALID
                 or (ds["source"] == "files" and "valid" in ds.get("files", {})))
    return ["train", "valid", "test"] if has_valid else ["train", "test"]


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def check_config(config: dict, schema_path: str) -> None:
    """Raise ConfigError listing every schema violation by its dotted key, plus grid checks.

    Runs before snakemake.utils.validate (which fills defaults) so that users see short,
    key-named messages instead of schema dumps.
    """
    import jsonschema
    import yaml

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator_cls = jsonschema.validators.validator_for(schema)
    problems = []
    for error in sorted(validator_cls(schema).iter_errors(config), key=lambda e: list(e.path)):
        where = _key_path(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in unknown:
                problems.append(f"unknown key '{_key_path([*error.absolute_path, key])}'")
            continue
        problems.append(f"'{where}': {error.message}")
    if not problems:
        problems = _grid_problems(config)
    if problems:
        raise ConfigError("invalid config (see config/schema.yaml for every key):\n  - "
                          + "\n  - ".join(problems))


def _grid_problems(config: dict) -> list[str]:
    """Checks a JSON schema cannot express: per-hidden maps cover every hidden size."""
    problems = []
    for name, ds in config["datasets"].items():
        for key in ("reg_lambda", "reg_lambda_lower"):
            value = ds.get(key)
            if isinstance(value, dict):
                missing = sorted(set(config["hidden_sizes"]) - {int(k) for k in value})
                if missing:
                    problems.append(f"'datasets.{name}.{key}' has no value for hidden "
                                    f"size(s) {missing}")
        if ds["source"] == "files" and "files" not in ds:
            problems.append(f"'datasets.{name}.files' is required when source is 'files'")
    return problems
