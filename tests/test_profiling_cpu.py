"""CPU profiler on a tiny model: complete rows with a fake power meter; the RAPL-missing path."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest

from neurokws.model.engine import infer
from neurokws.model.network import NetworkConfig, Weights
from neurokws.model.synthetic import random_events
from neurokws.profiling import cpu as cpu_module
from neurokws.profiling.cpu import profile_cpu
from neurokws.profiling.power import CallableSource
from neurokws.profiling.profile import ProfileOptions, profile_float_model
from neurokws.profiling.records import COLUMNS, rows_to_frame
from neurokws.utils.errors import ConfigError

IDLE_W, BUSY_EXTRA_W = 10.0, 5.0


@pytest.fixture(scope="module")
def tiny():
    """A 40 -> 32 -> 5 network, 100 steps, 7 samples with 300 events each."""
    rng = np.random.default_rng(3)
    config = NetworkConfig(n_hidden=32, n_out=5, n_in=40, n_steps=100)
    steps, channels, offsets = random_events(rng, 7, config.n_in, config.n_steps, 300)
    weights = Weights(rng.normal(0.15, 0.1, (40, 32)).astype(np.float32),
                      rng.normal(0.0, 0.1, (32, 32)).astype(np.float32),
                      rng.normal(0.0, 0.3, (32, 5)).astype(np.float32))
    data = SimpleNamespace(steps=steps, channels=channels, offsets=offsets)
    return config, weights, data


class BusyMeter:
    """Fake energy counter: 10 W always plus 5 W during engine.infer calls (J, monotonic)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy_s = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.busy_s += time.perf_counter() - start
        return timed

    def read(self) -> float:
        return IDLE_W * (time.perf_counter() - self.t0) + BUSY_EXTRA_W * self.busy_s


def test_cpu_profile_complete_row_with_fake_meter(tiny, monkeypatch):
    config, weights, data = tiny
    meter = BusyMeter()
    monkeypatch.setattr(cpu_module, "infer", meter.wrap(infer))
    source = CallableSource(meter.read, kind="energy", name="fake counter")
    rows = profile_cpu(config, weights, data, [1, 4], model="tiny", power=source, idle_s=0.2,
                       rate_hz=20.0, min_active_s=0.1)
    assert [r.batch_size for r in rows] == [1, 4]
    counts = infer(config, weights, data.steps, data.channels, data.offsets)[1].sum(axis=1)
    for row in rows:
        assert row.source == "measured" and row.status == "ok" and not row.estimate
        assert row.backend == "numba-cpu" and row.hardware.startswith("CPU (")
        assert (row.hidden_size, row.n_classes, row.precision, row.n_steps) == (32, 5, "fp32",
                                                                                100)
        batches_per_pass = math.ceil(7 / row.batch_size)
        assert row.samples_measured % 7 == 0 and row.samples_measured >= 7
        assert row.n_batches == row.samples_measured // 7 * batches_per_pass
        assert row.active_s >= 0.1
        assert row.power_idle_W == pytest.approx(IDLE_W, rel=1e-3)
        assert IDLE_W < row.power_active_W <= IDLE_W + BUSY_EXTRA_W + 1e-9
        compute_s = row.latency_batch_ms * row.n_batches * 1e-3
        assert row.energy_total_mJ == pytest.approx(
            row.power_active_W * compute_s / row.samples_measured * 1e3)
        assert row.energy_dynamic_mJ == pytest.approx(
            (row.power_active_W - row.power_idle_W) * compute_s / row.samples_measured * 1e3)
        assert row.edp_uJs == pytest.approx(row.energy_total_mJ * row.latency_batch_ms)
        assert row.latency_sample_ms == pytest.approx(row.latency_batch_ms / row.batch_size)
        assert row.latency_step_us == pytest.approx(row.latency_batch_ms * 1e3 / 100)
        assert row.input_events_per_sample == 300.0
        assert row.hidden_spikes_per_sample == pytest.approx(counts.mean())
        assert row.sop_per_sample == pytest.approx(300 * 32 + counts.mean() * 37)
        assert row.energy_per_sop_nJ == pytest.approx(row.energy_dynamic_mJ * 1e6 /
                                                      row.sop_per_sample)
        assert row.power_source == "fake counter" and row.power_samples >= 10
        assert row.idle_s == pytest.approx(0.2, abs=0.05)
        assert '"git_commit"' in row.provenance and row.model == "tiny"
    frame = rows_to_frame(rows)
    assert tuple(frame.columns) == COLUMNS
    numeric = [c for c in COLUMNS if c.endswith(("_ms", "_W", "_mJ", "_uJs", "_nJ", "_us"))]
    assert frame[numeric].notna().all().all(), "a measured row with a meter must be complete"


def test_cpu_profile_without_rapl_records_reason(tiny, tmp_path):
    config, weights, data = tiny
    rows = profile_cpu(config, weights, data, [2], power="auto", idle_s=5.0,
                       powercap_root=tmp_path / "no-powercap", max_samples=3)
    (row,) = rows
    assert "RAPL unavailable" in row.notes and "does not exist" in row.notes
    assert math.isfinite(row.latency_batch_ms) and row.latency_batch_ms > 0
    assert row.samples_measured == 3 and row.n_batches == 2
    for name in ("power_idle_W", "power_active_W", "energy_total_mJ", "energy_dynamic_mJ",
                 "edp_uJs", "energy_per_sop_nJ"):
        assert math.isnan(getattr(row, name)), name
    assert row.power_samples == 0 and row.power_source == ""
    assert row.active_s < 5.0  # no idle windows are waited for without a meter


def test_cpu_profile_disabled_power_and_threads(tiny):
    config, weights, data = tiny
    (row,) = profile_cpu(config, weights, data, [1], power=None, threads=1, max_samples=2)
    assert row.notes == "power measurement disabled"
    assert "1 threads" in row.hardware
    with pytest.raises(ValueError, match="power must be"):
        profile_cpu(config, weights, data, [1], power="rapl")


def test_profile_float_model_reports_unavailable_gpu(tiny):
    from neurokws.profiling.gpu import cuda_status
    if cuda_status()[0]:
        pytest.skip("a CUDA device is available here")
    config, weights, data = tiny
    options = ProfileOptions.from_dict({"batch_sizes": [1, 2], "devices": ["cpu", "gpu"],
                                        "idle_s": 0.0, "min_active_s": 0.0, "max_samples": 2})
    rows = profile_float_model(config, weights, data, options, model="tiny")
    cpu_rows = [r for r in rows if r.backend == "numba-cpu"]
    gpu_rows = [r for r in rows if r.backend == "numba-cuda"]
    assert len(cpu_rows) == 2 and len(gpu_rows) == 2
    assert all(r.status == "unavailable" and "GPU unavailable" in r.notes for r in gpu_rows)
    assert all(math.isnan(r.latency_batch_ms) for r in gpu_rows)


def test_profile_options_validation():
    assert ProfileOptions.from_dict(None).batch_sizes == (1, 32, 64, 128, 256)
    with pytest.raises(ConfigError, match="unknown keys"):
        ProfileOptions.from_dict({"batchsizes": [1]})
    with pytest.raises(ConfigError, match="devices"):
        ProfileOptions.from_dict({"devices": ["tpu"]})
    with pytest.raises(ConfigError, match="rate_hz"):
        ProfileOptions.from_dict({"rate_hz": 1})
    with pytest.raises(ConfigError, match="batch_sizes"):
        ProfileOptions.from_dict({"batch_sizes": [0]})
