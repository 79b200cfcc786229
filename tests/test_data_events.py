"""EventSplit container: invariants, slicing, concatenation and the prepared .npz format."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.data.formats.events import EventSplit, concatenate, load_npz, save_npz
from neurokws.utils.errors import DataFormatError


def _split() -> EventSplit:
    """Three samples: 2 events, 0 events, 3 events."""
    return EventSplit(times_us=np.array([5, 9, 1, 2, 3]), units=np.array([1, 2, 3, 4, 5]),
                      offsets=np.array([0, 2, 2, 5]), labels=np.array([0, 2, 1]),
                      keys=("a", "b", "c"), speakers=np.array([7, 8, 9]))


def test_dtypes_counts_and_sample_views():
    s = _split()
    assert s.times_us.dtype == np.int32 and s.units.dtype == np.int16
    assert s.offsets.dtype == np.int64 and s.labels.dtype in (np.int16, np.int32)
    assert len(s) == 3 and s.n_events == 5 and s.n_classes == 3
    np.testing.assert_array_equal(s.counts, [2, 0, 3])
    t, u = s.sample(2)
    np.testing.assert_array_equal(t, [1, 2, 3])
    np.testing.assert_array_equal(u, [3, 4, 5])
    assert s.sample(1)[0].size == 0


def test_n_classes_defaults_to_max_label_plus_one_without_keys():
    s = EventSplit(np.zeros(0), np.zeros(0), np.zeros(3), np.array([0, 4]))
    assert s.n_classes == 5


def test_subset_reorders_and_repeats_samples():
    s = _split().subset([2, 0, 2, 1])
    np.testing.assert_array_equal(s.offsets, [0, 3, 5, 8, 8])
    np.testing.assert_array_equal(s.times_us, [1, 2, 3, 5, 9, 1, 2, 3])
    np.testing.assert_array_equal(s.labels, [1, 0, 1, 2])
    np.testing.assert_array_equal(s.speakers, [9, 7, 9, 8])
    assert s.keys == ("a", "b", "c")
    assert len(_split().subset([])) == 0
    with pytest.raises(IndexError):
        _split().subset([3])


def test_concatenate_stacks_samples():
    a = _split()
    both = concatenate([a, a.subset([0])])
    assert len(both) == 4 and both.n_events == 7
    np.testing.assert_array_equal(both.offsets, [0, 2, 2, 5, 7])
    np.testing.assert_array_equal(both.sample(3)[0], [5, 9])
    same = EventSplit.concatenate([a, a.subset([0])])
    np.testing.assert_array_equal(same.times_us, both.times_us)


@pytest.mark.parametrize("offsets", [[0, 2, 5], [1, 2, 2, 5], [0, 3, 2, 5], [0, 2, 2, 4]])
def test_bad_offsets_rejected(offsets):
    with pytest.raises(ValueError):
        EventSplit(np.arange(5), np.arange(5), np.array(offsets), np.array([0, 1, 2]))


def test_npz_round_trip(tmp_path):
    s = _split()
    save_npz(tmp_path / "p.npz", s)
    r = load_npz(tmp_path / "p.npz")
    for name in ("times_us", "units", "offsets", "labels", "speakers"):
        np.testing.assert_array_equal(getattr(r, name), getattr(s, name))
    assert r.keys == s.keys and r.n_classes == 3 and r.n_channels == 700


def test_npz_missing_or_corrupt_names_the_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"nope\.npz"):
        load_npz(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DataFormatError, match=r"bad\.npz"):
        load_npz(bad)
