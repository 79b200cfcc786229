"""Benchmark mlGeNN Eventprop training (and inference) throughput on GeNN's backend here.

Same input as bench_training_throughput.py: random SHD-like samples (700 channels, T steps,
~8,500 events each), paper init with w_in scaled so hidden neurons fire ~14 spikes per
sample. Times one mlGeNN training epoch at batch size 1 (the only one GeNN's CPU backend
runs; --batch for CUDA) after the code build, and one inference pass. Prints samples per
wall-second and per CPU-second; asserts nothing. Needs GeNN (README 'mlGeNN training
backend'). Usage:

    .venv-genn/bin/python benchmarks/bench_mlgenn_throughput.py [--hidden 256 1024]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from neurokws.backends import genn_env
from neurokws.config import default_network
from neurokws.data.binning import BinnedSplit
from neurokws.model.init import init_weights
from neurokws.model.synthetic import random_events, scale_to_rate


def bench(n_hidden: int, args: argparse.Namespace, build_root: Path) -> None:
    """Time one training epoch and one inference pass; print one summary line."""
    from ml_genn.optimisers import Adam

    from neurokws.backends import mlgenn
    from neurokws.backends.mlgenn_net import (
        build_model,
        build_network,
        eventprop_compiler,
        max_spikes_per_sample,
        patch_batch1_labels,
        to_spikes,
    )

    rng = np.random.default_rng(args.seed)
    net = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    steps, channels, offsets = random_events(rng, args.samples, net.n_in, net.n_steps, 8500)
    weights, _ = scale_to_rate(net, init_weights(net, rng), steps, channels, offsets, 14.0)
    data = BinnedSplit(steps=steps, channels=channels, offsets=offsets,
                       labels=rng.integers(0, 20, args.samples).astype(np.int32),
                       n_steps=net.n_steps, n_channels=net.n_in, dt_ms=net.dt)
    backend = genn_env.choose_backend(args.backend)
    patch_batch1_labels()
    gnet = build_network(net, weights, args.batch * max_spikes_per_sample(data))
    compiled = eventprop_compiler(
        net, batch_size=args.batch, optimiser=Adam(1e-3), reg_lambda_upper=2.5e-10,
        reg_lambda_lower=2.5e-10, nu_upper=14.0, seed=0, genn_backend=backend,
        optimize_code=not args.no_optimize).compile(gnet.network, name=f"bench{n_hidden}")
    start = time.perf_counter()
    build_model(compiled, build_root / f"train{n_hidden}")
    build_s = time.perf_counter() - start
    with compiled:
        wall, cpu = time.perf_counter(), time.process_time()
        compiled.train({gnet.input: to_spikes(data)}, {gnet.output: data.labels}, num_epochs=1,
                       shuffle=False, callbacks=[])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    res = mlgenn.infer(net, weights, data, args.batch, isolate_trials=False,
                       genn_backend=backend, build_dir=build_root / f"infer{n_hidden}",
                       optimize_code=not args.no_optimize)
    spikes = res.hidden_spike_counts.mean()
    print(f"N={n_hidden:5d} {backend} batch={args.batch} optimize_code={not args.no_optimize}: "
          f"train {args.samples / wall:7.1f} samples/s wall, {args.samples / cpu:7.1f} per "
          f"CPU-s; inference {args.samples / res.wall_s:7.1f} samples/s wall; build "
          f"{build_s:.0f} s; {spikes:.1f} spikes/neuron/sample")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--backend", default=None, help="GeNN backend (default: best built)")
    parser.add_argument("--no-optimize", action="store_true", help="GeNN's default -O0 code")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    genn_env.require()
    with tempfile.TemporaryDirectory(prefix="neurokws-genn-bench") as root:
        for n_hidden in args.hidden:
            bench(n_hidden, args, Path(root))


if __name__ == "__main__":
    main()
