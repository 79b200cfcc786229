"""Binning onto the dt grid: half-open bins, crop at T, duplicate collapse, exact edges."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurokws.data.formats.binning import bin_events
from neurokws.data.formats.events import EventSplit
from neurokws.data.formats.heidelberg import read_split
from neurokws.data.sources.synthetic import generate_split


def _one(times_us, units, n_channels=700) -> EventSplit:
    return EventSplit(times_us=np.asarray(times_us), units=np.asarray(units),
                      offsets=np.array([0, len(times_us)]), labels=np.array([0]),
                      n_channels=n_channels)


def _reference(split: EventSplit, dt_ms: float, n_steps: int):
    """Brute force: floor(t / dt) per event, crop, unique (step, channel) pairs."""
    out = []
    for i in range(len(split)):
        t, u = split.sample(i)
        k = np.floor(t.astype(np.float64) / (dt_ms * 1000.0)).astype(np.int64)
        keep = (k >= 0) & (k < n_steps)
        key = np.unique(k[keep] * split.n_channels + u[keep])
        out.append((key // split.n_channels, key % split.n_channels))
    return out


def test_bin_edges_are_half_open():
    # 999 us -> bin 0; exactly 1 ms -> bin 1; 1999 us -> bin 1; 2 ms -> bin 2.
    b = bin_events(_one([0, 999, 1000, 1999, 2000], [5, 6, 7, 8, 9]), 1.0, 10)
    np.testing.assert_array_equal(b.steps, [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(b.channels, [5, 6, 7, 8, 9])


def test_crop_at_T_and_last_bin():
    b = bin_events(_one([998_999, 999_000, 999_999, 1_000_000, 1_400_000], [1, 2, 3, 4, 5]),
                   1.0, 1000)
    np.testing.assert_array_equal(b.steps, [998, 999, 999])
    np.testing.assert_array_equal(b.channels, [1, 2, 3])
    assert b.n_steps == 1000 and b.dt_ms == 1.0


def test_duplicates_collapse_and_sorted_by_step_then_channel():
    b = bin_events(_one([100, 200, 300, 400, 900, 1100], [7, 3, 7, 3, 1, 7]), 1.0, 5)
    np.testing.assert_array_equal(b.steps, [0, 0, 0, 1])
    np.testing.assert_array_equal(b.channels, [1, 3, 7, 7])
    dense = b.dense(0)
    assert dense.sum() == 4 and dense[0, 7] == 1 and dense.max() == 1


def test_big_phase_locked_groups_sorted_and_deduplicated():
    # 150 channels firing in the same ms (reverse order, each twice), then a small group.
    ch = np.repeat(np.arange(600, 450, -1), 2)
    t = np.full(len(ch), 3_500)
    b = bin_events(_one(np.r_[t, 4_100, 4_200, 4_300], np.r_[ch, 9, 2, 9]), 1.0, 10)
    np.testing.assert_array_equal(b.steps, np.r_[np.full(150, 3), 4, 4])
    np.testing.assert_array_equal(b.channels, np.r_[np.arange(451, 601), 2, 9])


def test_unsorted_input_falls_back_to_full_sort():
    b = bin_events(_one([5000, 100, 5200, 300, 100], [2, 9, 2, 1, 9]), 1.0, 10)
    np.testing.assert_array_equal(b.steps, [0, 0, 5])
    np.testing.assert_array_equal(b.channels, [1, 9, 2])


def test_empty_samples_and_split():
    s = EventSplit(np.array([10]), np.array([4]), np.array([0, 0, 1, 1]), np.array([0, 1, 0]))
    b = bin_events(s, 1.0, 10)
    np.testing.assert_array_equal(b.offsets, [0, 0, 1, 1])
    assert bin_events(s.subset([]), 1.0, 10).n_spikes == 0


@pytest.mark.parametrize(("dtype", "seconds", "step"), [
    (np.float16, 0.009, 9), (np.float32, 0.009, 9), (np.float64, 0.009, 9),
    (np.float32, 0.001, 1), (np.float64, 0.000999, 0), (np.float32, 0.0009994, 0),
    # 0.999999 ms is 999.999 us: microsecond storage rounds it to 1000 us, i.e. bin 1.
    (np.float64, 0.000999999, 1),
])
def test_float_time_representations(tmp_path, dtype, seconds, step):
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(dtype))
        u = f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))
        t[0] = np.array([seconds], dtype=dtype)
        u[0] = np.array([4], dtype=np.uint16)
        f["labels"] = np.zeros(1, np.uint16)
    b = bin_events(read_split(path), 1.0, 1000)
    assert b.steps.tolist() == [step]


@pytest.mark.parametrize(("dt_ms", "n_steps"), [(1.0, 1000), (2.0, 400), (0.5, 1500),
                                                (1.0 / 3.0, 2000)])
def test_matches_brute_force_on_synthetic_data(dt_ms, n_steps):
    split = generate_split(30, 3, seed=11, speakers=[0, 1])
    b = bin_events(split, dt_ms, n_steps)
    for i, (steps, channels) in enumerate(_reference(split, dt_ms, n_steps)):
        got_s, got_c = b.sample(i)
        np.testing.assert_array_equal(got_s, steps)
        np.testing.assert_array_equal(got_c, channels)
    assert b.steps.dtype == np.int16 and b.channels.dtype == np.int16   # compact: T, 700 fit
    assert b.labels.dtype == np.int32 and b.offsets.dtype == np.int64


def test_index_dtype_widens_where_int16_does_not_fit():
    split = generate_split(2, 2, seed=1, speakers=[0])
    wide = bin_events(split, 0.01, 40000)          # T = 40000 steps of 10 us
    assert wide.steps.dtype == np.int32 and wide.channels.dtype == np.int32
    assert wide.steps.max() > np.iinfo(np.int16).max      # would have wrapped in int16


def test_invalid_arguments():
    with pytest.raises(ValueError):
        bin_events(_one([1], [1]), 0.0, 10)


def test_binned_subset_matches_per_sample_views():
    b = bin_events(generate_split(12, 3, seed=1, speakers=[0]), 1.0, 1000)
    sub = b.subset([5, 0, 5])
    assert len(sub) == 3 and sub.n_steps == 1000
    for j, i in enumerate([5, 0, 5]):
        np.testing.assert_array_equal(sub.sample(j)[0], b.sample(i)[0])
        np.testing.assert_array_equal(sub.sample(j)[1], b.sample(i)[1])
        assert sub.labels[j] == b.labels[i]
