"""Config files validate; bad configs fail with messages naming the key."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from neurokws import paper
from neurokws.config import (
    check_config,
    coerce_strings,
    dataset_splits,
    default_config,
    deployed_bits,
    load_schema,
    network_config,
    resolve_config,
    schema_default,
    train_settings,
    value_for_hidden,
)
from neurokws.utils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "config" / "schema.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "digits_full.yaml", "synthetic.yaml",
                                  "paper.yaml", "sequence.yaml"])
def test_shipped_configs_are_valid(name):
    check_config(load(name), SCHEMA)


def test_paper_config_is_table_one():
    config = resolve_config(load("paper.yaml"))
    for (dataset, hidden), value in paper.TABLE_I_REG_LAMBDA.items():
        settings = train_settings(config, dataset, hidden)
        assert settings.reg_lambda_upper == settings.reg_lambda_lower == value
        assert settings.epochs == paper.EPOCHS[dataset]
        assert set(settings.augmentations) == set(paper.AUGMENTATIONS[dataset])
    assert train_settings(config, "SHD", 256).blend_n_new == paper.BLEND_N_NEW
    assert sorted(config["hidden_sizes"]) == list(paper.HIDDEN_SIZES)
    assert len(config["seeds"]) == paper.SEEDS
    assert set(config["datasets"]) == set(paper.DATASETS)
    assert dataset_splits(config, "SSC") == ["train", "valid", "test"]
    assert dataset_splits(config, "SHD") == ["train", "test"]
    assert tuple(config["profiling"]["batch_sizes"]) == paper.PROFILING_BATCH_SIZES


def test_resolution_fills_every_default_from_the_schema():
    config = resolve_config({"datasets": {"x": {"source": "synthetic"}}, "hidden_sizes": [8],
                             "seeds": [1]})
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    training = schema["properties"]["training"]["properties"]

    def defaults(props):   # nested sections' defaults come from their own keys
        return {k: defaults(v["properties"]) if v.get("type") == "object" else v["default"]
                for k, v in props.items()}

    assert config["training"] == defaults(training)
    assert config["training"]["delays"]["lr"] == training["delays"]["properties"]["lr"]["default"]
    assert config["delays"] == [False]   # the grid's delay axis: the paper's network
    assert config["datasets"]["x"]["shift_max"] == \
        schema["$defs"]["dataset"]["properties"]["shift_max"]["default"]
    assert schema_default("deploy.percentile") == config["deploy"]["percentile"]
    assert default_config()["model"] == config["model"]
    with pytest.raises(KeyError, match=r"no default for 'deploy\.nope'"):
        schema_default("deploy.nope")
    with pytest.raises(ConfigError, match="no config given"):
        resolve_config({})


@pytest.mark.parametrize("name", ["config.yaml", "digits_full.yaml", "synthetic.yaml",
                                  "paper.yaml", "sequence.yaml"])
def test_defaults_are_filled_as_snakemakes_validate_fills_them(name):
    """resolve_config fills defaults with its own jsonschema validator (the schema parsed
    once); the completed config is Snakemake's `validate(set_default=True)`'s, key for key
    (a validator that skipped nested sections' defaults, or items', would differ here)."""
    from snakemake.utils import validate

    ours = resolve_config(load(name))
    theirs = load(name)
    coerce_strings(theirs, load_schema(), load_schema())
    validate(theirs, SCHEMA, set_default=True)
    assert ours == theirs
    assert load_schema() is not load_schema()   # a fresh copy each time: defaults are objects

def test_command_line_strings_are_coerced_to_the_schema_types():
    # Snakemake hands nested --config values over as text: training='{batch_size: 1}'.
    config = resolve_config({
        "datasets": {"x": {"reg_lambda": {"8": "1e-9"},
                           "blend_n_new": "null", "synthetic": {"n_train": "64"},
                           "files": {"train": "123", "test": "t.h5"}, "source": "files"}},
        "hidden_sizes": ["8"], "seeds": ["3"],
        "training": {"batch_size": "1", "lr": "1e-3", "progress_bar": "false"},
        "deploy": {"bits": ["8", "4"]}, "lava": {"n_samples": "null"}})
    assert config["training"]["batch_size"] == 1 and config["training"]["lr"] == 1e-3
    assert config["training"]["progress_bar"] is False
    assert config["hidden_sizes"] == [8] and config["seeds"] == [3]
    assert config["deploy"]["bits"] == [8, 4] and config["lava"]["n_samples"] is None
    assert config["datasets"]["x"]["reg_lambda"] == {"8": 1e-9}
    assert config["datasets"]["x"]["synthetic"]["n_train"] == 64
    assert config["datasets"]["x"]["blend_n_new"] is None
    assert config["datasets"]["x"]["files"]["train"] == "123"   # a string stays a string
    with pytest.raises(ConfigError, match=r"'training.batch_size': 'one' is not of type "
                                          r"'integer' \(values given with --config"):
        resolve_config({**load("config.yaml"), "training": {"batch_size": "one"}})


def test_deployed_bits_is_the_papers_eight_when_swept():
    assert deployed_bits({"deploy": {"bits": [4, 8, 6]}}) == paper.WEIGHT_BITS == 8
    assert deployed_bits({"deploy": {"bits": [4, 6]}}) == 6


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["training"].update(batch_sze=3), "unknown key 'training.batch_sze'"),
    (lambda c: c.update(hidden=[1]), "unknown key 'hidden'"),
    (lambda c: c["training"].update(batch_size=0), "'training.batch_size'"),
    (lambda c: c["training"].update(lr="fast"), "'training.lr'"),
    (lambda c: c["datasets"]["synth"].update(augmentations=["flip"]),
     "'datasets.synth.augmentations.0'"),
    (lambda c: c["datasets"]["synth"].update(reg_lambda={"128": 1e-9, "25x": 1.0}),
     "'datasets.synth.reg_lambda'"),
    (lambda c: c["datasets"]["synth"].update(reg_lambda={512: 1e-9}),
     "'datasets.synth.reg_lambda' has no value for hidden size(s) [128]"),
    (lambda c: c["model"].update(tau_mem_ms=-1), "'model.tau_mem_ms'"),
])
def test_bad_config_names_the_key(mutate, expected):
    config = copy.deepcopy(load("synthetic.yaml"))
    mutate(config)
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    assert expected in str(info.value)


def test_delay_cells_without_a_connection_with_delays_fail_at_load():
    config = copy.deepcopy(load("synthetic.yaml"))
    config.update(delays=[False, True])
    config["model"]["delays"] = {"max_in": 0, "max_rec": 0}
    with pytest.raises(ConfigError, match=r"'delays' has true, but 'model\.delays' max_in "
                                          r"and max_rec are both 0"):
        resolve_config(config)
    config["model"]["delays"] = {"max_in": 0}   # max_rec: the schema's default, 62
    assert resolve_config(config)["model"]["delays"]["max_rec"] == 62


def test_value_for_hidden_map_and_scalar():
    assert value_for_hidden(1e-9, 256, "k") == 1e-9
    assert value_for_hidden({256: 1e-9, "512": 2e-9}, 512, "k") == 2e-9
    with pytest.raises(ConfigError, match="no entry for hidden size 1024"):
        value_for_hidden({256: 1e-9}, 1024, "datasets.x.reg_lambda")


def test_network_config_from_model_section():
    net = network_config(resolve_config(load("synthetic.yaml")), 128, n_out=10, n_in=700)
    assert (net.n_in, net.n_hidden, net.n_out, net.n_steps) == (700, 128, 10, 1000)
    assert net.alpha == pytest.approx(0.951229, abs=1e-6)
    assert net.beta == pytest.approx(0.818731, abs=1e-6)
    assert net.current_scale == pytest.approx(0.906346, abs=1e-6)


@pytest.mark.workflow
def test_snakemake_stops_before_any_job_on_unknown_key(tmp_path):
    config = load("config.yaml")
    config["training"]["batch_sze"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "unknown key 'training.batch_sze'" in proc.stdout + proc.stderr


def test_empty_samples_are_refused_unless_allowed():
    import numpy as np

    from neurokws.data.formats.events import EventSplit
    from neurokws.data.formats.prepared import check_nonempty
    from neurokws.utils.errors import DataFormatError

    split = EventSplit(times_us=np.array([5, 9]), units=np.array([1, 2]),
                       offsets=np.array([0, 2, 2, 2]), labels=np.array([0, 1, 0]))
    with pytest.raises(DataFormatError, match=r"x\.h5: 2 of 3 samples have no events.*\[1, 2\]"):
        check_nonempty(split, "x.h5")
    check_nonempty(split, "x.h5", allow_empty=True)
