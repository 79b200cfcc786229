"""The installed `neurokws` command: inspect, quantize + export, emulate; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurokws.config import default_network, schema_default
from neurokws.data.formats.heidelberg import write_split
from neurokws.data.sources.synthetic import generate_split
from neurokws.deploy.netx import read_netx
from neurokws.deploy.quantize import quantize
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.evaluation import split_inputs
from neurokws.model.init import init_weights
from neurokws.model.network import save_model

COMMAND = Path(sys.executable).parent / "neurokws"   # the console script pip installed


def neurokws(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(COMMAND), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small float model (T = 100) and a Heidelberg-format test split for it."""
    tmp = tmp_path_factory.mktemp("cli")
    config = default_network(n_hidden=24, n_out=4, n_steps=100)
    weights = init_weights(config, np.random.default_rng(3))
    weights.w_in *= 3.0   # enough input for hidden spikes within 100 ms
    save_model(tmp / "model.npz", config, weights, {"rule": "train", "seed": 3})
    split = generate_split(12, 4, seed=5, duration_ms=100.0)
    write_split(tmp / "test.h5", split)
    return tmp, config, weights, split


def test_help_lists_the_subcommands():
    text = neurokws("--help").stdout
    assert COMMAND.is_file()
    for command in ("inspect", "emulate", "quantize"):
        assert command in text


def test_inspect_a_float_model(files):
    tmp, config, _, _ = files
    record = json.loads(neurokws("inspect", str(tmp / "model.npz"), "--json").stdout)
    assert record["kind"] == "float model" and record["network"] == config.to_dict()
    assert record["weights"]["w_rec"]["shape"] == [24, 24]
    assert record["provenance"] == {"rule": "train", "seed": 3}
    text = neurokws("inspect", str(tmp / "model.npz")).stdout
    assert "n_hidden" in text and "kind: float model" in text


def test_quantize_exports_netx_and_nir_with_the_schema_defaults(files):
    tmp, config, weights, _ = files
    out = tmp / "deployed"
    neurokws("quantize", str(tmp / "model.npz"), "--out", str(out))
    expected = quantize(config, weights, bits=schema_default("deploy.bits")[0],
                        percentile=schema_default("deploy.percentile"))
    assert read_netx(out / "model.net").same_integers(expected)
    assert (out / "model.nir").stat().st_size > 0
    summary = json.loads((out / "quantization.json").read_text())
    assert summary["quantization"]["bits"] == 8
    assert summary["provenance"]["tool"] == "neurokws quantize"
    record = json.loads(neurokws("inspect", str(out / "model.net"), "--json").stdout)
    assert record["kind"] == "NetX network" and record["network"]["n_steps"] == 100
    assert record["layers"][0]["size"] == 24 and record["layers"][1]["size"] == 4
    assert record["quantization"]["hidden_exponent"] == expected.hidden_exponent
    neurokws("quantize", str(tmp / "model.npz"), "--out", str(tmp / "q4"), "--bits", "4",
             "--no-nir")
    assert read_netx(tmp / "q4" / "model.net").bits == 4 and not (tmp / "q4" / "model.nir")\
        .exists()


def test_emulate_reports_the_emulators_accuracy_and_activity(files):
    tmp, _, _, split = files
    net = tmp / "deployed" / "model.net"
    if not net.exists():
        neurokws("quantize", str(tmp / "model.npz"), "--out", str(tmp / "deployed"))
    record = json.loads(neurokws("emulate", str(net), str(tmp / "test.h5"), "--json").stdout)
    result = FixedPointNetwork.from_netx(net).classify(split_inputs(split, "aligned", 100, 1.0))
    assert record["accuracy"] == pytest.approx(result.accuracy(split.labels))
    assert record["n_samples"] == 12 and record["n_steps"] == 100
    activity = record["activity_per_sample"]
    assert activity["hidden_spikes"] == pytest.approx(result.activity.hidden_spikes.mean())
    assert activity["hidden_spikes"] > 0 and record["output_spikes"] == 0
    paper = json.loads(neurokws("emulate", str(net), str(tmp / "test.h5"), "--mode", "paper",
                                "--max-samples", "5", "--json").stdout)
    assert paper["input_mode"] == "paper" and paper["n_samples"] == 5


def test_bad_input_names_the_file(files, tmp_path):
    tmp = files[0]
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    proc = neurokws("inspect", str(junk), check=False)
    assert proc.returncode == 2 and str(junk) in proc.stderr and "neither" in proc.stderr
    proc = neurokws("emulate", str(tmp / "model.npz"), str(tmp / "test.h5"), check=False)
    assert proc.returncode == 2 and "model.npz" in proc.stderr
    proc = neurokws("quantize", str(tmp_path / "missing.npz"), "--out", str(tmp_path),
                    check=False)
    assert proc.returncode == 2 and "missing.npz" in proc.stderr
    assert not any(tmp_path.glob("*.net"))
