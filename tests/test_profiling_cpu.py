"""CPU profiler on a tiny model: complete rows with a fake power meter; the RAPL-missing path."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest

from neurokws.config import default_config, default_network
from neurokws.model.engine import infer
from neurokws.model.network import Weights
from neurokws.model.workload import random_events
from neurokws.profiling.inference import cpu as cpu_module
from neurokws.profiling.inference.cpu import profile_cpu
from neurokws.profiling.inference.profile import (
    PROFILERS,
    ProfileJob,
    ProfileOptions,
    device_batch_sizes,
    profile,
)
from neurokws.profiling.inference.records import COLUMNS, rows_to_frame
from neurokws.profiling.power import CallableSource
from neurokws.utils.errors import ConfigError

# they time busy and idle phases: alone, after the parallel suite (Makefile)
pytestmark = pytest.mark.serial

IDLE_W, BUSY_EXTRA_W = 10.0, 5.0


DEFAULTS = default_config()
NO_WINDOW = {"idle_s": 0.0, "rate_hz": 20.0, "min_active_s": 0.0}


@pytest.fixture(scope="module")
def tiny():
    """A 40 -> 32 -> 5 network, 100 steps, 7 samples with 300 events each."""
    rng = np.random.default_rng(3)
    config = default_network(n_hidden=32, n_out=5, n_in=40, n_steps=100)
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
    rows = profile_cpu(config, weights, data, [2], power="auto", idle_s=5.0, rate_hz=20.0,
                       min_active_s=0.0, powercap_root=tmp_path / "no-powercap",
                       max_samples=3)
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
    (row,) = profile_cpu(config, weights, data, [1], power=None, threads=1, max_samples=2,
                         **NO_WINDOW)
    assert row.notes == "power measurement disabled"
    assert "1 threads" in row.hardware
    with pytest.raises(ValueError, match="power must be"):
        profile_cpu(config, weights, data, [1], power="rapl", **NO_WINDOW)


def test_gpu_device_without_a_gpu_gives_reason_rows(tmp_path):
    from neurokws.profiling.inference.gpu import cuda_status
    if cuda_status()[0]:
        pytest.skip("a CUDA device is available here")
    job = _job(tmp_path)
    options = ProfileOptions.from_dict({**DEFAULTS["profiling"], "idle_s": 0.0,
                                        "min_active_s": 0.0, "max_samples": 2})
    (cpu_row,) = profile("cpu", job, 2, options)
    (gpu_row,) = profile("gpu", job, 2, options)
    assert cpu_row.backend == "numba-cpu" and cpu_row.status == "ok"
    assert cpu_row.samples_measured >= 2 and cpu_row.dataset == "tiny"
    assert gpu_row.status == "unavailable" and "GPU unavailable" in gpu_row.notes
    assert math.isnan(gpu_row.latency_batch_ms) and gpu_row.batch_size == 2
    assert gpu_row.paper_dataset == "SHD" and gpu_row.n_steps == 100


def test_profile_options_validation():
    options = ProfileOptions.from_dict(DEFAULTS["profiling"])
    assert options.batch_sizes == tuple(DEFAULTS["profiling"]["batch_sizes"])
    with pytest.raises(ConfigError, match=r"missing \['batch_sizes'\], unknown \['batchsizes'\]"):
        ProfileOptions.from_dict({**{k: v for k, v in DEFAULTS["profiling"].items()
                                     if k != "batch_sizes"}, "batchsizes": [1]})
    with pytest.raises(ConfigError, match="devices"):
        ProfileOptions.from_dict({**DEFAULTS["profiling"], "devices": ["tpu"]})
    assert device_batch_sizes("loihi", [1, 32]) == [1]
    assert device_batch_sizes("cpu", [1, 32]) == [1, 32]
    assert set(PROFILERS) == set(DEFAULTS["profiling"]["devices"]) | {"mlgenn"}


def _job(tmp_path):
    """A ProfileJob on a tiny random model saved to disk (as the workflow's profile rule)."""
    from neurokws.data.sources.synthetic import generate_split
    from neurokws.model.init import init_weights
    from neurokws.model.network import save_model

    split = generate_split(6, 3, seed=1, duration_ms=100.0)
    config = default_network(n_hidden=16, n_out=3, n_steps=100)
    save_model(tmp_path / "model.npz", config,
               init_weights(config, np.random.default_rng(0)), {})
    return ProfileJob(model_path=tmp_path / "model.npz", net_path=tmp_path / "none.net",
                      test=split, model_name="tiny", dataset="tiny", paper_dataset="SHD")
