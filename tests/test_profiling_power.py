"""Power sampler thread, idle/active windows and the RAPL / NVML / jtop sources (fakes injected)."""

from __future__ import annotations

import builtins
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from neurokws.profiling.energy import ENERGY
from neurokws.profiling.errors import PowerUnavailableError
from neurokws.profiling.inference.measure import make_batches, measure_windows, timed_passes
from neurokws.profiling.power import CallableSource, PowerSampler
from neurokws.profiling.sources import JtopSource, NvmlSource, RaplSource, rapl_source

# they time busy and idle phases: alone, after the parallel suite (Makefile)
pytestmark = pytest.mark.serial


class SwitchedPower:
    """Fake meter: 5 W, or 12 W while `busy` is set; counts its reads."""

    def __init__(self) -> None:
        self.busy = threading.Event()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return 12.0 if self.busy.is_set() else 5.0


def test_sampler_thread_reads_at_least_10_hz_and_stops():
    meter = SwitchedPower()
    sampler = PowerSampler(CallableSource(meter, name="fake"), rate_hz=20.0).start()
    time.sleep(0.6)
    trace = sampler.stop()
    assert trace.rate_hz() >= 10.0
    assert trace.times.size >= 8  # ~13 expected at 20 Hz over 0.6 s
    assert np.all(np.diff(trace.times) > 0)
    reads = meter.reads
    time.sleep(0.15)
    assert meter.reads == reads, "thread still reading after stop()"
    assert not any(t.name == "neurokws-power" for t in threading.enumerate())


def test_sampler_rejects_slow_rates_and_double_start():
    with pytest.raises(ValueError, match="10 Hz"):
        PowerSampler(CallableSource(lambda: 1.0), rate_hz=5.0)
    sampler = PowerSampler(CallableSource(lambda: 1.0)).start()
    with pytest.raises(RuntimeError):
        sampler.start()
    sampler.stop()


class BusyCounter:
    """Fake energy counter (J): 5 W always, plus 7 W for the time `run` below was busy."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy_s = 0.0
        self.busy_since: float | None = None

    def read(self) -> float:
        now = time.perf_counter()
        busy = self.busy_s + (now - self.busy_since if self.busy_since is not None else 0.0)
        return 5.0 * (now - self.t0) + 7.0 * busy


def test_marks_are_readings_and_windows_separate_idle_from_active():
    meter = BusyCounter()

    def run() -> str:
        meter.busy_since = time.perf_counter()
        time.sleep(0.3)
        meter.busy_s += time.perf_counter() - meter.busy_since
        meter.busy_since = None
        return "done"

    result, summary = measure_windows(run, CallableSource(meter.read, kind="energy",
                                                          name="fake"), idle_s=0.25,
                                      rate_hz=50.0)
    assert result == "done"
    # Window edges are readings (mark), so a counter gives the windows' exact means: 5 W
    # idle, and 12 W active up to the microseconds between the marks and `run`'s body.
    assert summary.power_idle_W == pytest.approx(5.0, rel=1e-3)
    assert summary.power_active_W == pytest.approx(12.0, rel=1e-2)
    assert summary.active_s == pytest.approx(0.3, abs=0.1)
    assert summary.idle_s == pytest.approx(0.25, abs=0.05)
    assert summary.n_readings >= 0.5 * 50 * (0.3 + 2 * 0.25)  # loose: loaded CI machines
    assert summary.source == "fake" and summary.reason == ""


def test_measure_windows_stops_the_sampler_when_the_run_fails():
    slept = []
    boom = RuntimeError("simulation failed")

    def run() -> None:
        raise boom

    with pytest.raises(RuntimeError, match="simulation failed"):
        measure_windows(run, CallableSource(lambda: 1.0), idle_s=0.5, sleep=slept.append)
    assert slept == [0.5]
    assert not any(t.name == "neurokws-power" for t in threading.enumerate())


def test_failing_meter_is_recorded_not_raised():
    calls = {"n": 0}

    def flaky() -> float:
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError("meter unplugged")
        return 3.0

    _, summary = measure_windows(lambda: time.sleep(0.05), CallableSource(flaky), idle_s=0.05)
    assert np.isnan(summary.power_active_W)
    assert "meter unplugged" in summary.reason


def test_no_source_records_reason():
    result, summary = measure_windows(lambda: 42, None, idle_s=10.0, reason="RAPL missing")
    assert result == 42 and summary.reason == "RAPL missing"
    assert np.isnan(summary.power_idle_W) and summary.n_readings == 0


def test_timed_passes_repeats_until_min_active_and_sums_batch_times():
    batches = make_batches(10, 4)
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    clock = iter(np.arange(0.0, 100.0, 1.0))  # each clock call advances 1 s
    passes = timed_passes(lambda b: (0.5, len(b)), batches, min_active_s=2.5,
                          clock=lambda: float(next(clock)))
    assert passes.repeats == 3  # elapsed 1, 2, 3 s after passes 1, 2, 3
    assert passes.n_batches == 9 and passes.n_samples == 30
    assert passes.compute_s == pytest.approx(4.5)
    assert passes.outputs == [4, 4, 2]  # first pass only
    with pytest.raises(ValueError):
        make_batches(3, 0)


def _fake_rapl(root: Path, values: dict[str, int], max_range: int = 1000) -> Path:
    """A fake /sys/class/powercap with package domains (and a subzone to ignore)."""
    for name, value in values.items():
        domain = root / name
        domain.mkdir(parents=True)
        (domain / "name").write_text(f"package-{name[-1]}\n")
        (domain / "energy_uj").write_text(f"{value}\n")
        (domain / "max_energy_range_uj").write_text(f"{max_range}\n")
    sub = root / "intel-rapl:0:0"
    sub.mkdir()
    (sub / "energy_uj").write_text("5\n")
    return root


def test_rapl_counters_unwrap_per_domain(tmp_path):
    root = _fake_rapl(tmp_path / "powercap", {"intel-rapl:0": 900, "intel-rapl:1": 100})
    source = rapl_source(root)
    assert source.kind == ENERGY and "package-0" in source.name and "intel-rapl:0:0" not in \
        source.name
    assert len(source.domains) == 2
    assert source.read() == 0.0
    (root / "intel-rapl:0" / "energy_uj").write_text("50\n")   # wrapped: +150 uJ
    (root / "intel-rapl:1" / "energy_uj").write_text("400\n")  # +300 uJ
    assert source.read() == pytest.approx(450e-6)
    (root / "intel-rapl:0" / "energy_uj").write_text("60\n")   # +10 uJ
    assert source.read() == pytest.approx(460e-6)


def test_rapl_missing_reasons(tmp_path, monkeypatch):
    with pytest.raises(PowerUnavailableError, match="does not exist"):
        rapl_source(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PowerUnavailableError, match="no intel-rapl"):
        rapl_source(tmp_path / "empty")
    root = _fake_rapl(tmp_path / "locked", {"intel-rapl:0": 1})
    real = Path.read_text

    def denied(self: Path, *args, **kwargs) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)  # root ignores chmod, so fake the error
    with pytest.raises(PowerUnavailableError, match="permission denied") as info:
        RaplSource([root / "intel-rapl:0"])
    assert "chmod" in info.value.reason


def test_nvml_absent_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    with pytest.raises(PowerUnavailableError, match=r"nvidia-ml-py \(module pynvml\)"):
        NvmlSource()


def test_nvml_without_driver_is_a_clear_error():
    try:
        import pynvml
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present here")
    except ImportError:
        pytest.skip("nvidia-ml-py not installed (covered by test_nvml_absent_is_a_clear_error)")
    except pynvml.NVMLError:
        pass
    with pytest.raises(PowerUnavailableError, match="NVML unavailable: nvmlInit failed"):
        NvmlSource()


def test_jtop_absent_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_jtop(name, *args, **kwargs):
        if name == "jtop":
            raise ImportError("No module named 'jtop'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jtop)
    with pytest.raises(PowerUnavailableError, match="jetson-stats"):
        JtopSource()


def test_jtop_rails_are_summed(monkeypatch):
    class FakeJtop:
        def __init__(self, interval: float) -> None:
            self.power = {"rail": {"VDD_CPU_GPU_CV": {"power": 2500},
                                   "VDD_SOC": {"power": 1500}, "VDD_IN": {"power": 9000}}}

        def start(self) -> None:
            pass

        def close(self) -> None:
            pass

    module = type(sys)("jtop")
    module.jtop = FakeJtop
    monkeypatch.setitem(sys.modules, "jtop", module)
    source = JtopSource()
    assert source.read() == pytest.approx(4.0)  # (2500 + 1500) mW
    assert source.name == "jtop VDD_CPU_GPU_CV+VDD_SOC"
    with pytest.raises(PowerUnavailableError, match="not reported"):
        JtopSource(rails=("VDD_GPU",))
