"""Lazy access to GeNN/mlGeNN: availability, a clear install hint, and the GeNN backend choice."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from neurokws.utils.errors import NeurokwsError

INSTALL_HINT = (
    "GeNN and mlGeNN are not on PyPI; build them from their GitHub repositories "
    "(genn-team/genn tag 5.2.0, genn-team/ml_genn tag ml_genn_2_3_1) into a separate "
    "virtualenv: `python3.11 -m venv .venv-genn && .venv-genn/bin/pip install numpy pybind11 "
    "psutil`, then in the genn checkout `../.venv-genn/bin/pip install --no-build-isolation .` "
    "(builds the CPU backend, and the CUDA backend too when CUDA_PATH points at a CUDA "
    "toolkit), then `.venv-genn/bin/pip install <ml_genn checkout>/ml_genn` and "
    "`.venv-genn/bin/pip install -e . --no-deps` plus neurokws' dependencies. "
    "See README, section 'mlGeNN training backend'.")


class BackendUnavailableError(NeurokwsError):
    """pygenn or ml_genn cannot be imported (GeNN is not installed in this environment)."""


def available() -> bool:
    """True if both pygenn and ml_genn can be imported (without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("pygenn", "ml_genn"))


def require() -> tuple[ModuleType, ModuleType]:
    """Import and return (pygenn, ml_genn), or raise BackendUnavailableError with the fix."""
    try:
        pygenn = importlib.import_module("pygenn")
        ml_genn = importlib.import_module("ml_genn")
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the mlGeNN training backend needs pygenn and ml_genn ({exc}). "
            + INSTALL_HINT) from exc
    return pygenn, ml_genn


def genn_backends() -> list[str]:
    """Names of the GeNN backends this pygenn was built with, best first."""
    require()
    from pygenn.genn_model import backend_modules
    return list(backend_modules)


def choose_backend(requested: str | None = None) -> str:
    """'cuda' when built with CUDA (or as requested), else 'single_threaded_cpu'."""
    built = genn_backends()
    if requested is not None:
        if requested not in built:
            raise BackendUnavailableError(
                f"GeNN backend {requested!r} is not built into this pygenn (has {built}); "
                "rebuild GeNN with CUDA_PATH set for the CUDA backend.")
        return requested
    return "cuda" if "cuda" in built else built[0]


def versions() -> dict[str, str | None]:
    """pygenn and ml_genn versions, for provenance."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("pygenn", "ml_genn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
