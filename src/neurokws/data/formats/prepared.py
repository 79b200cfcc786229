"""Statistics recorded beside each prepared split (shown in logs and the report)."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurokws.data.formats.events import EventSplit
from neurokws.utils.errors import DataFormatError


def split_summary(split: EventSplit) -> dict[str, Any]:
    """Sample/event counts, durations and class balance of a split."""
    counts = np.diff(split.offsets)
    nonempty = counts > 0
    duration_ms = np.zeros(len(split), dtype=np.float64)
    duration_ms[nonempty] = split.times_us[split.offsets[1:][nonempty] - 1] / 1000.0
    has = len(counts) > 0
    return {"n_samples": len(split), "n_classes": split.n_classes,
            "n_channels": split.n_channels, "n_events": int(counts.sum()),
            "events_per_sample_mean": float(counts.mean()) if has else 0.0,
            "events_per_sample_max": int(counts.max()) if has else 0,
            "empty_samples": int((~nonempty).sum()),
            "duration_ms_mean": float(duration_ms.mean()) if has else 0.0,
            "duration_ms_max": float(duration_ms.max()) if has else 0.0,
            "class_counts": np.bincount(split.labels, minlength=split.n_classes).tolist(),
            "keys": list(split.keys) if split.keys is not None else None}


def check_nonempty(split: EventSplit, source: str, allow_empty: bool = False) -> None:
    """Refuse a split with samples that hold no events, unless explicitly allowed.

    An empty sample gives the network no input at all; in SHD/SSC this only happens when a
    file is damaged, so it is an error unless `allow_empty_samples` is set for the dataset.
    """
    empty = np.flatnonzero(np.diff(split.offsets) == 0)
    if len(empty) and not allow_empty:
        raise DataFormatError(
            f"{source}: {len(empty)} of {len(split)} samples have no events (first: "
            f"{empty[:5].tolist()}); the file may be damaged - regenerate or re-download it, "
            "or set `allow_empty_samples: true` for this dataset in the config to keep them.")
