"""Power sampling: the PowerSource interface and a background thread that reads one at >= 10 Hz.

A source reports either instantaneous power in W (kind "power": NVML power usage, jtop
rails) or a cumulative energy counter in J (kind "energy": RAPL, NVML total energy). The
sampler reads it from its own thread at `rate_hz` (drift-free schedule) and, on `mark()`,
once more synchronously, so every window boundary is itself a reading. The simulation runs
in numba/CUDA code that releases the GIL, so the thread does not slow it measurably.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from neurokws.profiling.energy import ENERGY, POWER, PowerTrace

MIN_RATE_HZ = 10.0


@runtime_checkable
class PowerSource(Protocol):
    """Something that can be read for power (W) or a cumulative energy counter (J)."""

    name: str
    kind: str                 # "power" or "energy"
    wrap: float | None        # counter range in J after which it restarts at 0 (None: never)

    def read(self) -> float:
        """One reading: W for kind 'power', J for kind 'energy'."""
        ...

    def close(self) -> None:
        """Release the device handle."""
        ...


class CallableSource:
    """A PowerSource from a function (for tests and custom meters)."""

    def __init__(self, read: Callable[[], float], kind: str = POWER, name: str = "callable",
                 wrap: float | None = None) -> None:
        if kind not in (POWER, ENERGY):
            raise ValueError(f"kind must be {POWER!r} or {ENERGY!r}, got {kind!r}")
        self._read, self.kind, self.name, self.wrap = read, kind, name, wrap

    def read(self) -> float:
        """Call the function."""
        return float(self._read())

    def close(self) -> None:
        """Nothing to release."""


class PowerSampler:
    """Reads a PowerSource from a background thread; `mark(label)` timestamps window edges."""

    def __init__(self, source: PowerSource, rate_hz: float = 20.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if not rate_hz >= MIN_RATE_HZ:
            raise ValueError(f"rate_hz must be >= {MIN_RATE_HZ:g} Hz (docs/profiling.md"
                             f"#power-windows), got {rate_hz}")
        self.source, self.rate_hz, self.clock = source, float(rate_hz), clock
        self._times: list[float] = []
        self._values: list[float] = []
        self._marks: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error = ""

    def _read(self) -> float | None:
        """Take one reading (thread-safe); on failure remember the error and stop."""
        with self._lock:
            if self._error:
                return None
            before = self.clock()
            try:
                value = self.source.read()
            except Exception as exc:  # a meter failing mid-run must not kill the run
                self._error = f"{type(exc).__name__}: {exc}"
                self._stop.set()
                return None
            now = 0.5 * (before + self.clock())  # stamp the middle of the read
            if not math.isfinite(value):
                self._error = f"non-finite reading {value!r} from {self.source.name}"
                self._stop.set()
                return None
            self._times.append(now)
            self._values.append(value)
            return now

    def _loop(self) -> None:
        """Read every 1/rate_hz seconds until stopped."""
        period = 1.0 / self.rate_hz
        due = self.clock() + period
        while not self._stop.wait(max(0.0, due - self.clock())):
            self._read()
            due += period
            late = self.clock() - due
            if late > period:  # fell behind (e.g. a slow read): skip missed ticks
                due += period * math.ceil(late / period)

    def start(self) -> PowerSampler:
        """Take a first reading and start the thread."""
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self._read()
        self._thread = threading.Thread(target=self._loop, name="neurokws-power", daemon=True)
        self._thread.start()
        return self

    def mark(self, label: str) -> float:
        """Read now and record `label` at that reading's time (the clock if reading failed)."""
        when = self._read()
        self._marks[label] = self.clock() if when is None else when
        return self._marks[label]

    def stop(self) -> PowerTrace:
        """Stop the thread, take a last reading and return the trace."""
        if self._thread is not None:
            self._read()
            self._stop.set()
            self._thread.join()
            self._thread = None
        return self.trace()

    def trace(self) -> PowerTrace:
        """Readings so far, sorted by time."""
        with self._lock:
            times = np.asarray(self._times, np.float64)
            values = np.asarray(self._values, np.float64)
        order = np.argsort(times, kind="stable")
        return PowerTrace(times[order], values[order], self.source.kind, self.source.wrap,
                          dict(self._marks), self.source.name, self._error)

    def __enter__(self) -> PowerSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
