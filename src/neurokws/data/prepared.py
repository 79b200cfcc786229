"""Prepared splits: a validated EventSplit stored as flat arrays in .npz, with a summary."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from neurokws.data.events import EventSplit
from neurokws.utils.atomic import write_json, write_npz
from neurokws.utils.errors import DataFormatError

FIELDS = ("times_us", "units", "offsets", "labels")


def save_prepared(path: str | os.PathLike, split: EventSplit, provenance: dict[str, Any]) -> None:
    """Atomically store `split` (flat arrays + metadata) for fast loading by later rules."""
    meta = {"n_channels": split.n_channels, "n_classes": split.n_classes,
            "provenance": provenance}
    write_npz(path, **{k: getattr(split, k) for k in FIELDS}, meta=np.array(json.dumps(meta)))


def load_prepared(path: str | os.PathLike) -> EventSplit:
    """Load a split written by `save_prepared`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: np.array(archive[k]) for k in FIELDS}
            meta = json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DataFormatError(f"{path}: unreadable prepared split ({exc}); delete it and rerun "
                              "the `prepare` rule.") from exc
    return EventSplit(**arrays, n_channels=int(meta["n_channels"]),
                      n_classes=meta["n_classes"])


def split_summary(split: EventSplit) -> dict[str, Any]:
    """Dataset statistics recorded beside a prepared split (and shown in the report)."""
    counts = np.diff(split.offsets)
    duration_ms = np.zeros(len(split), dtype=np.float64)
    nonempty = counts > 0
    last = split.offsets[1:][nonempty] - 1
    duration_ms[nonempty] = split.times_us[last] / 1000.0
    return {"n_samples": len(split), "n_classes": split.n_classes,
            "n_channels": split.n_channels, "n_events": int(counts.sum()),
            "events_per_sample_mean": float(counts.mean()) if len(counts) else 0.0,
            "events_per_sample_max": int(counts.max()) if len(counts) else 0,
            "empty_samples": int((~nonempty).sum()),
            "duration_ms_mean": float(duration_ms.mean()) if len(counts) else 0.0,
            "duration_ms_max": float(duration_ms.max()) if len(counts) else 0.0,
            "class_counts": np.bincount(split.labels,
                                        minlength=split.n_classes or 0).tolist()}


def write_summary(path: str | os.PathLike, summary: dict[str, Any]) -> None:
    """Write the summary JSON atomically."""
    write_json(path, summary)


__all__ = ["load_prepared", "save_prepared", "split_summary", "write_summary"]
