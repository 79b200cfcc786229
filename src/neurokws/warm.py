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

import tempfile
import time
from pathlib import Path

import numpy as np

from neurokws.config import default_config, delay_training, train_settings
from neurokws.data.cochlea import Cochlea
from neurokws.data.sources.convert import clip_rng
from neurokws.data.sources.synthetic import write_synthetic_dataset
from neurokws.fixedpoint.inputs import INPUT_MODES
from neurokws.stages.data import prepare
from neurokws.stages.deploy import export_netx, quantize
from neurokws.stages.fixedpoint import eval_fixed
from neurokws.stages.train import evaluate_float, train_model
from neurokws.utils.provenance import fixed
from neurokws.utils.records import CellKey

WARM = fixed({"rule": "warm"})   # the provenance of what it writes (and then removes)
N_HIDDEN = 8


def warm(folder: Path) -> None:
    """Run every compiled path once on tiny inputs inside `folder`, through the workflow's
    own stage functions (neurokws.stages) on the schema's settings."""
    # The cochlea (plan -> chunk jobs): a 0.1 s noise clip at the default 16 kHz.
    noise = np.random.default_rng(0).standard_normal(1600)
    Cochlea(pad_s=0.25)(noise, 16000, clip_rng(0, 0))
    # Data: the Heidelberg HDF5 reader and the compact event store (prepare).
    write_synthetic_dataset(folder / "train.h5", folder / "test.h5", n_classes=2, n_train=8,
                            n_test=4, n_speakers_train=2, n_speakers_test=1, n_channels=700,
                            duration_ms=100.0)
    for split in ("train", "test"):
        prepare(folder / f"{split}.h5", folder / f"{split}.npz",
                folder / f"{split}.summary.json", allow_empty=False, provenance=WARM)
    # Training (binning, both augmentations, the engine's forward and backward passes), then
    # float evaluation, quantization, NetX and the bit-exact emulator in every input mode;
    # then the same with learned delays (the delay kernels, their training and the
    # emulator's delay rings), fine-tuning the model above as the default's cells with
    # delays do. Short trials and delays: the types, not the sizes, decide what compiles.
    config = default_config(
        datasets={"warm": {"source": "synthetic", "epochs": 1,
                           "augmentations": ["shift", "blend"]}},
        model={"n_steps": 100, "delays": {"max_in": 4, "max_rec": 4}},
        training={"batch_size": 4, "progress_bar": False,
                  "delays": {"start": "delay_free"}})
    settings = train_settings(config, "warm", N_HIDDEN).to_dict()
    plain = {k: v for k, v in config["model"].items() if k != "delays"}
    for delays in (False, True):
        cell = CellKey("warm", N_HIDDEN, delays, 0)
        out = folder / ("delays" if delays else "cell")
        spec = delay_training(config, delays)
        train_model(folder / "train.npz", out, hidden=N_HIDDEN, seed=0,
                    model_section=config["model"] if delays else plain, settings=settings,
                    delays=None if spec is None else spec.to_dict(),
                    backend=config["training"]["backend"], provenance=WARM,
                    init=folder / "cell" / "model.npz" if delays else None,
                    model=out / "model.npz", log_csv=out / "train_log.csv")
        evaluate_float(out / "model.npz", folder / "test.npz", out / "eval_float.json",
                       out / "predictions.csv", out / "confusion.csv", cell=cell,
                       provenance=WARM)
        quantize(out / "model.npz", out / "quantized.npz", out / "quantization.json",
                 hidden=N_HIDDEN, precision=str(config["deploy"]["bits"][0]),
                 percentile=config["deploy"]["percentile"],
                 model_section=config["model"] if delays else plain, delays=delays,
                 provenance=WARM)
        export_netx(out / "quantized.npz", out / "model.net")
        eval_fixed(out / "model.net", folder / "test.npz", out / "eval_fixed.json",
                   out / "predictions_fixed.csv", cell=cell, method="ptq",
                   modes=list(INPUT_MODES), provenance=WARM)


def main() -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurokws-warm-") as tmp:
        warm(Path(tmp))
    print(f"neurokws: numba kernels compiled and cached in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
