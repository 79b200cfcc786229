"""The cochlea (neurokws.data.cochlea) against the reference implementation, lauscher 1.0.1.

Deterministic stages (level, window, basilar membrane, hair cell, the bushy cell's LIF) must
give lauscher's numbers; the random stage (fibre spikes) must agree in distribution. Few
channels and short clips keep lauscher's per-sample Python loops fast.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from neurokws.data import cochlea

lauscher_t = pytest.importorskip("lauscher.transformations")
from lauscher.audiowaves import MonoAudioWave  # noqa: E402
from lauscher.firing_probability import FiringProbability  # noqa: E402
from lauscher.helpers import CommandLineArguments  # noqa: E402

FS = 22050
K = 32


@pytest.fixture(scope="module", autouse=True)
def _one_worker():
    CommandLineArguments().num_concurrent_jobs = 1


def _clip(seconds: float = 0.2, seed: int = 0) -> np.ndarray:
    """A vowel-like test clip: a glottal pulse train through two moving resonances + noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    f0 = 120 + 30 * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / FS
    x = sum(np.sin(k * phase) / k for k in range(1, 25))
    x = x * np.sin(2 * np.pi * (500 + 1500 * t) * t) + 0.02 * rng.standard_normal(n)
    return x


@pytest.fixture(scope="module")
def reference():
    """lauscher's chain up to the hair cell on the test clip, at K channels."""
    wave = MonoAudioWave(_clip().copy(), FS)
    wave = wave.transform(lauscher_t.RmsNormalizer(0.3)).transform(lauscher_t.HanningWindow())
    windowed = wave.samples.copy()
    velocity = wave.transform(lauscher_t.BasilarMembrane(channels=K))
    release = velocity.transform(lauscher_t.HairCell())
    return windowed, velocity, release


def test_level_and_window_equal_lauscher(reference):
    windowed, _, _ = reference
    ours = cochlea.hann_ramp(cochlea.rms_normalize(_clip(), 0.3))
    np.testing.assert_array_equal(ours, windowed)
    odd = cochlea.hann_ramp(np.ones(7))
    assert odd[3] == 1.0 and odd[0] == 0.0 and odd[-1] == 0.0


def test_basilar_membrane_equals_lauscher(reference):
    """Same closed form with the same numpy/scipy special functions; only the inverse FFT
    differs (a real inverse FFT of the Hermitian half vs lauscher's complex one), so the
    velocities agree to rounding: 1e-12 of each channel's peak (measured ~1e-14)."""
    windowed, velocity, _ = reference
    ours = cochlea.basilar_membrane(windowed, FS, cochlea.BasilarMembrane(channels=K))
    ref = np.asarray(velocity.channels)
    assert velocity.sample_rate == FS // 2
    assert ours.shape == ref.shape == (K, windowed.size // 2 + 1)
    peak = np.max(np.abs(ref), axis=1, keepdims=True)
    assert np.all(peak > 0)
    assert np.max(np.abs(ours - ref) / peak) < 1e-12


def test_transfer_is_cached_and_read_only():
    bm = cochlea.BasilarMembrane(channels=4)
    first = cochlea.transfer(1000, FS, bm)
    assert cochlea.transfer(1000, FS, bm) is first
    assert not first.flags.writeable
    assert cochlea.transfer(1002, FS, bm).shape == (4, 502)


def test_hair_cell_equals_lauscher(reference):
    """The same recursion in the same order of operations: equal to 1e-13 relative (a compiler
    may contract a multiply-add; measured: identical)."""
    _, velocity, release = reference
    ours = cochlea.hair_cell(np.asarray(velocity.channels), velocity.sample_rate,
                             cochlea.HairCell())
    ref = np.asarray(release.channels)
    assert np.max(np.abs(ours - ref)) <= 1e-13 * np.max(ref)
    # At rest the release is the spontaneous rate: h c_rest / fs, the same in every channel.
    rest = cochlea.hair_cell(np.zeros((2, 50)), FS // 2, cochlea.HairCell())
    assert np.allclose(rest, rest[0, 0]) and 0 < rest[0, 0] < 0.01


def test_lif_equals_lauscher_on_the_same_fibre_spikes(reference):
    """Given the same fibre spikes, the bushy cells' spikes are lauscher's, sample for sample
    (its per-fibre synaptic traces summed vs our one trace of their sum: rounding only)."""
    _, _, release = reference
    bc = lauscher_t.BushyCell()
    prob = np.asarray(release.channels) * 4   # more drive: more output spikes to compare
    np.random.seed(3)  # noqa: NPY002 - lauscher draws from numpy's global RNG
    fibres = np.stack([bc._sample(row, release.sample_rate) for row in prob])
    ref = [np.flatnonzero(bc._lif(f.astype(float), release.sample_rate)) for f in fibres]
    ours = cochlea.lif_spikes(fibres.sum(axis=2), release.sample_rate, cochlea.BushyCell())
    assert sum(r.size for r in ref) > 50
    for r, o in zip(ref, ours, strict=True):
        np.testing.assert_array_equal(o, r)


def _z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-column two-sample z statistic of the means (rows = repeated runs)."""
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return (a.mean(axis=0) - b.mean(axis=0)) / np.maximum(se, 1e-12)


def test_fibre_spikes_agree_in_distribution_with_lauscher():
    """Refractory Bernoulli fibres: lauscher's dense draws + its refractory correction vs our
    waiting-time sampler, on constant probabilities from spontaneous to saturated (where the
    refractory gap dominates the rate: a gap one sample off changes it by ~7 %). Bound: every
    |z| < 4.5 over 6 probabilities x 2 statistics (false alarm < 1e-4)."""
    fs = FS // 2
    probs = np.array([0.002, 0.01, 0.05, 0.1, 0.3, 0.9])
    n = 2000
    stim = np.repeat(probs[:, None], n, axis=1)
    bc = lauscher_t.BushyCell()
    runs = 25
    np.random.seed(11)  # noqa: NPY002 - lauscher draws from numpy's global RNG
    ref = np.array([[bc._sample(row, fs)[:, :8].sum() for row in stim] for _ in range(runs)])
    rng = np.random.default_rng(11)
    ours = np.array([cochlea.fibre_counts(stim, fs, cochlea.BushyCell(n_fibres=8), rng)
                     .sum(axis=1) for _ in range(runs)])
    assert np.all(np.abs(_z(ours, ref)) < 4.5), _z(ours, ref)
    # Relative precision: saturated fibres fire every gap samples (12 at 11.025 kHz).
    assert abs(ours[:, -1].mean() / (8 * n) - 1 / 12.1) < 0.01
    # Refractoriness: no two spikes of a fibre closer than the gap.
    one = cochlea.fibre_counts(stim[-1:], fs, cochlea.BushyCell(n_fibres=1), rng)[0]
    assert np.min(np.diff(np.flatnonzero(one))) == 12


def test_certain_release_fires_every_free_fibre():
    """p >= 1 in a sample (lauscher: a Bernoulli draw that always succeeds): every fibre that
    is not refractory fires, so all fibres fire together once per refractory gap (12
    samples); after it, silence (p = 0) gives no spikes."""
    fs = FS // 2
    for p in (1.0, 1.5):
        prob = np.zeros((3, 100))
        prob[:, :30] = p
        counts = cochlea.fibre_counts(prob, fs, cochlea.BushyCell(), np.random.default_rng(0))
        expected = np.zeros(100, np.int32)
        expected[[0, 12, 24]] = 40
        for row in counts:
            np.testing.assert_array_equal(row, expected)


def test_bushy_spikes_agree_in_distribution_with_lauscher(reference):
    """The whole spike stage on the clip's release probabilities (K channels): per-channel
    spike counts over repeated runs, lauscher's BushyCell vs ours; every |z| < 4.5 and the
    sum of z^2 within chi^2(K)'s 1e-4 tail."""
    _, _, release = reference
    prob = np.asarray(release.channels) * 3
    wave = FiringProbability(prob, release.sample_rate)
    runs = 12
    np.random.seed(5)  # noqa: NPY002 - lauscher draws from numpy's global RNG
    ref = []
    for _ in range(runs):
        spikes = lauscher_t.BushyCell()(wave)
        ref.append(np.bincount(spikes.spike_labels.astype(int), minlength=K))
    rng = np.random.default_rng(5)
    ours = []
    for _ in range(runs):
        _, chans = cochlea.bushy_cells(prob, release.sample_rate, cochlea.BushyCell(), rng)
        ours.append(np.bincount(chans, minlength=K))
    ref, ours = np.array(ref), np.array(ours)
    assert ref.sum() > 20 * runs
    z = _z(ours.astype(float), ref.astype(float))
    live = ref.std(axis=0) + ours.std(axis=0) > 0
    assert np.all(np.abs(z[live]) < 4.5), z
    assert np.sum(z[live] ** 2) < live.sum() + 6 * np.sqrt(2 * live.sum())


def test_chain_is_seeded_and_sorted():
    co = cochlea.Cochlea(membrane=cochlea.BasilarMembrane(channels=K))
    x = _clip(0.15, seed=2)
    t1, u1 = co(x, FS, np.random.default_rng(7))
    t2, u2 = co(x, FS, np.random.default_rng(7))
    t3, _ = co(x, FS, np.random.default_rng(8))
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(u1, u2)
    assert t1.size > 0 and not np.array_equal(t1, t3)
    assert np.all(np.diff(t1) >= 0) and u1.dtype == np.uint16 and u1.max() < K
    assert t1.max() <= (x.size // 2) / (FS // 2)


def test_channel_blocks_give_the_numbers_of_all_channels_at_once():
    """The chain runs BLOCK_CHANNELS channels at a time from one Generator; the spikes must be
    those of the whole membrane velocity converted in one go."""
    k = cochlea.BLOCK_CHANNELS + 36
    co = cochlea.Cochlea(membrane=cochlea.BasilarMembrane(channels=k))
    x = _clip(0.1, seed=6)
    times, units = co(x, FS, np.random.default_rng(9))
    velocity, fs = co.velocity(x, FS)
    steps, chans = cochlea._spikes(velocity, False, fs, co.hair, co.bushy,
                                   np.random.default_rng(9), x.size // 2 + 1)
    order = np.lexsort((chans, steps))
    assert units.max() >= cochlea.BLOCK_CHANNELS   # the second block fired
    np.testing.assert_array_equal(times, steps[order] / fs)
    np.testing.assert_array_equal(units, chans[order])


def test_padding_keeps_the_clip_and_drops_its_tail():
    """Zero-padding to a quantum (shared transfers) changes the frequency grid slightly but not
    what the clip drives: spikes stay within the clip, and the rate matches the unpadded run."""
    x = _clip(0.2, seed=4)
    plain = cochlea.Cochlea(membrane=cochlea.BasilarMembrane(channels=K))
    padded = cochlea.Cochlea(membrane=cochlea.BasilarMembrane(channels=K), pad_s=0.1)
    n_pad = padded.padded_length(x.size, FS)
    # 0.2 s -> M = 2206 before rounding up to a fast real-FFT length
    assert n_pad >= 4410 and n_pad // 2 + 1 == scipy.fft.next_fast_len(2206, real=True)
    counts = [plain(x, FS, np.random.default_rng(s))[0].size for s in range(6)]
    times = [padded(x, FS, np.random.default_rng(s))[0] for s in range(6)]
    assert max(t.max() for t in times) <= (x.size // 2) / (FS // 2)
    ratio = np.mean([t.size for t in times]) / np.mean(counts)
    assert 0.8 < ratio < 1.25


def test_bad_audio_is_refused():
    co = cochlea.Cochlea(membrane=cochlea.BasilarMembrane(channels=4))
    with pytest.raises(ValueError, match="silent"):
        co(np.zeros(100), FS, np.random.default_rng(0))
    with pytest.raises(ValueError, match="mono"):
        co(np.ones((2, 100)), FS, np.random.default_rng(0))
