"""What the engine benchmarks share: their common command-line options and a stopwatch.

Not a benchmark itself. The scripts run as `.venv/bin/python benchmarks/<script>.py`, so
benchmarks/ is on sys.path and they import it as `from bench_common import ...`. Standard
library only, so that it loads in every environment a benchmark runs in (.venv-genn too).
The random input and the rate-scaled weights come from
`neurokws.model.workload.synthetic_setup`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

Default = int | float | Sequence[int] | None


def _add(parser: argparse.ArgumentParser, name: str, kind: type, default: Default,
         help_text: str | None = None) -> None:
    """--name of type `kind`: one value, or one or more if `default` is a sequence; not
    added if `default` is None."""
    if default is None:
        return
    if isinstance(default, Sequence):
        parser.add_argument(f"--{name}", type=kind, nargs="+", default=list(default),
                            help=help_text)
    else:
        parser.add_argument(f"--{name}", type=kind, default=default, help=help_text)


def engine_parser(doc: str, *, hidden: Default = (256, 1024), batch: Default = 32,
                  batches: Default = 8, steps: Default = 1000, events: Default = 8500,
                  rate: Default = 14.0, seed: Default = 0) -> argparse.ArgumentParser:
    """An ArgumentParser described by the first line of `doc` (a script's docstring), with
    the options the engine benchmarks share, in this order: --hidden (hidden sizes),
    --batch (samples per batch), --batches (batches timed, or batch sizes), --steps (trial
    length T), --events (input events per sample), --rate (target hidden spikes per neuron
    per sample), --seed. Each keyword is that option's default: a sequence makes the option
    take one or more values, None leaves the option out; the script adds its own after."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    _add(parser, "hidden", int, hidden)
    _add(parser, "batch", int, batch)
    _add(parser, "batches", int, batches)
    _add(parser, "steps", int, steps)
    _add(parser, "events", int, events)
    _add(parser, "rate", float, rate, "target spikes/neuron/sample")
    _add(parser, "seed", int, seed)
    return parser


class Stopwatch:
    """Wall (time.perf_counter) and CPU (time.process_time) seconds of timed blocks: each
    `with watch:` block appends one lap to `walls` and `cpus`."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self._start = (0.0, 0.0)

    def __enter__(self) -> Stopwatch:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.walls.append(wall - self._start[0])
        self.cpus.append(cpu - self._start[1])

    @property
    def last(self) -> tuple[float, float]:
        """Wall and CPU seconds of the latest lap."""
        return self.walls[-1], self.cpus[-1]

    @property
    def median(self) -> tuple[float, float]:
        """Median wall and CPU seconds over the laps."""
        return statistics.median(self.walls), statistics.median(self.cpus)
