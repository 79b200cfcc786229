"""Events -> binary spikes on the dt grid: bin k = floor(t / dt), crop at T, collapse repeats.

As docs/model.md#input-binning: bins [k dt, (k+1) dt) from t = 0; several events of one
channel in one bin give one spike; events with k >= n_steps are dropped (crop at T).
mlGeNN's preprocess_tonic_spikes (histogram2d on float ms edges, last edge closed) agrees
except in float rounding at edges and for an event exactly on the last edge, which it
puts in the last bin; here bins are strictly half-open and computed in integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numba
import numpy as np

from neurokws.data.formats.events import EventSplit, _ranges


@dataclass(frozen=True, eq=False)
class BinnedSplit:
    """Binary spikes on the dt grid; what the training engine consumes.

    steps/channels: step index and channel of each spike (int16 where T and the channel
    count fit, else int32: compact_index_dtype), sorted by (step, channel) within a sample,
    without duplicates. offsets: int64 (n_samples + 1,). labels: int32.
    """

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    n_steps: int
    n_channels: int
    dt_ms: float

    def __len__(self) -> int:
        """Number of samples."""
        return len(self.labels)

    @property
    def n_spikes(self) -> int:
        """Total number of spikes over all samples."""
        return len(self.steps)

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, channels) views of sample i."""
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.steps[lo:hi], self.channels[lo:hi]

    def subset(self, indices: Sequence[int] | np.ndarray) -> BinnedSplit:
        """A new BinnedSplit of the given samples in the given order (e.g. one batch)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"subset index out of range for {len(self)} samples")
        starts = self.offsets[idx]
        counts = self.offsets[idx + 1] - starts
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        gather = _ranges(starts, counts, offsets)
        return replace(self, steps=self.steps[gather], channels=self.channels[gather],
                       offsets=offsets, labels=self.labels[idx])

    def dense(self, i: int) -> np.ndarray:
        """Sample i as a (n_steps, n_channels) uint8 0/1 array (for tests and plots)."""
        out = np.zeros((self.n_steps, self.n_channels), dtype=np.uint8)
        steps, channels = self.sample(i)
        out[steps, channels] = 1
        return out


def compact_index_dtype(n_steps: int, n_channels: int) -> np.dtype:
    """int16 for step and channel indices where both fit (2 bytes per index), else int32."""
    limit = np.iinfo(np.int16).max
    return np.dtype(np.int16 if n_steps <= limit and n_channels <= limit else np.int32)


def bin_events(split: EventSplit, dt_ms: float, n_steps: int) -> BinnedSplit:
    """Bin every sample of `split` onto a grid of n_steps steps of dt_ms (exact integer maths
    when dt_ms * 1000 is a whole number of microseconds)."""
    if not dt_ms > 0 or n_steps < 0:
        raise ValueError(f"need dt_ms > 0 and n_steps >= 0, got {dt_ms}, {n_steps}")
    dt_us = float(dt_ms) * 1000.0
    dt_int = round(dt_us)
    exact = math.isclose(dt_us, dt_int, rel_tol=0.0, abs_tol=1e-9) and dt_int >= 1
    counts = np.zeros(len(split), dtype=np.int64)
    args = (split.times_us, split.units, split.offsets, dt_int if exact else 0, dt_us,
            int(n_steps), int(split.n_channels))
    dtype = compact_index_dtype(n_steps, split.n_channels)
    _bin_pass(*args, counts, np.zeros(0, dtype), np.zeros(0, dtype), False)
    offsets = np.zeros(len(split) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    steps = np.empty(int(offsets[-1]), dtype=dtype)
    channels = np.empty(int(offsets[-1]), dtype=dtype)
    _bin_pass(*args, offsets, steps, channels, True)
    return BinnedSplit(steps=steps, channels=channels, offsets=offsets,
                       labels=split.labels.astype(np.int32), n_steps=int(n_steps),
                       n_channels=int(split.n_channels), dt_ms=float(dt_ms))


@numba.njit(parallel=True, cache=True)
def _bin_pass(times_us, units, offsets, dt_int, dt_us, n_steps, n_channels,
              out_offsets, out_steps, out_channels, fill):  # pragma: no cover - compiled
    """One pass over all samples in parallel: count spikes (fill=False) or write them.

    In count mode out_offsets receives per-sample counts; in fill mode it holds the final
    offsets. Fast path assumes time-sorted events (the EventSplit contract): a per-channel
    'last bin' stamp drops repeats in O(1) and each bin's spikes are then put in channel
    order (_sort_group). A sample whose bins go backwards falls back to a full sort.
    """
    n = offsets.shape[0] - 1
    for s in numba.prange(n):
        last = np.full(n_channels, -1, dtype=np.int64)
        lo = offsets[s]
        hi = offsets[s + 1]
        pos = out_offsets[s] if fill else 0
        group = pos
        current = -1
        in_order = True
        for e in range(lo, hi):
            t = times_us[e]
            if t < 0:
                continue
            k = t // dt_int if dt_int > 0 else np.int64(math.floor(t / dt_us))
            if k >= n_steps:
                continue
            if k < current:
                in_order = False
                break
            if k != current:  # close the previous bin before its stamps are overwritten
                if fill:
                    _sort_group(out_channels, group, pos, last, current)
                group = pos
                current = k
            ch = units[e]
            if last[ch] == k:
                continue
            last[ch] = k
            if fill:
                out_steps[pos] = k
                out_channels[pos] = ch
            pos += 1
        if in_order:
            if fill:
                _sort_group(out_channels, group, pos, last, current)
            else:
                out_offsets[s] = pos
        else:
            _bin_unsorted(times_us, units, lo, hi, dt_int, dt_us, n_steps, n_channels,
                          out_offsets, out_steps, out_channels, s, fill)


@numba.njit(cache=True)
def _sort_group(channels, lo, hi, last, k):  # pragma: no cover - compiled
    """Sort the channels of bin k, channels[lo:hi], in place.

    A handful of spikes (the usual case): insertion sort. Big groups (phase-locked events
    of many channels in one bin, common in SHD): read them back in channel order from the
    'last bin' stamps, a linear scan over n_channels instead of an O(g log g) sort.
    """
    if hi - lo > 16:
        pos = lo
        for c in range(last.shape[0]):
            if last[c] == k:
                channels[pos] = c
                pos += 1
        return
    for i in range(lo + 1, hi):
        v = channels[i]
        j = i - 1
        while j >= lo and channels[j] > v:
            channels[j + 1] = channels[j]
            j -= 1
        channels[j + 1] = v


@numba.njit(cache=True)
def _bin_unsorted(times_us, units, lo, hi, dt_int, dt_us, n_steps, n_channels,
                  out_offsets, out_steps, out_channels, s, fill):  # pragma: no cover
    """Slow path for a sample whose events are not time-sorted: sort keys, keep uniques."""
    keys = np.empty(hi - lo, dtype=np.int64)
    m = 0
    for e in range(lo, hi):
        t = times_us[e]
        if t < 0:
            continue
        k = t // dt_int if dt_int > 0 else np.int64(math.floor(t / dt_us))
        if k >= n_steps:
            continue
        keys[m] = k * n_channels + units[e]
        m += 1
    keys = np.sort(keys[:m])
    pos = out_offsets[s] if fill else 0
    for i in range(m):
        if i > 0 and keys[i] == keys[i - 1]:
            continue
        if fill:
            out_steps[pos] = keys[i] // n_channels
            out_channels[pos] = keys[i] % n_channels
        pos += 1
    if not fill:
        out_offsets[s] = pos
