"""Synthetic SHD-like generator: determinism, SHD-like statistics, format, non-trivial task."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.data.formats.heidelberg import read_attrs, read_split
from neurokws.data.sources.synthetic import generate_split, make_templates, write_synthetic_dataset


@pytest.fixture(scope="module")
def train():
    return generate_split(300, 10, seed=7, speakers=range(8))


def test_deterministic_and_seed_dependent(train):
    again = generate_split(300, 10, seed=7, speakers=range(8))
    np.testing.assert_array_equal(again.times_us, train.times_us)
    np.testing.assert_array_equal(again.units, train.units)
    np.testing.assert_array_equal(again.labels, train.labels)
    other = generate_split(300, 10, seed=8, speakers=range(8))
    assert other.n_events != train.n_events or not np.array_equal(other.units, train.units)


def test_shd_like_statistics(train):
    counts = train.counts
    assert 6500 < counts.mean() < 10500  # SHD: about 8,500 events per sample
    assert counts.min() > 1000
    assert train.times_us.min() >= 0 and train.times_us.max() < 1_000_000
    assert train.units.min() >= 0 and train.units.max() <= 699
    assert len(np.unique(train.units)) > 600  # the whole cochlea is used
    np.testing.assert_array_equal(np.bincount(train.labels), np.full(10, 30))
    for i in range(0, len(train), 37):
        assert np.all(np.diff(train.sample(i)[0]) >= 0)


def test_templates_unique_names_and_sequences():
    t = make_templates(35, seed=1, difficulty=1.0)
    assert len(set(t.keys)) == 35
    assert t.kind.shape == (35, 4) and np.all((t.kind >= 0).sum(axis=1) >= 2)


def _features(split):
    """Coarse log-count images (25 time x 14 channel bins)."""
    img = np.zeros((len(split), 25, 14))
    sample = np.repeat(np.arange(len(split)), split.counts)
    np.add.at(img, (sample, np.minimum(split.times_us // 40_000, 24), split.units // 50), 1)
    return np.log1p(img.reshape(len(split), -1))


def test_task_is_learnable_but_not_trivial(train):
    test = generate_split(200, 10, seed=7, speakers=[8, 9], split="test")
    x, xt = _features(train), _features(test)
    centroids = np.stack([x[train.labels == c].mean(axis=0) for c in range(10)])
    pred = np.argmin(((xt[:, None, :] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    accuracy = np.mean(pred == test.labels)
    assert 0.3 < accuracy < 0.95, accuracy  # chance is 0.1


def test_easy_setting_is_easier():
    def acc(d):
        tr = generate_split(200, 5, seed=2, difficulty=d, speakers=range(4))
        te = generate_split(100, 5, seed=2, difficulty=d, speakers=[4, 5], split="test")
        x, xt = _features(tr), _features(te)
        cen = np.stack([x[tr.labels == c].mean(axis=0) for c in range(5)])
        return np.mean(np.argmin(((xt[:, None] - cen[None]) ** 2).sum(-1), 1) == te.labels)
    assert acc(0.0) > acc(1.0)


def test_write_dataset_files(tmp_path):
    summary = write_synthetic_dataset(tmp_path / "train.h5", tmp_path / "test.h5",
                                      n_classes=3, n_train=12, n_test=6,
                                      n_speakers_train=2, n_speakers_test=1, seed=1)
    tr, te = read_split(tmp_path / "train.h5"), read_split(tmp_path / "test.h5")
    assert len(tr) == 12 and len(te) == 6 and tr.n_classes == 3 and tr.keys == te.keys
    assert set(tr.speakers.tolist()) == {0, 1} and set(te.speakers.tolist()) == {2}
    assert summary["splits"]["train"]["n_events"] == tr.n_events
    attrs = read_attrs(tmp_path / "train.h5")
    assert attrs["neurokws_synthetic"]["seed"] == 1
    assert "versions" in attrs["neurokws_provenance"]
