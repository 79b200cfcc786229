"""Peak memory and wall time of one workflow stage, measured in a fresh process.

Run through `neurokws.utils.sidecar.run_module(None, "neurokws.profiling.stage_cost",
request)`: the child does what the stage's rule script does (the same library calls on the
same files) while a thread samples the RSS of the child and its descendants (a Lava side
process too), and returns {"peak_rss_mb", "base_rss_mb", "wall_s", ...}. The resource
benchmark (benchmarks/bench_resources.py) and the resource test compare these with what
`neurokws.resources` declares for the rule.

Stages (request["stage"]): prepare {raw, out}; train {train, valid?, n_hidden, epochs,
config}; evaluate_float {model, test}; eval_fixed {net, test, modes}; eval_lava_chunk {net,
test, n_samples}; profile {model, net, test, options}; cochlea_chunk {plan, chunks, cochlea,
settings} (its first chunk).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from neurokws.profiling.cost_common import RssSampler, rss_bytes


def _prepare(request: dict[str, Any]) -> dict[str, Any]:
    from neurokws.data.events import save_npz
    from neurokws.data.heidelberg import read_split
    from neurokws.data.prepared import check_nonempty, split_summary
    from neurokws.utils.atomic import write_json

    split = read_split(request["raw"])
    check_nonempty(split, request["raw"], False)
    summary = split_summary(split)
    save_npz(request["out"], split)
    write_json(Path(request["out"]).with_suffix(".summary.json"), summary)
    return {"n_samples": summary["n_samples"], "n_events": summary["n_events"],
            "array_mb": (split.times_us.nbytes + split.units.nbytes + split.offsets.nbytes
                         + split.labels.nbytes) / 2**20}


def _train(request: dict[str, Any]) -> dict[str, Any]:
    """Epoch 0 of a cell, run by the numba backend's session as the train rule runs it; with
    max_batches only the epoch's first batches (the split is held whole and blocks are built
    as in the full epoch, so memory is the full epoch's; its time is extrapolated)."""
    import dataclasses

    import numpy as np

    from neurokws.config import delay_training, network_config, resolve_config, train_settings
    from neurokws.data.events import load_npz
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
    with loop.NumbaBackend(net, settings, spec).session(state, split, valid) as session:
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


def _evaluate_float(request: dict[str, Any]) -> dict[str, Any]:
    from neurokws.data.events import load_npz
    from neurokws.model.network import load_model
    from neurokws.train.evaluate import evaluate

    net, weights, _ = load_model(request["model"])
    return {"accuracy": evaluate(net, weights, load_npz(request["test"])).accuracy}


def _eval_fixed(request: dict[str, Any]) -> dict[str, Any]:
    from neurokws.data.events import load_npz
    from neurokws.deploy.netx import read_netx
    from neurokws.fixedpoint.evaluation import emulate

    config = read_netx(request["net"]).config
    _, summary = emulate(request["net"], load_npz(request["test"]), config.n_steps,
                         config.dt, request["modes"])
    return {m: s["accuracy"] for m, s in summary["modes"].items()}


def _eval_lava_chunk(request: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from neurokws.data.events import load_npz
    from neurokws.deploy.netx import read_netx
    from neurokws.fixedpoint.evaluation import split_inputs
    from neurokws.fixedpoint.lava_bridge import run_lava

    config = read_netx(request["net"]).config
    test = load_npz(request["test"])
    chunk = np.arange(min(int(request["n_samples"]), len(test)))
    inputs = split_inputs(test.subset(chunk), "aligned", config.n_steps, config.dt)
    result = run_lava(request["net"], inputs, labels=np.asarray(test.labels)[chunk],
                      keep_voltages=False)
    return {"accuracy": float(result["accuracy"]), "n_samples": len(chunk)}


def _profile(request: dict[str, Any]) -> dict[str, Any]:
    from neurokws.data.events import load_npz
    from neurokws.profiling.profile import ProfileJob, ProfileOptions, profile

    job = ProfileJob(model_path=request["model"], net_path=request["net"],
                     test=load_npz(request["test"]))
    rows = profile(request["device"], job, int(request["batch"]),
                   ProfileOptions.from_dict(request["options"]))
    return {"rows": len(rows)}


def _cochlea_chunk(request: dict[str, Any]) -> dict[str, Any]:
    from neurokws.data.convert import cochlea_from_settings, convert_chunk, read_plan
    from neurokws.data.corpus import renderer

    plan = read_plan(request["plan"])
    events = convert_chunk(plan, 0, int(request["chunks"]),
                           cochlea_from_settings(request["cochlea"]),
                           renderer(plan, request["settings"]), log=lambda _: None)
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
        extra = STAGES[request["stage"]](request)
    finally:
        peak = sampler.stop()
    return {"stage": request["stage"], "peak_rss_mb": peak / 2**20,
            "base_rss_mb": base / 2**20, "wall_s": time.perf_counter() - start, **extra}
