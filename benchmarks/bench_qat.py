"""Quantization-aware training vs float training: wall time per epoch, same data, one run.

The training loop (neurokws.train.loop.train) on generated data shaped like the default
spoken digits (N = 128 hidden, T = 600 steps of 1 ms, 20 classes, batch 32), one thread:
first `--epochs` float epochs from the paper's initialisation, then `--epochs` QAT epochs
(train/qat.py) fine-tuning that model at `--bits`. Prints the median epoch time of each
(the log's wall_time_s, all of an epoch: binning, forward, backward, optimiser; QAT adds
the quantization of the shadow weights every batch) and the ratio (the goal:
QAT <= 1.3x float). Usage:

    .venv/bin/python benchmarks/bench_qat.py [--hidden 128] [--steps 600] [--samples 960]
        [--epochs 3] [--bits 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from pathlib import Path

import numba

from neurokws.backends.numba import train
from neurokws.config import QuantTraining, default_config, network_config, train_settings
from neurokws.data.sources.synthetic import generate_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--samples", type=int, default=960)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bits", type=int, default=4)
    args = parser.parse_args()
    numba.set_num_threads(1)
    config = default_config(
        datasets={"d": {"source": "synthetic", "epochs": args.epochs}},
        hidden_sizes=[args.hidden], seeds=[1], model={"n_steps": args.steps},
        training={"progress_bar": False})
    split = generate_split(args.samples, 20, seed=1, duration_ms=float(args.steps))
    net = network_config(config, args.hidden, n_out=20, n_in=split.n_channels)
    settings = train_settings(config, "d", args.hidden)
    with tempfile.TemporaryDirectory() as tmp:
        # an untimed epoch first: numba's kernels load (or compile) on first use
        train(net, dataclasses.replace(settings, epochs=1), 0, split, Path(tmp) / "warm")
        floats = train(net, settings, 1, split, Path(tmp) / "float")
        qat = train(net, settings, 1, split, Path(tmp) / "qat",
                    qat=QuantTraining(args.bits, 99.0), init=floats.weights)
    times = {"float": [r["wall_time_s"] for r in floats.log_rows],
             f"QAT {args.bits} bits": [r["wall_time_s"] for r in qat.log_rows]}
    for name, values in times.items():
        print(f"{name:>12}: {statistics.median(values):6.2f} s per epoch (median of "
              f"{len(values)}: {', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(times[f"QAT {args.bits} bits"]) / statistics.median(times["float"])
    print(f"N = {args.hidden}, T = {args.steps}, {args.samples} samples, batch "
          f"{settings.batch_size}, one thread: QAT / float = {ratio:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
