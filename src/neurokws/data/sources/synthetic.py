"""Synthetic cochlea-like spoken-word spike data in the SHD format (offline stand-in for SHD).

Each class is a "word": a sequence of 2-4 phones drawn from a shared inventory (words share
phones, so classes overlap). Vowels drive three formant bands that sweep smoothly between
neighbouring phones plus a low pitch band, all phase-locked to glottal pulses (the vertical
stripes of real SHD rasters); fricatives drive a broad high band; plosives a short broadband
burst after a silent closure; every phone onset is emphasised. Speakers differ in vocal-tract
length (formant channel offset and scale), pitch, speaking rate, loudness and typical word
onset; every utterance adds jitter on top, plus uniform background noise. `difficulty` in
[0, 1] shrinks the phone inventory and scales all variability and noise. Everything is drawn
from numpy Generators derived from (seed, purpose), so outputs are deterministic.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.data.formats.events import EventSplit
from neurokws.data.formats.heidelberg import write_split
from neurokws.utils.provenance import provenance

VOWEL, FRICATIVE, PLOSIVE = 0, 1, 2
MAX_PHONES = 4
# Component slots per phone: formants F1-F3, pitch band, frication band, burst; each slot
# exists as a sustained part and as a short onset-emphasis part.
N_SLOTS = 6
ONSET_MS = 20.0
ONSET_GAIN = 1.5
SAMPLE_CHUNK = 256  # samples per event-sampling chunk (fixed: part of the RNG stream)
_VOWEL_LETTERS = "aeiouy"
_FRIC_LETTERS = ("s", "f", "sh", "h", "z", "ch")
_PLOSIVE_LETTERS = "ptkbdg"


@dataclass(frozen=True)
class Templates:
    """Class templates: per class up to MAX_PHONES phones (padded), with names."""

    kind: np.ndarray       # (C, P) int, -1 = no phone
    dur_ms: np.ndarray     # (C, P) nominal phone durations
    formants: np.ndarray   # (C, P, 3) channel targets of F1-F3 (vowels)
    band: np.ndarray       # (C, P, 2) centre and width of frication / burst band
    keys: tuple[str, ...]


def _rng(seed: int, *purpose: int) -> np.random.Generator:
    """A Generator for one purpose of one dataset seed (independent streams)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *purpose]))


def make_templates(n_classes: int, seed: int, difficulty: float = 0.5,
                   n_channels: int = 700) -> Templates:
    """Word templates for n_classes classes; a smaller shared phone inventory when harder."""
    rng = _rng(seed, 0)
    scale = n_channels / 700.0
    n_inv = max(5, round(n_classes * (2.6 - 1.8 * difficulty)))
    inv_kind = rng.choice([VOWEL, FRICATIVE, PLOSIVE], size=n_inv, p=[0.6, 0.22, 0.18])
    inv_kind[:3] = VOWEL  # every inventory has vowels
    f1 = rng.uniform(70, 200, n_inv)
    f2 = f1 + rng.uniform(90, 260, n_inv)
    f3 = f2 + rng.uniform(90, 200, n_inv)
    inv_formants = np.stack([f1, f2, f3], axis=1) * scale
    inv_band = np.stack([np.where(inv_kind == FRICATIVE, rng.uniform(470, 650, n_inv),
                                  rng.uniform(250, 550, n_inv)),
                         np.where(inv_kind == FRICATIVE, rng.uniform(35, 70, n_inv),
                                  rng.uniform(80, 140, n_inv))], axis=1) * scale
    inv_dur = np.select([inv_kind == VOWEL, inv_kind == FRICATIVE],
                        [rng.uniform(90, 200, n_inv), rng.uniform(60, 140, n_inv)],
                        rng.uniform(15, 30, n_inv))
    vowels = np.flatnonzero(inv_kind == VOWEL)
    kind = np.full((n_classes, MAX_PHONES), -1)
    dur = np.zeros((n_classes, MAX_PHONES))
    formants = np.zeros((n_classes, MAX_PHONES, 3))
    band = np.zeros((n_classes, MAX_PHONES, 2))
    seen: set[tuple[int, ...]] = set()
    keys: list[str] = []
    c = 0
    while c < n_classes:
        length = int(rng.integers(2, MAX_PHONES + 1))
        seq = rng.integers(0, n_inv, size=length)
        if not np.any(inv_kind[seq] == VOWEL):  # a word needs a vowel nucleus
            seq[rng.integers(0, length)] = rng.choice(vowels)
        if tuple(seq) in seen:
            continue
        seen.add(tuple(seq))
        kind[c, :length] = inv_kind[seq]
        dur[c, :length] = inv_dur[seq]
        formants[c, :length] = inv_formants[seq]
        band[c, :length] = inv_band[seq]
        keys.append(_word_name(seq, inv_kind, keys))
        c += 1
    return Templates(kind=kind, dur_ms=dur, formants=formants, band=band, keys=tuple(keys))


def _word_name(seq: np.ndarray, inv_kind: np.ndarray, taken: list[str]) -> str:
    """A pronounceable, unique class name from the phone sequence."""
    letters = {VOWEL: _VOWEL_LETTERS, FRICATIVE: _FRIC_LETTERS, PLOSIVE: _PLOSIVE_LETTERS}
    name = "".join(letters[int(inv_kind[p])][int(p) % len(letters[int(inv_kind[p])])]
                   for p in seq)
    base, k = name, 2
    while name in taken:
        name, k = f"{base}{k}", k + 1
    return name


def speaker_params(speakers: Sequence[int], seed: int, difficulty: float) -> dict[str, np.ndarray]:
    """Voice of each speaker id (the same id gives the same voice in every split)."""
    out: dict[str, list[float]] = {k: [] for k in
                                   ("offset", "stretch", "f0", "rate", "loud", "onset")}
    for sp in speakers:
        rng = _rng(seed, 1, int(sp))
        out["offset"].append(rng.normal(0.0, 8 + 30 * difficulty))
        out["stretch"].append(np.exp(rng.normal(0.0, 0.03 + 0.08 * difficulty)))
        out["f0"].append(rng.choice([rng.uniform(85, 140), rng.uniform(165, 260)]))
        out["rate"].append(np.exp(rng.normal(0.0, 0.05 + 0.15 * difficulty)))
        out["loud"].append(np.exp(rng.normal(0.0, 0.1 + 0.15 * difficulty)))
        out["onset"].append(rng.uniform(30, 80 + 200 * difficulty))
    return {k: np.asarray(v) for k, v in out.items()}


def generate_split(n_samples: int, n_classes: int, seed: int, difficulty: float = 0.5,
                   n_channels: int = 700, duration_ms: float = 1000.0,
                   speakers: Sequence[int] = tuple(range(8)), split: str = "train",
                   events_per_sample: float = 8500.0) -> EventSplit:
    """n_samples synthetic utterances (balanced classes, speakers cycled) as an EventSplit.

    Class templates depend only on (seed, n_classes, difficulty), voices only on (seed,
    speaker id), utterances on (seed, split): train and test share words but, given disjoint
    speaker ids, not voices, like SHD's held-out test speakers. About events_per_sample
    events per sample (loudness varies), all times in [0, duration_ms), sorted per sample.
    """
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    if n_channels > 1024:
        raise ValueError("n_channels > 1024 is not supported by the generator")
    templates = make_templates(n_classes, seed, difficulty, n_channels)
    speakers = np.asarray(list(speakers), dtype=np.int64)
    voices = speaker_params(speakers, seed, difficulty)
    rng = _rng(seed, 2, zlib.crc32(split.encode()))
    labels = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int32)
    who = rng.permutation(np.arange(n_samples) % len(speakers))
    comps = _components(templates, voices, who, labels, rng, difficulty, n_channels,
                        duration_ms, events_per_sample)
    times, units, offsets = _sample_events(comps, rng, n_samples, n_channels, duration_ms,
                                           difficulty, events_per_sample)
    return EventSplit(times_us=times, units=units, offsets=offsets, labels=labels,
                      n_channels=n_channels, n_classes=n_classes, keys=templates.keys,
                      speakers=speakers[who])


def _components(t: Templates, voices: dict[str, np.ndarray], who: np.ndarray,
                labels: np.ndarray, rng: np.random.Generator, d: float, n_channels: int,
                duration_ms: float, events_per_sample: float) -> dict[str, np.ndarray]:
    """Per sample x phone x slot: time span, channel sweep, width and event rate."""
    n = len(labels)
    kind = t.kind[labels]                                     # (n, P)
    valid = kind >= 0
    # Timing: speaker and utterance speaking rate, per-phone duration jitter.
    rate = voices["rate"][who] * np.exp(rng.normal(0, 0.03 + 0.10 * d, n))
    dur = t.dur_ms[labels] * rate[:, None] * np.exp(rng.normal(0, 0.08 + 0.2 * d, kind.shape))
    dur = np.where(valid, dur, 0.0)
    gap = np.where(kind == PLOSIVE, rng.uniform(20, 50, kind.shape) * rate[:, None], 0.0)
    length = (dur + gap).sum(axis=1)
    onset = voices["onset"][who] * np.exp(rng.normal(0, 0.2 + 0.3 * d, n))
    latest = np.maximum(0.93 * duration_ms - length, 5.0)
    onset = np.clip(onset, 5.0, latest)
    ends = onset[:, None] + np.cumsum(dur + gap, axis=1)
    start = ends - dur                                        # (n, P) phone start, after gap
    # Spectrum: vocal-tract offset/stretch per speaker + per-utterance, per-phone jitter.
    centre = 0.5 * n_channels
    stretch = voices["stretch"][who] * np.exp(rng.normal(0, 0.01 + 0.03 * d, n))
    offset = voices["offset"][who] + rng.normal(0, 2 + 10 * d, n)
    form = t.formants[labels] + rng.normal(0, 3 + 12 * d, t.formants[labels].shape)
    form = centre + (form - centre) * stretch[:, None, None] + offset[:, None, None]
    # Formants glide: start halfway from the previous vowel's target, end halfway to the next.
    prev = np.concatenate([form[:, :1], form[:, :-1]], axis=1)
    nxt = np.concatenate([form[:, 1:], form[:, -1:]], axis=1)
    prev_ok = np.concatenate([np.zeros((n, 1), bool), kind[:, :-1] == VOWEL], axis=1)
    next_ok = np.concatenate([kind[:, 1:] == VOWEL, np.zeros((n, 1), bool)], axis=1)
    f_start = np.where(prev_ok[..., None], 0.5 * (prev + form), form)
    f_end = np.where(next_ok[..., None], 0.5 * (nxt + form), form - 6.0)
    f0 = voices["f0"][who] * np.exp(rng.normal(0, 0.03 + 0.05 * d, n))
    pitch_ch = n_channels * (0.02 + 0.10 * (f0 - 80.0) / 200.0) + offset * 0.3
    band_c = t.band[labels][..., 0] * stretch[:, None] + offset[:, None]
    band_w = t.band[labels][..., 1]
    # Slot table (n, P, S): start/end channel, width and relative intensity per ms.
    vowel = kind == VOWEL
    ca = np.stack([f_start[..., 0], f_start[..., 1], f_start[..., 2],
                   np.broadcast_to(pitch_ch[:, None], kind.shape), band_c, band_c], axis=-1)
    cb = np.stack([f_end[..., 0], f_end[..., 1], f_end[..., 2],
                   np.broadcast_to(pitch_ch[:, None], kind.shape), band_c, band_c], axis=-1)
    width = np.stack([np.full(kind.shape, 9.0), np.full(kind.shape, 11.0),
                      np.full(kind.shape, 12.0), np.full(kind.shape, 6.0), band_w,
                      band_w], axis=-1) * (n_channels / 700.0)
    inten = np.stack([vowel * 1.0, vowel * 0.8, vowel * 0.5, vowel * 0.45,
                      (kind == FRICATIVE) * 1.1, (kind == PLOSIVE) * 6.0], axis=-1)
    inten = inten * np.exp(rng.normal(0, 0.1 + 0.2 * d, inten.shape))
    voiced = np.broadcast_to(np.array([1, 1, 1, 1, 0, 0], bool), inten.shape)
    ta = np.broadcast_to(start[..., None], inten.shape)
    tb = np.broadcast_to((start + dur)[..., None], inten.shape)
    # Scale intensities to events/ms so the expected signal count matches the target.
    noise_frac = 0.04 + 0.10 * d
    loud = voices["loud"][who] * np.exp(rng.normal(0, 0.1 + 0.1 * d, n))
    onset_extra = np.minimum(tb - ta, ONSET_MS) * ONSET_GAIN
    expected = (inten * ((tb - ta) + onset_extra)).sum(axis=(1, 2))
    per_ms = events_per_sample * (1 - noise_frac) * loud / np.maximum(expected, 1e-9)
    rate_ms = inten * per_ms[:, None, None]
    sample = np.broadcast_to(np.arange(n)[:, None, None], inten.shape)
    sustained = dict(sample=sample, ta=ta, tb=tb, ca=ca, cb=cb, width=width, rate=rate_ms,
                     voiced=voiced)
    burst_tb = np.minimum(tb, ta + ONSET_MS)
    onsets = dict(sustained, tb=burst_tb, cb=ca + (cb - ca) * (burst_tb - ta)
                  / np.maximum(tb - ta, 1e-9), rate=rate_ms * ONSET_GAIN)
    out = {k: np.concatenate([np.ravel(sustained[k]), np.ravel(onsets[k])]) for k in sustained}
    keep = (out["rate"] > 0) & (out["tb"] > out["ta"])
    out = {k: v[keep] for k, v in out.items()}
    out["period"] = (1000.0 / f0)[out["sample"]]
    out["phase"] = rng.uniform(0, 1, n)[out["sample"]] * out["period"]
    return out


def _sample_events(c: dict[str, np.ndarray], rng: np.random.Generator, n: int,
                   n_channels: int, duration_ms: float, d: float,
                   events_per_sample: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson events of every component plus background noise, sorted per sample.

    Works through SAMPLE_CHUNK samples at a time so temporaries stay small (fast, and the
    memory use does not grow with the split); returns times_us, units and offsets.
    """
    order = np.argsort(c["sample"], kind="stable")
    c = {k: v[order] for k, v in c.items()}
    bounds = np.searchsorted(c["sample"], np.arange(0, n + SAMPLE_CHUNK, SAMPLE_CHUNK))
    times, units, counts = [], [], []
    for k, lo in enumerate(range(0, n, SAMPLE_CHUNK)):
        hi = min(lo + SAMPLE_CHUNK, n)
        part = {key: v[bounds[k]:bounds[k + 1]] for key, v in c.items()}
        t_ms, ch, sample = _chunk_events(part, rng, lo, hi, n_channels, duration_ms, d,
                                         events_per_sample)
        t, u, cnt = _sort_chunk(t_ms, ch, sample - lo, hi - lo)
        times.append(t)
        units.append(u)
        counts.append(cnt)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    empty_t, empty_u = np.zeros(0, np.int32), np.zeros(0, np.int16)
    return (np.concatenate(times) if times else empty_t,
            np.concatenate(units) if units else empty_u, offsets)


def _chunk_events(c: dict[str, np.ndarray], rng: np.random.Generator, lo: int, hi: int,
                  n_channels: int, duration_ms: float, d: float,
                  events_per_sample: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events (float ms, float channel, sample id) of the components of samples [lo, hi)."""
    counts = rng.poisson(c["rate"] * (c["tb"] - c["ta"]))
    idx = np.repeat(np.arange(len(counts)), counts)
    frac = rng.random(len(idx))
    t_ms = c["ta"][idx] + frac * (c["tb"] - c["ta"])[idx]
    # Voiced events lock to glottal pulses (with jitter): SHD's vertical stripes.
    period, phase = c["period"][idx], c["phase"][idx]
    locked = np.round((t_ms - phase) / period) * period + phase
    locked += rng.normal(0, 0.25 + 0.5 * d, len(idx))
    t_ms = np.where(c["voiced"][idx], locked, t_ms)
    ch = c["ca"][idx] + frac * (c["cb"] - c["ca"])[idx]
    ch += rng.standard_normal(len(idx)) * c["width"][idx]
    n_noise = rng.poisson(events_per_sample * (0.04 + 0.10 * d), hi - lo)
    noise_s = np.repeat(np.arange(lo, hi), n_noise)
    t_all = np.concatenate([t_ms, rng.uniform(0, duration_ms, len(noise_s))])
    ch_all = np.concatenate([np.rint(ch), rng.integers(0, n_channels, len(noise_s))])
    s_all = np.concatenate([c["sample"][idx], noise_s])
    # Events beyond the trial are dropped: every time lies in [0, duration_ms).
    keep = (ch_all >= 0) & (ch_all < n_channels) & (t_all >= 0) & (t_all < duration_ms - 5e-4)
    return t_all[keep], ch_all[keep], s_all[keep]


def _sort_chunk(t_ms: np.ndarray, ch: np.ndarray, sample: np.ndarray,
                n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by (sample, time, channel) via one packed int64 key; times, units, counts."""
    t_us = np.rint(t_ms * 1000.0).astype(np.int64)
    key = (sample.astype(np.int64) << 40) | (t_us << 10) | ch.astype(np.int64)
    key.sort()
    counts = np.bincount(key >> 40, minlength=n)
    times = ((key >> 10) & ((1 << 30) - 1)).astype(np.int32)
    units = (key & 1023).astype(np.int16)
    return times, units, counts


def write_synthetic_dataset(out_train: str | os.PathLike, out_test: str | os.PathLike,
                            n_classes: int = 10, n_train: int = 1200, n_test: int = 400,
                            n_speakers_train: int = 8, n_speakers_test: int = 2,
                            difficulty: float = 0.5, seed: int = 7, n_channels: int = 700,
                            duration_ms: float = 1000.0,
                            out_valid: str | os.PathLike | None = None, n_valid: int = 0,
                            time_dtype: Any = np.float32) -> dict[str, Any]:
    """Generate train/test (optionally valid) splits and write them in the SHD HDF5 layout.

    Test speakers (ids after the training ones) never occur in training; a valid split, if
    asked for, uses training speakers. Returns a summary dict (also stored as file attrs).
    """
    train_sp = list(range(n_speakers_train))
    test_sp = list(range(n_speakers_train, n_speakers_train + n_speakers_test))
    settings = dict(n_classes=n_classes, n_train=n_train, n_test=n_test,
                    n_speakers_train=n_speakers_train, n_speakers_test=n_speakers_test,
                    difficulty=difficulty, seed=seed, n_channels=n_channels,
                    duration_ms=duration_ms, n_valid=n_valid)
    jobs = [("train", out_train, n_train, train_sp), ("test", out_test, n_test, test_sp)]
    if out_valid is not None:
        jobs.append(("valid", out_valid, n_valid, train_sp))
    summary: dict[str, Any] = {"settings": settings, "splits": {}}
    for name, path, count, speakers in jobs:
        split = generate_split(count, n_classes, seed, difficulty, n_channels, duration_ms,
                               speakers, split=name)
        info = {"n_samples": len(split), "n_events": split.n_events,
                "events_per_sample": split.n_events / max(len(split), 1),
                "speakers": speakers, "keys": list(split.keys or ())}
        summary["splits"][name] = info
        attrs = {"neurokws_synthetic": {**settings, "split": name, **info},
                 "neurokws_provenance": provenance(config=settings, seed=seed)}
        write_split(Path(path), split, time_dtype=time_dtype, attrs=attrs)
    return summary
