"""Flat event storage for one dataset split: events of all samples in two arrays + offsets.

Compact (6 bytes per event) and fast to slice; every other data module works on it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from neurokws.utils.atomic import write_npz
from neurokws.utils.errors import DataFormatError

NPZ_FORMAT_VERSION = 1
N_CHANNELS = 700  # channels of the Heidelberg cochlea model behind SHD/SSC (Cramer et al. 2020)


@dataclass(frozen=True, eq=False)
class EventSplit:
    """One split as flat event arrays plus per-sample offsets (compact, fast).

    times_us: int32 microseconds (rint(seconds * 1e6)), sorted by time within each sample.
    units: int16 channel in [0, n_channels). offsets: int64 (n_samples + 1,); sample s owns
    events [offsets[s], offsets[s+1]). labels: int (n_samples,). keys/speakers: optional
    class names and per-sample speaker ids carried along from the file.
    """

    times_us: np.ndarray
    units: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    n_channels: int = N_CHANNELS
    n_classes: int | None = None
    keys: tuple[str, ...] | None = None
    speakers: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Normalise dtypes and check the cheap O(n_samples) invariants."""
        set_ = object.__setattr__
        set_(self, "times_us", np.ascontiguousarray(self.times_us, dtype=np.int32))
        set_(self, "units", np.ascontiguousarray(self.units, dtype=np.int16))
        set_(self, "offsets", np.ascontiguousarray(self.offsets, dtype=np.int64))
        labels = np.asarray(self.labels)
        if labels.dtype not in (np.int16, np.int32):
            labels = labels.astype(np.int32)
        set_(self, "labels", np.ascontiguousarray(labels))
        if self.speakers is not None:
            set_(self, "speakers", np.ascontiguousarray(self.speakers, dtype=np.int32))
        if self.keys is not None:
            set_(self, "keys", tuple(str(k) for k in self.keys))
        if self.n_classes is None:
            n_classes = (len(self.keys) if self.keys is not None
                         else int(self.labels.max()) + 1 if len(self.labels) else 0)
            set_(self, "n_classes", n_classes)
        n = len(self.labels)
        if self.offsets.shape != (n + 1,):
            raise ValueError(f"offsets has shape {self.offsets.shape}, expected ({n + 1},)")
        if self.times_us.shape != self.units.shape or self.times_us.ndim != 1:
            raise ValueError("times_us and units must be 1-D arrays of equal length")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.times_us):
            raise ValueError("offsets must start at 0 and end at the number of events")
        if n and np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must be non-decreasing")
        if self.speakers is not None and self.speakers.shape != (n,):
            raise ValueError(f"speakers has shape {self.speakers.shape}, expected ({n},)")

    def __len__(self) -> int:
        """Number of samples."""
        return len(self.labels)

    @property
    def n_events(self) -> int:
        """Total number of events over all samples."""
        return len(self.times_us)

    @property
    def counts(self) -> np.ndarray:
        """Events per sample (int64)."""
        return np.diff(self.offsets)

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(times_us, units) views of sample i."""
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.times_us[lo:hi], self.units[lo:hi]

    def subset(self, indices: Sequence[int] | np.ndarray) -> EventSplit:
        """A new split holding the given samples, in the given order (repeats allowed)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset index out of range for a split of {len(self)} samples")
        idx = np.where(idx < 0, idx + len(self), idx)
        starts = self.offsets[idx]
        counts = self.offsets[idx + 1] - starts
        new_offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=new_offsets[1:])
        gather = _ranges(starts, counts, new_offsets)
        return replace(self, times_us=self.times_us[gather], units=self.units[gather],
                       offsets=new_offsets, labels=self.labels[idx],
                       speakers=None if self.speakers is None else self.speakers[idx])

    @staticmethod
    def concatenate(splits: Sequence[EventSplit]) -> EventSplit:
        """Stack splits sample-wise; same as the module-level concatenate()."""
        return concatenate(splits)

    def with_events(self, times_us: np.ndarray, units: np.ndarray,
                    offsets: np.ndarray) -> EventSplit:
        """The same samples (labels, speakers, keys) with new events."""
        return replace(self, times_us=times_us, units=units, offsets=offsets)


def _ranges(starts: np.ndarray, counts: np.ndarray, new_offsets: np.ndarray) -> np.ndarray:
    """Concatenated index ranges [starts[i], starts[i] + counts[i]) as one int64 array."""
    total = int(new_offsets[-1])
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # Position j of output belongs to range r(j); its source is starts[r] + (j - new_offsets[r]).
    shift = np.repeat(starts - new_offsets[:-1], counts)
    return np.arange(total, dtype=np.int64) + shift


def hold_out(split: EventSplit, fraction: float, seed: int
             ) -> tuple[EventSplit, EventSplit]:
    """(rest, held): `fraction` of each label's samples (rounded, at least one where the
    label has two or more) drawn from `seed`, in their original order in both parts. A
    selection split for datasets without a validation split (QAT, train/loop.py)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out share must lie strictly between 0 and 1, got {fraction}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x401D]))
    held = np.zeros(len(split), dtype=bool)
    for label in np.unique(split.labels):
        members = np.flatnonzero(split.labels == label)
        k = min(len(members) - 1, max(1, round(fraction * len(members))))
        held[rng.choice(members, size=k, replace=False)] = True
    return split.subset(np.flatnonzero(~held)), split.subset(np.flatnonzero(held))


def concatenate(splits: Sequence[EventSplit]) -> EventSplit:
    """Stack splits sample-wise (e.g. originals + blends); metadata taken from the first."""
    if not splits:
        raise ValueError("concatenate needs at least one split")
    first = splits[0]
    if any(s.n_channels != first.n_channels for s in splits):
        raise ValueError("cannot concatenate splits with different n_channels")
    offsets = [np.zeros(1, dtype=np.int64)]
    base = 0
    for s in splits:
        offsets.append(s.offsets[1:] + base)
        base += s.n_events
    speakers = (None if any(s.speakers is None for s in splits)
                else np.concatenate([s.speakers for s in splits]))
    n_classes = max(int(s.n_classes or 0) for s in splits)
    return replace(first, times_us=np.concatenate([s.times_us for s in splits]),
                   units=np.concatenate([s.units for s in splits]),
                   offsets=np.concatenate(offsets),
                   labels=np.concatenate([s.labels for s in splits]),
                   speakers=speakers, n_classes=n_classes)


def save_npz(path: str | os.PathLike, split: EventSplit) -> None:
    """Atomically store a split as an uncompressed .npz (the workflow's 'prepared' format)."""
    arrays = {"format_version": np.int64(NPZ_FORMAT_VERSION), "times_us": split.times_us,
              "units": split.units, "offsets": split.offsets, "labels": split.labels,
              "n_channels": np.int64(split.n_channels), "n_classes": np.int64(split.n_classes)}
    if split.keys is not None:
        arrays["keys"] = np.asarray(split.keys, dtype=np.str_)
    if split.speakers is not None:
        arrays["speakers"] = split.speakers
    write_npz(path, **arrays)


def load_npz(path: str | os.PathLike) -> EventSplit:
    """Load a split written by save_npz (raises DataFormatError naming the file if bad)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format_version"]) != NPZ_FORMAT_VERSION:
                raise DataFormatError(
                    f"{path}: prepared-events format version {int(data['format_version'])} "
                    f"!= {NPZ_FORMAT_VERSION}; delete it and rerun the prepare step.")
            keys = tuple(str(k) for k in data["keys"]) if "keys" in data else None
            return EventSplit(times_us=data["times_us"], units=data["units"],
                              offsets=data["offsets"], labels=data["labels"],
                              n_channels=int(data["n_channels"]),
                              n_classes=int(data["n_classes"]), keys=keys,
                              speakers=data["speakers"] if "speakers" in data else None)
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: prepared-events file not found; run the prepare "
                              "step (snakemake rule 'prepare') to create it.") from exc
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"{path}: not a valid prepared-events .npz ({exc}); delete it "
                              "and rerun the prepare step.") from exc
