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

from bench_common import Stopwatch, engine_parser
from neurokws.backends import genn_env
from neurokws.config import default_network, schema_default
from neurokws.data.formats.binning import BinnedSplit
from neurokws.model.workload import synthetic_setup


def bench(n_hidden: int, args: argparse.Namespace, build_root: Path) -> None:
    """Time one training epoch and one inference pass; print one summary line."""
    from ml_genn.optimisers import Adam

    from neurokws.backends import mlgenn
    from neurokws.backends import mlgenn_net as gn

    rng = np.random.default_rng(args.seed)
    net = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    setup = synthetic_setup(net, rng, args.samples, 8500, 14.0, labels=False)
    weights = setup.weights
    data = BinnedSplit(steps=setup.steps, channels=setup.channels, offsets=setup.offsets,
                       labels=rng.integers(0, 20, args.samples).astype(np.int32),
                       n_steps=net.n_steps, n_channels=net.n_in, dt_ms=net.dt)
    backend = genn_env.choose_backend(args.backend)
    gn.patch_batch1_labels()
    gnet = gn.build_network(net, weights, args.batch * gn.max_spikes_per_sample(data))
    compiled = gn.eventprop_compiler(
        net, batch_size=args.batch, optimiser=Adam(1e-3), reg_lambda_upper=2.5e-10,
        reg_lambda_lower=2.5e-10, nu_upper=schema_default("training.nu_upper"), seed=0,
        genn_backend=backend,
        optimize_code=not args.no_optimize).compile(gnet.network, name=f"bench{n_hidden}")
    start = time.perf_counter()
    gn.build_model(compiled, build_root / f"train{n_hidden}")
    build_s = time.perf_counter() - start
    with compiled:
        watch = Stopwatch()
        with watch:
            compiled.train({gnet.input: gn.to_spikes(data)}, {gnet.output: data.labels},
                           num_epochs=1, shuffle=False, callbacks=[])
        wall, cpu = watch.last
    res = mlgenn.infer(net, weights, data, args.batch, isolate_trials=False,
                       genn_backend=backend, build_dir=build_root / f"infer{n_hidden}",
                       optimize_code=not args.no_optimize)
    spikes = res.hidden_spike_counts.mean()
    print(f"N={n_hidden:5d} {backend} batch={args.batch} optimize_code={not args.no_optimize}: "
          f"train {args.samples / wall:7.1f} samples/s wall, {args.samples / cpu:7.1f} per "
          f"CPU-s; inference {args.samples / res.wall_s:7.1f} samples/s wall; build "
          f"{build_s:.0f} s; {spikes:.1f} spikes/neuron/sample")


def main() -> None:
    parser = engine_parser(__doc__, batch=1, batches=None, events=None, rate=None)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--backend", default=None, help="GeNN backend (default: best built)")
    parser.add_argument("--no-optimize", action="store_true", help="GeNN's default -O0 code")
    args = parser.parse_args()
    genn_env.require()
    with tempfile.TemporaryDirectory(prefix="neurokws-genn-bench") as root:
        for n_hidden in args.hidden:
            bench(n_hidden, args, Path(root))


if __name__ == "__main__":
    main()
