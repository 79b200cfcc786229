"""Offline spoken-digit corpus like Heidelberg Digits, synthesised with espeak-ng.

Twenty classes as in Heidelberg Digits (HD): English "zero".."nine" (labels 0-9) and German
"null".."neun" (labels 10-19). Speech comes from the espeak-ng library shipped in the PyPI
wheel `espeakng-loader` (libespeak-ng 1.52 plus espeak-ng-data), driven through ctypes and
the public C API of espeak-ng's `speak_lib.h`; nothing is downloaded or read from the
network. A "speaker" is an espeak-ng voice variant (from espeak-ng-data/voices/!v) with its
own base pitch, pitch range, speaking rate and volume; every utterance adds pitch and rate
jitter, a tape-like speed change, a level change and coloured or babble noise, all scaled
by one `difficulty` knob (see `plan_corpus`).

The module is a few pure functions and frozen dataclasses, in the style of tonic's
functional transforms: `synthesize` (text -> waveform), `draw_speakers`, `plan_corpus`
(the corpus as a list of `Utterance` records) and `render` (one record -> waveform).
Every random draw comes from a numpy Generator seeded with (seed, purpose), so the same
inputs give bit-identical samples.

Why each synthesis gets a fresh library instance: espeak-ng keeps synthesis state in C
statics that no public function resets (the pitch-flutter phase and automatic gain control
in wavegen.c, the roughness cycle counter, Klatt's flutter clock and source filters) and
seeds its noise generator from the clock in `espeak_Initialize`. Reusing one instance, the
same word comes out with slightly different samples depending on what was spoken before.
So the library is located, copied to a private temporary file and checked once per process
(lazily, under a lock); each `synthesize` call then dlopens that private copy, runs
`espeak_Initialize` / `espeak_SetVoiceByName` / `espeak_SetParameter` / `espeak_Synth` /
`espeak_Synchronize` / `espeak_Terminate`, fixes the noise seed with
`espeak_ng_SetRandSeed` (espeak_ng.h) and dlcloses it again. That costs about 0.5 ms of the
~2 ms a digit takes. The private copy makes sure no other user of the wheel's library in
this process keeps it loaded (which would keep its statics alive).
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import math
import os
import shutil
import tempfile
import threading
import zlib
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import firwin, resample_poly

KEYS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
)
"""The 20 class names in label order (HD: English 0-9, German 10-19)."""

LANGUAGES = MappingProxyType({label: "en" if label < 10 else "de" for label in range(20)})
"""Label -> language code ("en" or "de")."""

SAMPLE_RATE = 22050
"""espeak-ng's output rate (the value `espeak_Initialize` returns)."""

TRIM_THRESHOLD = 1e-3
"""Leading/trailing samples with |x| below this (-60 dBFS, about 33 LSB of int16) are cut."""

VARIANTS: tuple[str, ...] = (
    # male-sounding (F0 about 70-100 Hz at pitch 50): formant-synthesiser variants m*,
    # Klatt-synthesiser variants (klatt*, adam, benjamin, david, edward) and named voices
    "m1", "m2", "m3", "m4", "m6", "m7", "m8", "klatt", "klatt2", "klatt3", "adam", "benjamin",
    "david", "edward", "travis", "robert", "Mike",
    # female-sounding (F0 about 150-240 Hz at pitch 50)
    "f1", "f2", "f3", "f4", "f5", "Annie", "linda", "belinda", "steph", "steph2", "aunty",
    "Andrea", "Alicia", "grandma", "shelby",
)
"""Voice variants `draw_speakers` picks from (file names in espeak-ng-data/voices/!v)."""

# espeak-ng language voices (files under espeak-ng-data/lang/). Naming the file directly
# ("gmw/en") lets espeak_SetVoiceByName open it at once; a bare "en" makes espeak-ng scan and
# parse every voice file first (about 4 ms a call). espeak-ng lower-cases this part of the
# name, so mixed-case files such as "gmw/en-US" cannot be selected this way.
_LANGUAGE_VOICES = MappingProxyType({"en": "gmw/en", "de": "gmw/de"})

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
_ESPEAK_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_ESPEAK_RATE, _ESPEAK_VOLUME, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 2, 3, 4
_RATE_MIN, _RATE_MAX = 80, 450  # espeakRATE_MINIMUM, espeakRATE_MAXIMUM
_BUFFER_MS = 200  # length of the buffers handed to the synth callback

# Purpose constants for SeedSequence([seed, purpose]) (independent random streams).
_PURPOSE_SPEAKERS = 0x5EA1
_PURPOSE_PLAN = 0x5EA2

# Difficulty mapping (documented in plan_corpus).
_MAX_SPEED_DEV = 0.15
_MAX_PITCH_JITTER = 8.0
_MAX_RATE_JITTER = 0.10
_MAX_ATTENUATION_DB = 12.0
_SNR_EASY_DB, _SNR_SPAN_DB, _SNR_DROP_DB = 40.0, 5.0, 35.0
_SPEED_DENOMINATOR = 40  # speed factors are ratios p/q with q <= this (exact resampling)


class EspeakError(RuntimeError):
    """espeak-ng could not be loaded, initialised or run."""


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice setting.

    variant: voice variant file name in espeak-ng-data/voices/!v ("m3", "f2", "klatt", ...;
        case-sensitive). pitch: `espeakPITCH`, base pitch 0-100 (50 = the variant's normal).
    pitch_range: `espeakRANGE`, 0-100 (0 = monotone, 50 = normal). rate: `espeakRATE`, words
        per minute, 80-450 (espeakRATE_MINIMUM..MAXIMUM). amplitude: `espeakVOLUME`, 0-200
        (100 = normal; speak_lib.h warns that larger values may compress or distort).
    """

    variant: str = "m3"
    pitch: int = 50
    pitch_range: int = 50
    rate: int = 175
    amplitude: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.variant, str) or not self.variant:
            raise ValueError(f"voice variant must be a non-empty name, got {self.variant!r}")
        for name, lo, hi in (("pitch", 0, 100), ("pitch_range", 0, 100),
                             ("rate", _RATE_MIN, _RATE_MAX), ("amplitude", 0, 200)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"Voice.{name} must be an int, got {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"Voice.{name} must be in [{lo}, {hi}], got {value}")
            object.__setattr__(self, name, int(value))


@dataclass(frozen=True)
class Utterance:
    """One planned utterance of the corpus: what is said, by whom, and how it is perturbed.

    voice is the speaker's voice with this utterance's pitch/rate jitter applied. speed is a
    tape-speed factor (>1 = faster, shorter and higher); gain_db the level change applied
    last; snr_db the signal-to-noise ratio of the added noise (None = no noise), with the
    noise drawn from noise_seed.
    """

    label: int
    key: str
    language: str
    speaker: int
    voice: Voice
    split: str
    index: int
    speed: float = 1.0
    gain_db: float = 0.0
    snr_db: float | None = None
    noise_seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.label < len(KEYS):
            raise ValueError(f"label must be in [0, {len(KEYS)}), got {self.label}")
        if self.key != KEYS[self.label] or self.language != LANGUAGES[self.label]:
            raise ValueError(f"label {self.label} is {KEYS[self.label]!r} "
                             f"({LANGUAGES[self.label]}), got {self.key!r} ({self.language})")
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {self.split!r}")
        if not (np.isfinite(self.speed) and 0.5 <= self.speed <= 2.0):
            raise ValueError(f"speed must be in [0.5, 2], got {self.speed}")
        if not np.isfinite(self.gain_db):
            raise ValueError(f"gain_db must be finite, got {self.gain_db}")
        if self.snr_db is not None and not np.isfinite(self.snr_db):
            raise ValueError(f"snr_db must be finite or None, got {self.snr_db}")


# ----------------------------------------------------------------------------------------
# espeak-ng through ctypes


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """Process-wide handle: the private library copy, the data folder and the callback."""

    def __init__(self, library_path: str, data_path: str) -> None:
        self.library_path = str(library_path)
        self.data_path = Path(data_path)
        # speak_lib.h: `path` is "the directory which contains the espeak-ng-data directory".
        self.home = str(self.data_path.parent).encode()
        self.variants = self._list_variants()
        self._chunks: list[bytes] = []
        self._callback = _SynthCallback(self._collect)  # kept alive as long as self
        self._owner = os.getpid()
        self._dir = tempfile.mkdtemp(prefix="neurokws-espeak-")
        atexit.register(self._cleanup)
        self.private_path = os.path.join(self._dir, os.path.basename(self.library_path))
        try:
            shutil.copyfile(self.library_path, self.private_path)
        except OSError as exc:
            raise EspeakError(self._fix(f"cannot read the espeak-ng library "
                                        f"{self.library_path}: {exc}")) from exc
        with self._instance():  # load + initialise once, so errors surface here
            pass
        self._check_unloaded()

    def _fix(self, what: str) -> str:
        return (f"{what}. Fix: pip install espeakng-loader (it ships libespeak-ng and "
                f"espeak-ng-data; reinstall with --force-reinstall if files are missing)")

    def _list_variants(self) -> frozenset[str]:
        folder = self.data_path / "voices" / "!v"
        if not folder.is_dir():
            raise EspeakError(self._fix(f"espeak-ng data folder {self.data_path} has no "
                                        f"voices/!v variants"))
        return frozenset(p.name for p in folder.iterdir() if p.is_file())

    def _collect(self, wav: int | None, n: int, _events: int | None) -> int:
        """SynthCallback(short *wav, int numsamples, espeak_EVENT *events): 0 = continue."""
        if wav and n > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * n))
        return 0

    def _cleanup(self) -> None:
        if os.getpid() == self._owner:  # a forked child must not delete the parent's copy
            shutil.rmtree(self._dir, ignore_errors=True)

    def _check_unloaded(self) -> None:
        """A fresh instance per call only helps if dlclose really unloads the library."""
        maps = Path("/proc/self/maps")
        if maps.exists() and self.private_path in maps.read_text():
            raise EspeakError(f"espeak-ng copy {self.private_path} stayed loaded after "
                              f"dlclose; synthesis would not be deterministic")

    def _instance(self) -> _LoadedEspeak:
        return _LoadedEspeak(self)

    def synth(self, text: str, voice_name: str, voice: Voice, rand_seed: int) -> np.ndarray:
        """int16 samples for text from a freshly initialised library instance."""
        self._chunks = []
        with self._instance() as lib:
            status = lib.espeak_SetVoiceByName(voice_name.encode())
            if status != 0:
                raise EspeakError(f"espeak_SetVoiceByName({voice_name!r}) failed ({status})")
            for param, value in ((_ESPEAK_RATE, voice.rate), (_ESPEAK_VOLUME, voice.amplitude),
                                 (_ESPEAK_PITCH, voice.pitch),
                                 (_ESPEAK_RANGE, voice.pitch_range)):
                status = lib.espeak_SetParameter(param, value, 0)
                if status != 0:
                    raise EspeakError(f"espeak_SetParameter({param}, {value}) failed")
            lib.espeak_ng_SetRandSeed(rand_seed)
            data = text.encode("utf-8") + b"\0"
            status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8,
                                      None, None)
            if status != 0:
                raise EspeakError(f"espeak_Synth failed ({status}) for {text!r}")
            if lib.espeak_Synchronize() != 0:
                raise EspeakError("espeak_Synchronize failed")
        return np.frombuffer(b"".join(self._chunks), dtype="<i2")


class _LoadedEspeak:
    """Context manager: dlopen + espeak_Initialize, then espeak_Terminate + dlclose."""

    def __init__(self, owner: _Espeak) -> None:
        self.owner = owner
        self.lib: ctypes.CDLL | None = None

    def __enter__(self) -> ctypes.CDLL:
        owner = self.owner
        try:
            lib = ctypes.CDLL(owner.private_path)
        except OSError as exc:
            raise EspeakError(owner._fix(f"cannot load the espeak-ng library "
                                         f"{owner.library_path}: {exc}")) from exc
        self.lib = lib
        try:
            for name in ("espeak_Initialize", "espeak_SetSynthCallback", "espeak_SetVoiceByName",
                         "espeak_SetParameter", "espeak_Synth", "espeak_Synchronize",
                         "espeak_Terminate", "espeak_ng_SetRandSeed"):
                if not hasattr(lib, name):
                    raise EspeakError(owner._fix(f"{owner.library_path} lacks {name} "
                                                 f"(espeak-ng >= 1.52 is needed)"))
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                              ctypes.c_int]
            lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
            lib.espeak_SetSynthCallback.restype = None
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                         ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                         ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            # DONT_EXIT: without it espeak-ng calls exit() when its data cannot be read.
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, owner.home,
                                         _ESPEAK_INITIALIZE_DONT_EXIT)
            if rate != SAMPLE_RATE:
                raise EspeakError(owner._fix(
                    f"espeak_Initialize with data {owner.data_path} returned {rate} "
                    f"(expected the sample rate {SAMPLE_RATE}; the data is missing or "
                    f"unreadable)"))
            lib.espeak_SetSynthCallback(owner._callback)
        except BaseException:
            self._close()
            raise
        return lib

    def _close(self) -> None:
        if self.lib is not None:
            self.lib.espeak_Terminate()
            _ctypes.dlclose(self.lib._handle)
            self.lib = None

    def __exit__(self, *exc: object) -> None:
        self._close()


_engine: _Espeak | None = None
_lock = threading.Lock()


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def _default_paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as exc:
        raise EspeakError("espeak-ng is not available: the Python package 'espeakng-loader' "
                          "is not installed. Fix: pip install espeakng-loader") from exc
    try:
        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except RuntimeError as exc:
        raise EspeakError(f"espeakng-loader is incomplete ({exc}). "
                          f"Fix: pip install --force-reinstall espeakng-loader") from exc


def _get_engine() -> _Espeak:
    """The process-wide espeak-ng handle, created on first use (call with _lock held)."""
    global _engine
    if _engine is None:
        _engine = _Espeak(*_default_paths())
    return _engine


# ----------------------------------------------------------------------------------------
# Synthesis and signal operations


def synthesize(text: str, language: str, voice: Voice) -> tuple[np.ndarray, int]:
    """Speak text with espeak-ng: (float32 mono samples in [-1, 1), sample rate 22050).

    language is "en" (espeak-ng's lang/gmw/en) or "de" (lang/gmw/de); the voice variant is
    appended as "<language voice>+<variant>" for espeak_SetVoiceByName, then espeakRATE,
    espeakVOLUME, espeakPITCH and espeakRANGE are set with espeak_SetParameter (speak_lib.h).
    Leading and trailing samples with |x| < TRIM_THRESHOLD (1e-3, -60 dBFS) are removed.
    Deterministic: the same inputs give the same samples (fresh library state per call, see
    the module docstring, and espeak-ng's noise seed fixed from the inputs).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text to synthesise must be a non-empty string, got {text!r}")
    if language not in _LANGUAGE_VOICES:
        raise ValueError(f"unknown language {language!r}; expected one of "
                         f"{sorted(_LANGUAGE_VOICES)}")
    if not isinstance(voice, Voice):
        raise ValueError(f"voice must be a Voice, got {type(voice).__name__}")
    rand_seed = zlib.crc32(repr((text, language, voice)).encode()) & 0x7FFFFFFF
    with _lock:
        engine = _get_engine()
        if voice.variant not in engine.variants:
            # espeak-ng itself silently falls back to the default voice for unknown variants
            raise ValueError(f"unknown espeak-ng voice variant {voice.variant!r} (not in "
                             f"{engine.data_path / 'voices' / '!v'}); e.g. one of {VARIANTS}")
        pcm = engine.synth(text, f"{_LANGUAGE_VOICES[language]}+{voice.variant}", voice,
                           rand_seed)
    x = pcm.astype(np.float32) / np.float32(32768.0)
    loud = np.flatnonzero(np.abs(x) >= TRIM_THRESHOLD)
    if loud.size == 0:
        raise ValueError(f"espeak-ng produced no audio for {text!r} ({language}, {voice})")
    return x[loud[0]:loud[-1] + 1], SAMPLE_RATE


def change_speed(x: np.ndarray, speed: float) -> np.ndarray:
    """Tape-speed change: duration / speed, all frequencies (pitch, formants) x speed.

    The factor is taken as the nearest ratio p/q with q <= 40 (exact for factors from
    `plan_corpus`) and applied by polyphase resampling (scipy.signal.resample_poly, up=q,
    down=p), so len(out) = ceil(len(x) * q / p).
    """
    if not (np.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive number, got {speed}")
    ratio = Fraction(float(speed)).limit_denominator(_SPEED_DENOMINATOR)
    x = np.asarray(x, dtype=np.float32)
    if ratio == 1:
        return x.copy()
    up, down = ratio.denominator, ratio.numerator
    return resample_poly(x, up, down, window=_lowpass(up, down)).astype(np.float32)


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """x at `rate` Hz resampled to `target` Hz (polyphase, scipy.signal.resample_poly with
    up/down = target/rate reduced by their gcd and its default filter); x itself when the
    rates are equal. len(out) = ceil(len(x) * up / down)."""
    rate, target = int(rate), int(target)
    if rate <= 0 or target <= 0:
        raise ValueError(f"sample rates must be positive, got {rate} -> {target}")
    x = np.asarray(x, dtype=np.float32)
    if rate == target:
        return x
    g = math.gcd(rate, target)
    up, down = target // g, rate // g
    return resample_poly(x, up, down, window=_lowpass(up, down)).astype(np.float32)


@lru_cache(maxsize=256)
def _lowpass(up: int, down: int) -> np.ndarray:
    """resample_poly's own default anti-aliasing filter (Kaiser, beta 5, 20 taps per
    phase), designed once per ratio instead of on every call."""
    max_rate = max(up, down)
    h = firwin(20 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
    h.flags.writeable = False
    return h


def pink_noise(n: int, seed: int) -> np.ndarray:
    """n samples of pink (1/f power) Gaussian noise with unit mean power, no DC (float64).

    White Gaussian noise from default_rng(seed), shaped in the frequency domain by
    1/sqrt(f) (rfft/irfft over the next FFT-friendly length >= n, then cut to n).
    """
    if n <= 0:
        raise ValueError(f"noise length must be positive, got {n}")
    m = next_fast_len(n, real=True)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(m))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    spectrum /= np.sqrt(f)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, m)[:n]
    noise -= noise.mean()
    return noise / np.sqrt(np.mean(noise**2))


def babble_noise(source: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n samples of "babble" from another utterance's samples: circularly shifted by an
    offset from default_rng(seed), repeated to length n, mean removed, unit mean power."""
    source = np.asarray(source, dtype=np.float64)
    if source.ndim != 1 or source.size == 0:
        raise ValueError(f"noise_source must be a non-empty 1-D array, got shape {source.shape}")
    offset = int(np.random.default_rng(seed).integers(0, source.size))
    noise = np.resize(np.roll(source, -offset), n)
    noise = noise - noise.mean()
    power = np.mean(noise**2)
    if not power > 0:
        raise ValueError("noise_source has no power (all samples equal)")
    return noise / np.sqrt(power)


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """x + noise scaled so that mean(x**2) / mean(noise**2) is 10**(snr_db / 10)."""
    x = np.asarray(x, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != x.shape:
        raise ValueError(f"noise shape {noise.shape} differs from signal shape {x.shape}")
    p_signal, p_noise = np.mean(x**2), np.mean(noise**2)
    if not (p_signal > 0 and p_noise > 0):
        raise ValueError("signal and noise need non-zero power to set an SNR")
    return x + noise * np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))


def render(utt: Utterance, noise_source: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The waveform of one planned utterance: (float32 samples in [-1, 1], sample rate).

    Steps: synthesize(utt.key, utt.language, utt.voice); change_speed(utt.speed); if
    utt.snr_db is not None, add noise at that SNR relative to the mean power of the whole
    (speed-changed) utterance: pink noise from utt.noise_seed, or, if noise_source (a 1-D
    array at SAMPLE_RATE, e.g. another rendered utterance) is given, babble made from it;
    then the gain utt.gain_db; finally samples are clipped to [-1, 1]. Pure and
    deterministic.
    """
    x, rate = synthesize(utt.key, utt.language, utt.voice)
    y = change_speed(x, utt.speed).astype(np.float64)
    if utt.snr_db is not None:
        if noise_source is None:
            noise = pink_noise(y.size, utt.noise_seed)
        else:
            noise = babble_noise(noise_source, y.size, utt.noise_seed)
        y = add_noise(y, noise, utt.snr_db)
    y *= 10.0 ** (utt.gain_db / 20.0)
    return np.clip(y, -1.0, 1.0).astype(np.float32), rate


# ----------------------------------------------------------------------------------------
# Speakers and corpus plan


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), purpose]))


def draw_speakers(n: int, seed: int) -> list[Voice]:
    """n distinct speakers (Voice), drawn from default_rng(SeedSequence([seed, 0x5EA1])).

    Variants: each block of len(VARIANTS) speakers uses every variant in VARIANTS once, in
    random order (so up to 32 speakers never share a variant); pitch uniform in 25-75,
    pitch_range 25-75, rate 130-220 words per minute, amplitude 60-110 (integers).
    Duplicated settings are redrawn, so the n voices are pairwise different.
    """
    if n < 0:
        raise ValueError(f"number of speakers must be >= 0, got {n}")
    rng = _rng(seed, _PURPOSE_SPEAKERS)
    speakers: list[Voice] = []
    seen: set[Voice] = set()
    while len(speakers) < n:
        order = rng.permutation(len(VARIANTS))
        pitch = rng.integers(25, 75, size=order.size, endpoint=True)
        prange = rng.integers(25, 75, size=order.size, endpoint=True)
        rate = rng.integers(130, 220, size=order.size, endpoint=True)
        amp = rng.integers(60, 110, size=order.size, endpoint=True)
        for i, v in enumerate(order):
            voice = Voice(VARIANTS[v], int(pitch[i]), int(prange[i]), int(rate[i]), int(amp[i]))
            if voice not in seen and len(speakers) < n:
                seen.add(voice)
                speakers.append(voice)
    return speakers


def plan_corpus(n_speakers_train: int, n_speakers_test: int, per_class_per_speaker: int,
                seed: int, difficulty: float = 0.5) -> list[Utterance]:
    """The corpus as Utterance records: every speaker says each of the 20 keys
    per_class_per_speaker times; test speakers are held out (disjoint from training ones).

    Speakers are draw_speakers(n_speakers_train + n_speakers_test, seed): ids
    0..n_train-1 are the training speakers, the next n_test the test speakers. Order: split,
    speaker, repetition, label; index is the position in the list. Per-utterance draws come
    from default_rng(SeedSequence([seed, 0x5EA2])); each is a uniform variate u scaled by
    difficulty d in [0, 1]:

    - speed factor 1 + 0.15 d u, u in [-1, 1] (up to +-15 %), snapped to a ratio p/q with
      q <= 40 so that resampling is exact;
    - pitch jitter round(8 d u) espeak pitch units, u in [-1, 1] (clipped to 0-100);
    - rate jitter round(rate (1 + 0.10 d u)) words per minute, u in [-1, 1] (80-450);
    - gain -12 d u dB, u in [0, 1] (a level range of 12 dB at d = 1; never amplifies);
    - noise: none at d = 0; otherwise SNR uniform in [35 - 35 d, 40 - 35 d] dB
      (d = 0.5: 17.5-22.5 dB, d = 1: 0-5 dB), pink unless render gets a noise_source.

    At difficulty 0 the plan has no noise and no perturbation (speed 1, gain 0 dB, the
    speakers' own voices).
    """
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    if n_speakers_train < 0 or n_speakers_test < 0 or n_speakers_train + n_speakers_test < 1:
        raise ValueError(f"need >= 1 speaker in all, got {n_speakers_train} train and "
                         f"{n_speakers_test} test")
    if per_class_per_speaker < 1:
        raise ValueError(f"per_class_per_speaker must be >= 1, got {per_class_per_speaker}")
    d = float(difficulty)
    speakers = draw_speakers(n_speakers_train + n_speakers_test, seed)
    n_keys = len(KEYS)
    n = len(speakers) * per_class_per_speaker * n_keys
    speaker_id = np.repeat(np.arange(len(speakers)), per_class_per_speaker * n_keys)
    labels = np.tile(np.arange(n_keys), len(speakers) * per_class_per_speaker)

    rng = _rng(seed, _PURPOSE_PLAN)
    u_speed = rng.uniform(-1.0, 1.0, n)
    u_pitch = rng.uniform(-1.0, 1.0, n)
    u_rate = rng.uniform(-1.0, 1.0, n)
    u_gain = rng.uniform(0.0, 1.0, n)
    u_snr = rng.uniform(0.0, 1.0, n)
    noise_seeds = rng.integers(0, 2**63 - 1, size=n)

    speed = 1.0 + _MAX_SPEED_DEV * d * u_speed
    pitch_jitter = np.rint(_MAX_PITCH_JITTER * d * u_pitch).astype(int)
    rate_factor = 1.0 + _MAX_RATE_JITTER * d * u_rate
    gain_db = -_MAX_ATTENUATION_DB * d * u_gain
    snr_high = _SNR_EASY_DB - _SNR_DROP_DB * d
    snr_db = snr_high - _SNR_SPAN_DB * u_snr

    out: list[Utterance] = []
    for i in range(n):
        base = speakers[speaker_id[i]]
        voice = replace(base,
                        pitch=int(np.clip(base.pitch + pitch_jitter[i], 0, 100)),
                        rate=int(np.clip(round(base.rate * rate_factor[i]), _RATE_MIN,
                                         _RATE_MAX)))
        label = int(labels[i])
        out.append(Utterance(
            label=label, key=KEYS[label], language=LANGUAGES[label],
            speaker=int(speaker_id[i]), voice=voice,
            split="train" if speaker_id[i] < n_speakers_train else "test", index=i,
            speed=float(Fraction(float(speed[i])).limit_denominator(_SPEED_DENOMINATOR)),
            gain_db=float(gain_db[i]) + 0.0,  # + 0.0 turns -0.0 into 0.0
            snr_db=None if d == 0.0 else float(snr_db[i]),
            noise_seed=int(noise_seeds[i])))
    return out
