"""Training checkpoints: full resumable state written atomically after every epoch."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.model.network import Delays, Weights
from neurokws.utils.atomic import write_json, write_npz
from neurokws.utils.errors import ModelFormatError
from neurokws.utils.provenance import file_sha256

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """Everything needed to continue training bit-identically after an interruption."""

    epoch: int                       # epochs completed
    weights: Weights
    optimizer: dict[str, np.ndarray]
    schedule: dict[str, Any]
    log_rows: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float = -np.inf
    best_epoch: int = -1
    run_hash: str = ""
    delays: Delays | None = None     # float delays (steps), when delays are learned


def save_checkpoint(path: str | os.PathLike, state: TrainState) -> None:
    """Atomically write `state` (a killed write leaves the previous checkpoint intact)."""
    meta = {"epoch": state.epoch, "schedule": state.schedule, "log_rows": state.log_rows,
            "best_metric": state.best_metric, "best_epoch": state.best_epoch,
            "run_hash": state.run_hash}
    delays = {} if state.delays is None else {f"delay_{k}": a
                                              for k, a in state.delays.arrays().items()}
    write_npz(path, **state.weights.arrays(), **state.optimizer, **delays,
              meta=np.array(json.dumps(meta)))


def load_checkpoint(path: str | os.PathLike) -> TrainState:
    """Read a checkpoint written by `save_checkpoint`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            weights = Weights(*(np.array(archive[k]) for k in Weights.NAMES))
            optimizer = {k: np.array(archive[k]) for k in archive.files
                         if k.startswith("adam_")}
            delays = (Delays(*(np.array(archive[f"delay_{k}"]) for k in Delays.NAMES))
                      if "delay_d_in" in archive.files else None)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(f"{path}: unreadable training checkpoint ({exc}); move it "
                               "away to restart this run from scratch.") from exc
    return TrainState(epoch=int(meta["epoch"]), weights=weights, optimizer=optimizer,
                      schedule=meta["schedule"], log_rows=meta["log_rows"],
                      best_metric=float(meta["best_metric"]), best_epoch=int(meta["best_epoch"]),
                      run_hash=meta.get("run_hash", ""), delays=delays)


def resume_or_none(path: Path, run_hash: str) -> TrainState | None:
    """The checkpoint at `path` if it belongs to this run; set a stale one aside, never delete."""
    if not path.exists():
        return None
    state = load_checkpoint(path)
    if state.run_hash == run_hash:
        return state
    stale = path.with_name(f"{path.stem}.stale-{state.run_hash or 'unknown'}{path.suffix}")
    log.warning("checkpoint %s is from a different config/seed (run %s, now %s); "
                "moved to %s and starting from scratch", path, state.run_hash, run_hash, stale)
    os.replace(path, stale)
    return None


def resume_segment(path: Path, run_hash: str, first: int) -> TrainState:
    """The checkpoint a training segment starting at epoch `first` continues from: it must
    exist, belong to this run and have reached `first` epochs; otherwise nothing is
    touched and the error names the file and the fix."""
    path = Path(path)
    cell = path.parent.parent
    if not path.exists():
        raise ModelFormatError(
            f"{path}: this training segment starts at epoch {first} and continues from the "
            "checkpoint the segment before it left, but there is none: run the chain from its "
            f"start (delete {cell / 'segments'} to have every segment run again)")
    state = load_checkpoint(path)
    if state.run_hash != run_hash:
        raise ModelFormatError(
            f"{path} belongs to another config, seed or data (run {state.run_hash or 'unknown'}"
            f", this segment's run {run_hash}); nothing was overwritten: to train this config "
            f"afresh, move {path.parent} and {cell / 'segments'} aside and rerun")
    if state.epoch < first:
        raise ModelFormatError(
            f"{path} has {state.epoch} epochs, but this segment starts after epoch {first}: "
            f"the segment before it did not finish (delete {cell / 'segments'} to rerun it)")
    return state


def write_segment_marker(path: str | os.PathLike, segment: tuple[int, int],
                         cell_dir: str | os.PathLike, provenance: dict[str, Any]) -> None:
    """The output of a training segment: its epochs and the checkpoint it left (SHA-256)."""
    last = Path(cell_dir) / "checkpoints" / "last.npz"
    write_json(path, {"first_epoch": int(segment[0]), "stop_epoch": int(segment[1]),
                      "checkpoint": str(last), "checkpoint_sha256": file_sha256(last),
                      "provenance": provenance})


def segment_stop(path: str | os.PathLike) -> int:
    """The epoch the segment of marker `path` trained up to (the next one starts there)."""
    try:
        return int(json.loads(Path(path).read_text())["stop_epoch"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFormatError(f"{path}: not a training segment's marker ({exc}); delete it "
                               "to run that segment again") from exc
