"""Sequence detection: classes defined by the order and spacing of two input patterns.

After the sequence-detection task of Meszaros et al. 2025 (arXiv 2501.07331; code
github.com/mbalazs98/deventprop, `sequence_detection.py`: two channels, class 0 = channel 0
then channel 1 ten steps later, class 1 the reverse), scaled up to the workflow's data: P
patterns, each a fixed random set of `pattern_channels` input channels that fire
`spikes_per_channel` times within `jitter_ms` of the pattern's time. A sample is an
ordered pair (X, Y), X != Y, of patterns, Y one of the gaps `gaps_ms` after X, at a
uniformly random onset; the class is (X, Y, gap), so there are P (P - 1) G classes, and
samples of different classes contain the same spikes in another order or spacing.
Background spikes (`noise_hz` per channel) are added everywhere.

Order alone is visible without memory: the readout weights time by exp(-t / T), so the
ratio of X's to Y's contribution is exp(+-gap / T) whatever the onset (measured: the
delay-free network learns a single 25 ms gap to 97.7 %). Spacing is not: gaps longer than
the membrane and synaptic time constants leave no trace of X in a neuron when Y arrives,
and a linear readout of spike counts cannot tell gap g1 at onset t from g2 at another
onset. With a synaptic delay of about the gap on X's channels, X and Y arrive together and
a coincidence detector tells each spacing apart.

Deterministic for a seed: the patterns come from (seed, 0), each split's samples from
(seed, split, 1).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.data.formats.events import EventSplit
from neurokws.data.formats.heidelberg import write_split
from neurokws.utils.provenance import provenance

SPLIT_STREAMS = {"train": 1, "valid": 2, "test": 3}


@dataclass(frozen=True)
class SequenceTask:
    """The task's parameters (times in ms; no defaults here: a config source would hold them
    in config/schema.yaml)."""

    n_patterns: int
    pattern_channels: int
    spikes_per_channel: int
    n_channels: int
    gaps_ms: tuple[float, ...]
    jitter_ms: float
    noise_hz: float
    duration_ms: float

    def __post_init__(self) -> None:
        if self.spikes_per_channel < 1:
            raise ValueError("sequence: spikes_per_channel must be >= 1")
        if self.n_patterns < 2:
            raise ValueError(f"sequence: n_patterns must be >= 2, got {self.n_patterns}")
        if self.n_patterns * self.pattern_channels > self.n_channels:
            raise ValueError(f"sequence: {self.n_patterns} patterns x {self.pattern_channels} "
                             f"channels do not fit in {self.n_channels} channels")
        if not self.gaps_ms or len(set(self.gaps_ms)) != len(self.gaps_ms):
            raise ValueError(f"sequence: gaps_ms must be distinct values, got {self.gaps_ms}")
        if not (0 < min(self.gaps_ms)
                and max(self.gaps_ms) + 2 * self.jitter_ms < self.duration_ms):
            raise ValueError("sequence: every gap + 2 jitter_ms must lie inside duration_ms")

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> SequenceTask:
        """The task of a config's `datasets.<name>.sequence` section (its task keys)."""
        values = {f.name: settings[f.name] for f in fields(cls)}
        return cls(**{**values, "gaps_ms": tuple(float(g) for g in values["gaps_ms"])})

    @property
    def classes(self) -> list[tuple[int, int, float]]:
        """(first, second, gap_ms) per class, in class order."""
        return [(a, b, g) for a in range(self.n_patterns) for b in range(self.n_patterns)
                if a != b for g in self.gaps_ms]

    @property
    def keys(self) -> tuple[str, ...]:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        return tuple(f"{letters[a]}-{g:g}-{letters[b]}" for a, b, g in self.classes)

    def patterns(self, seed: int) -> np.ndarray:
        """(P, pattern_channels) disjoint channel sets."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))
        chosen = rng.permutation(self.n_channels)[:self.n_patterns * self.pattern_channels]
        return np.sort(chosen.reshape(self.n_patterns, self.pattern_channels), axis=1)


def generate_split(task: SequenceTask, n_samples: int, seed: int,
                   split: str = "train") -> EventSplit:
    """n_samples samples with balanced classes (cycled, then shuffled), sorted events."""
    patterns = task.patterns(seed)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLIT_STREAMS[split], 1]))
    n_classes = len(task.classes)
    labels = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int32)
    span = max(task.gaps_ms) + 2 * task.jitter_ms   # every class: the same onset range
    times, units, counts = [], [], []
    for label in labels:
        first, second, gap = task.classes[label]
        onset = rng.uniform(task.jitter_ms, task.duration_ms - span)
        k = task.pattern_channels * task.spikes_per_channel
        t = [onset + rng.uniform(-task.jitter_ms, task.jitter_ms, k),
             onset + gap + rng.uniform(-task.jitter_ms, task.jitter_ms, k)]
        ch = [np.repeat(patterns[first], task.spikes_per_channel),
              np.repeat(patterns[second], task.spikes_per_channel)]
        n_noise = rng.poisson(task.noise_hz * task.duration_ms / 1000.0 * task.n_channels)
        t.append(rng.uniform(0.0, task.duration_ms, n_noise))
        ch.append(rng.integers(0, task.n_channels, n_noise))
        t_us = np.rint(np.concatenate(t) * 1000.0).astype(np.int64)
        c = np.concatenate(ch).astype(np.int64)
        order = np.lexsort((c, t_us))
        times.append(t_us[order].astype(np.int32))
        units.append(c[order].astype(np.int16))
        counts.append(order.size)
    offsets = np.zeros(n_samples + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return EventSplit(times_us=np.concatenate(times) if times else np.empty(0, np.int32),
                      units=np.concatenate(units) if units else np.empty(0, np.int16),
                      offsets=offsets, labels=labels, n_channels=task.n_channels,
                      n_classes=n_classes, keys=task.keys)


def write_sequence_dataset(out_train: str | os.PathLike, out_test: str | os.PathLike,
                           task: SequenceTask, n_train: int, n_test: int,
                           seed: int) -> dict[str, Any]:
    """Generate the train and test splits (the same patterns, independent samples) and write
    them in the SHD HDF5 layout (the dataset source `sequence`); returns a summary."""
    settings = {**asdict(task), "n_train": n_train, "n_test": n_test, "seed": seed}
    summary: dict[str, Any] = {"settings": settings, "splits": {}}
    for name, path, count in (("train", out_train, n_train), ("test", out_test, n_test)):
        split = generate_split(task, count, seed, split=name)
        info = {"n_samples": len(split), "n_events": split.n_events,
                "events_per_sample": split.n_events / max(len(split), 1),
                "keys": list(split.keys or ())}
        summary["splits"][name] = info
        write_split(Path(path), split, attrs={
            "neurokws_sequence": {**settings, "split": name, **info},
            "neurokws_provenance": provenance(config=settings, seed=seed)})
    return summary
