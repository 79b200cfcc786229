"""Read and write splits in the Heidelberg (SHD/SSC) HDF5 layout, validating every field.

Layout: spikes/times (vlen float, seconds), spikes/units (vlen uint16), labels (uint16),
extra/keys (class names), extra/speaker (uint16). Plain .h5, gzip-wrapped .h5.gz (as the
Zenke lab distributes them) and tonic's .h5.zip are all accepted (detected by magic bytes).

Times become int32 microseconds by rint(t * 1e6) in float64. tonic truncates instead
(astype(int)), which puts e.g. float32(0.009) = 0.00899999... s into bin 8 rather than 9;
rounding keeps every representable time in the bin its decimal value names.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numba
import numpy as np

from neurokws.data.formats.events import N_CHANNELS, EventSplit
from neurokws.utils.atomic import atomic_path
from neurokws.utils.errors import DataFormatError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
REQUIRED = ("spikes/times", "spikes/units", "labels")
_FIX_CORRUPT = ("The file is probably truncated or corrupt (e.g. an interrupted download or "
                "copy); delete it and download or generate it again.")


BLOCK_SAMPLES = 2048   # samples read per HDF5 call (bounds the per-sample object arrays)


def read_split(path: str | os.PathLike, n_channels: int = N_CHANNELS,
               block_samples: int = BLOCK_SAMPLES) -> EventSplit:
    """Read and validate one Heidelberg-format split (.h5, .h5.gz or .h5.zip) into flat arrays.

    Memory stays near the size of the result (6 bytes per event): the variable-length
    datasets are read `block_samples` samples at a time, twice: once for the event counts
    (units only), then into the preallocated flat arrays. Gzip- and zip-wrapped files are
    unpacked to a temporary file, not into memory. Raises DataFormatError naming the file
    for anything missing or impossible. Samples whose times are not sorted are stably
    sorted; events beyond T are kept (binning crops them).
    """
    path = Path(path)
    try:
        with _open_h5(path) as handle:
            return _read_blocks(path, handle, n_channels, max(1, int(block_samples)))
    except DataFormatError:
        raise
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise DataFormatError(f"{path}: could not read HDF5 content ({exc}). "
                              f"{_FIX_CORRUPT}") from exc


def write_split(path: str | os.PathLike, split: EventSplit, keys: Sequence[str] | None = None,
                speakers: Sequence[int] | np.ndarray | None = None,
                time_dtype: Any = np.float32, attrs: dict[str, Any] | None = None) -> None:
    """Atomically write a split in the Heidelberg layout; gzip-wrap it when path ends in .gz.

    Times are written in seconds as `time_dtype` (float32 round-trips microseconds exactly
    for times < 8 s; SHD itself uses float16). `attrs` are stored as JSON root attributes.
    """
    path = Path(path)
    keys = split.keys if keys is None else tuple(keys)
    speakers = split.speakers if speakers is None else np.asarray(speakers)
    if speakers is not None and len(speakers) != len(split):
        raise ValueError(f"speakers has {len(speakers)} entries for {len(split)} samples")
    with atomic_path(path) as tmp:
        if path.name.endswith(".gz"):
            buffer = io.BytesIO()
            with h5py.File(buffer, "w") as handle:
                _write_h5(handle, split, keys, speakers, time_dtype, attrs)
            with gzip.open(tmp, "wb", compresslevel=4) as out:
                out.write(buffer.getbuffer())
        else:
            with h5py.File(tmp, "w") as handle:
                _write_h5(handle, split, keys, speakers, time_dtype, attrs)


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Root attributes written by write_split (JSON-decoded where possible)."""
    with _open_h5(Path(path)) as handle:
        out: dict[str, Any] = {}
        for name, value in handle.attrs.items():
            try:
                out[name] = json.loads(value)
            except (TypeError, ValueError):
                out[name] = value
        return out


def _write_h5(handle: h5py.File, split: EventSplit, keys: Sequence[str] | None,
              speakers: np.ndarray | None, time_dtype: Any,
              attrs: dict[str, Any] | None) -> None:
    """Fill an open HDF5 file with the Heidelberg datasets."""
    n = len(split)
    cuts = split.offsets[1:-1]
    seconds = (split.times_us.astype(np.float64) * 1e-6).astype(time_dtype)
    times = np.empty(n, dtype=object)
    units = np.empty(n, dtype=object)
    times[:] = np.split(seconds, cuts) if n else []
    units[:] = np.split(split.units.astype(np.uint16), cuts) if n else []
    handle.create_dataset("spikes/times", data=times, dtype=h5py.vlen_dtype(np.dtype(time_dtype)))
    handle.create_dataset("spikes/units", data=units, dtype=h5py.vlen_dtype(np.uint16))
    handle.create_dataset("labels", data=split.labels.astype(np.uint16))
    if keys is not None:
        handle.create_dataset("extra/keys", data=np.array(list(keys), dtype=object),
                              dtype=h5py.string_dtype("utf-8"))
    if speakers is not None:
        handle.create_dataset("extra/speaker", data=np.asarray(speakers).astype(np.uint16))
    for name, value in (attrs or {}).items():
        handle.attrs[name] = json.dumps(value, sort_keys=True, default=str)


@contextlib.contextmanager
def _open_h5(path: Path) -> Iterator[h5py.File]:
    """Open plain, gzip-wrapped or zipped HDF5 read-only; DataFormatError names the file."""
    if not path.exists():
        raise DataFormatError(
            f"{path}: file not found. Download it (snakemake rule 'download', or "
            f"neurokws.data.sources.download.download_dataset), generate it, or fix the path in "
            f"the config.")
    with open(path, "rb") as raw:
        magic = raw.read(8)
    with tempfile.TemporaryDirectory(prefix="neurokws-h5-") as tmp:
        try:
            if magic.startswith(GZIP_MAGIC):
                source: Path = Path(tmp) / "unpacked.h5"
                with gzip.open(path, "rb") as stream, open(source, "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 22)
            elif magic.startswith(ZIP_MAGIC):
                source = _unzip_member(path, Path(tmp))
            elif magic == HDF5_MAGIC or path.stat().st_size > 512:
                source = path  # HDF5 may also start at a 512-byte user block; let h5py decide.
            else:
                raise DataFormatError(f"{path}: not an HDF5, gzip or zip file (starts with "
                                      f"{magic!r}). {_FIX_CORRUPT}")
            handle = h5py.File(source, "r")
        except DataFormatError:
            raise
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile, ValueError) as exc:
            raise DataFormatError(f"{path}: cannot be opened as a (gzip/zip-wrapped) HDF5 "
                                  f"file ({exc}). {_FIX_CORRUPT}") from exc
        with handle:
            yield handle


def _unzip_member(path: Path, folder: Path) -> Path:
    """Extract the single .h5 member of a zip archive (tonic's .h5.zip) into `folder`."""
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.namelist() if m.endswith(".h5")]
        if len(members) != 1:
            raise DataFormatError(f"{path}: zip archive should hold exactly one .h5 file, "
                                  f"holds {members or archive.namelist()}; unzip it and point "
                                  "the config at the right .h5 file.")
        target = folder / "unpacked.h5"
        with archive.open(members[0]) as stream, open(target, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 22)
        return target


def _read_blocks(path: Path, handle: h5py.File, n_channels: int, block: int) -> EventSplit:
    """Validate the datasets and fill flat arrays block by block (see read_split)."""
    missing = [name for name in REQUIRED if name not in handle]
    if missing:
        raise DataFormatError(
            f"{path}: missing dataset(s) {missing}; a Heidelberg-format file needs "
            f"{list(REQUIRED)} (optional extra/keys, extra/speaker). Check that this is an "
            f"SHD/SSC file or regenerate it with neurokws.data.formats.heidelberg.write_split.")
    times, units = handle["spikes/times"], handle["spikes/units"]
    for name, dset in (("spikes/times", times), ("spikes/units", units)):
        if h5py.check_vlen_dtype(dset.dtype) is None or dset.ndim != 1:
            raise DataFormatError(f"{path}: '{name}' must be a 1-D variable-length array "
                                  f"(one array per sample), found dtype {dset.dtype} shape "
                                  f"{dset.shape}; write the file with write_split.")
    n = times.shape[0]
    if units.shape[0] != n:
        raise DataFormatError(f"{path}: spikes/times has {n} samples but spikes/units has "
                              f"{units.shape[0]}; the file is inconsistent, regenerate it.")
    labels = handle["labels"][()]
    labels = np.asarray(labels).reshape(-1) if np.ndim(labels) else np.asarray([labels])
    if len(labels) != n:
        raise DataFormatError(f"{path}: labels has {len(labels)} entries for {n} samples; "
                              "each sample needs exactly one label, regenerate the file.")
    keys = None
    if "extra/keys" in handle:
        keys = tuple(k.decode() if isinstance(k, bytes) else str(k)
                     for k in np.asarray(handle["extra/keys"][()]).reshape(-1))
    speakers = handle["extra/speaker"][()] if "extra/speaker" in handle else None
    if speakers is not None and np.shape(speakers) != (n,):
        speakers = None  # optional metadata; ignore if it does not match

    counts = np.zeros(n, dtype=np.int64)   # pass 1: events per sample (units only)
    for lo in range(0, n, block):
        counts[lo:lo + block] = [len(u) for u in units[lo:lo + block]]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    times_us = np.empty(int(offsets[-1]), dtype=np.int32)
    units16 = np.empty(int(offsets[-1]), dtype=np.int16)
    for lo in range(0, n, block):          # pass 2: fill, checking every block
        hi = min(lo + block, n)
        t_block, u_block = times[lo:hi], units[lo:hi]
        n_times = np.fromiter((len(t) for t in t_block), dtype=np.int64, count=hi - lo)
        bad = np.flatnonzero(n_times != counts[lo:hi])
        if len(bad):
            s = int(bad[0]) + lo
            raise DataFormatError(
                f"{path}: sample {s} has {n_times[s - lo]} spike times but {counts[s]} units "
                f"({len(bad)} samples in its block differ); times and units must pair up, "
                "regenerate the file.")
        e0, e1 = int(offsets[lo]), int(offsets[hi])
        local = offsets[lo:hi + 1] - e0
        if e1 > e0:
            _times_to_us(path, np.concatenate(t_block), local, lo, times_us[e0:e1])
            units16[e0:e1] = _check_units(path, np.concatenate(u_block), local, lo, n_channels)
    labels32 = _check_labels(path, labels, keys)
    _sort_within_samples(times_us, units16, offsets)
    return EventSplit(times_us=times_us, units=units16, offsets=offsets, labels=labels32,
                      n_channels=n_channels, n_classes=len(keys) if keys else None,
                      keys=keys, speakers=speakers)


def _sample_of(offsets: np.ndarray, i: int, first: int = 0) -> int:
    """Index of the sample that owns flat event i (offsets of samples first, first+1...)."""
    return first + int(np.searchsorted(offsets, i, side="right") - 1)


def _times_to_us(path: Path, flat: np.ndarray, offsets: np.ndarray, first: int,
                 out: np.ndarray) -> None:
    """Seconds -> int32 rint(t * 1e6) into `out`, rejecting NaN, inf, negative and huge
    times; `offsets` are the block's, whose first sample is number `first`."""
    if flat.dtype.kind not in "fiu":
        raise DataFormatError(f"{path}: spikes/times has dtype {flat.dtype}, expected float "
                              "seconds; regenerate the file.")
    if flat.dtype.kind == "f" and flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)  # float16 -> float32 is exact; numba lacks float16
    bad = _seconds_to_us(flat.astype(np.float64, copy=False) if flat.dtype.kind != "f"
                         else flat, out)
    if bad >= 0:
        value = float(flat[bad])
        what = ("NaN" if np.isnan(value) else "negative" if value < 0
                else "too large (> 2147 s; are the times in seconds?)")
        raise DataFormatError(f"{path}: spike time {value!r} of sample "
                              f"{_sample_of(offsets, bad, first)} is {what}; times must be "
                              "finite, >= 0 and in seconds. Fix or regenerate the file.")


@numba.njit(cache=True)
def _seconds_to_us(seconds, out):  # pragma: no cover - compiled
    """Fill out with rint(seconds * 1e6); return the first invalid index or -1."""
    for i in range(seconds.shape[0]):
        x = np.float64(seconds[i])
        if not (x >= 0.0):  # NaN or negative
            return i
        v = np.rint(x * 1e6)
        if v > 2147483647.0:
            return i
        out[i] = np.int32(v)
    return -1


def _check_units(path: Path, flat: np.ndarray, offsets: np.ndarray, first: int,
                 n_channels: int) -> np.ndarray:
    """Channels must be integers in [0, n_channels); returned as int16."""
    if n_channels > np.iinfo(np.int16).max:
        raise ValueError(f"n_channels={n_channels} does not fit int16 unit storage")
    if flat.dtype.kind not in "iu":
        raise DataFormatError(f"{path}: spikes/units has dtype {flat.dtype}, expected "
                              "integer channel ids; regenerate the file.")
    if len(flat):
        lo, hi = int(flat.min()), int(flat.max())
        if lo < 0 or hi >= n_channels:
            i = int(np.flatnonzero((flat < 0) | (flat >= n_channels))[0])
            raise DataFormatError(
                f"{path}: unit {int(flat[i])} of sample {_sample_of(offsets, i, first)} is "
                f"outside "
                f"[0, {n_channels}) (file range {lo}..{hi}); the file is not a {n_channels}"
                f"-channel dataset or is corrupt. Set n_channels or regenerate the file.")
    return flat.astype(np.int16)


def _check_labels(path: Path, labels: np.ndarray, keys: tuple[str, ...] | None) -> np.ndarray:
    """Labels must be non-negative integers, < len(extra/keys) when keys are present."""
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(
                labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise DataFormatError(f"{path}: labels have dtype {labels.dtype}, expected "
                                  "integer class ids; regenerate the file.")
    if len(labels) and int(labels.min()) < 0:
        i = int(np.argmin(labels))
        raise DataFormatError(f"{path}: label {int(labels[i])} of sample {i} is negative; "
                              "labels must be class ids 0..n_classes-1.")
    if keys and len(labels) and int(labels.max()) >= len(keys):
        i = int(np.argmax(labels))
        raise DataFormatError(f"{path}: label {int(labels[i])} of sample {i} >= number of "
                              f"classes {len(keys)} listed in extra/keys; fix the labels or "
                              "the keys.")
    return labels.astype(np.int32)


def _sort_within_samples(times_us: np.ndarray, units: np.ndarray, offsets: np.ndarray) -> None:
    """Stable-sort events by time inside every sample that is not already sorted (in place)."""
    for s in np.flatnonzero(_unsorted_samples(times_us, offsets)):
        lo, hi = offsets[s], offsets[s + 1]
        order = np.argsort(times_us[lo:hi], kind="stable")
        times_us[lo:hi] = times_us[lo:hi][order]
        units[lo:hi] = units[lo:hi][order]


@numba.njit(cache=True)
def _unsorted_samples(times_us, offsets):  # pragma: no cover - compiled
    """Boolean per sample: True where its event times decrease somewhere."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    for s in range(n):
        for i in range(offsets[s] + 1, offsets[s + 1]):
            if times_us[i] < times_us[i - 1]:
                out[s] = True
                break
    return out
