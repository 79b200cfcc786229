"""Peak memory and time of each workflow stage at SHD and SSC size, next to what the rules
declare (neurokws.resources).

Data: a generated SHD-like split (20 classes, ~8,000 events per 1 s sample, float16 times as
in SHD's files; cached under --cache-dir), repeated to the sizes of SHD (8,156 train / 2,264
test samples) and SSC (75,466 / 20,382). Every stage runs in its own process
(neurokws.stages.cost: the stage's own function, as its rule script calls it) while a thread
samples the memory (PSS) of that process and its children. Stages: prepare (train and test
split), one training epoch at N = 256 (blocks of `training.block_batches` batches, and the
whole epoch at once, as before block streaming; --skip-whole-epoch leaves that out) and at
N = 1024 (its first --max-batches-1024 batches, time extrapolated to the epoch), float
evaluation, the emulator on the test split at N = 256 and 1024, one Lava chunk
(--lava-samples samples) and CPU profiling. Prints, per stage, measured peak MB, declared MB
and their ratio (goal 1-2), measured and declared time and their ratio (goal <= 3).

    .venv/bin/python benchmarks/bench_resources.py [--sizes shd ssc] [--cache-dir resources/bench]

Recalibrating for your nodes: run it there; if measured / declared is off, set
`resources.mem_scale` / `resources.runtime_scale` in your config (docs/resources.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
from pathlib import Path

import numpy as np

from neurokws import paper, resources
from neurokws.config import default_config, default_network
from neurokws.data.formats.heidelberg import read_split, write_split
from neurokws.data.sources.synthetic import generate_split
from neurokws.deploy.netx import write_netx
from neurokws.deploy.quantize import quantize
from neurokws.model.init import init_weights
from neurokws.model.network import save_model
from neurokws.utils.sidecar import run_module, side_env

SIZES = {"shd": (paper.TRAIN_SAMPLES["SHD"], paper.TEST_SAMPLES["SHD"]),
         "ssc": (paper.TRAIN_SAMPLES["SSC"], paper.TEST_SAMPLES["SSC"])}


def base_split(cache: Path, name: str, n: int, seed: int, speakers: range, split: str) -> Path:
    """A generated SHD-like split of n samples (cached)."""
    path = cache / f"resources_{name}_{n}_seed{seed}.h5"
    if not path.exists():
        write_split(path, generate_split(n, 20, seed=seed, speakers=speakers, split=split),
                    time_dtype=np.float16)
    return path


def tiled(cache: Path, source: Path, n: int, tag: str) -> Path:
    """`source`'s samples repeated to n samples (SHD density at SSC size), cached."""
    path = cache / f"resources_{tag}_{n}.h5"
    if not path.exists():
        split = read_split(source)
        write_split(path, split.subset(np.resize(np.arange(len(split)), n)),
                    time_dtype=np.float16)
    return path


def measure(request: dict) -> dict:
    return run_module(None, "neurokws.stages.cost", request).data


def declare(rule: str, kwargs: dict) -> resources.Request:
    """The request of `rule` for stored arguments (SplitStats as dicts)."""
    args = {k: resources.SplitStats(**v) if isinstance(v, dict) else v
            for k, v in kwargs.items()}
    return getattr(resources, rule)(**args)


def report(rows: list[dict], name: str, got: dict, rule: str, kwargs: dict,
           seconds: float | None = None) -> None:
    """Print and keep one stage's measurement next to its declared request; the formula's
    arguments are kept too (--rescore recomputes the declared side from them)."""
    seconds = got["wall_s"] if seconds is None else seconds
    kwargs = {k: dataclasses.asdict(v) if isinstance(v, resources.SplitStats) else
              (str(v) if isinstance(v, Path) else v) for k, v in kwargs.items()}
    row = {"stage": name, "peak_mb": got["peak_rss_mb"], "seconds": seconds, "rule": rule,
           "kwargs": kwargs}
    rows.append(row)
    print_row(row)


def print_row(row: dict) -> None:
    want = declare(row["rule"], row["kwargs"])
    print(f"{row['stage']:<40} peak {row['peak_mb']:8.0f} MB  declared {want.mem_mb:7d} MB "
          f"(x{want.mem_mb / row['peak_mb']:.2f})   time {row['seconds']:8.1f} s  declared "
          f"{want.runtime:5d} min (x{60 * want.runtime / max(row['seconds'], 1e-9):.1f})",
          flush=True)


def run_size(size: str, args: argparse.Namespace, cache: Path, rows: list[dict]) -> None:
    n_train, n_test = SIZES[size]
    train_raw = base_split(cache, "train", paper.TRAIN_SAMPLES["SHD"], 1, range(10), "train")
    test_raw = base_split(cache, "test", paper.TEST_SAMPLES["SHD"], 2, range(10, 12), "test")
    if size != "shd":
        train_raw = tiled(cache, train_raw, n_train, "train")
        test_raw = tiled(cache, test_raw, n_test, "test")
    work = cache / f"work_{size}"
    work.mkdir(exist_ok=True)
    npz = {}
    for split, raw in (("train", train_raw), ("test", test_raw)):
        npz[split] = str(work / f"{split}.npz")
        got = measure({"stage": "prepare", "raw": str(raw), "out": npz[split]})
        report(rows, f"{size} prepare {split} ({got['n_samples']})", got, "prepare",
               {"raw": raw})
        print(f"    prepared arrays {got['array_mb']:.0f} MB: peak / arrays "
              f"{got['peak_rss_mb'] / got['array_mb']:.2f}", flush=True)
    train, test = (resources.SplitStats.of(npz[s]) for s in ("train", "test"))
    config = default_config(datasets={"d": {"source": "synthetic", "augmentations": ["shift"]}},
                            hidden_sizes=[256], seeds=[1])
    tr = config["training"]
    for n_hidden, max_batches, block in ((256, None, tr["block_batches"]),
                                         (256, None, None), (1024, args.max_batches_1024,
                                                             tr["block_batches"])):
        if block is None and args.skip_whole_epoch:
            continue
        run_config = {**config, "training": {**tr, "block_batches": block}}
        got = measure({"stage": "train", "train": npz["train"], "n_hidden": n_hidden,
                       "config": run_config, "max_batches": max_batches})
        want = {"train": train, "valid": None, "n_hidden": n_hidden, "n_out": train.n_classes,
                "n_in": train.n_channels, "n_steps": 1000, "epochs": 1,
                "batch_size": tr["batch_size"], "block_batches": block, "blend_n_new": None,
                "blend": False, "threads": tr["threads"]}
        label = f"blocks of {block}" if block else "whole epoch"
        part = "" if max_batches is None else f", {got['trained_samples']} samples"
        report(rows, f"{size} train epoch N={n_hidden} ({label}{part})", got, "train", want,
               got["epoch_s"] + resources.STARTUP_S)
    nets = {}
    for n_hidden in (256, 1024):
        net = default_network(n_hidden, train.n_classes)
        weights = init_weights(net, np.random.default_rng(0))
        nets[n_hidden] = (work / f"m{n_hidden}.npz", work / f"m{n_hidden}.net")
        save_model(nets[n_hidden][0], net, weights, {})
        write_netx(nets[n_hidden][1], quantize(net, weights, bits=8, percentile=99.0), {})
    got = measure({"stage": "evaluate_float", "model": str(nets[256][0]), "test": npz["test"]})
    report(rows, f"{size} evaluate_float N=256", got, "evaluate_float",
           {"test": test, "n_hidden": 256, "n_steps": 1000})
    for n_hidden in (256, 1024):
        got = measure({"stage": "eval_fixed", "net": str(nets[n_hidden][1]),
                       "test": npz["test"], "modes": ["aligned", "paper"]})
        report(rows, f"{size} eval_fixed N={n_hidden}", got, "eval_fixed",
               {"test": test, "n_hidden": n_hidden, "n_out": test.n_classes,
                "n_steps": 1000, "n_modes": 2})
    if side_env("lava").ready() and args.lava_samples:
        got = measure({"stage": "eval_lava_chunk", "net": str(nets[256][1]),
                       "test": npz["test"], "n_samples": args.lava_samples})
        report(rows, f"{size} eval_lava_chunk N=256 ({args.lava_samples})", got,
               "eval_lava_chunk", {"test": test, "n_samples": args.lava_samples,
                                   "n_hidden": 256, "n_steps": 1000})
    options = {**config["profiling"], "max_samples": 256}
    got = measure({"stage": "profile", "model": str(nets[256][0]), "net": str(nets[256][1]),
                   "test": npz["test"], "device": "cpu", "batch": 32, "options": options})
    report(rows, f"{size} profile cpu N=256 B=32", got, "profile",
           {"test": test, "device": "cpu", "n_hidden": 256, "n_steps": 1000,
            "max_samples": 256, "idle_s": options["idle_s"],
            "min_active_s": options["min_active_s"]})


def epoch_ab(size: str, rounds: int, cache: Path) -> None:
    """Time per epoch at N = 256, blocks of `training.block_batches` vs the whole epoch at
    once (as before block streaming), alternating in separate processes."""
    npz = cache / f"work_{size}" / "train.npz"
    config = default_config(datasets={"d": {"source": "synthetic", "augmentations": ["shift"]}},
                            hidden_sizes=[256], seeds=[1])
    tr = config["training"]
    times: dict[str, list[float]] = {"blocks": [], "whole": []}
    for rnd in range(rounds):
        order = ("blocks", "whole") if rnd % 2 == 0 else ("whole", "blocks")
        for kind in order:
            block = tr["block_batches"] if kind == "blocks" else None
            got = measure({"stage": "train", "train": str(npz), "n_hidden": 256,
                           "config": {**config, "training": {**tr, "block_batches": block}}})
            times[kind].append(got["epoch_s"])
            print(f"{size} round {rnd}: {kind:<6} epoch {got['epoch_s']:7.1f} s, peak "
                  f"{got['peak_rss_mb']:7.0f} MB", flush=True)
    ratio = statistics.median(times["blocks"]) / statistics.median(times["whole"])
    print(f"{size}: median epoch time, blocks / whole epoch = {ratio:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["shd", "ssc"])
    parser.add_argument("--cache-dir", type=Path, default=Path("resources/bench"))
    parser.add_argument("--max-batches-1024", type=int, default=40)
    parser.add_argument("--lava-samples", type=int, default=3)
    parser.add_argument("--skip-whole-epoch", action="store_true")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    parser.add_argument("--epoch-ab", type=int, metavar="ROUNDS",
                        help="only time blocks vs whole-epoch training at N = 256, "
                             "alternating, ROUNDS times each (after a run made the data)")
    parser.add_argument("--rescore", type=Path, help="print the rows of an earlier --json "
                        "run against the current formulas (no stage is run)")
    args = parser.parse_args()
    if args.rescore:
        for row in json.loads(args.rescore.read_text()):
            print_row(row)
        return
    if args.epoch_ab:
        for size in args.sizes:
            epoch_ab(size, args.epoch_ab, args.cache_dir)
        return
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"host: {platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; margin {resources.MARGIN}", flush=True)
    rows: list[dict] = []
    for size in args.sizes:
        run_size(size, args, args.cache_dir, rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
