"""Heidelberg HDF5 reader/writer: round trips in every wrapper and clear errors on bad files."""

from __future__ import annotations

import gzip
import zipfile

import h5py
import numpy as np
import pytest

from neurokws.data.formats.events import EventSplit
from neurokws.data.formats.heidelberg import read_attrs, read_split, write_split
from neurokws.data.sources.synthetic import generate_split
from neurokws.utils.errors import DataFormatError


def _raw_file(path, times, units, labels, keys=None, time_dtype=np.float16,
              unit_dtype=np.uint16):
    """Write an SHD-style file by hand (float16 seconds, like the real SHD)."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(time_dtype))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(unit_dtype))
        for i, (ti, ui) in enumerate(zip(times, units, strict=True)):
            t[i] = np.asarray(ti, dtype=time_dtype)
            u[i] = np.asarray(ui, dtype=unit_dtype)
        f["labels"] = np.asarray(labels)
        if keys is not None:
            f["extra/keys"] = np.array([k.encode() for k in keys])
    return path


@pytest.fixture(scope="module")
def small_split() -> EventSplit:
    return generate_split(40, 4, seed=3, speakers=[0, 1, 2])


def _assert_same(a: EventSplit, b: EventSplit) -> None:
    for name in ("times_us", "units", "offsets", "labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.keys == b.keys and a.n_classes == b.n_classes


@pytest.mark.parametrize("name", ["d.h5", "d.h5.gz"])
def test_round_trip_plain_and_gzip(tmp_path, small_split, name):
    write_split(tmp_path / name, small_split, attrs={"origin": {"seed": 3}})
    back = read_split(tmp_path / name)
    _assert_same(back, small_split)
    np.testing.assert_array_equal(back.speakers, small_split.speakers)
    assert read_attrs(tmp_path / name)["origin"] == {"seed": 3}
    if name.endswith(".gz"):
        assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b"


def test_round_trip_tonic_zip(tmp_path, small_split):
    write_split(tmp_path / "shd_train.h5", small_split)
    with zipfile.ZipFile(tmp_path / "shd_train.h5.zip", "w") as z:
        z.write(tmp_path / "shd_train.h5", "shd_train.h5")
    _assert_same(read_split(tmp_path / "shd_train.h5.zip"), small_split)


def test_no_temp_files_left_after_write(tmp_path, small_split):
    write_split(tmp_path / "a.h5.gz", small_split)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5.gz"]


def test_float16_shd_file_and_keys(tmp_path):
    path = _raw_file(tmp_path / "shd.h5", [[0.0, 0.009, 0.5], []], [[3, 699, 0], []], [1, 0],
                     keys=["english zero", "english one"])
    s = read_split(path)
    # float16(0.009) = 0.0090027..., rint to the nearest microsecond.
    np.testing.assert_array_equal(s.times_us, [0, 9003, 500000])
    np.testing.assert_array_equal(s.units, [3, 699, 0])
    assert s.keys == ("english zero", "english one") and s.n_classes == 2
    assert s.counts.tolist() == [3, 0]


def test_unsorted_sample_is_sorted_stably(tmp_path):
    path = _raw_file(tmp_path / "u.h5", [[0.5, 0.1, 0.1], [0.2, 0.3]],
                     [[1, 2, 3], [4, 5]], [0, 0], time_dtype=np.float32)
    s = read_split(path)
    np.testing.assert_array_equal(s.times_us, [100000, 100000, 500000, 200000, 300000])
    np.testing.assert_array_equal(s.units, [2, 3, 1, 4, 5])


def test_events_beyond_T_are_not_an_error(tmp_path):
    path = _raw_file(tmp_path / "late.h5", [[0.2, 1.4]], [[1, 2]], [0], time_dtype=np.float32)
    assert read_split(path).times_us.tolist() == [200000, 1400000]


def test_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match=r"missing\.h5.*not found"):
        read_split(tmp_path / "missing.h5")


@pytest.mark.parametrize("content", [b"", b"hello", b"x" * 4096, b"\x89HDF\r\n\x1a\n" + b"0" * 100])
def test_not_hdf5(tmp_path, content):
    path = tmp_path / "junk.h5"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=r"junk\.h5"):
        read_split(path)


def test_truncated_hdf5_and_gzip(tmp_path, small_split):
    write_split(tmp_path / "ok.h5", small_split)
    data = (tmp_path / "ok.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.h5.*(truncated|corrupt)"):
        read_split(tmp_path / "cut.h5")
    gz = gzip.compress(data)
    (tmp_path / "cut.h5.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.h5\.gz"):
        read_split(tmp_path / "cut.h5.gz")


def test_zip_without_single_h5(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.h5.zip", "w") as z:
        z.writestr("readme.txt", "nothing here")
    with pytest.raises(DataFormatError, match=r"x\.h5\.zip.*exactly one"):
        read_split(tmp_path / "x.h5.zip")


def test_missing_dataset(tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["labels"] = np.zeros(2, np.uint16)
    with pytest.raises(DataFormatError, match=r"m\.h5.*spikes/times"):
        read_split(tmp_path / "m.h5")


@pytest.mark.parametrize(("times", "units", "labels", "keys", "match"), [
    ([[0.1, 0.2]], [[1]], [0], None, "2 spike times but 1 units"),
    ([[0.1, -0.2]], [[1, 2]], [0], None, "negative"),
    ([[0.1, float("nan")]], [[1, 2]], [0], None, "NaN"),
    ([[0.1, 0.2]], [[1, 700]], [0], None, r"unit 700 .* outside \[0, 700\)"),
    ([[0.1]], [[1]], [-1], None, "negative"),
    ([[0.1]], [[1]], [2], ["a", "b"], "number of classes 2"),
    ([[0.1], [0.2]], [[1], [2]], [0], None, "labels has 1 entries for 2 samples"),
])
def test_invalid_content(tmp_path, times, units, labels, keys, match):
    path = _raw_file(tmp_path / "bad.h5", times, units, np.asarray(labels, dtype=np.int32),
                     keys=keys, time_dtype=np.float32, unit_dtype=np.int32)
    with pytest.raises(DataFormatError, match=match) as info:
        read_split(path)
    assert "bad.h5" in str(info.value)


def test_non_vlen_times_rejected(tmp_path):
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f["spikes/times"] = np.zeros((2, 3))
        f["spikes/units"] = np.zeros((2, 3), np.uint16)
        f["labels"] = np.zeros(2, np.uint16)
    with pytest.raises(DataFormatError, match="variable-length"):
        read_split(tmp_path / "flat.h5")
