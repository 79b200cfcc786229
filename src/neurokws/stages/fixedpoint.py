"""Fixed-point stage (workflow/rules/fixedpoint.smk): the bit-exact emulator on the whole
test set, Lava on a seeded subset in chunks, and their agreement."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from neurokws.data.formats.events import load_npz
from neurokws.deploy.metrics import static_metrics, workload_metrics
from neurokws.deploy.netx import read_netx
from neurokws.fixedpoint.evaluation import (
    OUTPUT_SPIKE_WARNING,
    emulate,
    lava_subset,
    merge_lava_chunks,
    split_inputs,
)
from neurokws.fixedpoint.lava_bridge import run_lava
from neurokws.train.evaluate import evaluate
from neurokws.train.qat import deployed_forward
from neurokws.utils.atomic import write_csv, write_json, write_npz
from neurokws.utils.provenance import Provenance
from neurokws.utils.records import CellKey, ModelKey, record

PathLike = str | os.PathLike


def model_key(net_file: Any, method: str) -> ModelKey:
    """The model key of a NetX file read by read_netx: the method, and the file's own bit
    widths."""
    return ModelKey(method, int(net_file.bits), int(net_file.delay_bits))


def eval_fixed(net: PathLike, test: PathLike, summary: PathLike, predictions: PathLike, *,
               cell: CellKey, method: str, modes: Sequence[str], provenance: Provenance
               ) -> dict[str, Any]:
    """Rule `eval_fixed`: the emulator's accuracy on the whole test set in every input mode
    (`predictions`: per sample), the float engine's accuracy on the deployed integers
    (12-bit decays, quantized threshold: train/qat.py) and the NeuroBench-style metrics
    (deploy/metrics.py); the record written to `summary`."""
    log = logging.getLogger("neurokws.rule.eval_fixed")
    qmodel = read_netx(net)
    split = load_npz(test)
    frame, result = emulate(net, split, qmodel.config.n_steps, qmodel.config.dt, list(modes))
    for values in result["modes"].values():
        values.update(workload_metrics(values["activity_per_sample"], qmodel))
    q_config, q_weights, _ = deployed_forward(qmodel.config, qmodel)
    float_quantized = evaluate(q_config, q_weights, split,
                               delays=qmodel.delays_pre_post()).accuracy
    write_csv(predictions, frame)
    out = record(cell, model_key(qmodel, method), **result,
                 float_quantized_accuracy=float_quantized, metrics=static_metrics(qmodel),
                 provenance=provenance())
    write_json(summary, out)
    log.info("emulator accuracy %s, float engine on the integers %.4f",
             {m: s["accuracy"] for m, s in result["modes"].items()}, float_quantized)
    return out


def eval_lava_chunk(net: PathLike, test: PathLike, out: PathLike, *, mode: str, chunk: int,
                    n_subset: int | None, n_chunks: int) -> dict[str, np.ndarray]:
    """Rule `eval_lava_chunk`: chunk `chunk` of `n_chunks` of the seeded Lava subset
    (`n_subset` test samples; None: all of them) in Lava's Loihi2SimCfg (the Lava side
    environment); `out` (npz) holds its predictions with their test-set indices."""
    log = logging.getLogger("neurokws.rule.eval_lava_chunk")
    config = read_netx(net).config   # trial length and dt come from the model
    split = load_npz(test)
    subset = lava_subset(len(split), n_subset)
    indices = np.array_split(subset, int(n_chunks))[int(chunk)]
    inputs = split_inputs(split.subset(indices), mode, config.n_steps, config.dt)
    result = run_lava(net, inputs, labels=np.asarray(split.labels)[indices],
                      keep_voltages=False)
    arrays = {**{k: v for k, v in result.items() if k != "indices"}, "indices": indices}
    write_npz(out, **arrays)
    log.info("Lava chunk %s: %d samples in %.1f s, accuracy %.4f", chunk, len(indices),
             float(result["wall_s"]), float(result.get("accuracy", np.nan)))
    return arrays


def merge_lava(chunks: Sequence[PathLike], emulator: PathLike, net: PathLike, out: PathLike, *,
               cell: CellKey, method: str, mode: str, provenance: Provenance
               ) -> dict[str, Any]:
    """Rule `merge_lava`: Lava's accuracy on its subset (the chunks' predictions, indexed
    into the test set) and its agreement with the emulator's predictions (`emulator`,
    eval_fixed's CSV) on the same samples; the record written to `out`."""
    import pandas as pd

    log = logging.getLogger("neurokws.rule.merge_lava")
    parts = []
    for path in chunks:
        with np.load(path) as archive:
            parts.append({k: archive[k] for k in ("indices", "pred", "labels", "wall_s",
                                                  "output_spikes")})
    predictions = pd.read_csv(emulator)
    column = f"pred_{mode}"
    result = merge_lava_chunks(parts, predictions[column].to_numpy()
                               if column in predictions else None)
    data = record(cell, model_key(read_netx(net), method), **result, input_mode=mode,
                  provenance=provenance())
    write_json(out, data)
    log.info("Lava accuracy %.4f on %d samples, agreement %s", result["accuracy"],
             result["n_samples"], result.get("agreement_with_emulator"))
    if result["output_spikes"]:
        log.warning(OUTPUT_SPIKE_WARNING, emulator, result["output_spikes"],
                    result["samples_with_output_spikes"], result["n_samples"], mode)
    return data
