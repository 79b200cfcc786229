"""What the rules ask a cluster for covers what the stages use.

Each stage runs in its own process on a generated split a few times larger than one block
(neurokws.stages.cost: the stage's own function, as its rule script calls it, the memory of
the process and its children sampled), and its peak must fit the memory
`neurokws.resources` declares for it, margin included; a change that makes a stage
hungrier (e.g. holding a whole epoch's inputs again) fails here. The formulas' own
behaviour is checked too (sizes, attempts, scales, compressed inputs).
"""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from neurokws import resources
from neurokws.config import default_config, default_network
from neurokws.data.formats.heidelberg import write_split
from neurokws.data.sources.synthetic import generate_split
from neurokws.deploy.netx import write_netx
from neurokws.deploy.quantize import quantize
from neurokws.model.init import init_weights
from neurokws.model.network import save_model
from neurokws.utils.sidecar import run_module, side_env

# Peak memory does not depend on what else runs, and the time checks below hold with a wide
# margin (a request in minutes against seconds measured), so these run in the parallel
# suite; the one that compares two measured times runs alone, after it (marker `serial`).

N_TRAIN, N_TEST, N_HIDDEN = 4800, 600, 64    # the train split: ~10 blocks of 16 batches of 32


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Prepared train/test splits (by the prepare stage itself) and a model for them."""
    tmp = tmp_path_factory.mktemp("resources")
    raw = {}
    for split, n, seed in (("train", N_TRAIN, 1), ("test", N_TEST, 2)):
        raw[split] = tmp / f"{split}.h5"
        write_split(raw[split], generate_split(n, 10, seed=seed, speakers=range(6)),
                    time_dtype=np.float16)
    prepared = {}
    for split in ("train", "test"):
        prepared[split] = tmp / f"{split}.npz"
        got = stage({"stage": "prepare", "raw": str(raw[split]), "out": str(prepared[split])})
        assert got["peak_rss_mb"] <= resources.prepare(raw[split]).mem_mb, got
    net = default_network(N_HIDDEN, 10)
    weights = init_weights(net, np.random.default_rng(0))
    save_model(tmp / "model.npz", net, weights, {})
    write_netx(tmp / "model.net", quantize(net, weights, bits=8, percentile=99.0), {})
    return tmp, raw, prepared


def stage(request: dict) -> dict:
    return run_module(None, "neurokws.stages.cost", request, timeout=900).data


def stats(data, split: str) -> resources.SplitStats:
    return resources.SplitStats.of(data[2][split])


def test_training_fits_its_request_and_does_not_hold_the_epoch(data):
    config = default_config(datasets={"d": {"source": "synthetic", "augmentations": ["shift"]}},
                            hidden_sizes=[N_HIDDEN], seeds=[1])
    training = config["training"]
    train = stats(data, "train")
    assert train.n_samples > 4 * training["batch_size"] * training["block_batches"]
    got = stage({"stage": "train", "train": str(data[2]["train"]), "n_hidden": N_HIDDEN,
                 "config": config})
    want = resources.train(train, None, n_hidden=N_HIDDEN, n_out=train.n_classes,
                           n_in=train.n_channels, n_steps=1000, epochs=1,
                           batch_size=training["batch_size"],
                           block_batches=training["block_batches"], blend_n_new=None,
                           blend=False, threads=training["threads"])
    assert got["peak_rss_mb"] <= want.mem_mb, (got, want)
    assert 60 * want.runtime >= got["epoch_s"], (got, want)
    # The same epoch with its inputs built at once (as before block streaming) does not fit
    # that request: this test catches a stage that holds more than it declares.
    whole = {**config, "training": {**training, "block_batches": None}}
    hungry = stage({"stage": "train", "train": str(data[2]["train"]), "n_hidden": N_HIDDEN,
                    "config": whole})
    assert hungry["peak_rss_mb"] > want.mem_mb, (hungry, want)


@pytest.mark.serial
def test_a_delay_cell_asks_for_what_its_delays_cost(data):
    """Training with delays 0..62 (the default model.delays) against the same epoch without:
    the measured slow-down is within the factor a delay cell's request carries, and its
    request is that factor longer (a delay kernel that got slower than the factor, or a
    request that forgot the delays, fails here)."""
    config = default_config(datasets={"d": {"source": "synthetic", "augmentations": ["shift"]}},
                            hidden_sizes=[N_HIDDEN], seeds=[1])
    times, moved = {}, {}
    for delays in (False, True):
        request = {"stage": "train", "train": str(data[2]["train"]), "n_hidden": N_HIDDEN,
                   "config": config, "max_batches": 24, "delays": delays}
        moved[delays] = stage(request)["delays_moved"]   # also compiles what the timed run uses
        times[delays] = min(stage(request)["epoch_s"] for _ in range(2))
    # The delay run learned delays (a request that dropped them would time a delay-free
    # epoch), and its slow-down is within the factor its request carries.
    assert moved[False] == 0.0 and moved[True] > 0.0, moved
    assert times[True] / times[False] <= resources.DELAY_TRAIN_FACTOR, times
    train = stats(data, "train")
    kwargs = dict(n_hidden=256, n_out=20, n_in=700, n_steps=1000, epochs=50, batch_size=32,
                  block_batches=16, blend_n_new=None, blend=False, threads=2)
    plain, delayed = (resources.train(train, None, delays=d, **kwargs) for d in (False, True))
    assert delayed.runtime >= 0.9 * resources.DELAY_TRAIN_FACTOR * plain.runtime
    # the gradient tree's buffers hold dL/dd beside dL/dw (resources._model_bytes)
    weights_mb = 4 * (700 * 256 + 256 * 256 + 256 * 20) / resources.MIB
    tree = 2 * 4 + 4      # 2 threads, 4 tasks of 8 samples: stacks of 4, 4 task sums
    assert delayed.mem_mb - plain.mem_mb == pytest.approx(
        resources.MARGIN * tree * weights_mb, abs=1)
    test = stats(data, "test")
    lava = [resources.eval_lava_chunk(test, n_samples=20, n_hidden=256, n_steps=1000,
                                      delays=d).runtime for d in (False, True)]
    assert lava[1] > 5 * lava[0]


def test_evaluation_stages_fit_their_requests(data):
    tmp = data[0]
    test = stats(data, "test")
    got = stage({"stage": "evaluate_float", "model": str(tmp / "model.npz"),
                 "test": str(data[2]["test"])})
    want = resources.evaluate_float(test, n_hidden=N_HIDDEN, n_steps=1000)
    assert got["peak_rss_mb"] <= want.mem_mb and got["wall_s"] <= 60 * want.runtime
    got = stage({"stage": "eval_fixed", "net": str(tmp / "model.net"),
                 "test": str(data[2]["test"]), "modes": ["aligned", "paper"]})
    want = resources.eval_fixed(test, n_hidden=N_HIDDEN, n_out=test.n_classes, n_steps=1000,
                                n_modes=2)
    assert got["peak_rss_mb"] <= want.mem_mb and got["wall_s"] <= 60 * want.runtime
    options = {**default_config()["profiling"], "idle_s": 0.0, "min_active_s": 0.0,
               "max_samples": 64}
    got = stage({"stage": "profile", "model": str(tmp / "model.npz"),
                 "net": str(tmp / "model.net"), "test": str(data[2]["test"]),
                 "device": "cpu", "batch": 16, "options": options})
    want = resources.profile(test, device="cpu", n_hidden=N_HIDDEN, n_steps=1000,
                             max_samples=64, idle_s=0.0, min_active_s=0.0)
    assert got["peak_rss_mb"] <= want.mem_mb and got["wall_s"] <= 60 * want.runtime


@pytest.mark.slow
@pytest.mark.skipif(not side_env("lava").ready(), reason="no Lava venv (make lava-env)")
def test_a_lava_chunk_fits_its_request(data):
    tmp = data[0]
    got = stage({"stage": "eval_lava_chunk", "net": str(tmp / "model.net"),
                 "test": str(data[2]["test"]), "n_samples": 1})
    want = resources.eval_lava_chunk(stats(data, "test"), n_samples=1, n_hidden=N_HIDDEN,
                                     n_steps=1000)
    assert got["peak_rss_mb"] <= want.mem_mb and got["wall_s"] <= 60 * want.runtime
    assert got["peak_rss_mb"] > resources.BASE_MB   # Lava's worker processes are counted


def test_requests_grow_with_the_data_attempts_and_scales(data, tmp_path):
    train = stats(data, "train")
    kwargs = dict(n_hidden=256, n_out=20, n_in=700, n_steps=1000, epochs=10, batch_size=32,
                  block_batches=16, blend_n_new=None, blend=False, threads=2)
    one = resources.train(train, None, **kwargs)
    bigger = resources.SplitStats(train.n_samples * 10, train.n_events * 10,
                                  train.nbytes * 10, 20, 700)
    assert resources.train(bigger, None, **kwargs).mem_mb > one.mem_mb
    assert resources.train(bigger, None, **kwargs).runtime > 5 * one.runtime
    assert resources.train(train, None, **{**kwargs, "block_batches": None}).mem_mb > \
        one.mem_mb                                  # the whole epoch at once costs more
    twice = resources.train(train, None, attempt=2, **kwargs)
    assert twice.mem_mb >= 2 * one.mem_mb - 1 and twice.runtime >= 2 * one.runtime - 1
    scaled = resources.train(train, None, scale={"mem_scale": 1.5, "runtime_scale": 3.0},
                             **kwargs)
    assert scaled.mem_mb == pytest.approx(1.5 * one.mem_mb, abs=1)
    raw = data[1]["train"]
    packed = tmp_path / "train.h5.gz"
    with open(raw, "rb") as source, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(source, out)
    assert resources.uncompressed_bytes(packed) == raw.stat().st_size
    assert resources.prepare(packed) == resources.prepare(raw)


def test_cochlea_request_mirrors_the_cochlea_and_covers_a_measured_chunk(tmp_path):
    """resources stays standard-library only, so it repeats two of the cochlea's sizes; they
    must agree. A chunk of 12 spoken-digit clips at 700 channels must fit its request."""
    from neurokws.data import cochlea
    from neurokws.data.sources import convert, corpus

    assert resources.COCHLEA_BLOCK == cochlea.BLOCK_CHANNELS
    assert resources.TRANSFERS_KEPT == cochlea._TRANSFER_CACHE
    settings = {"n_speakers_train": 1, "n_speakers_test": 1, "per_class_per_speaker": 1,
                "difficulty": 0.5, "seed": 1, "sample_rate": 16000}
    plan_path = tmp_path / "plan.json"
    convert.write_plan(plan_path, **corpus.plan("spoken_digits", settings))
    want = resources.cochlea_chunk(plan_path, chunks=4, channels=700)
    got = stage({"stage": "cochlea_chunk", "plan": str(plan_path), "chunks": 4,
                 "cochlea": {"pad_s": 0.25}, "settings": settings})
    assert got["n_clips"] == 10 and got["n_events"] > 0
    assert got["peak_rss_mb"] <= want.mem_mb, (got, want)


def test_the_resource_model_cuts_a_batch_as_the_engine_does():
    from neurokws.model import engine

    assert resources.TASKS_PER_THREAD == engine.TASKS_PER_THREAD
    for threads in (1, 2, 16):
        tasks = engine._tasks(32, threads)
        assert len(tasks) == (1 if threads == 1 else min(32, resources.TASKS_PER_THREAD
                                                         * threads))
