"""The stages as functions (neurokws.stages): a cell's float evaluation and a model's
deployment chain (quantize, NetX, emulator) on a tiny model, outside Snakemake, with the
files and records the rules write and the tables read."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from neurokws.config import default_config, network_config
from neurokws.data.formats.events import save_npz
from neurokws.data.sources.synthetic import generate_split
from neurokws.deploy.netx import read_netx
from neurokws.fixedpoint.evaluation import emulate
from neurokws.model.init import init_weights
from neurokws.model.network import save_model
from neurokws.reports.tables import fixed_accuracy_table
from neurokws.stages.deploy import export_netx, quantize
from neurokws.stages.fixedpoint import eval_fixed
from neurokws.stages.train import evaluate_float
from neurokws.utils.errors import ModelFormatError
from neurokws.utils.provenance import fixed
from neurokws.utils.records import CellKey

N_HIDDEN = 12
MODEL = default_config(model={"n_steps": 100})["model"]
CELL = CellKey("synth", N_HIDDEN, False, 1)
TEST = fixed({"rule": "test"})


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """A tiny model with a training provenance, and its test split."""
    tmp = tmp_path_factory.mktemp("stages")
    test = generate_split(12, 3, seed=4, duration_ms=100.0, split="test")
    save_npz(tmp / "test.npz", test)
    net = network_config({"model": MODEL}, N_HIDDEN, n_out=3, n_in=test.n_channels)
    weights = init_weights(net, np.random.default_rng(1))
    save_model(tmp / "model.npz", net, weights, {
        "selection": "best_train", "selected_epoch": 4,
        "selected_row": {"train_accuracy": 0.5, "valid_accuracy": None}})
    return tmp


def test_float_evaluation_writes_the_cells_record(cell):
    record = evaluate_float(cell / "model.npz", cell / "test.npz", cell / "eval_float.json",
                            cell / "predictions.csv", cell / "confusion.csv", cell=CELL,
                            provenance=TEST)
    assert json.loads((cell / "eval_float.json").read_text()) == record
    assert {k: record[k] for k in ("dataset", "hidden", "delays", "seed")} == \
        {"dataset": "synth", "hidden": N_HIDDEN, "delays": False, "seed": 1}
    assert record["n_test"] == 12 and record["selected_epoch"] == 4
    predictions = pd.read_csv(cell / "predictions.csv")
    assert len(predictions) == 12
    assert record["test_accuracy"] == pytest.approx(np.mean(predictions["prediction"]
                                                            == predictions["label"]))


def test_the_deployment_chain_gives_the_emulators_record(cell):
    qmodel = quantize(cell / "model.npz", cell / "int8" / "quantized.npz",
                      cell / "int8" / "quantization.json", hidden=N_HIDDEN, precision="8",
                      percentile=99.0, model_section=MODEL, delays=False,
                      provenance=TEST)
    assert qmodel.bits == 8
    carried = export_netx(cell / "int8" / "quantized.npz", cell / "int8" / "model.net")
    assert carried["rule"] == "test" and len(carried["quantized_sha256"]) == 64
    net_file = read_netx(cell / "int8" / "model.net")
    assert np.array_equal(net_file.w_rec, qmodel.w_rec)
    record = eval_fixed(cell / "int8" / "model.net", cell / "test.npz",
                        cell / "int8" / "eval_fixed.json", cell / "int8" / "predictions.csv",
                        cell=CELL, method="ptq", modes=["aligned"],
                        provenance=TEST)
    assert (record["method"], record["bits"], record["delay_bits"]) == ("ptq", 8, 0)
    # the emulator's own accuracy on the same file and split
    from neurokws.data.formats.events import load_npz

    _, direct = emulate(cell / "int8" / "model.net", load_npz(cell / "test.npz"),
                        net_file.config.n_steps, net_file.config.dt, ["aligned"])
    assert record["modes"]["aligned"]["accuracy"] == direct["modes"]["aligned"]["accuracy"]
    assert 0.0 <= record["float_quantized_accuracy"] <= 1.0
    table = fixed_accuracy_table([cell / "eval_float.json"], [cell / "int8" / "eval_fixed.json"],
                                 [])
    assert table.loc[0, "emulator_aligned_accuracy"] == record["modes"]["aligned"]["accuracy"]


def test_quantize_refuses_a_model_of_another_model_section(cell):
    other = {**MODEL, "n_steps": 200}
    with pytest.raises(ModelFormatError, match="n_steps"):
        quantize(cell / "model.npz", cell / "x" / "quantized.npz", cell / "x" / "q.json",
                 hidden=N_HIDDEN, precision="8", percentile=99.0, model_section=other,
                 delays=False, provenance=TEST)
    assert not (cell / "x" / "quantized.npz").exists()


def test_a_stage_builds_its_provenance_when_it_writes(cell, tmp_path):
    """Stages take a Provenance (rule_support.provenance_of: built at the time of writing,
    with the stage's own keys) and call it once, for the record they write."""
    calls = []

    def provenance(**extra):
        calls.append(extra)
        return {"rule": "test", "call": len(calls)}

    record = evaluate_float(cell / "model.npz", cell / "test.npz", tmp_path / "e.json",
                            tmp_path / "p.csv", tmp_path / "c.csv", cell=CELL,
                            provenance=provenance)
    assert calls == [{}] and record["provenance"] == {"rule": "test", "call": 1}
    assert json.loads((tmp_path / "e.json").read_text())["provenance"]["call"] == 1
