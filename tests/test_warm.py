"""`python -m neurokws.warm` (run by `make run`) compiles the workflow's kernels into the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The compiled entry points of every workflow stage: cochlea, HDF5 reading, binning and
# augmentations, the training engine, the fixed-point emulator.
KERNELS = ["cochlea._bushy_block", "cochlea._hermitian", "heidelberg._seconds_to_us",
           "binning._bin_pass", "augment._shift_pass", "augment._blend_pass",
           "kernels.forward_chunk", "kernels.backward_chunk", "kernels.run_streams"]


def test_warm_fills_the_numba_cache_with_every_stage(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "neurokws.warm"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "numba kernels compiled and cached" in done.stdout
    cached = {p.name.split("-")[0] for p in (tmp_path / "cache").rglob("*.nbi")}
    missing = [k for k in KERNELS if k not in cached]
    assert not missing, f"not compiled by neurokws.warm: {missing}"
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"]   # leaves nothing else behind
