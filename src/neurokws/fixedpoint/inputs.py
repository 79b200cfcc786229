"""Input streams for the fixed-point network: per-sample (step, channel, value) events.

Two ways to present a spoken digit to the deployed network:

- "aligned" (default, what training saw): binary spikes on bins [k dt, (k+1) dt) from t = 0,
  repeats of a channel in a bin collapsed, cropped at T; sent as unary spikes
  (input_message_bits 0).
- "paper" (how the paper fed Lava): event counts per frame of ``frame_us`` starting at the
  sample's first event (tonic ``ToFrame(time_window=...)``: only complete frames, the last
  partial one is dropped), cast to int8 as the paper did, sent as graded 8-bit values
  (input_message_bits 8). Frames beyond T are cropped (the paper asserted there were none).

Pure numpy: the Lava runner (inside .venv-lava) imports this module too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurokws import paper

INPUT_MODES = ("aligned", "paper")


@dataclass(frozen=True, eq=False)
class StepInputs:
    """Events of many samples on the step grid, sorted by (step, channel) within a sample.

    steps/channels/values: int32 per event (value 1 for unary spikes); offsets: int64
    (n_samples + 1,). message_bits: 0 = unary spikes, 8 = graded 8-bit values.
    """

    steps: np.ndarray
    channels: np.ndarray
    values: np.ndarray
    offsets: np.ndarray
    n_steps: int
    n_channels: int
    message_bits: int = 0

    def __post_init__(self) -> None:
        """Normalise dtypes and check shapes (cheap checks only)."""
        set_ = object.__setattr__
        for name, dtype in (("steps", np.int32), ("channels", np.int32), ("values", np.int32),
                            ("offsets", np.int64)):
            set_(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        if not (self.steps.shape == self.channels.shape == self.values.shape):
            raise ValueError("steps, channels and values must have one entry per event")
        if self.offsets.ndim != 1 or self.offsets.size < 1 or self.offsets[0] != 0 \
                or self.offsets[-1] != self.steps.size or np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must run from 0 to the number of events, non-decreasing")
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {self.n_steps}")
        if self.steps.size and (self.steps.min() < 0 or self.steps.max() >= self.n_steps
                                or self.channels.min() < 0
                                or self.channels.max() >= self.n_channels):
            raise ValueError("an event lies outside [0, n_steps) x [0, n_channels)")
        if self.message_bits not in (0, paper.LAVA_INPUT_MESSAGE_BITS):
            raise ValueError(f"message_bits must be 0 or 8, got {self.message_bits}")
        if self.message_bits == 0 and np.any(self.values != 1):
            raise ValueError("unary spikes (message_bits 0) must all have value 1")
        if self.values.size and (self.values.min() < -128 or self.values.max() > 127):
            raise ValueError("graded values must fit 8 bits ([-128, 127])")

    def __len__(self) -> int:
        """Number of samples."""
        return self.offsets.size - 1

    @property
    def graded(self) -> bool:
        """True when values are sent as graded messages (input_message_bits > 0)."""
        return self.message_bits > 0

    def select(self, indices: np.ndarray) -> StepInputs:
        """The samples at `indices`, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        lo, hi = self.offsets[indices], self.offsets[indices + 1]
        counts = hi - lo
        offsets = np.zeros(indices.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        take = (np.repeat(lo - offsets[:-1], counts) + np.arange(offsets[-1])).astype(np.int64)
        return StepInputs(self.steps[take], self.channels[take], self.values[take], offsets,
                          self.n_steps, self.n_channels, self.message_bits)

    def dense(self, i: int) -> np.ndarray:
        """Sample i as an int32 (n_channels, n_steps) matrix, Lava's RingBuffer layout."""
        lo, hi = self.offsets[i], self.offsets[i + 1]
        out = np.zeros((self.n_channels, self.n_steps), dtype=np.int32)
        out[self.channels[lo:hi], self.steps[lo:hi]] = self.values[lo:hi]
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for an .npz file (read back with `from_arrays`)."""
        return {"steps": self.steps, "channels": self.channels, "values": self.values,
                "offsets": self.offsets, "n_steps": np.int64(self.n_steps),
                "n_channels": np.int64(self.n_channels),
                "message_bits": np.int64(self.message_bits)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> StepInputs:
        """Inverse of `arrays`."""
        return cls(arrays["steps"], arrays["channels"], arrays["values"], arrays["offsets"],
                   int(arrays["n_steps"]), int(arrays["n_channels"]),
                   int(arrays["message_bits"]))


def _offsets(sample: np.ndarray, n_samples: int) -> np.ndarray:
    """Per-sample offsets of events already sorted by sample id."""
    offsets = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(sample, minlength=n_samples), out=offsets[1:])
    return offsets


def _unique_events(sample: np.ndarray, steps: np.ndarray, channels: np.ndarray,
                   n_steps: int, n_channels: int) -> tuple[np.ndarray, ...]:
    """Sort events by (sample, step, channel); return unique (sample, step, channel, count)."""
    key = (sample.astype(np.int64) * n_steps + steps) * n_channels + channels
    uniq, counts = np.unique(key, return_counts=True)
    u_sample, rest = np.divmod(uniq, n_steps * n_channels)
    u_step, u_channel = np.divmod(rest, n_channels)
    return u_sample, u_step, u_channel, counts


def _sample_index(offsets: np.ndarray) -> np.ndarray:
    """Sample id of every event given per-sample offsets."""
    offsets = np.asarray(offsets, dtype=np.int64)
    return np.repeat(np.arange(offsets.size - 1), np.diff(offsets))


def aligned_inputs(steps: np.ndarray, channels: np.ndarray, offsets: np.ndarray,
                   n_steps: int, n_channels: int = 700) -> StepInputs:
    """Unary spikes from binned (step, channel) events; steps >= n_steps are cropped."""
    steps, channels = np.asarray(steps, np.int64), np.asarray(channels, np.int64)
    n_samples = len(offsets) - 1
    sample = _sample_index(offsets)
    keep = (steps >= 0) & (steps < n_steps)
    smp, s, c, _ = _unique_events(sample[keep], steps[keep], channels[keep], n_steps, n_channels)
    return StepInputs(s, c, np.ones(s.size, np.int32), _offsets(smp, n_samples), n_steps,
                      n_channels, 0)


def aligned_from_events(times_us: np.ndarray, units: np.ndarray, offsets: np.ndarray,
                        n_steps: int, n_channels: int = 700, dt_us: int = 1000) -> StepInputs:
    """Unary spikes from raw events: bin k = floor(t / dt) from t = 0 (training's binning)."""
    steps = np.floor_divide(np.asarray(times_us, np.int64), int(dt_us))
    return aligned_inputs(steps, units, offsets, n_steps, n_channels)


def paper_inputs(times_us: np.ndarray, units: np.ndarray, offsets: np.ndarray, n_steps: int,
                 n_channels: int = 700, frame_us: int = 1000) -> StepInputs:
    """Graded int8 event counts per frame from the first event (the paper's Lava input)."""
    times = np.asarray(times_us, np.int64)
    offsets = np.asarray(offsets, np.int64)
    n_samples = offsets.size - 1
    frame = np.full(times.size, -1, dtype=np.int64)
    for i in range(n_samples):
        lo, hi = offsets[i], offsets[i + 1]
        if hi > lo:
            frame[lo:hi] = tonic_frames(times[lo:hi], frame_us)
    keep = (frame >= 0) & (frame < n_steps)
    smp, s, c, counts = _unique_events(_sample_index(offsets)[keep], frame[keep],
                                       np.asarray(units, np.int64)[keep], n_steps, n_channels)
    values = counts.astype(np.int8).astype(np.int32)   # the paper's tensors.astype(np.int8)
    nz = values != 0
    return StepInputs(s[nz], c[nz], values[nz], _offsets(smp[nz], n_samples), n_steps,
                      n_channels, paper.LAVA_INPUT_MESSAGE_BITS)


def tonic_frames(t: np.ndarray, frame_us: int) -> np.ndarray:
    """Frame of each event (sorted times) as tonic's ToFrame(time_window) slices; -1: dropped.

    Frames [t0 + k w, t0 + (k+1) w) from the first event t0; only floor((t_last - t0 - w) / w)
    + 1 (at least 1) frames exist, so events in the last, incomplete frame are dropped.
    """
    t = np.asarray(t, np.int64)
    n_frames = max(int(np.floor((float(t[-1] - t[0]) - frame_us) / frame_us) + 1), 1)
    frame = (t - t[0]) // int(frame_us)
    frame[frame >= n_frames] = -1
    return frame


def build_inputs(mode: str, times_us: np.ndarray, units: np.ndarray, offsets: np.ndarray,
                 n_steps: int, n_channels: int = 700, dt_us: int = 1000) -> StepInputs:
    """Raw events -> StepInputs in `mode` "aligned" (default input) or "paper"."""
    if mode == "aligned":
        return aligned_from_events(times_us, units, offsets, n_steps, n_channels, dt_us)
    if mode == "paper":
        return paper_inputs(times_us, units, offsets, n_steps, n_channels, dt_us)
    raise ValueError(f"input mode must be one of {INPUT_MODES}, got {mode!r}")
