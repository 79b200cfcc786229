"""Training backends: our numba Eventprop engine (default) and mlGeNN (optional).

Selected by the config key `training.backend`. Both run the same loop
(neurokws.train.loop.train) and differ only in how an epoch is run. mlGeNN runs in the
"genn" side environment (GeNN is built from source there, `make genn-env`); the package and
the numba backend work without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from neurokws.config import TrainSettings
from neurokws.data.formats.events import load_npz
from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.train.delays import DelayTraining
from neurokws.train.loop import TrainResult
from neurokws.utils.errors import ConfigError
from neurokws.utils.sidecar import run_module, side_env

BACKENDS = ("numba", "mlgenn")
GENN_BACKENDS_FILE = "genn-backends.json"   # written by envs/genn/setup_genn_env.sh


def train_cell(backend: str, net: NetworkConfig, settings: TrainSettings, seed: int,
               train_path: str | os.PathLike, valid_path: str | os.PathLike | None,
               cell_dir: str | os.PathLike, delays: DelayTraining | None = None,
               init: Weights | None = None, segment: tuple[int, int] | None = None
               ) -> TrainResult | None:
    """Train one cell from prepared splits with `backend`; checkpoints in cell_dir. With
    `delays` (a model with delays), they are learned with the weights; with `init`, training
    starts from those weights instead of the paper's initialisation (fine-tuning). `segment`
    (first, stop): only those epochs (train.loop.train; None until the last epoch)."""
    if backend == "numba":
        from neurokws.backends.numba import train

        valid = load_npz(valid_path) if valid_path else None
        return train(net, settings, seed, load_npz(train_path), Path(cell_dir), valid,
                     delays=delays, init=init, segment=segment)
    if segment is not None and segment != (0, settings.epochs):
        raise ConfigError(f"the {backend} backend trains a cell in one job; it cannot run "
                          f"epochs {segment[0]}..{segment[1] - 1} as a segment: raise "
                          "resources.max_runtime or train with the numba backend")
    if backend == "mlgenn":
        reply = run_module("genn", "neurokws.backends.mlgenn", {
            "op": "train", "net": net.to_dict(), "settings": settings.to_dict(),
            "seed": int(seed), "train": os.fspath(Path(train_path).resolve()),
            "valid": os.fspath(Path(valid_path).resolve()) if valid_path else None,
            "cell_dir": os.fspath(Path(cell_dir).resolve()),
            "delays": None if delays is None else delays.to_dict()},
            None if init is None else {f"init_{k}": a for k, a in init.arrays().items()})
        weights = Weights(*(np.asarray(reply.arrays[k], np.float32) for k in Weights.NAMES))
        learned = (None if delays is None else
                   Delays(*(np.asarray(reply.arrays[k], np.int32) for k in Delays.NAMES)))
        return TrainResult(weights=weights, selected_epoch=int(reply.data["selected_epoch"]),
                           selection=reply.data["selection"], log_rows=reply.data["log_rows"],
                           delays=learned)
    raise ConfigError(f"unknown training backend {backend!r}; use one of {BACKENDS}")


def genn_built_backends() -> list[str]:
    """GeNN backends of the "genn" side env as its recipe recorded them ([] without it)."""
    record = side_env("genn").path / GENN_BACKENDS_FILE
    if not record.is_file():
        return []
    return list(json.loads(record.read_text()).get("backends", []))


def training_gpus(backend: str) -> int:
    """GPUs a training job of `backend` asks the cluster for: 1 for mlGeNN built with CUDA."""
    return int(backend == "mlgenn" and "cuda" in genn_built_backends())


__all__ = ["BACKENDS", "genn_built_backends", "train_cell", "training_gpus"]
