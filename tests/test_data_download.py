"""Dataset download through tonic's code: offline fast-fail, local server, hand-placed zip.

Never touches the real network: the base URL is pointed at a closed localhost port or at a
throw-away HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import time
import zipfile

import numpy as np
import pytest

from neurokws.data.formats.heidelberg import read_split, write_split
from neurokws.data.sources import download
from neurokws.data.sources.synthetic import generate_split


def _zip_of_small_split(folder, name="shd_train.h5"):
    """A tonic-style .h5.zip of a tiny synthetic split; returns (zip path, md5, split)."""
    split = generate_split(6, 2, seed=1, speakers=[0])
    write_split(folder / name, split)
    zip_path = folder / f"{name}.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.write(folder / name, name)
    (folder / name).unlink()
    return zip_path, hashlib.md5(zip_path.read_bytes()).hexdigest(), split


def test_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "BASE_URL", "http://127.0.0.1:9/")
    start = time.monotonic()
    with pytest.raises(download.DownloadError) as info:
        download.download_dataset("SHD", tmp_path / "resources", timeout_s=2.0)
    assert time.monotonic() - start < 5.0
    msg = str(info.value)
    for needle in ("127.0.0.1:9", "shd_train.h5.zip", "shd_test.h5.zip",
                   str(tmp_path / "resources" / "SHD" / "shd_train.h5"),
                   download.FILES["SHD"]["train"][1]):
        assert needle in msg
    assert isinstance(info.value, RuntimeError)
    leftovers = [p for p in (tmp_path / "resources").rglob("*") if p.is_file()]
    assert leftovers == []


def test_unknown_dataset_or_split(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        download.download_dataset("MNIST", tmp_path)
    with pytest.raises(ValueError, match="no split"):
        download.download_dataset("SHD", tmp_path, splits=["valid"])


def test_existing_file_is_kept_without_network(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "BASE_URL", "http://127.0.0.1:9/")
    target = tmp_path / "SSC" / "ssc_valid.h5"
    target.parent.mkdir()
    target.write_bytes(b"placeholder")
    assert download.download_dataset("ssc", tmp_path, splits=["valid"]) == [target]


def test_hand_placed_zip_is_verified_and_unzipped(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "BASE_URL", "http://127.0.0.1:9/")
    folder = tmp_path / "SHD"
    folder.mkdir()
    _, md5, split = _zip_of_small_split(folder)
    monkeypatch.setitem(download.FILES, "SHD", {"train": ("shd_train.h5.zip", md5)})
    paths = download.download_dataset("SHD", tmp_path)
    assert paths == [folder / "shd_train.h5"]
    np.testing.assert_array_equal(read_split(paths[0]).times_us, split.times_us)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_download_through_tonic_from_local_server(tmp_path, monkeypatch, local_server):
    served, url = local_server
    _, md5, split = _zip_of_small_split(served)
    monkeypatch.setattr(download, "BASE_URL", url)
    monkeypatch.setitem(download.FILES, "SHD", {"train": ("shd_train.h5.zip", md5)})
    paths = download.download_dataset("SHD", tmp_path / "res")
    assert paths == [tmp_path / "res" / "SHD" / "shd_train.h5"]
    np.testing.assert_array_equal(read_split(paths[0]).units, split.units)
    assert sorted(p.name for p in (tmp_path / "res" / "SHD").iterdir()) == ["shd_train.h5"]


def test_bad_checksum_leaves_nothing_behind(tmp_path, monkeypatch, local_server):
    served, url = local_server
    _zip_of_small_split(served)
    monkeypatch.setattr(download, "BASE_URL", url)
    monkeypatch.setitem(download.FILES, "SHD", {"train": ("shd_train.h5.zip", "0" * 32)})
    with pytest.raises(download.DownloadError, match=r"shd_train\.h5\.zip"):
        download.download_dataset("SHD", tmp_path / "res")
    assert list((tmp_path / "res" / "SHD").iterdir()) == []
