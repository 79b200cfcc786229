"""Atomic writes: a failed or killed writer never leaves a file under the final name."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from neurokws.utils.atomic import atomic_path, write_json, write_npz


def test_exception_leaves_previous_content_and_no_temp(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("writer failed")
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_npz_round_trip_keeps_suffix(tmp_path):
    target = tmp_path / "a.npz"
    write_npz(target, x=np.arange(5))
    with np.load(target) as data:
        np.testing.assert_array_equal(data["x"], np.arange(5))


def test_killed_writer_leaves_no_final_file(tmp_path):
    target = tmp_path / "big.npz"
    code = (
        "import time, numpy as np\n"
        "from neurokws.utils.atomic import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    with open(tmp, 'wb') as f:\n"
        "        f.write(b'x' * 1000000); f.flush()\n"
        "        print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.1)
    assert not target.exists()


def test_written_files_get_umask_permissions(tmp_path):
    import os

    target = tmp_path / "perm.json"
    write_json(target, {})
    mask = os.umask(0)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~mask)
