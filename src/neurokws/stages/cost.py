"""Peak memory and wall time of one workflow stage, measured in a fresh process.

Run through `neurokws.utils.sidecar.run_module(None, "neurokws.stages.cost", request)`: the
child runs the stage's own function (`neurokws.stages`, what its rule script calls; outputs
other than the prepared split go to a scratch folder) while a thread samples the RSS of the
child and its descendants (a Lava side process too), and returns {"peak_rss_mb",
"base_rss_mb", "wall_s", ...}. The resource benchmark (benchmarks/bench_resources.py) and
the resource test compare these with what `neurokws.resources` declares for the rule.

Stages (request["stage"]): prepare {raw, out}; train {train, valid?, n_hidden, epochs,
config} (epoch 0 in the numba backend's session, not the whole rule); evaluate_float
{model, test}; eval_fixed {net, test, modes}; eval_lava_chunk {net, test, n_samples};
profile {model, net, test, options}; cochlea_chunk {plan, chunks, cochlea, settings} (its
first chunk).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from neurokws.profiling.training.cost_common import RssSampler, rss_bytes
from neurokws.utils.provenance import fixed
from neurokws.utils.records import CellKey


def _prepare(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    from neurokws.stages.data import prepare

    out = Path(request["out"])
    facts = prepare(request["raw"], out, out.with_suffix(".summary.json"), allow_empty=False,
                    provenance=STAGE_COST)
    return {"n_samples": facts["n_samples"], "n_events": facts["n_events"],
            "array_mb": facts["array_bytes"] / 2**20}


def _train(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Epoch 0 of a cell, run by the numba backend's session as the train rule runs it; with
    max_batches only the epoch's first batches (the split is held whole and blocks are built
    as in the full epoch, so memory is the full epoch's; its time is extrapolated)."""
    import dataclasses

    import numpy as np

    from neurokws.backends.numba import NumbaBackend
    from neurokws.config import delay_training, network_config, resolve_config, train_settings
    from neurokws.data.formats.events import load_npz
    from neurokws.train import loop
    from neurokws.train.schedule import LearningRateSchedule

    config = resolve_config(request["config"])
    dataset = next(iter(config["datasets"]))
    split = load_npz(request["train"])
    valid = load_npz(request["valid"]) if request.get("valid") else None
    delays = bool(request.get("delays"))   # a cell with delays (model.delays)
    net = network_config(config, request["n_hidden"], split.n_classes, split.n_channels,
                         delays=delays)
    spec = delay_training(config, delays)
    settings = dataclasses.replace(train_settings(config, dataset, request["n_hidden"]),
                                   epochs=1, progress_bar=False)
    state = loop.fresh_state(net, settings, 1, "stage-cost", spec)
    data = loop.epoch_data(split, settings, net, loop.epoch_rng(1, 0))
    run = data if request.get("max_batches") is None else dataclasses.replace(
        data, order=data.order[:int(request["max_batches"]) * settings.batch_size])
    start = time.perf_counter()
    with NumbaBackend(net, settings, spec).session(state, split, valid) as session:
        outcome = session.run_epoch(0, run, LearningRateSchedule.from_settings(settings))
    seconds = time.perf_counter() - start
    # How far the epoch moved the delays (steps; 0.0 without delays): a run that claims
    # delays but trained none shows here.
    moved = 0.0 if outcome.delays is None else max(
        float(np.abs(after - before).max(initial=0.0)) for after, before in
        zip(outcome.delays.arrays().values(), state.delays.arrays().values(),
            strict=True))
    return {"trained_samples": len(run), "epoch_samples": len(data),
            "epoch_s": seconds * len(data) / max(len(run), 1), "n_samples": len(split),
            "delays_moved": moved}


CELL = CellKey("stage_cost", 0, False, 0)   # records of these runs name no cell of a grid
STAGE_COST = fixed({"rule": "stage_cost"})


def _evaluate_float(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    from neurokws.stages.train import evaluate_float

    got = evaluate_float(request["model"], request["test"], scratch / "eval_float.json",
                         scratch / "predictions.csv", scratch / "confusion.csv", cell=CELL,
                         provenance=STAGE_COST)
    return {"accuracy": got["test_accuracy"]}


def _eval_fixed(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    from neurokws.stages.fixedpoint import eval_fixed

    got = eval_fixed(request["net"], request["test"], scratch / "eval_fixed.json",
                     scratch / "predictions.csv", cell=CELL, method="ptq",
                     modes=request["modes"], provenance=STAGE_COST)
    return {m: s["accuracy"] for m, s in got["modes"].items()}


def _eval_lava_chunk(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    from neurokws.stages.fixedpoint import eval_lava_chunk

    got = eval_lava_chunk(request["net"], request["test"], scratch / "chunk.npz",
                          mode="aligned", chunk=0, n_subset=int(request["n_samples"]),
                          n_chunks=1)
    return {"accuracy": float(got["accuracy"]), "n_samples": len(got["indices"])}


def _profile(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    from neurokws.stages.profiling import profile

    rows = profile(request["model"], request["net"], request["test"], scratch / "profile.csv",
                   cell=CELL, device=request["device"], batch=int(request["batch"]),
                   paper_dataset=None, options=request["options"])
    return {"rows": len(rows)}


def _cochlea_chunk(request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    from neurokws.stages.data import cochlea_chunk

    events = cochlea_chunk(request["plan"], None, chunk=0, chunks=int(request["chunks"]),
                           cochlea=request["cochlea"], settings=request["settings"],
                           where="cochlea")
    return {"n_clips": len(events), "n_events": events.n_events}


STAGES = {"prepare": _prepare, "cochlea_chunk": _cochlea_chunk, "train": _train,
          "evaluate_float": _evaluate_float, "eval_fixed": _eval_fixed,
          "eval_lava_chunk": _eval_lava_chunk, "profile": _profile}


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> dict[str, Any]:
    """Run request["stage"] while sampling RSS; its peak (MiB), wall time and results."""
    base = rss_bytes()
    sampler = RssSampler(period_s=0.005, tree=True)
    sampler.start()
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="stage-cost-") as scratch:
            extra = STAGES[request["stage"]](request, Path(scratch))
    finally:
        peak = sampler.stop()
    return {"stage": request["stage"], "peak_rss_mb": peak / 2**20,
            "base_rss_mb": base / 2**20, "wall_s": time.perf_counter() - start, **extra}
