"""The sequence-detection task (data/sequence.py): structure, timing, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.data.sequence import SequenceTask, generate_split

TASK = SequenceTask(n_patterns=3, pattern_channels=8, spikes_per_channel=2, n_channels=64,
                    gap_ms=25.0,
                    jitter_ms=2.0, noise_hz=0.0, duration_ms=1000.0)


def test_classes_are_ordered_pairs_of_the_same_spikes():
    split = generate_split(TASK, 60, seed=3)
    assert TASK.keys == ("A-B", "A-C", "B-A", "B-C", "C-A", "C-B") and split.n_classes == 6
    assert np.bincount(split.labels).tolist() == [10] * 6          # balanced
    patterns = TASK.patterns(3)
    assert len(np.unique(patterns)) == patterns.size                # disjoint channel sets
    for s in range(len(split)):
        t_us, ch = split.sample(s)
        first, second = TASK.classes[split.labels[s]]
        assert len(ch) == 2 * TASK.pattern_channels * TASK.spikes_per_channel
        assert np.all(np.bincount(ch) % TASK.spikes_per_channel == 0)
        early = ch[t_us < np.median(t_us)]
        assert set(early) == set(patterns[first])
        assert set(ch) == set(patterns[first]) | set(patterns[second])
        gap = np.mean(t_us[np.isin(ch, patterns[second])]) - np.mean(
            t_us[np.isin(ch, patterns[first])])
        assert abs(gap / 1000.0 - TASK.gap_ms) < TASK.jitter_ms
        assert np.all(np.diff(t_us) >= 0) and t_us.max() < TASK.duration_ms * 1000


def test_deterministic_per_seed_and_split_with_shared_patterns():
    a, b = generate_split(TASK, 12, seed=3), generate_split(TASK, 12, seed=3)
    np.testing.assert_array_equal(a.times_us, b.times_us)
    np.testing.assert_array_equal(a.units, b.units)
    test = generate_split(TASK, 12, seed=3, split="test")
    assert not np.array_equal(a.times_us[:16], test.times_us[:16])
    assert not np.array_equal(TASK.patterns(3), TASK.patterns(4))


def test_background_noise_rate():
    noisy = SequenceTask(**{**TASK.__dict__, "noise_hz": 5.0})
    split = generate_split(noisy, 200, seed=1)
    extra = np.diff(split.offsets) - 2 * TASK.pattern_channels * TASK.spikes_per_channel
    assert extra.mean() == pytest.approx(5.0 * 64, rel=0.05)        # Poisson, 200 samples


@pytest.mark.parametrize(("change", "message"), [
    ({"n_patterns": 1}, "n_patterns"),
    ({"spikes_per_channel": 0}, "spikes_per_channel"),
    ({"pattern_channels": 30}, "do not fit"),
    ({"gap_ms": 999.0}, "inside duration_ms")])
def test_bad_parameters_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        SequenceTask(**{**TASK.__dict__, **change})
