"""Figure 3 benchmark: settings, child protocol, derived epoch times, a real tiny run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from neurokws.reports import cost_common as cc
from neurokws.reports.training_cost import (
    CostSettings,
    child_command,
    cost_table,
    parse_result,
    plot_training_cost,
    run_benchmark,
)

ROOT = Path(__file__).resolve().parents[1]
SPYX_PYTHON = ROOT / ".venv-spyx" / "bin" / "python"


def record(method: str, n_steps: int, batch_s: float, mem: float, **extra) -> dict:
    """A child's result record as the parent receives it."""
    return {"method": method, "n_steps": n_steps, "dt_ms": 1000 / n_steps, "hidden": 256,
            "n_classes": 20, "batch_size": 32, "events_per_sample": 8500,
            "timed_batches": 3, "compile_s": math.nan, "first_batch_s": 2 * batch_s,
            "batch_median_s": 1.5 * batch_s, "batch_min_s": batch_s, "base_rss_mib": 100.0,
            "peak_rss_mib": 100.0 + mem, "train_mem_mib": mem,
            "python": "3.11", "versions": {"numpy": "2"}, **extra}


def test_cost_table_derives_epoch_times_and_sorts():
    records = [record("bptt_spyx", 500, 0.2, 100.0, xla_buffers_mib=80.0),
               record("eventprop", 500, 0.02, 10.0), record("eventprop", 250, 0.01, 9.0)]
    table = cost_table(records, epoch_samples=8156)
    assert list(zip(table["method"], table["n_steps"], strict=True)) == [
        ("eventprop", 250), ("eventprop", 500), ("bptt_spyx", 500)]
    assert (table["batches_per_epoch"] == 255).all()  # ceil(8156 / 32)
    assert table["time_per_epoch_s"].iloc[2] == pytest.approx(0.2 * 255)
    assert table["time_100_epochs_s"].iloc[0] == pytest.approx(0.02 + 0.01 * (25500 - 1))
    assert table["xla_buffers_mib"].isna().tolist() == [True, True, False]
    assert json.loads(table["versions"].iloc[0]) == {"numpy": "2"}


def test_settings_from_config():
    settings = CostSettings.from_config({"enabled": True, "n_steps": [10, 20], "hidden": 8})
    assert list(settings.n_steps) == [10, 20] and settings.hidden == 8
    assert CostSettings.from_config(None).methods == ("eventprop", "bptt_spyx")
    with pytest.raises(ValueError, match="unknown training_cost keys"):
        CostSettings.from_config({"n_step": [10]})
    with pytest.raises(ValueError, match="methods"):
        CostSettings.from_config({"methods": ["bptt_snntorch"]})


def test_child_protocol():
    settings = CostSettings(n_steps=(50,), hidden=8, batches=2)
    cmd = child_command("eventprop", 50, settings)
    assert cmd[1:3] == ["-m", "neurokws.reports.cost_eventprop"]
    assert cmd[cmd.index("--steps") + 1] == "50" and cmd[cmd.index("--batches") + 1] == "2"
    with pytest.raises(ValueError, match="Spyx"):
        child_command("bptt_spyx", 50, settings, spyx_python=None)
    out = "noise\n" + cc.RESULT_TAG + ' {"method": "x", "n_steps": 5}\n'
    assert parse_result(out) == {"method": "x", "n_steps": 5}
    with pytest.raises(ValueError):
        parse_result("no result here\n")


def test_random_events_and_dense_batch():
    steps, channels, offsets = cc.random_events(3, 4, n_in=50, n_steps=20, events_per_sample=30)
    assert offsets.tolist() == [0, 30, 60, 90, 120]
    for s in range(4):
        lo, hi = offsets[s], offsets[s + 1]
        assert np.all(np.diff(steps[lo:hi]) >= 0)
        assert len(set(zip(steps[lo:hi], channels[lo:hi], strict=True))) == 30
    dense = cc.dense_batch(steps, channels, offsets, np.array([1, 3]), 20, 50)
    assert dense.shape == (20, 2, 50) and dense.dtype == np.uint8
    assert dense.sum() == 60
    again = cc.random_events(3, 4, n_in=50, n_steps=20, events_per_sample=30)
    assert np.array_equal(again[0], steps)  # the same input for both methods


def test_measure_reports_first_batch_and_memory():
    blocks = []
    timing = cc.measure(lambda b: blocks.append(np.ones(4_000_000 * (b + 1))), 2)
    assert len(timing["times"]) == 2 and math.isnan(timing["compile_s"])
    assert (timing["peak"] - timing["base"]) / 2**20 > 60  # the 3 blocks held: 190 MiB


@pytest.mark.slow
def test_real_eventprop_measurements_in_child_processes(tmp_path):
    settings = CostSettings(n_steps=(20, 40), hidden=8, batches=1, events_per_sample=200,
                            methods=("eventprop",), epoch_samples=64)
    table = run_benchmark(settings)
    assert table["n_steps"].tolist() == [20, 40]
    assert (table["batches_per_epoch"] == 2).all()
    assert (table["batch_median_s"] > 0).all() and (table["train_mem_mib"] >= 0).all()
    assert (table["hidden_spikes_per_neuron"] > 0).all()
    png = tmp_path / "training_cost.png"
    plot_training_cost(table, png, tmp_path / "training_cost.pdf")
    assert png.stat().st_size > 10_000 and (tmp_path / "training_cost.pdf").stat().st_size


@pytest.mark.slow
@pytest.mark.skipif(not SPYX_PYTHON.exists(), reason="needs .venv-spyx (envs/spyx/)")
def test_real_spyx_measurement():
    settings = CostSettings(n_steps=(20,), hidden=8, batches=1, events_per_sample=200,
                            methods=("bptt_spyx",))
    row = run_benchmark(settings, spyx_python=str(SPYX_PYTHON)).iloc[0]
    assert row["method"] == "bptt_spyx" and row["batch_median_s"] > 0
    assert row["xla_buffers_mib"] > 0 and row["compile_s"] > 0
    assert "spyx" in json.loads(row["versions"])
