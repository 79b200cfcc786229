"""Audio corpora to Heidelberg-format splits through the cochlea, in parallel chunks.

A corpus is first planned: one JSON file (`write_plan`) lists every clip to convert, in a
fixed order. Each clip has an index, a label, a speaker, a split, and what makes its audio:
a file (source `audio`) or a synthesis recipe (source `spoken_digits`). Conversion then
runs chunk by chunk (`convert_chunk`, one Snakemake job each). A chunk is a contiguous run
of the plan's clips. Each clip's spikes are drawn from its own Generator, seeded by
(dataset seed, clip index). So the events are the same bits for any number of chunks or
cores. `merge_split` puts one split's clips together in plan order. `heidelberg.write_split`
then writes the layout the rest of the workflow reads (spikes/times, spikes/units, labels,
extra/keys, extra/speaker).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.data.cochlea import BasilarMembrane, BushyCell, Cochlea, HairCell
from neurokws.data.formats.events import N_CHANNELS, EventSplit, concatenate, load_npz, save_npz
from neurokws.utils.atomic import atomic_path
from neurokws.utils.errors import DataFormatError

PLAN_VERSION = 1
COCHLEA_STREAM = 0xC0C1EA   # SeedSequence purpose of the cochlea's spike sampling
SPLITS = ("train", "valid", "test")
_SECTIONS = {"membrane": BasilarMembrane, "hair": HairCell, "bushy": BushyCell}

Renderer = Callable[[Mapping[str, Any]], tuple[np.ndarray, int]]


def cochlea_from_settings(settings: Mapping[str, Any], where: str = "cochlea") -> Cochlea:
    """The cochlea for a config section: level and pad_s, plus overrides of the model's
    constants per stage (membrane/hair/bushy; unset = the model file's values). Unknown
    names raise ValueError naming the key."""
    kwargs: dict[str, Any] = {}
    for name, value in settings.items():
        if name == "chunks":   # how the workflow splits the conversion, not the model
            continue
        if name in _SECTIONS:
            cls = _SECTIONS[name]
            fields = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(value) - fields)
            if unknown:
                raise ValueError(f"'{where}.{name}' has unknown constant(s) {unknown}; "
                                 f"known: {sorted(fields)} (docs/cochlea.md)")
            kwargs[name] = cls(**value)
        elif name in ("level", "pad_s"):
            kwargs[name] = float(value)
        else:
            raise ValueError(f"'{where}.{name}' is not a cochlea setting (level, pad_s, "
                             "membrane, hair, bushy; docs/cochlea.md)")
    cochlea = Cochlea(**kwargs)
    if not 2 <= cochlea.channels <= N_CHANNELS:
        raise ValueError(f"'{where}.membrane.channels' is {cochlea.channels}; the data "
                         f"layout has 2 to {N_CHANNELS} channels")
    return cochlea


def write_plan(path: str | os.PathLike, *, source: str, keys: Sequence[str],
               speakers: Sequence[str], clips: Sequence[Mapping[str, Any]], seed: int,
               info: Mapping[str, Any] | None = None) -> None:
    """Atomically write a corpus plan. Each clip needs label, speaker (index into speakers),
    split and the fields its source's renderer reads; clips are numbered in the given order."""
    numbered = []
    for i, clip in enumerate(clips):
        if clip["split"] not in SPLITS:
            raise ValueError(f"clip {i}: split {clip['split']!r} is not one of {SPLITS}")
        numbered.append({**clip, "index": i})
    plan = {"version": PLAN_VERSION, "source": source, "keys": list(keys),
            "speakers": list(speakers), "seed": int(seed), "info": dict(info or {}),
            "clips": numbered}
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(plan, indent=1))


def read_plan(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot read the corpus plan ({exc}); delete it and "
                              "rerun the workflow to plan the corpus again") from exc
    if plan.get("version") != PLAN_VERSION:
        raise DataFormatError(f"{path}: plan version {plan.get('version')}, expected "
                              f"{PLAN_VERSION}; delete it and rerun the workflow")
    return plan


def chunk_range(n_clips: int, n_chunks: int, chunk: int) -> range:
    """The clips of one chunk: contiguous, sizes differing by at most one."""
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} out of range for {n_chunks} chunks")
    bounds = np.linspace(0, n_clips, n_chunks + 1).round().astype(int)
    return range(int(bounds[chunk]), int(bounds[chunk + 1]))


def clip_rng(seed: int, index: int) -> np.random.Generator:
    """The Generator of one clip's spikes (independent of chunking and cores)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), COCHLEA_STREAM,
                                                         int(index)]))


def convert_chunk(plan: Mapping[str, Any], chunk: int, n_chunks: int, cochlea: Cochlea,
                  render: Renderer, log: Callable[[str], None] = print) -> EventSplit:
    """Render and convert one chunk's clips; samples in plan order, speakers = indices."""
    clips = [plan["clips"][i] for i in chunk_range(len(plan["clips"]), n_chunks, chunk)]
    times, units, counts = [], [], []
    # Clips of one padded length share a transfer: convert them in order of length, so
    # each length's transfer is computed once per chunk; results are put back in order.
    rendered = []
    t_start = time.perf_counter()
    audio_s = 0.0
    for clip in clips:
        audio, fs = render(clip)
        audio_s += audio.size / fs
        rendered.append((cochlea.padded_length(audio.size, fs), audio, fs))
    order = sorted(range(len(clips)), key=lambda k: rendered[k][0])
    events: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(clips)
    for k in order:
        _, audio, fs = rendered[k]
        try:
            t_s, ch = cochlea(audio, fs, clip_rng(plan["seed"], clips[k]["index"]))
        except ValueError as exc:
            raise DataFormatError(f"clip {clips[k]['index']} ({_describe(clips[k])}): "
                                  f"{exc}") from exc
        events[k] = (np.rint(t_s * 1e6).astype(np.int32), ch.astype(np.int16))
        rendered[k] = (0, np.empty(0), fs)   # free the audio
    for t_us, ch in events:  # type: ignore[misc]
        times.append(t_us)
        units.append(ch)
        counts.append(t_us.size)
    offsets = np.zeros(len(clips) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    log(f"chunk {chunk}/{n_chunks}: {len(clips)} clips, {audio_s:.1f} s of audio, "
        f"{int(offsets[-1])} events in {time.perf_counter() - t_start:.1f} s")
    return EventSplit(times_us=_cat(times, np.int32), units=_cat(units, np.int16),
                      offsets=offsets, labels=np.array([c["label"] for c in clips], np.int32),
                      n_channels=N_CHANNELS, n_classes=len(plan["keys"]),
                      keys=tuple(plan["keys"]),
                      speakers=np.array([c["speaker"] for c in clips], np.int32))


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def save_chunk(path: str | os.PathLike, split: EventSplit) -> None:
    save_npz(path, split)


def merge_split(plan: Mapping[str, Any], chunk_paths: Sequence[str | os.PathLike],
                split: str) -> EventSplit:
    """One split's samples from all chunks, in plan order."""
    n = len(plan["clips"])
    if not chunk_paths:
        raise ValueError("no chunks to merge")
    parts = []
    for chunk, path in enumerate(chunk_paths):
        events = load_npz(path)
        clips = [plan["clips"][i] for i in chunk_range(n, len(chunk_paths), chunk)]
        if len(events) != len(clips):
            raise DataFormatError(f"{path}: holds {len(events)} clips, the plan gives this "
                                  f"chunk {len(clips)}; delete the chunk files and rerun")
        keep = [k for k, clip in enumerate(clips) if clip["split"] == split]
        parts.append(events.subset(keep))
    merged = concatenate(parts)
    return dataclasses.replace(merged, keys=tuple(plan["keys"]), n_classes=len(plan["keys"]))


def _describe(clip: Mapping[str, Any]) -> str:
    return str(clip.get("path") or clip.get("text") or clip.get("key", "?"))
