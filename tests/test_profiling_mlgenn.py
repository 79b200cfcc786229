"""Table II rows from mlGeNN kernel timers: arithmetic, and a clear row without GeNN."""

from __future__ import annotations

import math

import numpy as np

from neurokws.config import default_network
from neurokws.data.sources.synthetic import generate_split
from neurokws.model.init import init_weights
from neurokws.model.network import save_model
from neurokws.profiling.inference.mlgenn_timers import kernel_timer_row, mlgenn_kernel_rows

CONFIG = default_network(n_hidden=256, n_out=20)


def test_kernel_timer_row_arithmetic_matches_the_papers_method():
    # 2264 SHD test samples at B = 1 with 25.5 us per step over T = 1000 steps.
    total_s = 2264 * 1000 * 25.5e-6
    stats = {"batch_size": 1, "n_samples": 2264, "kernel_total_s": total_s,
             "genn_backend": "cuda", "device": "gpu", "timer": "cuda_events", "accuracy": 0.8}
    row = kernel_timer_row(stats, CONFIG, "shd/h256")
    assert row.n_batches == 2264
    assert math.isclose(row.latency_batch_ms, 25.5)
    assert math.isclose(row.latency_step_us, 25.5)
    assert row.hardware == "GPU (mlGeNN)" and "kernel timers" in row.method
    batched = kernel_timer_row({**stats, "batch_size": 128}, CONFIG, "shd/h256")
    assert batched.n_batches == 18      # ceil(2264 / 128), as the paper divided
    assert math.isclose(batched.latency_sample_ms, batched.latency_batch_ms / 128)


def test_without_genn_the_row_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROKWS_GENN_VENV", str(tmp_path / "no-genn"))
    path = tmp_path / "model.npz"
    save_model(path, CONFIG, init_weights(CONFIG, np.random.default_rng(0)), {})
    test = generate_split(2, 3, seed=0, duration_ms=100.0)
    rows = mlgenn_kernel_rows(path, test, CONFIG, 1, model="m")
    assert [r.status for r in rows] == ["unavailable"]
    assert "make genn-env GENN_SRC=... ML_GENN_SRC=..." in rows[0].notes
