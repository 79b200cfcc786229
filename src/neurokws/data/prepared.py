"""Statistics recorded beside each prepared split (shown in logs and the report)."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurokws.data.events import EventSplit


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
