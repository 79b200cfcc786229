"""Workflow-level fixed-point evaluation: emulator on a whole split, Lava subsets and merges.

The emulator runs every sample in isolation (stream_len 1: a fresh network per sample, as
in training), and the Lava chunks run the same way, so their predictions must agree 100 %.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from neurokws.data.formats.events import EventSplit
from neurokws.fixedpoint.emulator import Activity, Classification, FixedPointNetwork
from neurokws.fixedpoint.inputs import INPUT_MODES, StepInputs, build_inputs

log = logging.getLogger(__name__)
OUTPUT_SPIKE_WARNING = (
    "%s: %d output-layer spikes in %d of %d samples (%s input): an output neuron reached "
    "its threshold and was reset, which corrupts the readout (Lava does the same; "
    "docs/fixedpoint.md#output-threshold)")


def split_inputs(split: EventSplit, mode: str, n_steps: int, dt_ms: float) -> StepInputs:
    """A split's events as Loihi inputs in `mode` ("aligned" binary or "paper" graded)."""
    dt_us = dt_ms * 1000.0
    if dt_us != int(dt_us):
        raise ValueError(f"fixed-point inputs need a whole number of microseconds per step, "
                         f"got dt_ms={dt_ms}")
    return build_inputs(mode, split.times_us, split.units, split.offsets, n_steps,
                        split.n_channels, int(dt_us))


def lava_subset(n_samples: int, n_subset: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of the samples Lava evaluates: all, or a seeded random subset."""
    if n_subset is None or n_subset >= n_samples:
        return np.arange(n_samples, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_samples, size=n_subset, replace=False)).astype(np.int64)


BLOCK_SAMPLES = 512   # samples whose Loihi inputs are built at once (~100 B per event)


def classify_split(network: FixedPointNetwork, split: EventSplit, mode: str, n_steps: int,
                   dt_ms: float, block_samples: int = BLOCK_SAMPLES) -> Classification:
    """The emulator's classification of every sample (isolated), inputs built per block so
    memory does not grow with the split."""
    parts = []
    for start in range(0, len(split), block_samples):
        block = split.subset(np.arange(start, min(start + block_samples, len(split))))
        parts.append(network.classify(split_inputs(block, mode, n_steps, dt_ms),
                                      stream_len=1))
    if not parts:
        return network.classify(split_inputs(split, mode, n_steps, dt_ms), stream_len=1)
    activity = Activity(*(np.concatenate([getattr(p.activity, f) for p in parts])
                          for f in Activity.__dataclass_fields__))
    return Classification(np.concatenate([p.pred for p in parts]),
                          np.concatenate([p.scores for p in parts]), activity)


def emulate(net_path: str | os.PathLike, split: EventSplit, n_steps: int, dt_ms: float,
            modes: Sequence[str] = INPUT_MODES) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Classify every sample with the bit-exact emulator in each input mode.

    Returns per-sample predictions (one column per mode) and a summary with accuracy,
    activity totals per mode (activity feeds the Loihi 2 energy estimate) and the output
    layer's spikes (non-zero: the readout was corrupted; logged as a warning).
    """
    network = FixedPointNetwork.from_netx(net_path)
    labels = np.asarray(split.labels, dtype=np.int64)
    frame = pd.DataFrame({"sample": np.arange(len(split)), "label": labels})
    summary: dict[str, Any] = {"n_samples": len(split), "modes": {}}
    for mode in modes:
        result = classify_split(network, split, mode, n_steps, dt_ms)
        frame[f"pred_{mode}"] = result.pred
        frame[f"output_spikes_{mode}"] = result.activity.output_spikes
        totals = result.activity.totals()
        spiking = int(np.count_nonzero(result.activity.output_spikes))
        summary["modes"][mode] = {
            "accuracy": result.accuracy(labels),
            "activity_per_sample": {k: v / max(len(split), 1) for k, v in totals.items()},
            "output_spikes": totals["output_spikes"], "samples_with_output_spikes": spiking}
        if spiking:
            log.warning(OUTPUT_SPIKE_WARNING, net_path, totals["output_spikes"], spiking,
                        len(split), mode)
    return frame, summary


def merge_lava_chunks(chunks: Sequence[dict[str, np.ndarray]],
                      emulator_pred: np.ndarray | None = None) -> dict[str, Any]:
    """Combine Lava chunk outputs; accuracy on the subset and agreement with the emulator."""
    indices = np.concatenate([c["indices"] for c in chunks]).astype(np.int64)
    pred = np.concatenate([c["pred"] for c in chunks]).astype(np.int64)
    labels = np.concatenate([c["labels"] for c in chunks]).astype(np.int64)
    out_spikes = np.concatenate([c["output_spikes"] for c in chunks]).astype(np.int64)
    if len(np.unique(indices)) != len(indices):
        raise ValueError("Lava chunks overlap: the same sample was evaluated twice")
    order = np.argsort(indices)
    indices, pred, labels = indices[order], pred[order], labels[order]
    result: dict[str, Any] = {
        "n_samples": len(indices), "accuracy": float(np.mean(pred == labels)) if len(pred)
        else float("nan"),
        "wall_s": float(sum(float(c["wall_s"]) for c in chunks)),
        "output_spikes": int(out_spikes.sum()),
        "samples_with_output_spikes": int(np.count_nonzero(out_spikes)),
        "indices": indices.tolist(), "predictions": pred.tolist()}
    if emulator_pred is not None:
        emu = np.asarray(emulator_pred, dtype=np.int64)[indices]
        result["agreement_with_emulator"] = float(np.mean(emu == pred)) if len(pred) else 1.0
        result["disagreeing_samples"] = indices[emu != pred].tolist()
    return result
