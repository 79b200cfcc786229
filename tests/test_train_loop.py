"""The training loop end to end on tiny synthetic data: learning, determinism, resume."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pytest

from neurokws.backends.numba import train
from neurokws.config import default_config, network_config, train_settings
from neurokws.data.formats.events import save_npz
from neurokws.data.sources.synthetic import generate_split
from neurokws.train.checkpoint import load_checkpoint

CONFIG = default_config(
    datasets={"tiny": {"source": "synthetic", "augmentations": ["shift", "blend"],
                       "blend_n_new": 16, "epochs": 3, "reg_lambda": 2.5e-10}},
    hidden_sizes=[24], seeds=[5], model={"n_steps": 250},
    training={"batch_size": 16, "ease_in_start_lr": 1e-3, "progress_bar": False})


@pytest.fixture(scope="module")
def tiny_split():
    return generate_split(64, 4, seed=11, difficulty=0.3, duration_ms=250.0)


def run(tmp: Path, split, epochs: int = 3, seed: int = 5, anneal: str = "none"):
    net = network_config(CONFIG, 24, n_out=split.n_classes, n_in=split.n_channels)
    settings = dataclasses.replace(train_settings(CONFIG, "tiny", 24), epochs=epochs,
                                   lr_anneal=anneal)
    return train(net, settings, seed, split, tmp)


def test_same_seed_gives_bit_identical_weights_and_log(tmp_path, tiny_split):
    a = run(tmp_path / "a", tiny_split)
    b = run(tmp_path / "b", tiny_split)
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(getattr(a.weights, name), getattr(b.weights, name))
    strip = [{k: v for k, v in r.items() if k != "wall_time_s"} for r in a.log_rows]
    assert strip == [{k: v for k, v in r.items() if k != "wall_time_s"} for r in b.log_rows]
    c = run(tmp_path / "c", tiny_split, seed=6)
    assert not np.array_equal(a.weights.w_in, c.weights.w_in)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_one_and_two_threads_train_bit_identical_weights(tmp_path, tiny_split):
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(tmp_path / "one", tiny_split, epochs=2)
        numba.set_num_threads(2)
        two = run(tmp_path / "two", tiny_split, epochs=2)
    finally:
        numba.set_num_threads(previous)
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(getattr(one.weights, name), getattr(two.weights, name))
    assert [r["loss"] for r in one.log_rows] == [r["loss"] for r in two.log_rows]


def test_block_size_changes_memory_not_numbers(tmp_path, tiny_split):
    """The epoch built one batch at a time, three batches at a time or whole (blends and
    shifts included) trains bit-identical weights."""
    results = []
    for block_batches in (1, 3, None):
        settings = dataclasses.replace(train_settings(CONFIG, "tiny", 24), epochs=2,
                                       block_batches=block_batches)
        net = network_config(CONFIG, 24, n_out=tiny_split.n_classes,
                             n_in=tiny_split.n_channels)
        results.append(train(net, settings, 5, tiny_split, tmp_path / f"b{block_batches}"))
    # 64 originals + 16 blends = 5 batches of 16: blocks of 3 are uneven (3 + 2 batches).
    for other in results[1:]:
        for name in ("w_in", "w_rec", "w_out"):
            np.testing.assert_array_equal(getattr(results[0].weights, name),
                                          getattr(other.weights, name))
        assert [r["loss"] for r in other.log_rows] == [r["loss"] for r in results[0].log_rows]


def test_log_rows_and_checkpoints(tmp_path, tiny_split):
    result = run(tmp_path, tiny_split)
    assert [r["epoch"] for r in result.log_rows] == [0, 1, 2]
    assert all(r["n_samples"] == 64 + 16 for r in result.log_rows)  # blends added
    assert result.selection == "best_train"
    best = max(range(3), key=lambda e: result.log_rows[e]["train_accuracy"])
    assert result.selected_epoch == best
    state = load_checkpoint(tmp_path / "checkpoints" / "last.npz")
    assert state.epoch == 3
    assert all(r["mean_hidden_spikes"] > 0 for r in result.log_rows)


def test_extending_a_finished_run_resumes_it(tmp_path, tiny_split):
    full = run(tmp_path / "full", tiny_split, epochs=3)
    run(tmp_path / "ext", tiny_split, epochs=2)
    extended = run(tmp_path / "ext", tiny_split, epochs=3)
    np.testing.assert_array_equal(full.weights.w_rec, extended.weights.w_rec)
    assert len(extended.log_rows) == 3


def test_extending_a_cosine_run_trains_afresh(tmp_path, tiny_split):
    """Under lr_anneal cosine the epoch budget sets every epoch's rate, so a finished
    2-epoch run asked for 3 epochs is not resumed (its checkpointed schedule would give the
    third epoch rate 0): it trains afresh, to the rates and bits of a fresh 3-epoch run."""
    fresh = run(tmp_path / "fresh", tiny_split, epochs=3, anneal="cosine")
    run(tmp_path / "ext", tiny_split, epochs=2, anneal="cosine")
    extended = run(tmp_path / "ext", tiny_split, epochs=3, anneal="cosine")
    assert [r["lr"] for r in extended.log_rows] == [r["lr"] for r in fresh.log_rows]
    assert extended.log_rows[-1]["lr"] > 0
    np.testing.assert_array_equal(fresh.weights.w_rec, extended.weights.w_rec)


TRAIN_SCRIPT = """
import dataclasses, sys
from pathlib import Path
from neurokws.config import network_config, train_settings
from neurokws.data.formats.events import load_npz
from neurokws.model.network import save_model
from neurokws.backends.numba import train
sys.path.insert(0, {tests!r})
from test_train_loop import CONFIG
split = load_npz({data!r})
net = network_config(CONFIG, 24, n_out=split.n_classes, n_in=split.n_channels)
settings = dataclasses.replace(train_settings(CONFIG, "tiny", 24), epochs=8)
result = train(net, settings, 5, split, Path({out!r}))
save_model(Path({out!r}) / "model.npz", net, result.weights, {{}})
"""


def start_training(data: Path, out: Path) -> subprocess.Popen:
    code = TRAIN_SCRIPT.format(tests=str(Path(__file__).parent), data=str(data), out=str(out))
    return subprocess.Popen([sys.executable, "-c", code])


@pytest.mark.slow
def test_killed_training_resumes_to_identical_result(tmp_path, tiny_split):
    data = tmp_path / "train.npz"
    save_npz(data, tiny_split)
    reference = start_training(data, tmp_path / "reference")
    assert reference.wait(timeout=600) == 0
    victim = start_training(data, tmp_path / "victim")
    last = tmp_path / "victim" / "checkpoints" / "last.npz"
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if last.exists() and load_checkpoint(last).epoch >= 2:
            break
        time.sleep(0.05)
    assert victim.poll() is None, "training finished before it could be interrupted"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    interrupted_at = load_checkpoint(last).epoch
    assert 2 <= interrupted_at < 8
    assert not (tmp_path / "victim" / "model.npz").exists()
    resumed = start_training(data, tmp_path / "victim")
    assert resumed.wait(timeout=600) == 0
    with np.load(tmp_path / "reference" / "model.npz") as a, \
            np.load(tmp_path / "victim" / "model.npz") as b:
        for name in ("w_in", "w_rec", "w_out"):
            np.testing.assert_array_equal(a[name], b[name])
    state = load_checkpoint(last)
    assert [r["epoch"] for r in state.log_rows] == list(range(8))
