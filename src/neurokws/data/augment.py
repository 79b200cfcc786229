"""The paper's training augmentations, Shift and Blend, seeded and vectorised.

Reimplemented from the paper's training script (neworderofjamie/ml_genn_netx_paper,
classifier/classifier.py, classes Shift and Blend). Differences from that code are listed
in each docstring; the main one is that ours is reproducible (numpy Generator), the paper
used the unseeded global numpy RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numba
import numpy as np

from neurokws.data.formats.events import EventSplit, concatenate


def draw_shifts(rng: np.random.Generator, n: int, max_shift: int,
                include_max: bool = True) -> np.ndarray:
    """n integer channel shifts, uniform on [-max_shift, max_shift] (int32).

    include_max=False reproduces the paper code's np.random.randint(-40, 40), whose exclusive
    upper bound gives [-40, 39]; the default follows the paper's text (docs/model.md#shift).
    """
    high = max_shift if include_max else max_shift - 1
    return rng.integers(-max_shift, high, size=n, endpoint=True).astype(np.int32)


def apply_shift(split: EventSplit, shifts: np.ndarray) -> EventSplit:
    """Move every event of sample s by shifts[s] channels; drop events leaving [0, n_channels)."""
    shifts = np.asarray(shifts, dtype=np.int32)
    if shifts.shape != (len(split),):
        raise ValueError(f"need one shift per sample ({len(split)}), got {shifts.shape}")
    counts = np.zeros(len(split), dtype=np.int64)
    empty_t, empty_u = np.zeros(0, np.int32), np.zeros(0, np.int16)
    _shift_pass(split.times_us, split.units, split.offsets, shifts, split.n_channels,
                counts, empty_t, empty_u, False)
    offsets = np.zeros(len(split) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    times = np.empty(int(offsets[-1]), dtype=np.int32)
    units = np.empty(int(offsets[-1]), dtype=np.int16)
    _shift_pass(split.times_us, split.units, split.offsets, shifts, split.n_channels,
                offsets, times, units, True)
    return split.with_events(times, units, offsets)


def shift(split: EventSplit, rng: np.random.Generator, max_shift: int,
          include_max: bool = True) -> EventSplit:
    """Paper's Shift: one integer per example, uniform in [-max_shift, max_shift], applied to
    all channels together; events leaving [0, n_channels) are dropped. Times are untouched."""
    return apply_shift(split, draw_shifts(rng, len(split), max_shift, include_max))


@numba.njit(parallel=True, cache=True)
def _shift_pass(times, units, offsets, shifts, n_channels, out_offsets, out_t, out_u,
                fill):  # pragma: no cover - compiled
    """Count kept events per sample (fill=False, into out_offsets) or write them (fill=True)."""
    n = offsets.shape[0] - 1
    for s in numba.prange(n):
        pos = out_offsets[s] if fill else 0
        d = shifts[s]
        for e in range(offsets[s], offsets[s + 1]):
            c = np.int32(units[e]) + d
            if c >= 0 and c < n_channels:
                if fill:
                    out_t[pos] = times[e]
                    out_u[pos] = c
                pos += 1
        if not fill:
            out_offsets[s] = pos


def draw_blend_pairs(labels: np.ndarray, rng: np.random.Generator,
                     n_new: int) -> tuple[np.ndarray, np.ndarray]:
    """Blend partners as in the paper's loop: the first example uniform over the whole split,
    the second uniform over all examples of the same class (it may be the same example)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("cannot draw blend pairs from an empty split")
    first = rng.integers(0, len(labels), size=n_new)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    lab = labels[first]
    start = np.searchsorted(sorted_labels, lab, side="left")
    count = np.searchsorted(sorted_labels, lab, side="right") - start
    second = order[start + rng.integers(0, count)]
    return first.astype(np.int64), second.astype(np.int64)


@dataclass(frozen=True)
class BlendPlan:
    """The random draws of `n_new` blends (partners, moves, coin key); no events yet."""

    first: np.ndarray     # (n_new,) int64 first partner (its label and speaker)
    second: np.ndarray    # (n_new,) int64 second partner
    half_ch: np.ndarray   # (n_new,) int64 channel move of the first partner (second: minus)
    half_t: np.ndarray    # (n_new,) int64 time move (us) of the first partner
    key: np.uint64        # coin_uniform key
    p_first: float
    t_max_us: float

    def __len__(self) -> int:
        return len(self.first)


def plan_blend(split: EventSplit, rng: np.random.Generator, n_new: int, n_steps: int,
               dt_ms: float, p_blend: float = 0.5) -> BlendPlan:
    """Draw everything `blend` draws, in the same order (see blend)."""
    t_max_us = float(n_steps) * float(dt_ms) * 1000.0
    if n_new <= 0:
        none = np.zeros(0, np.int64)
        return BlendPlan(none, none, none, none, np.uint64(0), float(p_blend), t_max_us)
    first, second = draw_blend_pairs(split.labels, rng, n_new)
    mean_ch, mean_t = _sample_means(split.times_us, split.units, split.offsets, t_max_us)
    # A sample with no event before T has NaN means: then neither partner moves.
    empty = np.isnan(mean_ch[first]) | np.isnan(mean_ch[second])
    half_ch = np.trunc(np.nan_to_num((mean_ch[second] - mean_ch[first]) / 2)).astype(np.int64)
    half_t = np.trunc(np.nan_to_num((mean_t[second] - mean_t[first]) / 2)).astype(np.int64)
    half_ch[empty] = 0
    half_t[empty] = 0
    key = np.uint64(rng.integers(0, 2**63))
    return BlendPlan(first, second, half_ch, half_t, key, float(p_blend), t_max_us)


def blend_events(split: EventSplit, plan: BlendPlan, which: np.ndarray | None = None
                 ) -> EventSplit:
    """The events of the planned blends `which` (all by default), in that order. A blend's
    events depend only on the plan and its own index, so any subset gives the same blends."""
    which = np.arange(len(plan), dtype=np.int64) if which is None else \
        np.ascontiguousarray(which, dtype=np.int64)
    first, second = plan.first[which], plan.second[which]
    counts = np.zeros(len(which), dtype=np.int64)
    args = (split.times_us, split.units, split.offsets, first, second, plan.half_ch[which],
            plan.half_t[which], which, plan.key, plan.p_first, plan.t_max_us,
            split.n_channels)
    _blend_pass(*args, counts, np.zeros(0, np.int32), np.zeros(0, np.int16), False)
    offsets = np.zeros(len(which) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    times = np.empty(int(offsets[-1]), dtype=np.int32)
    units = np.empty(int(offsets[-1]), dtype=np.int16)
    _blend_pass(*args, offsets, times, units, True)
    return replace(split, times_us=times, units=units, offsets=offsets,
                   labels=split.labels[first],
                   speakers=None if split.speakers is None else split.speakers[first])


def blend(split: EventSplit, rng: np.random.Generator, n_new: int, n_steps: int,
          dt_ms: float, p_blend: float = 0.5) -> EventSplit:
    """Paper's Blend: n_new new examples, each mixing two examples of one class.

    Returns only the new examples (labels/speakers of the first partner); use
    events.concatenate([split, blends]) or augment_epoch to add them to the training set.
    Per blend, following the paper's code: draw the pair (draw_blend_pairs); crop both to
    t <= T (the paper loads data through tonic's CropTime(max=T), inclusive); compute each
    one's mean channel and mean time (microseconds, like tonic's event times); move each
    halfway towards the other, int() truncating toward zero in channels and microseconds;
    drop events outside [0, n_channels) x [0, T); keep each event of the first with p_blend
    and of the second with 1 - p_blend; merge sorted by time (ties: first partner first;
    the paper's unstable argsort leaves tie order arbitrary, which binning makes moot).
    An example with no event before T (the paper would crash on int(nan)) is not moved.
    The coin flips come from a counter-based generator (coin_uniform) keyed by one draw
    from `rng`, so the result depends only on rng's state (reproducible, thread-safe).
    """
    return blend_events(split, plan_blend(split, rng, n_new, n_steps, dt_ms, p_blend))


@numba.njit(cache=True)
def coin_uniform(key, stream, i):  # pragma: no cover - compiled
    """Uniform [0, 1) for event i of coin stream `stream` (2*blend + partner) under `key`.

    Counter-based (splitmix64 finaliser of key + stream * 2^32 + i): the same numbers in the
    counting and the writing pass and in any thread, with no per-event random array.
    """
    z = np.uint64(key) + (np.uint64(stream) << np.uint64(32)) + np.uint64(i)
    z += np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(np.int64(z >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def coin_uniforms(key, stream, n):  # pragma: no cover - compiled
    """coin_uniform for events 0..n-1 of one stream, as an array (for tests and checks)."""
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = coin_uniform(key, stream, i)
    return out


@numba.njit(cache=True)
def _sample_means(times, units, offsets, t_crop_us):  # pragma: no cover - compiled
    """Mean channel and mean time (us) per sample over events with t <= t_crop_us."""
    n = offsets.shape[0] - 1
    mean_ch = np.full(n, np.nan)
    mean_t = np.full(n, np.nan)
    for s in range(n):
        sc = 0.0
        st = 0.0
        m = 0
        for e in range(offsets[s], offsets[s + 1]):
            if times[e] <= t_crop_us:
                sc += units[e]
                st += times[e]
                m += 1
        if m > 0:
            mean_ch[s] = sc / m
            mean_t[s] = st / m
    return mean_ch, mean_t


@numba.njit(inline="always")
def _next_kept(times, units, lo, hi, i, dch, dt, key, stream, p, t_max_us,
               n_channels):  # pragma: no cover - compiled
    """Index >= i of the next event in [lo, hi) surviving crop, move, bounds and coin flip."""
    while i < hi:
        t = times[i]
        if t <= t_max_us:
            c = units[i] + dch
            tt = t + dt
            if c >= 0 and c < n_channels and tt >= 0 and tt < t_max_us:
                if coin_uniform(key, stream, i - lo) < p:
                    return i
        i += 1
    return hi


@numba.njit(parallel=True, cache=True)
def _blend_pass(times, units, offsets, first, second, half_ch, half_t, ids, key, p_first,
                t_max_us, n_channels, out_offsets, out_t, out_u,
                fill):  # pragma: no cover - compiled
    """Count (fill=False) or write (fill=True) each blend: a two-pointer merge by time.
    ids[b] is blend b's index in its plan (its coin streams 2 ids[b] and 2 ids[b] + 1)."""
    p_second = 1.0 - p_first
    for b in numba.prange(first.shape[0]):
        a_lo = offsets[first[b]]
        a_hi = offsets[first[b] + 1]
        b_lo = offsets[second[b]]
        b_hi = offsets[second[b] + 1]
        da_c = half_ch[b]
        da_t = half_t[b]
        db_c = -half_ch[b]
        db_t = -half_t[b]
        sa = 2 * ids[b]
        sb = 2 * ids[b] + 1
        i = _next_kept(times, units, a_lo, a_hi, a_lo, da_c, da_t, key, sa, p_first,
                       t_max_us, n_channels)
        j = _next_kept(times, units, b_lo, b_hi, b_lo, db_c, db_t, key, sb, p_second,
                       t_max_us, n_channels)
        pos = out_offsets[b] if fill else 0
        while i < a_hi or j < b_hi:
            take_a = j >= b_hi or (i < a_hi and times[i] + da_t <= times[j] + db_t)
            if take_a:
                if fill:
                    out_t[pos] = times[i] + da_t
                    out_u[pos] = units[i] + da_c
                i = _next_kept(times, units, a_lo, a_hi, i + 1, da_c, da_t, key, sa, p_first,
                               t_max_us, n_channels)
            else:
                if fill:
                    out_t[pos] = times[j] + db_t
                    out_u[pos] = units[j] + db_c
                j = _next_kept(times, units, b_lo, b_hi, j + 1, db_c, db_t, key, sb,
                               p_second, t_max_us, n_channels)
            pos += 1
        if not fill:
            out_offsets[b] = pos


@dataclass(frozen=True)
class EpochPlan:
    """One epoch's training set as random draws: originals 0..n-1, then the planned blends,
    each with its channel shift. `events(samples)` builds the events of any samples; an
    epoch sample's events do not depend on which other samples are built with it, so an
    epoch can be built block by block (bounded memory) with the same numbers as at once."""

    split: EventSplit
    blends: BlendPlan | None
    shifts: np.ndarray | None       # (n_total,) int32 channel shift per epoch sample

    def __len__(self) -> int:
        return len(self.split) + (len(self.blends) if self.blends is not None else 0)

    @property
    def labels(self) -> np.ndarray:
        """Labels of all epoch samples (blends: their first partner's)."""
        if self.blends is None:
            return self.split.labels
        return np.concatenate([self.split.labels, self.split.labels[self.blends.first]])

    def events(self, samples: np.ndarray | None = None) -> EventSplit:
        """The augmented events of epoch samples `samples` (all by default), in that order."""
        n = len(self.split)
        samples = np.arange(len(self), dtype=np.int64) if samples is None else \
            np.asarray(samples, dtype=np.int64)
        blended = samples >= n
        if blended.any():
            parts = concatenate([self.split.subset(samples[~blended]),
                                 blend_events(self.split, self.blends, samples[blended] - n)])
            where = np.empty(len(samples), dtype=np.int64)   # position of each in `parts`
            where[~blended] = np.arange(int((~blended).sum()))
            where[blended] = int((~blended).sum()) + np.arange(int(blended.sum()))
            out = parts.subset(where)
        else:
            out = self.split.subset(samples)
        return out if self.shifts is None else apply_shift(out, self.shifts[samples])


def plan_epoch(split: EventSplit, rng: np.random.Generator, augmentations: Sequence[str],
               n_steps: int, dt_ms: float, shift_max: int, blend_n_new: int | None,
               include_max: bool = True) -> EpochPlan:
    """The paper's epoch: originals + blends (if 'blend'), then every example shifted (if
    'shift'), drawn from `rng` in that order. blend_n_new=None: as many blends as originals."""
    unknown = set(augmentations) - {"shift", "blend"}
    if unknown:
        raise ValueError(f"unknown augmentation(s) {sorted(unknown)}; use 'shift', 'blend'")
    blends = None
    if "blend" in augmentations:
        n_new = len(split) if blend_n_new is None else int(blend_n_new)
        blends = plan_blend(split, rng, n_new, n_steps, dt_ms)
    n_total = len(split) + (len(blends) if blends is not None else 0)
    shifts = draw_shifts(rng, n_total, shift_max, include_max) \
        if "shift" in augmentations else None
    return EpochPlan(split, blends, shifts)


def augment_epoch(split: EventSplit, rng: np.random.Generator, augmentations: Sequence[str],
                  n_steps: int, dt_ms: float, shift_max: int, blend_n_new: int | None,
                  include_max: bool = True) -> EventSplit:
    """One epoch's whole training set at once (plan_epoch(...).events())."""
    plan = plan_epoch(split, rng, augmentations, n_steps, dt_ms, shift_max, blend_n_new,
                      include_max)
    return split if plan.blends is None and plan.shifts is None else plan.events()
