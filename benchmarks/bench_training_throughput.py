"""Benchmark Eventprop training throughput (forward + backward + gradients) of the engine.

Random SHD-like input (700 channels, T steps, ~8,500 events per sample), paper init with
w_in scaled so hidden neurons fire ~14 spikes per sample. Prints samples/s (wall and per
CPU-second) and peak RSS; asserts nothing about timing. Usage:

    .venv/bin/python benchmarks/bench_training_throughput.py [--hidden 256 1024] [--batches 8]

--compare-engine REV times another version of the engine in this process, batch by batch
interleaved with this checkout's on the same data, and prints the throughput ratio. REV is a
git revision (its whole src/neurokws is exported to a temporary package `neurokws_<rev>`,
kernels included, e.g. `--compare-engine HEAD~1`) or a file holding another engine.py that
uses this checkout's kernels. `--compare-engine native` times this checkout on the fixed
machine target (src/neurokws/utils/target.py) against NEUROKWS_TARGET=native (numba compiles
for this CPU) in child processes, alternately, `--repeats` times: the target's cost.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from neurokws.config import default_network
from neurokws.model import engine
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.synthetic import random_events, scale_to_rate
from neurokws.utils.provenance import cpu_model


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    """Time `args.batches` training batches at one hidden size and print one summary line."""
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, factor = scale_to_rate(config, init_weights(config, rng, np.float32), steps,
                                    channels, offsets, args.rate)
    reg = RegConfig(lambda_upper=5e-10, lambda_lower=5e-10)
    order = rng.permutation(n_samples)
    start = time.perf_counter()
    loss_and_grad(config, weights, steps, channels, offsets, labels, order[:args.batch], reg,
                  adjoint=args.adjoint)
    first = time.perf_counter() - start
    walls, cpus, spikes = [], [], []
    if args.emit_json:   # a child of --compare-engine native: the timings, nothing else
        for b in range(args.batches):
            idx = order[b * args.batch:(b + 1) * args.batch]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            loss_and_grad(config, weights, steps, channels, offsets, labels, idx, reg,
                          adjoint=args.adjoint)
            walls.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
        print(json.dumps({"walls": walls, "cpus": cpus}))
        return
    for b in range(args.batches):
        idx = order[b * args.batch:(b + 1) * args.batch]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        res = loss_and_grad(config, weights, steps, channels, offsets, labels, idx, reg,
                            adjoint=args.adjoint)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        spikes.append(res.hidden_spike_counts.mean())
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"N={n_hidden:5d} T={config.n_steps} B={args.batch} {args.adjoint}: "
          f"{args.batch / wall:7.1f} samples/s wall, {args.batch / cpu:7.1f} samples/CPU-s, "
          f"batch {1e3 * wall:6.1f} ms (min {1e3 * min(walls):6.1f}), first call {first:5.2f} s, "
          f"spikes/neuron/sample {np.mean(spikes):5.1f} (w_in x{factor:.3f}), "
          f"peak RSS {peak:6.0f} MiB")


def load_other(other: str):
    """The engine module of `other`: an engine.py file, or git revision's whole package."""
    if Path(other).is_file():
        spec = importlib.util.spec_from_file_location("engine_other", other)
        module = importlib.util.module_from_spec(spec)
        sys.modules["engine_other"] = module
        spec.loader.exec_module(module)
        return module
    root = Path(__file__).resolve().parents[1]
    rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", other], check=True,
                         capture_output=True, text=True).stdout.strip()
    name = f"neurokws_{rev}"
    dest = Path(tempfile.gettempdir()) / f"bench-engine-{rev}"
    if not (dest / name).is_dir():
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src/neurokws"],
                                 check=True, capture_output=True).stdout
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1"], input=archive,
                       check=True)
        (dest / "neurokws").rename(dest / name)
        for py in (dest / name).rglob("*.py"):   # the package under its own name
            text = py.read_text()
            py.write_text(text.replace("from neurokws", f"from {name}")
                          .replace("import neurokws", f"import {name}"))
    sys.path.insert(0, str(dest))
    return importlib.import_module(f"{name}.model.engine")


def compare(n_hidden: int, other_path: str, args: argparse.Namespace) -> None:
    """This engine and the one in `other_path`, interleaved batch by batch (same data)."""
    other = load_other(other_path)
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, _ = scale_to_rate(config, init_weights(config, rng, np.float32), steps,
                               channels, offsets, args.rate)
    reg = RegConfig(lambda_upper=5e-10, lambda_lower=5e-10)
    batches = [np.arange(i, i + args.batch) for i in range(0, n_samples, args.batch)]
    versions = {"this": engine, "other": other}
    times: dict[str, list[float]] = {name: [] for name in versions}
    cpus: dict[str, list[float]] = {name: [] for name in versions}
    for module in versions.values():   # warm-up (compilation) outside the timing
        module.loss_and_grad(config, weights, steps, channels, offsets, labels, batches[0], reg)
    for rep in range(args.repeats):
        names = list(versions) if rep % 2 == 0 else list(versions)[::-1]
        for batch in batches:
            for name in names:
                start, cpu0 = time.perf_counter(), time.process_time()
                versions[name].loss_and_grad(config, weights, steps, channels, offsets,
                                             labels, batch, reg)
                times[name].append(time.perf_counter() - start)
                cpus[name].append(time.process_time() - cpu0)
    med = {name: statistics.median(t) for name, t in times.items()}
    cpu = {name: statistics.median(t) for name, t in cpus.items()}
    print(f"N={n_hidden:5d} T={config.n_steps} B={args.batch}, {numba.get_num_threads()} "
          f"threads, {len(times['this'])} batches each: this {args.batch / med['this']:7.1f} "
          f"samples/s ({args.batch / cpu['this']:6.1f}/CPU-s), other ({other_path}) "
          f"{args.batch / med['other']:7.1f} samples/s ({args.batch / cpu['other']:6.1f}/CPU-s); "
          f"this / other throughput {med['other'] / med['this']:.3f} "
          f"(per CPU-s {cpu['other'] / cpu['this']:.3f})")


def compare_native(n_hidden: int, args: argparse.Namespace) -> None:
    """The fixed target against NEUROKWS_TARGET=native: child processes, alternately."""
    times: dict[str, dict[str, list[float]]] = {m: {"walls": [], "cpus": []}
                                                for m in ("portable", "native")}
    command = [sys.executable, __file__, "--hidden", str(n_hidden), "--emit-json",
               "--batches", str(args.batches), "--batch", str(args.batch), "--steps",
               str(args.steps), "--events", str(args.events), "--rate", str(args.rate),
               "--seed", str(args.seed), "--adjoint", args.adjoint]
    for rep in range(args.repeats + 1):          # pass 0 compiles both (not timed)
        for mode in (("portable", "native") if rep % 2 else ("native", "portable")):
            env = {**os.environ, "NEUROKWS_TARGET": mode}
            out = subprocess.run(command, env=env, check=True, capture_output=True,
                                 text=True).stdout
            if rep:
                for key, values in json.loads(out.splitlines()[-1]).items():
                    times[mode][key] += values
    med = {m: {k: statistics.median(v) for k, v in t.items()} for m, t in times.items()}
    print(f"N={n_hidden:5d} T={args.steps} B={args.batch}, {numba.get_num_threads()} threads, "
          f"{len(times['portable']['walls'])} batches each: portable "
          f"{args.batch / med['portable']['cpus']:7.1f} samples/CPU-s, native "
          f"{args.batch / med['native']['cpus']:7.1f} samples/CPU-s; portable / native "
          f"throughput per CPU-s {med['native']['cpus'] / med['portable']['cpus']:.3f} "
          f"(wall {med['native']['walls'] / med['portable']['walls']:.3f})")


def main() -> None:
    """Parse arguments and benchmark each requested hidden size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--events", type=int, default=8500)
    parser.add_argument("--rate", type=float, default=14.0, help="target spikes/neuron/sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adjoint", choices=["mlgenn", "discrete"], default="mlgenn")
    parser.add_argument("--compare-engine", metavar="REV|FILE",
                        help="a git revision (or an engine.py) to time against this checkout, "
                             "interleaved")
    parser.add_argument("--repeats", type=int, default=8, help="passes in --compare-engine")
    parser.add_argument("--emit-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.emit_json:
        print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}, "
              f"CPU {cpu_model()}")
    for n_hidden in args.hidden:
        if args.compare_engine == "native":
            compare_native(n_hidden, args)
        elif args.compare_engine:
            compare(n_hidden, args.compare_engine, args)
        else:
            bench(n_hidden, args)


if __name__ == "__main__":
    main()
