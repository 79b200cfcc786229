"""The same bits on every machine (README): the golden pipeline gives the constants in
src/neurokws/golden.py, on any thread count and numpy dispatch level, and the kernels compile
to the same machine code whatever the host CPU reports (an AVX-512 host simulated through
llvmlite's host query: compiling only, nothing of it runs here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neurokws import golden
from neurokws.utils import target

ROOT = Path(__file__).resolve().parents[1]
NEUROKWS = Path(sys.executable).with_name("neurokws")

# Assembly of kernels._add_row (a vectorised row add under the kernels' fastmath flags),
# compiled for the host llvmlite reports, which this script may replace by argv[1].
ASM_SCRIPT = r'''
import re, sys
if sys.argv[1] != "host":
    import llvmlite.binding as ll
    import numba.core.codegen as codegen
    ll.get_host_cpu_name = lambda: sys.argv[1]
    codegen.get_host_cpu_features = lambda: ""    # the CPU model's own feature set
import neurokws
import numba
from numba import types
from neurokws.model import kernels
fn = numba.njit(nogil=True, fastmath=kernels.FASTMATH)(kernels._add_row.py_func)
fn.compile((types.float32[::1], types.float32[:, ::1], types.int64))
asm = fn.inspect_asm(fn.signatures[0])
asm = re.sub(r"_ZN\S+?(?=[,:\s]|$)", "SYM", asm)   # mangled names vary per process
print("\n".join(line for line in asm.splitlines()
                if not line.lstrip().startswith((".file", ".ident"))
                and "missing Environment" not in line))
'''


def _asm(host: str, **env: str) -> str:
    run_env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", ASM_SCRIPT, host], capture_output=True,
                         text=True, env=run_env, check=True, timeout=300)
    return out.stdout


def test_this_process_runs_on_the_target():
    record = target.describe()
    assert record["portable"], record
    assert record["numba_cpu"] == target.NUMBA_CPU


@pytest.mark.slow
def test_the_golden_pipeline_gives_the_reference_bits():
    assert golden.compare(golden.run()) == []


@pytest.mark.slow
def test_the_golden_command_on_one_thread_and_numpy_without_avx2():
    """`neurokws golden` as a user runs it, on one thread, with numpy's AVX2 paths off too
    (its SSE code): the same bits; a changed constant makes it exit 1 naming the stage."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "NPY_DISABLE_CPU_FEATURES": "X86_V3"}
    out = subprocess.run([str(NEUROKWS), "golden"], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(" ok") == len(golden.GOLDEN), out.stdout


def test_a_changed_constant_is_reported_by_stage(monkeypatch):
    hashes = dict(golden.GOLDEN)
    hashes["weights"] = "0" * 64
    assert golden.compare(hashes) == ["weights"]


@pytest.mark.slow
def test_kernels_compile_to_the_same_code_on_an_avx512_host():
    here = _asm("host")
    avx512 = _asm("znver4")
    assert "zmm" not in avx512
    assert avx512 == here
    # Without the fixed target the same kernel gets AVX-512 code there (other vector width,
    # other order of the reassociated sums): what the target prevents.
    native = _asm("znver4", NEUROKWS_TARGET="native")
    assert "zmm" in native


def test_an_unknown_target_setting_is_refused(monkeypatch):
    monkeypatch.setenv(target.OPT_OUT, "fast")
    with pytest.raises(ValueError, match="NEUROKWS_TARGET='fast'"):
        target.portable_requested()
