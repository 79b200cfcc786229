"""Sequence detection: classes defined by the order of two input patterns (a delay task).

After the sequence-detection task of Meszaros et al. 2025 (arXiv 2501.07331; code
github.com/mbalazs98/deventprop, `sequence_detection.py`: two channels, class 0 = channel 0
then channel 1 ten steps later, class 1 the reverse), scaled up to the workflow's data: P
patterns, each a fixed random set of `pattern_channels` input channels that fire
`spikes_per_channel` times within `jitter_ms` of the pattern's time. A sample is an
ordered pair (X, Y), X != Y, of patterns, Y `gap_ms` after X, at a uniformly random onset;
the class is the ordered pair, so there are P (P - 1) classes, and (X, Y) and (Y, X)
contain the same spikes in a different order.
Background spikes (`noise_hz` per channel) are added everywhere.

A gap longer than the membrane and synaptic time constants means that when Y arrives, X has
left no trace in a neuron it drove: without memory, the network sees the same two events in
either order. With a synaptic delay of about the gap on X's channels, X and Y arrive
together and a coincidence detector tells the orders apart. (The readout's exp(-t / T)
weighting prefers earlier spikes by a factor exp(-gap / T), 0.975 at gap 25 ms and T 1 s:
a weak cue against the jitter and the noise.)

Deterministic for a seed: the patterns come from (seed, 0), each split's samples from
(seed, split, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurokws.data.events import EventSplit

SPLIT_STREAMS = {"train": 1, "valid": 2, "test": 3}


@dataclass(frozen=True)
class SequenceTask:
    """The task's parameters (times in ms; no defaults here: a config source would hold them
    in config/schema.yaml)."""

    n_patterns: int
    pattern_channels: int
    spikes_per_channel: int
    n_channels: int
    gap_ms: float
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
        if not 0 < self.gap_ms + 2 * self.jitter_ms < self.duration_ms:
            raise ValueError("sequence: gap_ms + 2 jitter_ms must lie inside duration_ms")

    @property
    def classes(self) -> list[tuple[int, int]]:
        """The ordered pairs (first, second), in class order."""
        return [(a, b) for a in range(self.n_patterns) for b in range(self.n_patterns)
                if a != b]

    @property
    def keys(self) -> tuple[str, ...]:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        return tuple(f"{letters[a]}-{letters[b]}" for a, b in self.classes)

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
    span = task.gap_ms + 2 * task.jitter_ms
    times, units, counts = [], [], []
    for label in labels:
        first, second = task.classes[label]
        onset = rng.uniform(task.jitter_ms, task.duration_ms - span)
        k = task.pattern_channels * task.spikes_per_channel
        t = [onset + rng.uniform(-task.jitter_ms, task.jitter_ms, k),
             onset + task.gap_ms + rng.uniform(-task.jitter_ms, task.jitter_ms, k)]
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
