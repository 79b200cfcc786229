"""Training in segments (docs/resources.md): a chain of jobs, each training a contiguous range of
epochs from the checkpoint the one before left, ends with the bits of one run; a segment
refuses a checkpoint that is not its run's and touches nothing; the segment plan fits the
partition's limit or says why it cannot."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurokws import resources
from neurokws.backends.numba import train
from neurokws.config import network_config, train_settings
from neurokws.data.sources.synthetic import generate_split
from neurokws.utils.errors import ModelFormatError
from test_train_loop import CONFIG
from workflow_helpers import ROOT, snakemake


@pytest.fixture(scope="module")
def tiny_split():
    return generate_split(64, 4, seed=11, difficulty=0.3, duration_ms=250.0)


def _run(tmp: Path, split, segment=None, seed: int = 5, epochs: int = 5):
    net = network_config(CONFIG, 24, n_out=split.n_classes, n_in=split.n_channels)
    settings = dataclasses.replace(train_settings(CONFIG, "tiny", 24), epochs=epochs)
    return train(net, settings, seed, split, tmp, segment=segment)


def test_a_chain_of_segments_gives_the_bits_of_one_run(tmp_path, tiny_split):
    whole = _run(tmp_path / "whole", tiny_split)
    assert _run(tmp_path / "chain", tiny_split, (0, 2)) is None
    assert _run(tmp_path / "chain", tiny_split, (2, 3)) is None
    last = _run(tmp_path / "chain", tiny_split, (3, 5))
    for name in ("w_in", "w_rec", "w_out"):
        assert getattr(last.weights, name).tobytes() == getattr(whole.weights, name).tobytes()
    assert last.selected_epoch == whole.selected_epoch
    def strip(rows):   # JSON: NaN (no valid split) compares equal to NaN
        return json.dumps([{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows])

    assert strip(last.log_rows) == strip(whole.log_rows)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_segment_refuses_another_runs_checkpoint_and_touches_nothing(tmp_path, tiny_split):
    _run(tmp_path, tiny_split, (0, 2), seed=6)                # another seed's checkpoint
    last = tmp_path / "checkpoints" / "last.npz"
    before = _digest(last)
    with pytest.raises(ModelFormatError, match="belongs to another config, seed or data"):
        _run(tmp_path, tiny_split, (2, 5), seed=5)
    assert _digest(last) == before
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.npz", "last.npz"]


def test_a_segment_without_the_previous_checkpoint_says_what_to_run(tmp_path, tiny_split):
    with pytest.raises(ModelFormatError, match="there is none: run the chain from its start"):
        _run(tmp_path, tiny_split, (2, 5))
    assert not (tmp_path / "checkpoints").exists()


def test_segments_fit_the_limit_and_split_the_epochs_evenly():
    # 100 epochs of 20 min under 24 h: 1440 / 1.25 min minus start-up = 57 epochs a job
    plan = resources.segments(100, 1200.0, 1440)
    assert plan == [(0, 50), (50, 100)]
    for first, stop in plan:
        minutes = resources.MARGIN * (resources.STARTUP_S + (stop - first) * 1200.0) / 60
        assert minutes <= 1440
    assert resources.segments(7, 1.0, None, max_epochs=2) == [(0, 2), (2, 4), (4, 5), (5, 7)]
    assert resources.segments(7, None, None) == [(0, 7)]
    scaled = resources.segments(100, 1200.0, 1440, {"runtime_scale": 2.0})
    assert len(scaled) == 4


def test_a_limit_below_one_epoch_is_refused_with_the_epochs_estimate():
    with pytest.raises(resources.LimitError, match=r"one training epoch is estimated to need "
                       r"26 min .* more than resources.max_runtime = 20 min"):
        resources.segments(10, 1200.0, 20)


def test_a_stage_over_the_limit_names_rule_job_and_fix():
    request = resources.Request(mem_mb=5000, runtime=90)
    resources.check_limits("eval_fixed", "dataset=ssc", request, 1, {"max_runtime": 90})
    with pytest.raises(resources.LimitError, match=r"rule eval_fixed \(dataset=ssc\) would ask "
                       r"for 90 min > resources.max_runtime = 60 min; 5000 MB > "
                       r"resources.max_mem_mb = 4000 MB: this stage cannot be split"):
        resources.check_limits("eval_fixed", "dataset=ssc", request, 1,
                               {"max_runtime": 60, "max_mem_mb": 4000})


@pytest.mark.workflow
def test_the_workflow_chains_segments_with_the_weights_of_one_job(tmp_path):
    """Snakemake with resources.segment_epochs 2 plans train_segment jobs for epochs 0-1,
    2 and train for 3-4 (5 epochs), and its model.npz holds the weights of the same config
    run in one job."""
    config = yaml.safe_load((ROOT / "config" / "synthetic.yaml").read_text())
    config["datasets"]["synth"]["synthetic"].update(n_train=96, n_test=48, n_classes=4)
    config["datasets"]["synth"]["epochs"] = 5
    config.update(hidden_sizes=[16], seeds=[3])
    config["model"]["n_steps"] = 300
    config["training"]["progress_bar"] = False
    target = "results/synth/h16/seed3/model.npz"
    weights = {}
    for name, limits in (("chain", {"segment_epochs": 2}), ("one", {})):
        work = tmp_path / name
        work.mkdir()
        (work / "c.yaml").write_text(yaml.safe_dump({**config, "resources": limits}))
        proc = snakemake(target, "--cores", "2", "--configfile", "c.yaml", cwd=work)
        assert proc.returncode == 0, proc.stderr[-3000:]
        with np.load(work / target) as archive:
            weights[name] = {k: archive[k].tobytes() for k in ("w_in", "w_rec", "w_out")}
    markers = sorted(p.name for p in (tmp_path / "chain/results/synth/h16/seed3/segments")
                     .iterdir())
    assert markers == ["epochs0-2.json", "epochs2-3.json"]
    assert weights["chain"] == weights["one"]
