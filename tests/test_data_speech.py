"""espeak-ng spoken-digit corpus: real synthesis (no mocks), determinism, voices, plan, noise."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from neurokws.data.sources import speech
from neurokws.data.sources.speech import (
    KEYS,
    LANGUAGES,
    SAMPLE_RATE,
    TRIM_THRESHOLD,
    VARIANTS,
    EspeakError,
    Utterance,
    Voice,
    change_speed,
    draw_speakers,
    pink_noise,
    plan_corpus,
    render,
    synthesize,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def f0_estimate(x: np.ndarray, sr: int) -> float:
    """Median F0 (Hz, 60-400) over loud 40 ms frames, by normalised autocorrelation."""
    frame, hop = int(0.04 * sr), int(0.01 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), frame)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.mean(frames**2, axis=1)
    frames = frames[energy > 0.25 * energy.max()]
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * frame, axis=1)) ** 2, axis=1)[:, :frame]
    ac /= ac[:, :1]
    lo, hi = int(sr / 400), int(sr / 60)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    return float(np.median(sr / lag))


def power_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2)))


def utt(label: int = 7, voice: Voice | None = None, **kw) -> Utterance:
    return Utterance(label=label, key=KEYS[label], language=LANGUAGES[label], speaker=0,
                     voice=voice or Voice("m3"), split="train", index=0, **kw)


@pytest.fixture(scope="module")
def corpus() -> list[Utterance]:
    return plan_corpus(12, 3, 10, seed=3, difficulty=0.5)


def test_keys_and_languages():
    assert len(KEYS) == 20 and len(set(KEYS)) == 20
    assert KEYS[:3] == ("zero", "one", "two") and KEYS[10] == "null" and KEYS[15] == "fünf"
    assert [LANGUAGES[i] for i in range(20)] == ["en"] * 10 + ["de"] * 10
    variants = Path(speech._get_engine().data_path) / "voices" / "!v"
    assert all((variants / v).is_file() for v in VARIANTS)


def wait_for_next_second(start: float) -> None:
    """espeak_Initialize seeds espeak-ng's noise generator with time(NULL)."""
    while int(time.time()) == int(start):
        time.sleep(0.02)


def test_synthesize_is_deterministic_whatever_was_spoken_before():
    # f2 uses espeak-ng's noise generator, m3 the pitch flutter, klatt3 the Klatt sources
    voices = [Voice("m3", 40, 60, 160, 90), Voice("f2", 55, 45, 190, 100),
              Voice("klatt3", 50, 50, 175, 100)]
    start = time.time()
    first = [synthesize("seven", "en", v)[0] for v in voices]
    for v in (Voice("f4"), Voice("m1", 90, 10, 300, 150), Voice("Annie")):  # change the state
        synthesize("einundzwanzig", "de", v)
    wait_for_next_second(start)
    again = [synthesize("seven", "en", v)[0] for v in reversed(voices)][::-1]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], synthesize("eight", "en", voices[0])[0])


def test_synthesize_same_samples_in_a_fresh_process():
    synthesize("zwei", "de", Voice("m7"))  # some history in this process
    start = time.time()
    x, _ = synthesize("sieben", "de", Voice("f2", 60, 40, 150, 80))
    code = ("import hashlib, sys, time\n"
            "from neurokws.data.sources.speech import synthesize, Voice\n"
            "while int(time.time()) == int(float(sys.argv[1])): time.sleep(0.02)\n"
            "x, _ = synthesize('sieben', 'de', Voice('f2', 60, 40, 150, 80))\n"
            "print(hashlib.sha256(x.tobytes()).hexdigest())")
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code, repr(start)], capture_output=True,
                         text=True, env=env, timeout=60, check=True).stdout.strip()
    assert hashlib.sha256(x.tobytes()).hexdigest() == out


def test_output_format_and_trimming():
    x, sr = synthesize("three", "en", Voice())
    assert sr == SAMPLE_RATE == 22050
    assert x.dtype == np.float32 and x.ndim == 1
    assert np.abs(x).max() <= 1.0
    assert abs(x[0]) >= TRIM_THRESHOLD and abs(x[-1]) >= TRIM_THRESHOLD  # silence trimmed


def test_all_keys_audible_with_plausible_durations():
    durations = {}
    waves = {}
    for label, key in enumerate(KEYS):
        x, sr = synthesize(key, LANGUAGES[label], Voice("m3"))
        assert np.abs(x).max() > 0.1, key
        durations[key] = len(x) / sr
        waves[key] = x
    for lang, keys in (("en", KEYS[:10]), ("de", KEYS[10:])):
        d = np.array([durations[k] for k in keys])
        assert np.all((d > 0.2) & (d < 0.9)), (lang, d)  # spoken digits: a few 100 ms
        assert d.max() - d.min() > 0.05, (lang, d)  # words differ in length
    # translations sound different (not the same audio under another name)
    for en, de in zip(KEYS[:10], KEYS[10:], strict=True):
        assert len(waves[en]) != len(waves[de]) or not np.array_equal(waves[en], waves[de])
    assert durations["sieben"] > durations["acht"]  # two syllables vs one


def test_pitch_parameter_moves_f0_and_variants_differ():
    low, sr = synthesize("nine", "en", Voice("m3", pitch=30))
    high, _ = synthesize("nine", "en", Voice("m3", pitch=80))
    f_low, f_high = f0_estimate(low, sr), f0_estimate(high, sr)
    assert 60 < f_low < 130 and f_high > 1.3 * f_low, (f_low, f_high)
    female, _ = synthesize("nine", "en", Voice("f2", pitch=30))
    assert f0_estimate(female, sr) > 1.3 * f_low
    fast, _ = synthesize("nine", "en", Voice("m3", pitch=30, rate=300))
    assert len(fast) < 0.8 * len(low)  # espeakRATE shortens the word
    quiet, _ = synthesize("nine", "en", Voice("m3", pitch=30, amplitude=50))
    assert power_db(quiet) < power_db(low) - 3  # espeakVOLUME lowers the level


def test_plan_counts_and_disjoint_speakers(corpus):
    assert len(corpus) == 15 * 20 * 10 == 3000
    assert [u.index for u in corpus] == list(range(3000))
    train = {u.speaker for u in corpus if u.split == "train"}
    test = {u.speaker for u in corpus if u.split == "test"}
    assert train == set(range(12)) and test == {12, 13, 14}
    counts = Counter((u.speaker, u.label) for u in corpus)
    assert set(counts.values()) == {10} and len(counts) == 15 * 20
    for u in corpus:
        assert u.key == KEYS[u.label] and u.language == LANGUAGES[u.label]
    speakers = draw_speakers(15, seed=3)
    assert len(set(speakers)) == 15
    # with at most len(VARIANTS) speakers no variant is shared between train and test
    assert not {s.variant for s in speakers[:12]} & {s.variant for s in speakers[12:]}
    assert plan_corpus(12, 3, 10, seed=3, difficulty=0.5) == corpus
    assert plan_corpus(12, 3, 10, seed=4, difficulty=0.5) != corpus


def test_draw_speakers_distinct_even_when_variants_repeat():
    speakers = draw_speakers(100, seed=1)
    assert len(set(speakers)) == 100
    assert set(Counter(s.variant for s in speakers[:len(VARIANTS)]).values()) == {1}
    assert draw_speakers(100, seed=1) == speakers and draw_speakers(100, seed=2) != speakers


def test_difficulty_zero_means_no_noise_no_perturbation():
    plan = plan_corpus(3, 1, 2, seed=5, difficulty=0.0)
    speakers = draw_speakers(4, seed=5)
    for u in plan:
        assert u.snr_db is None and u.speed == 1.0 and u.gain_db == 0.0
        assert u.voice == speakers[u.speaker]
    clean, _ = synthesize(plan[0].key, plan[0].language, plan[0].voice)
    np.testing.assert_array_equal(render(plan[0])[0], clean)


def test_difficulty_one_ranges(corpus):
    plan = plan_corpus(4, 1, 3, seed=5, difficulty=1.0)
    speakers = draw_speakers(5, seed=5)
    snr = np.array([u.snr_db for u in plan])
    speed = np.array([u.speed for u in plan])
    gain = np.array([u.gain_db for u in plan])
    assert snr.min() >= 0.0 and snr.max() <= 5.0
    assert 0.85 <= speed.min() < 0.9 and 1.1 < speed.max() <= 1.15
    assert -12.0 <= gain.min() < -10.0 and gain.max() <= 0.0
    dp = np.array([u.voice.pitch - speakers[u.speaker].pitch for u in plan])
    assert np.abs(dp).max() == 8 and len(np.unique(dp)) > 5
    # difficulty 0.5 sits in between
    mid = np.array([u.snr_db for u in corpus])
    assert mid.min() >= 17.5 and mid.max() <= 22.5


def test_render_is_deterministic(corpus):
    u = next(x for x in corpus if x.speed != 1.0 and x.language == "de")
    a, sr = render(u)
    b, _ = render(u)
    np.testing.assert_array_equal(a, b)
    other = render(replace(u, noise_seed=u.noise_seed + 1))[0]
    assert not np.array_equal(a, other)  # the noise seed matters
    source = render(corpus[1])[0]
    np.testing.assert_array_equal(render(u, source)[0], render(u, source)[0])
    assert sr == SAMPLE_RATE and a.dtype == np.float32


@pytest.mark.parametrize("snr_db", [0.0, 5.0, 20.0])
def test_rendered_snr_matches(snr_db):
    u = utt(5, Voice("f3", 50, 50, 170, 90), speed=1.1, snr_db=snr_db, noise_seed=11)
    clean = render(replace(u, snr_db=None))[0].astype(np.float64)
    noisy = render(u)[0].astype(np.float64)
    assert abs(power_db(clean) - power_db(noisy - clean) - snr_db) < 0.5
    babble = render(utt(15, Voice("m1")))[0]
    noisy_b = render(u, noise_source=babble)[0].astype(np.float64)
    assert abs(power_db(clean) - power_db(noisy_b - clean) - snr_db) < 0.5


def test_pink_noise_has_one_over_f_spectrum():
    noise = pink_noise(2**16, seed=0)
    assert abs(np.mean(noise**2) - 1.0) < 1e-9 and abs(noise.mean()) < 1e-9
    f, p = welch(noise, fs=SAMPLE_RATE, nperseg=2048)
    band = (f > 50) & (f < 5000)
    slope = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert -1.2 < slope < -0.8, slope  # white would be 0
    np.testing.assert_array_equal(noise, pink_noise(2**16, seed=0))


@pytest.mark.parametrize("speed", [0.85, 1.25])
def test_speed_factor_scales_duration_and_pitch(speed):
    voice = Voice("m6", 50, 40, 170, 100)
    base, sr = render(utt(9, voice))
    changed, _ = render(utt(9, voice, speed=speed))
    assert len(changed) / len(base) == pytest.approx(1 / speed, rel=0.003)
    assert f0_estimate(changed, sr) / f0_estimate(base, sr) == pytest.approx(speed, rel=0.08)
    assert len(change_speed(np.ones(1000, np.float32), 0.5)) == 2000


def test_resample_keeps_the_spectrum_and_the_duration():
    """22.05 kHz speech to 16 kHz (the spoken-digit default, Speech Commands' rate): the same
    duration, the same pitch; equal rates are a no-op; a bad rate is refused."""
    voice = Voice("m6", 50, 40, 170, 100)
    x, sr = render(utt(9, voice))
    y = speech.resample(x, sr, 16000)
    assert len(y) == -(-len(x) * 320 // 441)
    assert f0_estimate(y, 16000) == pytest.approx(f0_estimate(x, sr), rel=0.03)
    assert np.array_equal(speech.resample(x, sr, sr), x)
    with pytest.raises(ValueError, match="sample rates must be positive"):
        speech.resample(x, sr, 0)


def test_gain_scales_level():
    u = utt(3, Voice("m2"), gain_db=-6.0)
    quiet = render(u)[0]
    loud = render(replace(u, gain_db=0.0))[0]
    assert power_db(loud) - power_db(quiet) == pytest.approx(6.0, abs=0.01)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        synthesize("sept", "fr", Voice())
    for text in ("", "   "):
        with pytest.raises(ValueError, match="non-empty string"):
            synthesize(text, "en", Voice())
    with pytest.raises(ValueError, match="unknown espeak-ng voice variant 'm99'"):
        synthesize("one", "en", Voice("m99"))  # espeak-ng itself would silently ignore it
    with pytest.raises(ValueError, match=r"Voice.pitch must be in \[0, 100\]"):
        Voice(pitch=101)
    with pytest.raises(ValueError, match=r"Voice\.rate"):
        Voice(rate=50)
    with pytest.raises(ValueError, match="difficulty must be in"):
        plan_corpus(2, 1, 1, seed=0, difficulty=1.5)
    with pytest.raises(ValueError, match="need >= 1 speaker"):
        plan_corpus(0, 0, 1, seed=0)
    with pytest.raises(ValueError, match="label 3 is 'three'"):
        Utterance(3, "drei", "de", 0, Voice(), "train", 0)
    with pytest.raises(ValueError, match="noise_source"):
        render(utt(1, snr_db=10.0), noise_source=np.zeros((2, 3)))


def test_unloadable_library_error_names_path_and_fix(tmp_path):
    data = speech._get_engine().data_path
    bogus = tmp_path / "libespeak-ng.so"
    bogus.write_bytes(b"not a shared library")
    with pytest.raises(EspeakError, match="pip install espeakng-loader") as info:
        speech._Espeak(str(bogus), str(data))
    assert str(bogus) in str(info.value)
    missing = tmp_path / "nowhere" / "libespeak-ng.so"
    with pytest.raises(EspeakError, match="pip install espeakng-loader") as info:
        speech._Espeak(str(missing), str(data))
    assert str(missing) in str(info.value)


def test_missing_data_is_an_error_not_an_exit(tmp_path):
    """espeak-ng exit()s on missing data unless espeakINITIALIZE_DONT_EXIT is passed."""
    fake = tmp_path / "espeak-ng-data"
    (fake / "voices" / "!v").mkdir(parents=True)
    (fake / "voices" / "!v" / "m3").write_text("name male3\n")
    with pytest.raises(EspeakError, match="espeak_Initialize") as info:
        speech._Espeak(speech._get_engine().library_path, str(fake))
    assert str(fake) in str(info.value)


def test_throughput(corpus):
    """Loose guard: a digit takes a few ms (synthesize + render); the bound is 10x that."""
    start = time.perf_counter()
    for u in corpus[:60]:
        render(u)
    assert (time.perf_counter() - start) / 60 < 0.05
