"""The one machine target every float result is computed for, so that the same config, seed
and lock give the same bits on any x86-64 machine (docs/model.md#portable-bits).

Two libraries pick code by the CPU they run on, and would otherwise give other bits on
another machine:
- numba compiles the kernels for the host CPU, and the kernels are compiled with
  `fastmath={"reassoc", "contract", ...}` (model/kernels.py), so LLVM's vector width sets
  the order of the float additions in a sum: AVX2 and AVX-512 machines round differently.
  Here numba compiles for the x86-64-v3 level of the x86-64 psABI (AVX2, FMA, BMI2: every
  Intel CPU since Haswell, 2013, every AMD CPU since Zen, 2017) with its default features,
  whatever the host: the same machine code, hence the same bits, on every such machine; an
  AVX-512 machine runs it as an AVX2 one would.
- numpy dispatches some ufuncs at run time to code for the host's widest vector unit, and
  its AVX-512 paths compute some functions (float64 exp and log among them) with other
  algorithms than its AVX2 paths. NPY_DISABLE_CPU_FEATURES turns its AVX-512 targets off
  (numpy 2.x names: X86_V4, AVX512_ICL, AVX512_SPR), so every machine runs the X86_V3 paths.
  numpy reads it when it is first imported; numba reads its settings when it first compiles.

`apply()` (run by `import neurokws`) sets both in os.environ, which every job the workflow
starts inherits (the Snakefile imports neurokws before it plans a job), and numba's config
in this process while numba has compiled nothing yet. `describe()` says whether this process
really runs on the target; every provenance record carries it. Not covered: glibc's libm
(exp, log called by numba and numpy's scalar paths) is the operating system's, and selects
its FMA variants on every x86-64-v3 machine; mlGeNN on a GPU and Lava's own timing are not
bit-stable (README).

NEUROKWS_TARGET=native opts out: numba compiles for the host and numpy dispatches freely
(faster on AVX-512 machines; results are then labelled non-portable in provenance).
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from typing import Any

log = logging.getLogger(__name__)

NUMBA_CPU = "x86-64-v3"
NUMBA_FEATURES = ""          # the level's own feature set, nothing added from the host
NUMPY_DISABLED = "X86_V4 AVX512_ICL AVX512_SPR"
OPT_OUT = "NEUROKWS_TARGET"  # =native: the host's own code paths (not portable)


def portable_requested() -> bool:
    """True unless the user opted out with NEUROKWS_TARGET=native."""
    value = os.environ.get(OPT_OUT, "portable").strip().lower()
    if value not in ("portable", "native"):
        raise ValueError(f"{OPT_OUT}={value!r}: use 'portable' (the default: the same bits on "
                         "every x86-64-v3 machine) or 'native' (the host's own code, faster "
                         "on AVX-512 machines, not bit-portable)")
    return value == "portable"


def _x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def apply() -> None:
    """Put this process and its children on the target (no-op off x86-64 or when opted
    out). Safe to call more than once."""
    if not _x86_64():
        return
    if not portable_requested():
        _undo()
        return
    lacks = _host_lacks()
    if lacks:
        raise RuntimeError(f"this CPU lacks {', '.join(lacks)} of x86-64-v3, the target every "
                           f"neurokws result is computed for; set {OPT_OUT}=native to run "
                           "on it with its own (not bit-portable) code")
    os.environ["NUMBA_CPU_NAME"] = NUMBA_CPU
    os.environ["NUMBA_CPU_FEATURES"] = NUMBA_FEATURES
    # Added to what is already off (a test may turn numpy's AVX2 paths off too).
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    os.environ["NPY_DISABLE_CPU_FEATURES"] = " ".join(
        disabled + [name for name in NUMPY_DISABLED.split() if name not in disabled])
    numba = sys.modules.get("numba")
    if numba is not None and not _numba_codegen_exists():
        numba.config.CPU_NAME = NUMBA_CPU
        numba.config.CPU_FEATURES = NUMBA_FEATURES


def _undo() -> None:
    """Opted out: drop the target a parent neurokws process put in the environment."""
    for name, value in (("NUMBA_CPU_NAME", NUMBA_CPU), ("NUMBA_CPU_FEATURES", NUMBA_FEATURES)):
        if os.environ.get(name) == value:
            del os.environ[name]
    disabled = [name for name in os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
                if name not in NUMPY_DISABLED.split()]
    if disabled:
        os.environ["NPY_DISABLE_CPU_FEATURES"] = " ".join(disabled)
    else:
        os.environ.pop("NPY_DISABLE_CPU_FEATURES", None)
    numba = sys.modules.get("numba")
    if numba is not None and not _numba_codegen_exists() and numba.config.CPU_NAME == NUMBA_CPU:
        numba.config.CPU_NAME = None
        numba.config.CPU_FEATURES = None


def _numba_codegen_exists() -> bool:
    """Whether numba has built its CPU code generator (then its target is fixed)."""
    registry = sys.modules.get("numba.core.registry")
    return registry is not None and "_toplevel_target_context" in vars(registry.cpu_target)


def _numba_target() -> tuple[str | None, str | None]:
    """(cpu name, features) numba compiles for in this process (None if not imported)."""
    numba = sys.modules.get("numba")
    if numba is None:
        return None, None
    if _numba_codegen_exists():
        from numba.core.registry import cpu_target
        codegen = cpu_target.target_context.codegen()
        return numba.config.CPU_NAME, codegen._tm_features
    return numba.config.CPU_NAME, numba.config.CPU_FEATURES


def _numpy_avx512_paths() -> list[str]:
    """numpy's AVX-512 dispatch targets that are on in this process."""
    if "numpy" not in sys.modules:
        return []
    from numpy._core import _multiarray_umath as umath
    features = umath.__cpu_features__
    return [name for name in NUMPY_DISABLED.split() if features.get(name)]


def describe() -> dict[str, Any]:
    """The target this process computes on, for provenance; 'portable' is False (and a
    warning is logged) when it is not the fixed target."""
    cpu, features = _numba_target()
    numpy_wide = _numpy_avx512_paths()
    record: dict[str, Any] = {"machine": platform.machine(), "numba_cpu": cpu,
                              "numba_features": features, "numpy_avx512_paths": numpy_wide}
    if not _x86_64():
        record["portable"] = False
        record["why"] = "not x86-64: the bits are those of this architecture"
        return record
    problems = []
    if not portable_requested():
        problems.append(f"{OPT_OUT}=native")
    else:
        if cpu is not None and (cpu != NUMBA_CPU or features != NUMBA_FEATURES):
            problems.append(f"numba compiles for {cpu or 'the host'} (features "
                            f"{features!r}): it compiled before neurokws was imported; "
                            f"import neurokws first or set NUMBA_CPU_NAME={NUMBA_CPU} "
                            f"NUMBA_CPU_FEATURES=''")
        if numpy_wide:
            problems.append(f"numpy runs its {' '.join(numpy_wide)} paths: it was imported "
                            f"before neurokws; set NPY_DISABLE_CPU_FEATURES="
                            f"'{NUMPY_DISABLED}'")
    record["portable"] = not problems
    if problems:
        record["why"] = "; ".join(problems)
        log.warning("results of this process are not bit-portable: %s", record["why"])
    return record


def _host_lacks() -> list[str]:
    """x86-64-v3 features this CPU lacks (/proc/cpuinfo; none where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle
                          if line.startswith("flags")), None)
    except OSError:
        return []
    if flags is None:
        return []
    return [name for name in ("avx2", "fma", "bmi2", "movbe", "f16c") if name not in flags]
