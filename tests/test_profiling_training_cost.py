"""Figure 3 benchmark: settings, child protocol, derived epoch times, a real tiny run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurokws.config import default_config
from neurokws.profiling.training import cost_common as cc
from neurokws.profiling.training.training_cost import (
    CostSettings,
    child_request,
    cost_table,
    run_benchmark,
)
from neurokws.reports.training_cost_figure import plot_training_cost
from neurokws.utils.sidecar import side_env

DEFAULTS = default_config()


def settings(**section) -> CostSettings:
    """CostSettings from the schema's defaults with `section` keys replaced."""
    return CostSettings.from_config({**DEFAULTS["training_cost"], **section},
                                    DEFAULTS["model"], DEFAULTS["training"])


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
    chosen = settings(enabled=True, n_steps=[10, 20], hidden=8)
    assert chosen.n_steps == (10, 20) and chosen.hidden == 8
    assert settings().methods == ("eventprop", "bptt_spyx")
    assert settings().model["tau_mem_ms"] == DEFAULTS["model"]["tau_mem_ms"]
    with pytest.raises(TypeError, match="n_step"):
        settings(n_step=[10])
    with pytest.raises(ValueError, match="methods"):
        settings(methods=["bptt_snntorch"])


def test_child_request_carries_every_setting():
    request = child_request(50, settings(hidden=8, batches=2))
    assert request["steps"] == 50 and request["hidden"] == 8 and request["batches"] == 2
    assert request["training"]["lr"] == DEFAULTS["training"]["lr"]
    assert request["n_in"] == DEFAULTS["training_cost"]["n_in"]
    json.dumps(request)   # it travels as JSON to the child


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
    table = run_benchmark(settings(n_steps=[20, 40], hidden=8, batches=1, events_per_sample=200,
                                   methods=["eventprop"], epoch_samples=64))
    assert table["n_steps"].tolist() == [20, 40]
    assert (table["batches_per_epoch"] == 2).all()
    assert (table["batch_median_s"] > 0).all() and (table["train_mem_mib"] >= 0).all()
    assert (table["hidden_spikes_per_neuron"] > 0).all()
    png = tmp_path / "training_cost.png"
    plot_training_cost(table, png, tmp_path / "training_cost.pdf")
    assert png.stat().st_size > 10_000 and (tmp_path / "training_cost.pdf").stat().st_size


@pytest.mark.slow
@pytest.mark.skipif(not side_env("spyx").ready(), reason="needs .venv-spyx (make spyx-env)")
def test_real_spyx_measurement():
    row = run_benchmark(settings(n_steps=[20], hidden=8, batches=1, events_per_sample=200,
                                 methods=["bptt_spyx"])).iloc[0]
    assert row["method"] == "bptt_spyx" and row["batch_median_s"] > 0
    assert row["xla_buffers_mib"] > 0 and row["compile_s"] > 0
    assert "spyx" in json.loads(row["versions"])
