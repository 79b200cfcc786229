"""The sequence-detection task (data/sources/sequence.py): structure, timing, determinism,
errors."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.data.sources.sequence import SequenceTask, generate_split

TASK = SequenceTask(n_patterns=3, pattern_channels=8, spikes_per_channel=2, n_channels=64,
                    gaps_ms=(25.0,),
                    jitter_ms=2.0, noise_hz=0.0, duration_ms=1000.0)


def test_classes_are_ordered_pairs_of_the_same_spikes():
    split = generate_split(TASK, 60, seed=3)
    assert TASK.keys == ("A-25-B", "A-25-C", "B-25-A", "B-25-C", "C-25-A", "C-25-B")
    assert split.n_classes == 6
    assert np.bincount(split.labels).tolist() == [10] * 6          # balanced
    patterns = TASK.patterns(3)
    assert len(np.unique(patterns)) == patterns.size                # disjoint channel sets
    for s in range(len(split)):
        t_us, ch = split.sample(s)
        first, second, gap_ms = TASK.classes[split.labels[s]]
        assert len(ch) == 2 * TASK.pattern_channels * TASK.spikes_per_channel
        assert np.all(np.bincount(ch) % TASK.spikes_per_channel == 0)
        early = ch[t_us < np.median(t_us)]
        assert set(early) == set(patterns[first])
        assert set(ch) == set(patterns[first]) | set(patterns[second])
        gap = np.mean(t_us[np.isin(ch, patterns[second])]) - np.mean(
            t_us[np.isin(ch, patterns[first])])
        assert abs(gap / 1000.0 - gap_ms) < TASK.jitter_ms
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
    ({"gaps_ms": (999.0,)}, "inside duration_ms"), ({"gaps_ms": ()}, "distinct")])
def test_bad_parameters_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        SequenceTask(**{**TASK.__dict__, **change})


def test_dataset_source_writes_heidelberg_files_from_the_config(tmp_path):
    """The `sequence` source: the schema's task keys build the task; the files read back
    with the same events and the generator's settings as attributes."""
    from neurokws.config import default_config
    from neurokws.data.formats.heidelberg import read_attrs, read_split
    from neurokws.data.sources.sequence import write_sequence_dataset

    settings = default_config(datasets={"seq": {"source": "sequence", "sequence": {
        "n_train": 12, "n_test": 6, "noise_hz": 0.0}}})["datasets"]["seq"]["sequence"]
    task = SequenceTask.from_settings(settings)
    assert task.noise_hz == 0.0 and task.n_patterns == settings["n_patterns"]
    summary = write_sequence_dataset(tmp_path / "train.h5", tmp_path / "test.h5", task,
                                     n_train=12, n_test=6, seed=settings["seed"])
    assert summary["splits"]["test"]["n_samples"] == 6
    back = read_split(tmp_path / "train.h5")
    made = generate_split(task, 12, settings["seed"])
    np.testing.assert_array_equal(back.units, made.units)
    np.testing.assert_array_equal(back.labels, made.labels)
    assert back.keys == task.keys
    assert read_attrs(tmp_path / "test.h5")["neurokws_sequence"]["split"] == "test"
