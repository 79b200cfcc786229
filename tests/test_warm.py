"""`python -m neurokws.warm` (run by `make run` and `make test`) compiles the workflow's
kernels into the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "neurokws"
# The stamp `make` writes with `python -m neurokws.warm --record` (Makefile, $(WARM)).
STAMP = ROOT / ".venv" / ".numba-warm"
# The compiled entry points of every workflow stage: cochlea, HDF5 reading, binning and
# augmentations, the training engine (with and without delays), the fixed-point emulator.
KERNELS = ["cochlea._bushy_block", "cochlea._hermitian", "heidelberg._seconds_to_us",
           "binning._bin_pass", "augment._shift_pass", "augment._blend_pass",
           "kernels.forward_chunk", "kernels.backward_chunk", "kernels.run_streams",
           "delay_kernels.forward_chunk", "delay_kernels.backward_chunk"]


def indexed(cache: Path) -> set[str]:
    """`<module>.<function>` of every numba cache index file under `cache`."""
    return {p.name.split("-")[0] for p in cache.rglob("*.nbi")}


def make_warmed_this_checkout() -> bool:
    """Whether `make` ran the warm-up for the source as it is, into the default cache
    (`__pycache__` beside the modules): its stamp is newer than every module."""
    if "NUMBA_CACHE_DIR" in os.environ or not STAMP.is_file():
        return False
    newest = max(p.stat().st_mtime for p in SRC.rglob("*.py"))
    return STAMP.stat().st_mtime >= newest


def test_warm_fills_the_numba_cache_with_every_stage(tmp_path: Path) -> None:
    """Under `make test` the warm-up already ran (`make` runs it before pytest): its record
    and the cache it filled are checked instead of compiling everything a second time (about
    100 CPU-seconds). Otherwise (pytest run by hand, or after an edit) it runs here, into an
    empty cache, and must leave nothing else behind."""
    if make_warmed_this_checkout():
        record = json.loads(STAMP.read_text())
        cache = SRC
    else:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
               "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run([sys.executable, "-m", "neurokws.warm", "--record",
                               str(tmp_path / "record.json")], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "numba kernels compiled and cached" in done.stdout
        record = json.loads((tmp_path / "record.json").read_text())
        cache = tmp_path / "cache"
        assert sorted(tmp_path.iterdir()) == [cache, tmp_path / "record.json"]
    missing = [k for k in KERNELS if k not in record["kernels"]]
    assert not missing, f"not compiled by neurokws.warm: {missing}"
    uncached = [k for k in record["kernels"] if k not in indexed(cache)]
    assert not uncached, f"compiled by neurokws.warm but not in the cache {cache}: {uncached}"
