"""GPU path without a GPU: CUDA kernel in numba-cuda's simulator vs engine.infer, PTX, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.model.network import Weights
from neurokws.profiling.errors import GpuUnavailableError
from neurokws.profiling.inference.gpu_kernels import MAX_THREADS, launch_shape

HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
NEEDS_NUMBA_CUDA = pytest.mark.skipif(
    not HAVE_NUMBA_CUDA, reason="numba-cuda (optional extra `gpu`) is not installed, so its "
    "CUDA simulator and NVVM are unavailable")
SRC = Path(__file__).resolve().parents[1] / "src"

# Runs in a fresh interpreter: NUMBA_ENABLE_CUDASIM must be set before numba.cuda loads.
SIM_CHECK = r"""
import json, sys
import numpy as np
from neurokws.config import default_network
from neurokws.model.engine import infer
from neurokws.model.network import Weights
from neurokws.model.workload import random_events
from neurokws.profiling.inference.gpu import cuda_status, infer_gpu, profile_gpu, simulator_active
from neurokws.profiling.power import CallableSource

out = {"simulator": simulator_active(), "status": cuda_status(), "cases": []}
rng = np.random.default_rng(11)
# (N, C, T, max_threads, dtype): several neurons and outputs per thread; float32 and 64.
for n_hid, n_out, t_len, threads, dtype in ((70, 40, 30, 32, np.float64),
                                             (20, 3, 30, 256, np.float64),
                                             (45, 4, 30, 32, np.float32)):
    cfg = default_network(n_hidden=n_hid, n_out=n_out, n_in=30, n_steps=t_len)
    steps, channels, offsets = random_events(rng, 2, 30, t_len, 120)
    w = Weights(rng.normal(0.15, 0.1, (30, n_hid)).astype(dtype),
                rng.normal(0.0, 0.1, (n_hid, n_hid)).astype(dtype),
                rng.normal(0.0, 0.3, (n_hid, n_out)).astype(dtype))
    ref_r, ref_c = infer(cfg, w, steps, channels, offsets)
    gpu_r, gpu_c = infer_gpu(cfg, w, steps, channels, offsets, batch_size=1,
                             max_threads=threads)
    out["cases"].append({"spikes": int(ref_c.sum()),
                         "counts_equal": bool(np.array_equal(ref_c, gpu_c)),
                         "max_abs": float(np.max(np.abs(ref_r - gpu_r))),
                         "scale": float(np.max(np.abs(ref_r))), "dtype": np.dtype(dtype).name})

class Data:
    pass
data = Data()
data.steps, data.channels, data.offsets = steps, channels, offsets
row = profile_gpu(cfg, w, data, [2], model="tiny", power=CallableSource(lambda: 7.0),
                  idle_s=0.05, rate_hz=20.0, min_active_s=0.0, max_samples=2)[0]
out["row"] = {k: v for k, v in row.to_dict().items() if k != "provenance"}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def simulated():
    """Run SIM_CHECK under NUMBA_ENABLE_CUDASIM=1 and return its JSON result."""
    if not HAVE_NUMBA_CUDA:
        pytest.skip("numba-cuda is not installed; its CUDA simulator is needed")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", SIM_CHECK], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@NEEDS_NUMBA_CUDA
def test_gpu_kernel_matches_engine_in_cuda_simulator(simulated):
    assert simulated["simulator"] is True
    assert simulated["status"] == [True, ""]
    for case in simulated["cases"]:
        assert case["spikes"] > 15, "inputs too weak to test the recurrent path"
        assert case["counts_equal"], case
        # Same additions in the same order; float64 matches to rounding, float32 to a few ulp
        tol = 1e-12 if case["dtype"] == "float64" else 1e-5
        assert case["max_abs"] <= tol * max(1.0, case["scale"]), case


@NEEDS_NUMBA_CUDA
def test_gpu_profile_row_in_cuda_simulator(simulated):
    row = simulated["row"]
    assert row["source"] == "measured" and row["status"] == "ok"
    assert row["backend"] == "numba-cuda" and row["hardware"] == "GPU (CUDA simulator)"
    assert row["batch_size"] == 2 and row["samples_measured"] == 2 and row["n_batches"] == 1
    assert row["latency_batch_ms"] > 0
    assert row["power_idle_W"] == pytest.approx(7.0)
    assert row["power_active_W"] == pytest.approx(7.0)
    assert row["energy_dynamic_mJ"] == pytest.approx(0.0, abs=1e-9)
    assert row["energy_total_mJ"] > 0 and row["edp_uJs"] > 0
    assert "simulator" in row["notes"]


@NEEDS_NUMBA_CUDA
def test_kernel_compiles_to_ptx_with_one_barrier_per_step():
    from neurokws.profiling.inference.gpu_kernels import compile_forward_ptx
    try:
        ptx = compile_forward_ptx("float32", 4, 1, 32, cc=(8, 0))
    except Exception as exc:  # NVVM (cuda-toolkit[nvvm]) missing
        if re.search("nvvm", str(exc), re.IGNORECASE):
            pytest.skip(f"NVVM not available for PTX compilation: {exc}")
        raise
    assert ".entry" in ptx and ".target sm_80" in ptx
    # One barrier before the time loop, one inside it: a single __syncthreads per step.
    assert len(re.findall(r"\bbar\.sync\b", ptx)) == 2
    assert "atom.shared.or.b32" in ptx
    ptxas = _ptxas()
    if ptxas is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "forward.ptx"
        path.write_text(ptx)
        done = subprocess.run([str(ptxas), "-v", "-arch=sm_80", str(path), "-o", os.devnull],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    info = done.stderr + done.stdout
    registers = int(re.search(r"Used (\d+) registers", info).group(1))
    assert registers * MAX_THREADS <= 65536, "a full block would not fit one SM's registers"
    assert "0 bytes spill stores" in info and "0 bytes stack frame" in info


def _ptxas() -> Path | None:
    """ptxas from PATH or numba-cuda[cu12]'s nvidia-cuda-nvcc wheel, if any."""
    found = shutil.which("ptxas")
    if found:
        return Path(found)
    for site in map(Path, sys.path):
        candidate = site / "nvidia" / "cuda_nvcc" / "bin" / "ptxas"
        if candidate.is_file():
            return candidate
    return None


def test_launch_shape():
    assert launch_shape(1024, 20) == (256, 4, 1)
    assert launch_shape(256, 20) == (256, 1, 1)
    assert launch_shape(70, 40, max_threads=32) == (32, 3, 2)
    assert launch_shape(20, 3) == (32, 1, 1)
    with pytest.raises(ValueError):
        launch_shape(10, 2, max_threads=48)


def test_no_gpu_is_a_clear_error():
    from neurokws.profiling.inference.gpu import GpuForward, cuda_status, profile_gpu
    ok, reason = cuda_status()
    if ok:
        pytest.skip("a CUDA device is available here")
    assert reason.startswith("GPU unavailable")
    config = default_network(n_hidden=4, n_out=2, n_in=3, n_steps=5)
    weights = Weights(np.zeros((3, 4), np.float32), np.zeros((4, 4), np.float32),
                      np.zeros((4, 2), np.float32))
    data = type("D", (), {"steps": np.zeros(0, np.int32), "channels": np.zeros(0, np.int32),
                          "offsets": np.zeros(2, np.int64)})()
    with pytest.raises(GpuUnavailableError, match="GPU unavailable") as info:
        GpuForward(config, weights, data)
    assert info.value.reason == reason
    with pytest.raises(GpuUnavailableError):
        profile_gpu(config, weights, data, [1], idle_s=0.0, rate_hz=20.0, min_active_s=0.0)


def test_gpu_power_resolution_without_meters(monkeypatch):
    from neurokws.profiling.inference import gpu as gpu_module
    monkeypatch.setattr(gpu_module, "is_jetson", lambda: False)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    source, reason = gpu_module.resolve_gpu_power("auto")
    assert source is None and "NVML unavailable" in reason
    assert gpu_module.resolve_gpu_power(None) == (None, "power measurement disabled")
