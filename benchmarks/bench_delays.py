"""Training throughput with synaptic delays vs without, same engine, same data, one run.

Random SHD-like input (700 channels, T steps, ~8,500 events per sample), paper init scaled
so hidden neurons fire ~14 spikes per sample (as benchmarks/bench_training_throughput.py),
and delays drawn uniformly from 0..D on the input and the recurrent connection (D = 62:
Loihi 2's maximum; --max-delay-in 0: recurrent delays only, as the default config). Forward
+ Eventprop backward (loss_and_grad) batch by batch, the delayed and the delay-free network
alternating on the same batches, one thread. Prints samples per CPU-second of both and the
ratio (the goal: >= 0.5x).

--floor also times, on the same events and spikes, only the per-synapse memory work a
delayed network cannot avoid (delay_kernels.py): per event or spike and target, one
scatter-add into a ring row chosen by the synapse's delay (forward) and one read of the
(b, dh) pair at the arrival plus the accumulation of dL/dw and dL/dd (backward), in minimal
numba loops. A delay-free network does the same work as contiguous row operations, which
vectorise. The printed bound, delay-free time / (delay-free time + floor), is the best ratio
any kernel built on these per-synapse operations can reach on this CPU.

--layouts times, per synapse and on the input events, the other memory layouts tried for
that work (nanoseconds per event and target; best of 5): the scatter with each source's
targets sorted by delay (monotone addresses), rings of fewer targets (64: L1-resident), the
pair gather with one 64-bit load per (b, dh) pair and contiguous accumulation, and a
source-major gather over the whole sample's (b, dh) history (each source's events summed in
registers, no per-event accumulator traffic). None is much below the kernel's layout.

--mlgenn (needs GeNN: run with .venv-genn/bin/python) adds delay *training* at batch size 1
(GeNN's CPU backend runs no other) against mlGeNN's EventPropCompiler learning the same
delays (delay_learn_conns on both connections, their own Adam), same samples, weights and
initial delays: ours is loss_and_grad + both Adam updates per sample, mlGeNN one epoch of
compiled.train after its code build. Prints samples per CPU-second of both and the ratio
(goal: >= 5x). Usage:

    .venv/bin/python benchmarks/bench_delays.py [--hidden 256] [--steps 1000] [--batch 32]
        [--batches 6] [--max-delay 62] [--max-delay-in 62] [--floor] [--layouts] [--batch1]
    .venv-genn/bin/python benchmarks/bench_delays.py --mlgenn [--mlgenn-samples 32]
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from bench_common import engine_parser
from neurokws.config import default_network, schema_default
from neurokws.data.formats.binning import BinnedSplit
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.kernels import FASTMATH
from neurokws.model.network import Delays
from neurokws.model.workload import synthetic_setup
from neurokws.train.optimizer import Adam

DELAY_LR = 0.1   # training.delays.lr's default (steps per update)


def main() -> None:
    parser = engine_parser(__doc__, hidden=256, batches=6, rate=None)
    parser.add_argument("--max-delay", type=int, default=62)
    parser.add_argument("--max-delay-in", type=int, default=None,
                        help="the input connection's largest delay (default: --max-delay; "
                             "0: recurrent delays only)")
    parser.add_argument("--floor", action="store_true",
                        help="also time the per-synapse work alone and print the bound")
    parser.add_argument("--layouts", action="store_true",
                        help="also time the alternative layouts of the per-synapse work")
    parser.add_argument("--mlgenn", action="store_true",
                        help="also batch-1 delay training against mlGeNN (needs GeNN)")
    parser.add_argument("--mlgenn-samples", type=int, default=32)
    parser.add_argument("--batch1", action="store_true",
                        help="also our delay training at batch 1 (without --mlgenn's rival)")
    args = parser.parse_args()
    numba.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=args.hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    setup = synthetic_setup(config, rng, n_samples, args.events, 14.0)
    steps, channels, offsets, labels = setup.steps, setup.channels, setup.offsets, setup.labels
    weights = setup.weights
    max_in = args.max_delay if args.max_delay_in is None else args.max_delay_in
    delays = Delays(rng.integers(0, max_in + 1, weights.w_in.shape).astype(np.int32),
                    rng.integers(0, args.max_delay + 1, weights.w_rec.shape).astype(np.int32))
    reg = RegConfig(nu_upper=schema_default("training.nu_upper"), lambda_upper=5e-10,
                    lambda_lower=5e-10)
    delayed = dataclasses.replace(config, max_delay_in=max_in,
                                  max_delay_rec=args.max_delay)   # the same network + delays
    label = (f"delays 0..{args.max_delay}" if max_in == args.max_delay else
             f"in 0..{max_in}, rec 0..{args.max_delay}")
    nets = {"no delays": config, label: delayed}
    variants = {"no delays": None, label: delays}
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
    base, with_delays = rates["no delays"], rates[label]
    print(f"N = {args.hidden}, T = {args.steps}, batch {args.batch}, one thread: "
          f"with delays / without = {with_delays / base:.2f}x (goal >= 0.5x)")
    if args.floor:
        spikes_per_sample = statistics.mean(spikes[label]) * args.hidden
        seconds = floor_seconds(weights, delays, max_in > 0, steps, channels, offsets,
                                spikes_per_sample, rng)
        plain = 1.0 / base
        print(f"per-synapse floor: {seconds * 1e3:.3f} ms per sample "
              f"({args.events if max_in > 0 else 0} input events + "
              f"{spikes_per_sample:.0f} hidden spikes, x {args.hidden} targets); "
              f"the delay-free run takes {plain * 1e3:.3f} ms: best possible ratio "
              f"{plain / (plain + seconds):.2f}x")
    if args.layouts:
        for name, ns in layout_ns(weights.w_in, delays.d_in, steps, channels, offsets,
                                  args.steps, rng).items():
            print(f"{name:>44}: {ns:.2f} ns per input event and target")
    if args.batch1 and not args.mlgenn:
        data = BinnedSplit(steps=steps, channels=channels, offsets=offsets, labels=labels,
                           n_steps=config.n_steps, n_channels=config.n_in, dt_ms=config.dt)
        data = data.subset(np.arange(min(args.mlgenn_samples, n_samples)))
        ours = ours_batch1(nets[label], weights, delays, data, reg)
        print(f"delay training, batch 1, {len(data)} samples: ours {ours:.1f} samples per "
              "CPU-second")
    if args.mlgenn:
        n = min(args.mlgenn_samples, n_samples)
        data = BinnedSplit(steps=steps, channels=channels, offsets=offsets, labels=labels,
                           n_steps=config.n_steps, n_channels=config.n_in, dt_ms=config.dt)
        data = data.subset(np.arange(n))
        ours = ours_batch1(nets[label], weights, delays, data, reg)
        theirs = mlgenn_batch1(nets[label], weights, delays, data, reg)
        print(f"delay training, batch 1, {n} samples: ours {ours:.1f}, mlGeNN {theirs:.1f} "
              f"samples per CPU-second: {ours / theirs:.1f}x (goal >= 5x)")


@numba.njit(cache=True, fastmath=FASTMATH)
def _scatter_floor(ring, w, off, rows, bases):
    """Forward: ring[base + off[row, j]] += w[row, j] for every (row, base) and target j."""
    for k in range(rows.shape[0]):
        o = off[rows[k]]
        wr = w[rows[k]]
        b = bases[k]
        for j in range(wr.shape[0]):
            ring[b + o[j]] += wr[j]


@numba.njit(cache=True, fastmath=FASTMATH)
def _gather_floor(gg, w, off2, rows, bases, pairs):
    """Backward: per (row, base) and target j, read the (b, dh) pair at base + 2 off and
    accumulate dL/dw += b and dL/dd -= w dh (interleaved, as delay_kernels.py)."""
    for k in range(rows.shape[0]):
        o = off2[rows[k]]
        wr = w[rows[k]]
        gr = gg[rows[k]]
        b = bases[k]
        for j in range(wr.shape[0]):
            r = b + o[j]
            gr[2 * j] += pairs[r]
            gr[2 * j + 1] -= wr[j] * pairs[r + np.uint32(1)]


def floor_seconds(weights, delays, input_delays, steps, channels, offsets, spikes_per_sample,
                  rng) -> float:
    """CPU seconds per sample of _scatter_floor + _gather_floor over the benchmark's input
    events (if the input has delays) and as many random hidden spikes as the run had,
    each at a random ring row (best of 5)."""
    from neurokws.model.delay_kernels import ring_offsets

    n_hid = weights.w_rec.shape[0]
    n_rows = delays.max_delay + 1
    n_samples = offsets.shape[0] - 1
    jobs = [(weights.w_rec, off, rng.integers(0, n_hid, int(spikes_per_sample) * n_samples))
            for off in ring_offsets(delays.d_in, delays.d_rec)[1:]]
    if input_delays:
        jobs.append((weights.w_in, ring_offsets(delays.d_in, delays.d_rec)[0],
                     channels[:offsets[-1]]))
    ring = np.zeros(2 * n_rows * n_hid, np.float32)
    pairs = np.zeros(4 * n_rows * n_hid, np.float32)
    best = np.inf
    for _ in range(5):
        cpu0 = time.process_time()
        for w, off, rows in jobs:
            rows = np.ascontiguousarray(rows, np.int64)
            bases = (rng.integers(0, n_rows, rows.shape[0]) * n_hid).astype(np.uint32)
            _scatter_floor(ring, w, off, rows, bases)
            gg = np.zeros((w.shape[0], 2 * n_hid), np.float32)
            _gather_floor(gg, w, off + off, rows, bases + bases, pairs)
        best = min(best, time.process_time() - cpu0)
    return best / n_samples


@numba.njit(cache=True, fastmath=FASTMATH)
def _gather_pairs64(gg, w, off, rows, bases, pairs64):
    """_gather_floor with one 64-bit load per (b, dh) pair into a row buffer, then the
    accumulations as contiguous (vectorisable) loops; dL/dd accumulates sum dh (times -w
    once at the end in a real kernel)."""
    n = w.shape[1]
    tmp = np.empty(n, np.uint64)
    pair = tmp.view(np.float32)
    fb = np.float32(0.0)
    for k in range(rows.shape[0]):
        o = off[rows[k]]
        wr = w[rows[k]]
        gr = gg[rows[k]]
        b = bases[k]
        for j in range(n):
            tmp[j] = pairs64[b + o[j]]
        for j in range(2 * n):
            gr[j] += pair[j]
        for j in range(n):
            fb += wr[j] * pair[2 * j + 1]
    return fb


@numba.njit(cache=True, fastmath=FASTMATH)
def _gather_source_major(gw, gd, w, d, ptr, ev_steps, history):
    """Per source i and target j, sum the (b, dh) history at each of i's event steps plus
    d_ij in registers, then one accumulation per synapse (history: targets x steps x 2)."""
    for i in range(w.shape[0]):
        k0 = ptr[i]
        k1 = ptr[i + 1]
        if k1 == k0:
            continue
        for j in range(w.shape[1]):
            hj = history[j]
            dij = d[i, j]
            sb = np.float32(0.0)
            sd = np.float32(0.0)
            for k in range(k0, k1):
                p = hj[ev_steps[k] + dij]
                sb += p[0]
                sd += p[1]
            gw[i, j] += sb
            gd[i, j] -= w[i, j] * sd


def layout_ns(w, d, steps, channels, offsets, n_steps, rng) -> dict[str, float]:
    """Nanoseconds per input event and target of the per-synapse work in other layouts
    (--layouts), on the first sample's events repeated over all samples' event counts."""
    from neurokws.model.delay_kernels import ring_offsets

    n_hid = w.shape[1]
    n_rows = int(d.max()) + 1
    rows = np.ascontiguousarray(channels[:offsets[-1]], np.int64)
    slots = steps[:offsets[-1]].astype(np.int64) % n_rows
    ops = rows.shape[0] * n_hid
    out = {}

    def best(fn, *a) -> float:
        fn(*a)   # compile
        t = []
        for _ in range(5):
            cpu0 = time.process_time()
            fn(*a)
            t.append(time.process_time() - cpu0)
        return min(t) / ops * 1e9

    for label, n in (("scatter, kernel layout", n_hid), ("scatter, 64-target ring", 64)):
        off = ring_offsets(d[:, :n], np.zeros((n, n), np.int32))[0]
        reps = n_hid // n
        r = np.repeat(rows, reps)
        out[label] = best(_scatter_floor, np.zeros(2 * n_rows * n, np.float32),
                          np.ascontiguousarray(w[:, :n]), off, r,
                          (np.repeat(slots, reps) * n).astype(np.uint32))
    off = ring_offsets(d, np.zeros((n_hid, n_hid), np.int32))[0]
    order = np.argsort(off, axis=1, kind="stable")
    bases = (slots * n_hid).astype(np.uint32)
    out["scatter, targets sorted by delay"] = best(
        _scatter_floor, np.zeros(2 * n_rows * n_hid, np.float32),
        np.take_along_axis(w, order, 1), np.take_along_axis(off, order, 1), rows, bases)
    pairs = rng.standard_normal(4 * n_rows * n_hid).astype(np.float32)
    out["gather, kernel layout"] = best(
        _gather_floor, np.zeros((w.shape[0], 2 * n_hid), np.float32), w, off + off, rows,
        bases + bases, pairs)
    out["gather, 64-bit pair loads"] = best(
        _gather_pairs64, np.zeros((w.shape[0], 2 * n_hid), np.float32), w, off, rows, bases,
        pairs.view(np.uint64))
    first = slice(offsets[0], offsets[1])   # one sample, its events by source
    order = np.argsort(channels[first], kind="stable")
    ev = steps[first][order].astype(np.int64)
    ptr = np.searchsorted(channels[first][order], np.arange(w.shape[0] + 1)).astype(np.int64)
    history = rng.standard_normal((n_hid, n_steps + n_rows, 2)).astype(np.float32)
    sample_ops = (offsets[1] - offsets[0]) * n_hid
    ns = best(_gather_source_major, np.zeros(w.shape, np.float32), np.zeros(w.shape, np.float32),
              w, d.astype(np.int64), ptr, ev, history) * ops / sample_ops
    out["gather, source-major over the whole history"] = ns
    return out


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
    from neurokws.backends import mlgenn_net as gn

    genn_env.require()
    gn.patch_batch1_labels()
    gnet = gn.build_network(net, weights, gn.max_spikes_per_sample(data),
                            delays=Delays(*(a.astype(np.float32)
                                            for a in delays.arrays().values())))
    compiled = gn.eventprop_compiler(
        net, batch_size=1, optimiser=GennAdam(1e-3), reg_lambda_upper=reg.lambda_upper,
        reg_lambda_lower=reg.lambda_lower, nu_upper=reg.nu_upper, seed=0,
        genn_backend=genn_env.choose_backend(None),
        delay_learn_conns=tuple(gnet.delayed.values()),
        delay_optimiser=GennAdam(DELAY_LR)).compile(gnet.network, name="bench_delays")
    with tempfile.TemporaryDirectory(prefix="neurokws-bench-delays") as root:
        gn.build_model(compiled, Path(root))
        with compiled:
            cpu0 = time.process_time()
            compiled.train({gnet.input: gn.to_spikes(data)},
                           {gnet.output: data.labels.astype(np.int64)}, num_epochs=1,
                           shuffle=False, callbacks=[])
            return len(data) / (time.process_time() - cpu0)


if __name__ == "__main__":
    main()
