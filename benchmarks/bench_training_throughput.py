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

from bench_common import Stopwatch, engine_parser
from neurokws.config import default_network, schema_default
from neurokws.model import engine
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.workload import synthetic_setup
from neurokws.utils.provenance import cpu_model


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    """Time `args.batches` training batches at one hidden size and print one summary line."""
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    data = synthetic_setup(config, rng, n_samples, args.events, args.rate)
    inputs = (config, data.weights, data.steps, data.channels, data.offsets, data.labels)
    reg = RegConfig(nu_upper=schema_default("training.nu_upper"), lambda_upper=5e-10,
                    lambda_lower=5e-10)
    order = rng.permutation(n_samples)
    start = time.perf_counter()
    loss_and_grad(*inputs, order[:args.batch], reg, adjoint=args.adjoint)
    first = time.perf_counter() - start
    watch, spikes = Stopwatch(), []
    for b in range(args.batches):
        idx = order[b * args.batch:(b + 1) * args.batch]
        with watch:
            res = loss_and_grad(*inputs, idx, reg, adjoint=args.adjoint)
        spikes.append(res.hidden_spike_counts.mean())
    if args.emit_json:   # a child of --compare-engine native: the timings, nothing else
        print(json.dumps({"walls": watch.walls, "cpus": watch.cpus}))
        return
    wall, cpu = watch.median
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"N={n_hidden:5d} T={config.n_steps} B={args.batch} {args.adjoint}: "
          f"{args.batch / wall:7.1f} samples/s wall, {args.batch / cpu:7.1f} samples/CPU-s, "
          f"batch {1e3 * wall:6.1f} ms (min {1e3 * min(watch.walls):6.1f}), first call "
          f"{first:5.2f} s, spikes/neuron/sample {np.mean(spikes):5.1f} "
          f"(w_in x{data.factor:.3f}), peak RSS {peak:6.0f} MiB")


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
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    data = synthetic_setup(config, np.random.default_rng(args.seed), n_samples, args.events,
                           args.rate)
    inputs = (config, data.weights, data.steps, data.channels, data.offsets, data.labels)
    reg = RegConfig(nu_upper=schema_default("training.nu_upper"), lambda_upper=5e-10,
                    lambda_lower=5e-10)
    batches = [np.arange(i, i + args.batch) for i in range(0, n_samples, args.batch)]
    versions = {"this": engine, "other": other}
    watches = {name: Stopwatch() for name in versions}
    for module in versions.values():   # warm-up (compilation) outside the timing
        module.loss_and_grad(*inputs, batches[0], reg)
    for rep in range(args.repeats):
        names = list(versions) if rep % 2 == 0 else list(versions)[::-1]
        for batch in batches:
            for name in names:
                with watches[name]:
                    versions[name].loss_and_grad(*inputs, batch, reg)
    med = {name: watch.median[0] for name, watch in watches.items()}
    cpu = {name: watch.median[1] for name, watch in watches.items()}
    print(f"N={n_hidden:5d} T={config.n_steps} B={args.batch}, {numba.get_num_threads()} "
          f"threads, {len(watches['this'].walls)} batches each: this "
          f"{args.batch / med['this']:7.1f} samples/s ({args.batch / cpu['this']:6.1f}/CPU-s), "
          f"other ({other_path}) "
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
    parser = engine_parser(__doc__)
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
