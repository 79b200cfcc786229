"""Training throughput with synaptic delays vs without, same engine, same data, one run.

Random SHD-like input (700 channels, T steps, ~8,500 events per sample), paper init scaled
so hidden neurons fire ~14 spikes per sample (as benchmarks/bench_training_throughput.py),
and delays drawn uniformly from 0..D on the input and the recurrent connection (D = 62:
Loihi 2's maximum). Forward + Eventprop backward (loss_and_grad) batch by batch, the delayed
and the delay-free network alternating on the same batches, one thread. Prints samples per
CPU-second of both and the ratio (issue 14's goal: >= 0.5x).

--mlgenn (needs GeNN: run with .venv-genn/bin/python) adds delay *training* at batch size 1
(GeNN's CPU backend runs no other) against mlGeNN's EventPropCompiler learning the same
delays (delay_learn_conns on both connections, their own Adam), same samples, weights and
initial delays: ours is loss_and_grad + both Adam updates per sample, mlGeNN one epoch of
compiled.train after its code build. Prints samples per CPU-second of both and the ratio
(goal: >= 5x). Usage:

    .venv/bin/python benchmarks/bench_delays.py [--hidden 256] [--steps 1000] [--batch 32]
        [--batches 6] [--max-delay 62]
    .venv-genn/bin/python benchmarks/bench_delays.py --mlgenn [--mlgenn-samples 32]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from neurokws.config import default_network
from neurokws.data.binning import BinnedSplit
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.network import Delays
from neurokws.model.synthetic import random_events, scale_to_rate
from neurokws.train.optimizer import Adam

DELAY_LR = 0.1   # training.delays.lr's default (steps per update)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--events", type=int, default=8500)
    parser.add_argument("--max-delay", type=int, default=62)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mlgenn", action="store_true",
                        help="also batch-1 delay training against mlGeNN (needs GeNN)")
    parser.add_argument("--mlgenn-samples", type=int, default=32)
    args = parser.parse_args()
    numba.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=args.hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, _ = scale_to_rate(config, init_weights(config, rng, np.float32), steps, channels,
                               offsets, 14.0)
    delays = Delays(rng.integers(0, args.max_delay + 1, weights.w_in.shape).astype(np.int32),
                    rng.integers(0, args.max_delay + 1, weights.w_rec.shape).astype(np.int32))
    reg = RegConfig(lambda_upper=5e-10, lambda_lower=5e-10)
    delayed = dataclasses.replace(config, max_delay_in=args.max_delay,
                                  max_delay_rec=args.max_delay)   # the same network + delays
    nets = {"no delays": config, f"delays 0..{args.max_delay}": delayed}
    variants = {"no delays": None, f"delays 0..{args.max_delay}": delays}
    cpu = {name: [] for name in variants}
    spikes = {name: [] for name in variants}
    for name, d in variants.items():   # compile and warm up
        loss_and_grad(nets[name], weights, steps, channels, offsets, labels,
                      np.arange(args.batch), reg, delays=d)
    for b in range(args.batches):
        idx = np.arange(b * args.batch, (b + 1) * args.batch)
        for name, d in variants.items():
            cpu0 = time.process_time()
            res = loss_and_grad(nets[name], weights, steps, channels, offsets, labels, idx,
                                reg, delays=d)
            cpu[name].append(time.process_time() - cpu0)
            spikes[name].append(res.hidden_spike_counts.mean())
    rates = {name: args.batch / statistics.median(times) for name, times in cpu.items()}
    for name, rate in rates.items():
        print(f"{name:>16}: {rate:8.1f} samples per CPU-second "
              f"({statistics.mean(spikes[name]):.1f} hidden spikes per neuron per sample)")
    base, delayed = rates["no delays"], rates[f"delays 0..{args.max_delay}"]
    print(f"N = {args.hidden}, T = {args.steps}, batch {args.batch}, one thread: "
          f"with delays / without = {delayed / base:.2f}x (goal >= 0.5x)")
    if args.mlgenn:
        n = min(args.mlgenn_samples, n_samples)
        data = BinnedSplit(steps=steps, channels=channels, offsets=offsets, labels=labels,
                           n_steps=config.n_steps, n_channels=config.n_in, dt_ms=config.dt)
        data = data.subset(np.arange(n))
        ours = ours_batch1(nets[f"delays 0..{args.max_delay}"], weights, delays, data, reg)
        theirs = mlgenn_batch1(nets[f"delays 0..{args.max_delay}"], weights, delays, data, reg)
        print(f"delay training, batch 1, {n} samples: ours {ours:.1f}, mlGeNN {theirs:.1f} "
              f"samples per CPU-second: {ours / theirs:.1f}x (goal >= 5x)")


def ours_batch1(net, weights, delays, data, reg) -> float:
    """Samples per CPU-second of our delay training at batch 1: forward + backward, then the
    weights' and the delays' Adam updates (train/loop.py's step, without the loop)."""
    from neurokws.train.delays import clamp_delays, round_delays

    def run(samples: range) -> float:
        w = weights.copy()
        floats = Delays(*(a.astype(np.float32) for a in delays.arrays().values()))
        opt, dopt = Adam(0.9, 0.999, 1e-8), Adam(0.9, 0.999, 1e-8)
        cpu0 = time.process_time()
        for i in samples:
            res = loss_and_grad(net, w, data.steps, data.channels, data.offsets, data.labels,
                                np.array([i]), reg, delays=round_delays(floats, net))
            opt.step(w, res.grads, 1e-3)
            dopt.step(floats, res.delay_grads, DELAY_LR)
            clamp_delays(floats, net)
        return time.process_time() - cpu0

    run(range(1))   # compile (numba caches) and warm up
    return len(data) / run(range(len(data)))


def mlgenn_batch1(net, weights, delays, data, reg) -> float:
    """Samples per CPU-second of one mlGeNN training epoch with delay_learn_conns (after
    the GeNN code build, which is not timed)."""
    from ml_genn.optimisers import Adam as GennAdam

    from neurokws.backends import genn_env
    from neurokws.backends.mlgenn_net import (
        build_model,
        build_network,
        eventprop_compiler,
        max_spikes_per_sample,
        patch_batch1_labels,
        to_spikes,
    )

    genn_env.require()
    patch_batch1_labels()
    gnet = build_network(net, weights, max_spikes_per_sample(data),
                         delays=Delays(*(a.astype(np.float32)
                                         for a in delays.arrays().values())))
    compiled = eventprop_compiler(
        net, batch_size=1, optimiser=GennAdam(1e-3), reg_lambda_upper=reg.lambda_upper,
        reg_lambda_lower=reg.lambda_lower, nu_upper=reg.nu_upper, seed=0,
        genn_backend=genn_env.choose_backend(None),
        delay_learn_conns=tuple(gnet.delayed.values()),
        delay_optimiser=GennAdam(DELAY_LR)).compile(gnet.network, name="bench_delays")
    with tempfile.TemporaryDirectory(prefix="neurokws-bench-delays") as root:
        build_model(compiled, Path(root))
        with compiled:
            cpu0 = time.process_time()
            compiled.train({gnet.input: to_spikes(data)},
                           {gnet.output: data.labels.astype(np.int64)}, num_epochs=1,
                           shuffle=False, callbacks=[])
            return len(data) / (time.process_time() - cpu0)


if __name__ == "__main__":
    main()
