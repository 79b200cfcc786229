"""Concrete power sources: Linux RAPL powercap counters, NVIDIA NVML, and Jetson jtop rails.

Each constructor raises PowerUnavailableError with a reason naming what is missing (the
sysfs files, the permission, the Python module, the driver), so callers can record it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurokws.profiling.energy import ENERGY, POWER
from neurokws.profiling.errors import PowerUnavailableError

POWERCAP_ROOT = Path("/sys/class/powercap")
JETSON_RAILS = ("VDD_CPU_GPU_CV", "VDD_SOC")  # the paper's rails (docs/profiling.md#jetson)
_PACKAGE_DIR = re.compile(r"^intel-rapl:\d+$")


def find_rapl_domains(root: str | Path = POWERCAP_ROOT) -> list[Path]:
    """Top-level RAPL package domains (intel-rapl:N; also used for AMD) under `root`."""
    root = Path(root)
    if not root.is_dir():
        raise PowerUnavailableError(
            f"RAPL unavailable: {root} does not exist (no powercap driver; usual in VMs "
            "and containers)")
    domains = sorted(p for p in root.iterdir() if _PACKAGE_DIR.match(p.name))
    if not domains:
        raise PowerUnavailableError(f"RAPL unavailable: no intel-rapl:N package domain in {root}")
    return domains


class RaplSource:
    """Sum of the package energy counters (energy_uj), unwrapped at every read; in J."""

    kind = ENERGY
    wrap = None  # unwrapped here, per domain, so readings are monotonic

    def __init__(self, domains: Sequence[Path]) -> None:
        if not domains:
            raise PowerUnavailableError("RAPL unavailable: no domains given")
        self.domains = [Path(d) for d in domains]
        self._range_uj = [self._read_int(d / "max_energy_range_uj") for d in self.domains]
        self._last = [self._read_int(d / "energy_uj") for d in self.domains]
        self._total_uj = 0
        names = [self._name(d) for d in self.domains]
        self.name = "RAPL " + "+".join(names)

    @staticmethod
    def _read_int(path: Path) -> int:
        """Read an integer sysfs file, turning failures into PowerUnavailableError."""
        try:
            return int(path.read_text().strip())
        except PermissionError as exc:
            raise PowerUnavailableError(
                f"RAPL unavailable: {path} is not readable (permission denied; since Linux "
                "5.10 only root may read energy_uj - `sudo chmod o+r "
                "/sys/class/powercap/intel-rapl:*/energy_uj` to allow it)") from exc
        except (OSError, ValueError) as exc:
            raise PowerUnavailableError(f"RAPL unavailable: cannot read {path} ({exc})") from exc

    @staticmethod
    def _name(domain: Path) -> str:
        """The domain's name file (e.g. package-0), else its directory name."""
        try:
            return f"{domain.name}({(domain / 'name').read_text().strip()})"
        except OSError:
            return domain.name

    def read(self) -> float:
        """Energy in J since construction, over all package domains."""
        for i, domain in enumerate(self.domains):
            raw = self._read_int(domain / "energy_uj")
            delta = raw - self._last[i]
            if delta < 0:  # wrapped around max_energy_range_uj
                delta += self._range_uj[i]
            self._total_uj += delta
            self._last[i] = raw
        return self._total_uj * 1e-6

    def close(self) -> None:
        """Nothing to release."""


def rapl_source(root: str | Path = POWERCAP_ROOT) -> RaplSource:
    """A RaplSource over all package domains under `root` (PowerUnavailableError if none)."""
    return RaplSource(find_rapl_domains(root))


def _pynvml() -> Any:
    """Import pynvml or raise PowerUnavailableError."""
    try:
        import pynvml
    except ImportError as exc:
        raise PowerUnavailableError(
            "NVML unavailable: nvidia-ml-py (module pynvml) is not installed "
            "(pip install 'neurokws[gpu]')") from exc
    return pynvml


class NvmlSource:
    """NVIDIA board power via NVML: the total-energy counter (mJ) if supported, else power (mW)."""

    wrap = None  # a 64-bit mJ counter since driver load

    def __init__(self, index: int = 0, prefer: str = ENERGY) -> None:
        nvml = self._nvml = _pynvml()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise PowerUnavailableError(
                f"NVML unavailable: nvmlInit failed ({exc}); no NVIDIA driver or GPU") from exc
        try:
            self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(self._handle)
        except nvml.NVMLError as exc:
            nvml.nvmlShutdown()
            raise PowerUnavailableError(f"NVML unavailable: no GPU {index} ({exc})") from exc
        self.device = name.decode() if isinstance(name, bytes) else str(name)
        self.kind = POWER
        if prefer == ENERGY:
            try:
                nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
                self.kind = ENERGY
            except nvml.NVMLError:  # NotSupported before Volta and on some boards
                pass
        try:
            self.read()
        except nvml.NVMLError as exc:
            nvml.nvmlShutdown()
            raise PowerUnavailableError(
                f"NVML unavailable: power readings not supported on {self.device} ({exc})") from exc
        what = "total energy counter" if self.kind == ENERGY else "power usage"
        self.name = f"NVML {what} ({self.device})"

    def read(self) -> float:
        """J (energy counter) or W (power usage)."""
        if self.kind == ENERGY:
            return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) * 1e-3
        return self._nvml.nvmlDeviceGetPowerUsage(self._handle) * 1e-3

    def close(self) -> None:
        """Shut NVML down."""
        self._nvml.nvmlShutdown()


class JtopSource:
    """Jetson power from jtop (jetson-stats): sum of the named rails, in W."""

    kind = POWER
    wrap = None

    def __init__(self, rails: Sequence[str] = JETSON_RAILS, interval_s: float = 0.1) -> None:
        try:
            from jtop import jtop
        except ImportError as exc:
            raise PowerUnavailableError(
                "jtop unavailable: jetson-stats (module jtop) is not installed "
                "(pip install jetson-stats; needs its jtop service)") from exc
        self.rails = tuple(rails)
        self._jetson = jtop(interval=interval_s)
        try:
            self._jetson.start()
        except Exception as exc:  # jtop raises JtopException when its service is not running
            raise PowerUnavailableError(f"jtop unavailable: cannot start ({exc})") from exc
        available = set(self._jetson.power.get("rail", {}))
        missing = [r for r in self.rails if r not in available]
        if missing:
            self._jetson.close()
            raise PowerUnavailableError(
                f"jtop unavailable: rails {missing} not reported (have {sorted(available)})")
        self.name = "jtop " + "+".join(self.rails)

    def read(self) -> float:
        """Sum of the rails' power in W (jtop reports mW)."""
        rail = self._jetson.power["rail"]
        return sum(float(rail[r]["power"]) for r in self.rails) * 1e-3

    def close(self) -> None:
        """Stop jtop's client."""
        self._jetson.close()
