"""Peak memory of Eventprop training vs trial length T, at a fixed data volume.

Each T runs in a fresh subprocess: random input with the same number of events per sample
(~8,500) whatever T is, w_in scaled so hidden neurons fire ~14 spikes per sample, then
training batches. Reports peak RSS (ru_maxrss), the RSS growth during training (sampled every
millisecond, over the RSS before the first batch) and the spike-tape size, then the T_max / T_min
ratios. Asserts nothing. Usage:

    .venv/bin/python benchmarks/bench_memory.py [--steps 500 2000] [--hidden 256]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np

from bench_common import engine_parser
from neurokws.config import default_network, schema_default

PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    """Current resident set size in bytes (from /proc/self/statm)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class _Sampler(threading.Thread):
    """Background thread recording the maximum RSS seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.001)


def child(n_steps: int, args: argparse.Namespace) -> dict:
    """Measure one trial length; return the figures as a dict."""
    from neurokws.model import engine
    from neurokws.model.engine import RegConfig, loss_and_grad
    from neurokws.model.init import init_weights
    from neurokws.model.workload import random_events, synthetic_setup

    rng = np.random.default_rng(args.seed)
    tiny = default_network(n_hidden=4, n_out=20, n_steps=20)  # compile/load kernels first
    t_steps, t_channels, t_offsets = random_events(rng, 2, tiny.n_in, 20, 50)
    loss_and_grad(tiny, init_weights(tiny, rng, np.float32), t_steps, t_channels, t_offsets,
                  np.zeros(2, np.int32), np.arange(2),
                  RegConfig(nu_upper=schema_default("training.nu_upper"), lambda_upper=1.0,
                            lambda_lower=1.0))
    config = default_network(n_hidden=args.hidden, n_out=20, n_steps=n_steps)
    data = synthetic_setup(config, rng, args.batch * args.batches, args.events, args.rate)
    reg = RegConfig(nu_upper=schema_default("training.nu_upper"), lambda_upper=5e-10,
                    lambda_lower=5e-10)
    base = _rss()
    sampler = _Sampler()
    sampler.start()
    spikes = []
    for b in range(args.batches):
        idx = np.arange(b * args.batch, (b + 1) * args.batch)
        res = loss_and_grad(config, data.weights, data.steps, data.channels, data.offsets,
                            data.labels, idx, reg)
        spikes.append(float(res.hidden_spike_counts.sum()))
    sampler.stop.set()
    sampler.join()
    return {"n_steps": n_steps, "peak_rss_mib": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024,
            "train_growth_mib": (sampler.peak - base) / 2**20,
            "input_mib": (data.steps.nbytes + data.channels.nbytes
                          + data.offsets.nbytes) / 2**20,
            "tape_per_sample": engine._tape_per_sample.get(args.hidden, 0.0),
            "spikes_per_neuron": float(np.mean(spikes)) / args.batch / args.hidden}


def main() -> None:
    """Run one subprocess per trial length and print the comparison."""
    parser = engine_parser(__doc__, hidden=256, batches=4, steps=(500, 2000))
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args)))
        return
    results = []
    for n_steps in args.steps:
        cmd = [sys.executable, __file__, "--child", str(n_steps)] + [
            f"--{k}={v}" for k, v in (("hidden", args.hidden), ("batch", args.batch),
                                      ("batches", args.batches), ("events", args.events),
                                      ("rate", args.rate), ("seed", args.seed))]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        results.append(res)
        print(f"T={n_steps:5d} N={args.hidden} B={args.batch}: peak RSS "
              f"{res['peak_rss_mib']:7.1f} MiB, growth during training "
              f"{res['train_growth_mib']:6.1f} MiB, input {res['input_mib']:5.1f} MiB, "
              f"tape {res['tape_per_sample']:8.0f} spikes/sample "
              f"({res['spikes_per_neuron']:.1f} per neuron)")
    first, last = results[0], results[-1]
    print(f"ratio T={last['n_steps']} / T={first['n_steps']}: peak RSS "
          f"{last['peak_rss_mib'] / first['peak_rss_mib']:.3f}, training growth "
          f"{last['train_growth_mib'] / max(first['train_growth_mib'], 1e-9):.3f}")


if __name__ == "__main__":
    main()
