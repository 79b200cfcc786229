"""Compile the workflow's numba kernels once, ahead of the workflow (`make run` does this).

The kernels are compiled with ``cache=True``: the first process that calls one compiles it
and writes the machine code next to its module (``__pycache__``); every later process loads
it. In a fresh clone, each workflow job would otherwise compile what it needs on first use
(about 17 s for training, 6 s for the cochlea, ...), several jobs the same kernels at once.
This module calls every public entry point the workflow uses, on a tiny generated split and
a 0.1 s clip, with the argument types the workflow uses, so the workflow finds them
compiled. It computes nothing that is kept: results go to a temporary folder that is removed.

Usage: ``python -m neurokws.warm`` (prints the seconds it took).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from neurokws.config import (
    TrainSettings,
    default_config,
    default_network,
    delay_training,
    train_settings,
)
from neurokws.data.cochlea import Cochlea
from neurokws.data.convert import clip_rng
from neurokws.data.events import load_npz, save_npz
from neurokws.data.heidelberg import read_split
from neurokws.data.synthetic import write_synthetic_dataset
from neurokws.deploy.netx import write_netx
from neurokws.deploy.quantize import quantize
from neurokws.fixedpoint.evaluation import emulate
from neurokws.fixedpoint.inputs import INPUT_MODES
from neurokws.train.evaluate import evaluate
from neurokws.train.loop import train


def warm(folder: Path) -> None:
    """Run every compiled path once on tiny inputs inside `folder`."""
    # The cochlea (plan -> chunk jobs): a 0.1 s noise clip at the default 16 kHz.
    noise = np.random.default_rng(0).standard_normal(1600)
    Cochlea(pad_s=0.25)(noise, 16000, clip_rng(0, 0))
    # Data: the Heidelberg HDF5 reader and the compact event store (prepare).
    write_synthetic_dataset(folder / "train.h5", folder / "test.h5", n_classes=2, n_train=8,
                            n_test=4, n_speakers_train=2, n_speakers_test=1, n_channels=700,
                            duration_ms=100.0)
    for split in ("train", "test"):
        save_npz(folder / f"{split}.npz", read_split(folder / f"{split}.h5"))
    train_split, test_split = load_npz(folder / "train.npz"), load_npz(folder / "test.npz")
    # Training (binning, both augmentations, the engine's forward and backward passes) and
    # float evaluation, on the schema's settings.
    config = default_config(datasets={"warm": {"source": "synthetic", "epochs": 1,
                                               "augmentations": ["shift", "blend"]}})
    net = default_network(8, n_out=2, n_in=700, n_steps=100)
    settings = TrainSettings.from_dict({**train_settings(config, "warm", 8).to_dict(),
                                        "batch_size": 4, "progress_bar": False})
    result = train(net, settings, 0, train_split, folder / "cell", None)
    evaluate(net, result.weights, test_split)
    # Deployment: quantization, NetX, the bit-exact emulator in every input mode.
    qmodel = quantize(net, result.weights, bits=8, percentile=99.0, source="warm")
    write_netx(folder / "model.net", qmodel, {"rule": "warm"})
    emulate(folder / "model.net", test_split, net.n_steps, net.dt, list(INPUT_MODES))
    # The same with learned delays (the delay kernels, their training and the emulator's
    # delay rings), fine-tuning the model above as the default's cells with delays do.
    delayed = dataclasses.replace(net, max_delay_in=4, max_delay_rec=4)
    spec = delay_training(default_config(training={"delays": {"start": "delay_free"}}), True)
    tuned = train(delayed, settings, 0, train_split, folder / "delays", None, delays=spec,
                  init=result.weights)
    evaluate(delayed, tuned.weights, test_split, delays=tuned.delays)
    write_netx(folder / "delays.net", quantize(delayed, tuned.weights, bits=8, percentile=99.0,
                                               source="warm", delays=tuned.delays),
               {"rule": "warm"})
    emulate(folder / "delays.net", test_split, net.n_steps, net.dt, list(INPUT_MODES))


def main() -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurokws-warm-") as tmp:
        warm(Path(tmp))
    print(f"neurokws: numba kernels compiled and cached in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
