"""The audio sources of the workflow: plan a corpus, then render each clip's audio.

Two sources feed the cochlea (neurokws.data.sources.convert):
- `audio`: recordings on disk (neurokws.data.sources.audio: class folders or a CSV manifest,
  speaker-disjoint splits), resampled to `sample_rate` where one is set;
- `spoken_digits`: "zero".."nine", "null".."neun" synthesised offline by espeak-ng with
  many drawn speakers (neurokws.data.sources.speech), as Heidelberg Digits has 20 classes and
  held-out test speakers.
`plan(source, settings)` lists the clips (`convert.write_plan`'s arguments) and
`renderer(plan, settings)` gives the function that makes one clip's audio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from neurokws.data.sources.convert import Renderer

SOURCES = ("audio", "spoken_digits")
# Spoken digits' durations for job requests before any is rendered: the longest and the mean
# clip in seconds, with room (measured at difficulty 0.5: mean 0.39 s, longest 0.70 s over
# 1,800 clips; at difficulty 1 the longest was 0.82 s).
SPOKEN_MAX_S = 1.0
SPOKEN_MEAN_S = 0.45


def plan(source: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of convert.write_plan for a dataset of this source."""
    if source == "audio":
        return _plan_audio(settings)
    if source == "spoken_digits":
        return _plan_spoken_digits(settings)
    raise ValueError(f"source {source!r} has no audio; known: {SOURCES}")


def renderer(plan_: Mapping[str, Any], settings: Mapping[str, Any]) -> Renderer:
    """clip -> (audio, sample rate) for the plan's source."""
    if plan_["source"] == "audio":
        from neurokws.data.sources.audio import load

        rate = plan_["info"]["sample_rate"]
        mono = bool(settings["mix_to_mono"])
        return lambda clip: (load(clip["path"], rate, mix_to_mono=mono), rate)
    if plan_["source"] == "spoken_digits":
        from neurokws.data.sources import speech

        rate = int(plan_["info"]["sample_rate"])

        def render(clip: Mapping[str, Any]) -> tuple[np.ndarray, int]:
            utt = speech.Utterance(**{**clip["utterance"],
                                      "voice": speech.Voice(**clip["utterance"]["voice"])})
            audio, native = speech.render(utt)
            return speech.resample(audio, native, rate).astype(np.float64), rate
        return render
    raise ValueError(f"plan source {plan_['source']!r} has no renderer")


def _plan_audio(settings: Mapping[str, Any]) -> dict[str, Any]:
    from neurokws.data.sources import audio

    items = audio.scan(settings["root"], manifest=settings["manifest"],
                       classes=settings["classes"], speaker_pattern=settings["speaker_pattern"],
                       test_fraction=settings["test_fraction"],
                       valid_fraction=settings["valid_fraction"] if settings["valid_split"]
                       else 0.0, seed=settings["seed"],
                       extensions=tuple(settings["extensions"]))
    has_valid = any(item.split == "valid" for item in items)
    if has_valid and not settings["valid_split"]:
        raise audio.AudioSourceError(
            f"{settings['root']}: the recordings' own split lists (manifest or Speech Commands "
            "lists) give a validation split; set 'valid_split: true' in the dataset's audio "
            "settings to use it as the validation split")
    # Mixed native rates are fine exactly when a target rate is set (then all are resampled).
    summary = audio.validate(items, sample_rate=settings["sample_rate"],
                             mix_to_mono=settings["mix_to_mono"])
    rates = sorted(int(r) for r in summary["sample_rates"])
    rate = int(summary["sample_rate"])
    keys: list[str] = []
    for item in items:
        while len(keys) <= item.label:
            keys.append("")
        keys[item.label] = item.key
    speakers = sorted({item.speaker for item in items})
    index = {s: i for i, s in enumerate(speakers)}
    clips = [{"label": it.label, "key": it.key, "speaker": index[it.speaker],
              "split": it.split, "path": it.path} for it in items]
    return {"source": "audio", "keys": keys, "speakers": speakers, "clips": clips,
            "seed": int(settings["seed"]),
            "info": {"sample_rate": rate, "native_rates": rates, "summary": summary,
                     "max_duration_s": summary["max_duration_s"],
                     "mean_duration_s": summary["duration_s"] / max(1, len(items))}}


def _plan_spoken_digits(settings: Mapping[str, Any]) -> dict[str, Any]:
    from neurokws.data.sources import speech

    utterances = speech.plan_corpus(
        settings["n_speakers_train"], settings["n_speakers_test"],
        settings["per_class_per_speaker"], seed=settings["seed"],
        difficulty=settings["difficulty"])
    n_speakers = settings["n_speakers_train"] + settings["n_speakers_test"]
    clips = [{"label": u.label, "key": u.key, "speaker": u.speaker, "split": u.split,
              "text": u.key, "utterance": dataclasses.asdict(u)} for u in utterances]
    return {"source": "spoken_digits", "keys": list(speech.KEYS),
            "speakers": [f"espeak-{i}" for i in range(n_speakers)], "clips": clips,
            "seed": int(settings["seed"]),
            "info": {"sample_rate": int(settings["sample_rate"]),
                     "difficulty": settings["difficulty"],
                     "max_duration_s": SPOKEN_MAX_S, "mean_duration_s": SPOKEN_MEAN_S}}
