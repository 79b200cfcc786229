"""Download SHD / SSC with tonic's own download code (URLs, md5 sums, retrieval, unzip).

Fails fast offline: a short TCP check runs first and the error says which files to fetch by
hand and where to put them. Downloads go to a temporary folder beside the target and are
renamed into place only after tonic verified the md5, so no half-written file is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import urllib.error
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

from tonic.datasets import SHD, SSC
from tonic.download_utils import check_integrity, download_url, extract_archive

from neurokws.utils.errors import NeurokwsError

# Mirror override for sites with a local copy; tests point it at a closed localhost port.
BASE_URL = os.environ.get("NEUROKWS_HEIDELBERG_URL", SHD.base_url)
FILES: dict[str, dict[str, tuple[str, str]]] = {
    "SHD": {"train": (SHD.train_zip, SHD.train_md5), "test": (SHD.test_zip, SHD.test_md5)},
    "SSC": {"train": (SSC.train_zip, SSC.train_md5), "valid": (SSC.valid_zip, SSC.valid_md5),
            "test": (SSC.test_zip, SSC.test_md5)},
}
STALL_TIMEOUT_S = 60.0  # a transfer that sends nothing for this long is abandoned


class DownloadError(NeurokwsError, RuntimeError):
    """A dataset could not be downloaded; the message says how to provide it by hand."""


def dataset_files(name: str, dest_dir: str | os.PathLike,
                  splits: Sequence[str] | None = None) -> list[tuple[str, str, str, Path]]:
    """(split, url, md5, final .h5 path) of each wanted split of dataset `name`."""
    key = name.upper()
    if key not in FILES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(FILES)}")
    table = FILES[key]
    wanted = list(table) if splits is None else list(splits)
    unknown = [s for s in wanted if s not in table]
    if unknown:
        raise ValueError(f"{key} has no split(s) {unknown}; it has {list(table)}")
    folder = Path(dest_dir) / key
    return [(s, _url(table[s][0]), table[s][1], folder / _h5_name(table[s][0])) for s in wanted]


def download_dataset(name: str, dest_dir: str | os.PathLike,
                     splits: Sequence[str] | None = None,
                     timeout_s: float = 10.0) -> list[Path]:
    """Fetch the .h5 files of dataset "SHD" or "SSC" into dest_dir/<NAME>/ (e.g.
    resources/SHD/shd_train.h5) and return their paths. Existing files are kept; a
    hand-placed .h5.zip beside them is verified and unzipped without network access."""
    entries = dataset_files(name, dest_dir, splits)
    out: list[Path] = []
    missing = []
    for split, url, md5, final in entries:
        final.parent.mkdir(parents=True, exist_ok=True)
        zip_path = final.with_name(final.name + ".zip")
        if final.exists():
            out.append(final)
        elif zip_path.exists() and check_integrity(str(zip_path), md5):
            _unzip_into_place(zip_path, final)
            out.append(final)
        else:
            missing.append((split, url, md5, final))
    if not missing:
        return out
    _check_reachable(BASE_URL, timeout_s, name, missing)
    for split, url, md5, final in missing:
        with _temp_dir(final.parent, f".download-{final.name}-") as tmp, _socket_timeout():
            try:
                download_url(url, str(tmp), filename=Path(urlparse(url).path).name, md5=md5)
                _unzip_into_place(tmp / Path(urlparse(url).path).name, final)
            except (OSError, urllib.error.URLError, RuntimeError, zipfile.BadZipFile) as exc:
                raise DownloadError(_manual_message(name, [(split, url, md5, final)],
                                                    f"download of {url} failed: {exc}")) from exc
        out.append(final)
    return out


def _url(filename: str) -> str:
    """Full URL of one distribution file under BASE_URL (read at call time)."""
    return BASE_URL.rstrip("/") + "/" + filename


def _h5_name(zip_name: str) -> str:
    """'shd_train.h5.zip' -> 'shd_train.h5'."""
    return zip_name[:-4] if zip_name.endswith(".zip") else zip_name


def _check_reachable(url: str, timeout_s: float, name: str, missing: list) -> None:
    """Open (and close) a TCP connection to the server; DownloadError if that fails."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DownloadError(_manual_message(
            name, missing, f"cannot reach {parts.hostname}:{port} ({exc}); this machine "
            "seems to be offline")) from exc


def _manual_message(name: str, missing: list, reason: str) -> str:
    """Error text: the reason, then each file's URL, md5 and the place to put it."""
    lines = [f"Could not download {name.upper()}: {reason}.",
             "Provide the files by hand (from a machine with internet access):"]
    for _split, url, md5, final in missing:
        lines.append(f"  - download {url} (md5 {md5}), unzip it and place "
                     f"{final.name} at {final}")
        lines.append(f"    (or put the .zip itself at {final}.zip; the next run verifies "
                     "and unzips it)")
    lines.append("then rerun the workflow.")
    return "\n".join(lines)


def _unzip_into_place(zip_path: Path, final: Path) -> None:
    """Extract the archive's .h5 next to `final` in a temp folder, then rename it onto final."""
    with _temp_dir(final.parent, f".extract-{final.name}-") as tmp:
        extract_archive(str(zip_path), str(tmp))
        found = sorted(tmp.rglob("*.h5"))
        if len(found) != 1:
            raise DownloadError(f"{zip_path}: expected one .h5 file inside, found "
                                f"{[p.name for p in found]}; download it again.")
        os.replace(found[0], final)


@contextlib.contextmanager
def _temp_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder inside `parent` (same file system, so rename is atomic), removed
    afterwards whatever happens."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _socket_timeout(seconds: float = STALL_TIMEOUT_S) -> Iterator[None]:
    """Give tonic's urllib calls (which pass no timeout) a stall timeout."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)
