"""Fixed-point emulator vs Lava Loihi2SimCfg("fixed_pt"): samples/s on the same model, side by side.

    .venv/bin/python benchmarks/bench_fixedpoint.py                      # N = 256 and 1024
    .venv/bin/python benchmarks/bench_fixedpoint.py --hidden 256 --lava-samples 3
    .venv/bin/python benchmarks/bench_fixedpoint.py --net model.net --inputs test_inputs.npz
    .venv/bin/python benchmarks/bench_fixedpoint.py --hidden 256 --max-delay 62   # delays
    .venv/bin/python benchmarks/bench_fixedpoint.py --hidden 128 --max-delay 62 --max-delay-in 0

Without --net, a synthetic int8 network (700 -> N -> 20, vThMant 2048, weights calibrated to
about 14 spikes per hidden neuron per sample, like the paper's regularised models) and
Poisson input (about 8,400 events per 1 s sample, like SHD) are used, T = 1000.
The emulator classifies --samples samples (stream_len 1); Lava runs --lava-samples in one
network (needs .venv-lava; skipped with a note if missing). Predictions are cross-checked.
With --max-delay D, random synaptic delays 0..D on the input and the recurrent connection
are added (NetX `delay` / `delay_rec`; Lava then runs our DelayDense graph; --max-delay-in 0:
recurrent delays only, no `delay` dataset, as the default config's delay cells): the row also
gives the emulator's rate on the same network without delays, and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neurokws.fixedpoint.emulator import FixedPointNetwork  # noqa: E402
from neurokws.fixedpoint.inputs import StepInputs  # noqa: E402
from neurokws.fixedpoint.lava_bridge import run_lava  # noqa: E402
from neurokws.fixedpoint.netx_file import NeuronParams  # noqa: E402
from neurokws.utils.sidecar import SidecarUnavailableError  # noqa: E402

N_IN, N_OUT, T = 700, 20, 1000
TARGET_RATE = 14.0          # spikes per hidden neuron per sample


def poisson_inputs(rng: np.random.Generator, n: int, rate: float = 0.012) -> StepInputs:
    """Unary Poisson spikes, `rate` per channel and step."""
    steps, channels, offsets = [], [], [0]
    for _ in range(n):
        flat = np.unique(rng.integers(0, T * N_IN, rng.binomial(T * N_IN, rate)))
        s, c = np.divmod(flat, N_IN)
        steps.append(s)
        channels.append(c)
        offsets.append(offsets[-1] + s.size)
    steps_all = np.concatenate(steps)
    return StepInputs(steps_all, np.concatenate(channels), np.ones(steps_all.size), offsets,
                      T, N_IN, 0)


def synthetic_network(n_hidden: int, inputs: StepInputs, seed: int = 0
                      ) -> tuple[FixedPointNetwork, dict[str, np.ndarray]]:
    """int8 network whose mean input weight is bisected to ~TARGET_RATE spikes/neuron."""
    rng = np.random.default_rng(seed)
    base_in = rng.normal(0.0, 6.0, (n_hidden, N_IN))
    w_rec = np.clip(np.rint(rng.normal(0.0, 160.0 / np.sqrt(n_hidden), (n_hidden,) * 2)),
                    -128, 127)
    w_out = np.clip(np.rint(rng.normal(0.0, 40.0, (N_OUT, n_hidden))), -128, 127)
    probe = inputs.select(np.arange(min(8, len(inputs))))
    lo, hi = -10.0, 30.0
    for _ in range(14):
        mean = 0.5 * (lo + hi)
        w_in = np.clip(np.rint(base_in + mean), -128, 127)
        net = FixedPointNetwork(w_in, w_rec, w_out, NeuronParams(742, 200, 2048),
                                NeuronParams(742, 200, 1 << 16))
        rate = net.run(probe).activity.hidden_spikes.mean() / n_hidden
        lo, hi = (mean, hi) if rate < TARGET_RATE else (lo, mean)
    return net, {"w_in": w_in, "w_rec": w_rec, "w_out": w_out}


def write_net(path: Path, weights: dict[str, np.ndarray],
              delays: dict[str, np.ndarray] | None = None) -> Path:
    """Write `weights` in our NetX layout (docs/quantization.md#netx-layout): dense_rec +
    dense, CUBA neurons."""
    import h5py

    with h5py.File(path, "w") as handle:
        for index, (kind, arrays, vth) in enumerate(
                (("dense_rec", {"weight": weights["w_in"], "weight_rec": weights["w_rec"]}, 2048),
                 ("dense", {"weight": weights["w_out"]}, 1 << 16))):
            group = handle.create_group(f"layer/{index}")
            group.create_dataset("type", data=np.array(kind.encode(), dtype="S10"))
            size = next(iter(arrays.values())).shape[0]
            group.create_dataset("shape", data=np.array([size], dtype=np.int64))
            for key, value in arrays.items():
                group.create_dataset(key, data=value.astype(np.float32))
            if kind == "dense_rec" and delays:
                for key, value in delays.items():
                    group.create_dataset(key, data=value.astype(np.int32))
            neuron = group.create_group("neuron")
            neuron.create_dataset("type", data="CUBA", dtype=h5py.string_dtype())
            for key, value in (("iDecay", 742), ("vDecay", 200), ("vThMant", vth),
                               ("refDelay", 0)):
                neuron.create_dataset(key, data=np.int32(value))
            neuron.create_dataset("gradedSpike", data=np.bool_(False))
    return path


def time_emulator(net: FixedPointNetwork, inputs: StepInputs, threads: int | None
                  ) -> tuple[float, np.ndarray]:
    """Samples per second of classify() after a warm-up (compilation), and the predictions."""
    net.classify(inputs.select(np.arange(2)), threads=threads)
    start = time.perf_counter()
    result = net.classify(inputs, threads=threads)
    return len(inputs) / (time.perf_counter() - start), result.pred


def bench(n_hidden: int | None, args: argparse.Namespace, workdir: Path) -> None:
    """Print one row of the comparison."""
    rng = np.random.default_rng(args.seed)
    if args.net:
        with np.load(args.inputs) as archive:
            inputs = StepInputs.from_arrays({k: archive[k] for k in archive.files})
        net_path = Path(args.net)
        net = FixedPointNetwork.from_netx(net_path)
        inputs = inputs.select(np.arange(min(args.samples, len(inputs))))
    else:
        inputs = poisson_inputs(rng, args.samples)
        net, weights = synthetic_network(n_hidden, inputs, args.seed)
        delays = None
        if args.max_delay:
            max_in = args.max_delay if args.max_delay_in is None else args.max_delay_in
            delays = {"delay": rng.integers(0, max_in + 1, weights["w_in"].shape),
                      "delay_rec": rng.integers(0, args.max_delay + 1, weights["w_rec"].shape)}
            if max_in == 0:   # as our export writes it: no `delay` dataset
                del delays["delay"]
            plain = net
        net_path = write_net(workdir / f"bench_{n_hidden}.net", weights, delays)
        net = FixedPointNetwork.from_netx(net_path)
    emu_rate, _ = time_emulator(net, inputs, None)
    if args.max_delay and not args.net:
        # one thread, the two networks alternating, best of 3 each (this VM's speed drifts)
        plain_rate = emu_rate_1 = 0.0
        for _ in range(3):
            plain_rate = max(plain_rate, time_emulator(plain, inputs, 1)[0])
            emu_rate_1 = max(emu_rate_1, time_emulator(net, inputs, 1)[0])
        print(f"N={net.n_hidden}: emulator without delays {plain_rate:.1f} samples/s "
              "(1 thread, best of 3)", flush=True)
    else:
        emu_rate_1, _ = time_emulator(net, inputs, 1)
    act = net.run(inputs.select(np.arange(min(50, len(inputs))))).activity
    print(f"N={net.n_hidden:5d} T={inputs.n_steps}: emulator {emu_rate:8.1f} samples/s "
          f"(1 thread {emu_rate_1:.1f}); {act.hidden_spikes.mean() / net.n_hidden:.1f} "
          f"spikes/neuron/sample, {act.input_events.mean():.0f} input events/sample, "
          f"{act.synaptic_ops.mean():.3g} SOPs/sample", flush=True)
    if args.max_delay and not args.net:
        span = (f"delays 0..{args.max_delay}" if args.max_delay_in in (None, args.max_delay)
                else f"recurrent delays 0..{args.max_delay} only" if args.max_delay_in == 0
                else f"input delays 0..{args.max_delay_in}, recurrent 0..{args.max_delay}")
        print(f"  {span}: with / without = {emu_rate_1 / plain_rate:.2f}x "
              "(1 thread; goal >= 0.5x)", flush=True)
    if args.lava_samples <= 0:
        return
    try:
        start = time.perf_counter()
        lava = run_lava(net_path, inputs, indices=np.arange(args.lava_samples), stream_len=None)
        wall = time.perf_counter() - start
    except SidecarUnavailableError as exc:
        print(f"  Lava: skipped ({exc})")
        return
    lava_rate = args.lava_samples / float(lava["stream_s"].sum())
    same = np.array_equal(lava["pred"], net.classify(
        inputs.select(np.arange(args.lava_samples)), stream_len=None).pred)
    print(f"  Lava: {lava_rate:.3f} samples/s ({float(lava['stream_s'].sum()):.1f} s for "
          f"{args.lava_samples} samples in one network, {wall:.1f} s with start-up); "
          f"emulator/Lava = {emu_rate / lava_rate:,.0f}x; predictions identical: {same}",
          flush=True)


def main() -> None:
    """Parse arguments and run the benchmark rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--samples", type=int, default=1000, help="emulator samples")
    parser.add_argument("--lava-samples", type=int, default=2, help="0: no Lava run")
    parser.add_argument("--net", help="a NetX file instead of the synthetic network")
    parser.add_argument("--inputs", help="StepInputs .npz for --net")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=int, default=0,
                        help="random synaptic delays 0..D on both connections (0: none)")
    parser.add_argument("--max-delay-in", type=int, default=None,
                        help="the input connection's largest delay (default: --max-delay; "
                             "0: recurrent delays only, as config/config.yaml's delay cells)")
    args = parser.parse_args()
    if bool(args.net) != bool(args.inputs):
        parser.error("--net and --inputs go together")
    with tempfile.TemporaryDirectory() as tmp:
        for n_hidden in ([None] if args.net else args.hidden):
            bench(n_hidden, args, Path(tmp))


if __name__ == "__main__":
    main()
