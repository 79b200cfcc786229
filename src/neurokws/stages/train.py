"""Training stage (workflow/rules/train.smk): Eventprop training of a cell (in segments
where the partition's time limit asks for them), its QAT fine-tuning, and the float
model's test accuracy."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from neurokws.backends import train_cell
from neurokws.backends.numba import train
from neurokws.config import QuantTraining, TrainSettings, network_config, parse_precision
from neurokws.data.formats.events import hold_out, load_npz
from neurokws.model.network import load_network, save_model, with_delay_bits
from neurokws.train.checkpoint import segment_stop, write_segment_marker
from neurokws.train.delays import DelayTraining
from neurokws.train.evaluate import confusion_frame, evaluate
from neurokws.train.loop import selected_row, write_train_log
from neurokws.utils.atomic import write_csv, write_json
from neurokws.utils.provenance import Provenance
from neurokws.utils.records import CellKey, record

PathLike = str | os.PathLike


def train_model(train_file: PathLike, cell_dir: PathLike, *, hidden: int, seed: int,
                model_section: dict[str, Any], settings: dict[str, Any],
                delays: dict[str, Any] | None, backend: str, provenance: Provenance,
                valid: PathLike | None = None, init: PathLike | None = None,
                model: PathLike | None = None, log_csv: PathLike | None = None,
                marker: PathLike | None = None, segment: tuple[int, int] | None = None,
                previous: PathLike | None = None) -> Any:
    """Rules `train` and `train_segment`: train a cell (resuming from its checkpoint in
    `cell_dir`) on `backend`.

    `delays`: how delays are learned (DelayTraining's dict; None: a cell without delays);
    `init`: the delay-free twin's model it fine-tunes (checked against the twin's network).
    A segment (`marker` and `segment` = (first, stop)) trains epochs first..stop - 1 and
    writes its marker; the chain's last job (`previous`: the last segment's marker) trains
    the rest; otherwise all epochs. The model (`model`, with the selected epoch's weights)
    and the training log (`log_csv`) are written at the end of the chain. `provenance` is
    the rule's, built when the model is written (the selection added)."""
    log = logging.getLogger("neurokws.rule." + ("train" if marker is None else "train_segment"))
    split = load_npz(train_file)
    spec = None if delays is None else DelayTraining.from_dict(delays)
    net = network_config({"model": model_section}, hidden, n_out=split.n_classes,
                         n_in=split.n_channels, delays=spec is not None)
    train_settings = TrainSettings.from_dict(settings)
    init_weights = None
    if init is not None:   # fine-tuning the delay-free twin's model, checked
        twin = network_config({"model": model_section}, hidden, n_out=split.n_classes,
                              n_in=split.n_channels)
        _, init_weights, _, _ = load_network(init, expected=twin)
    if marker is None and previous is not None:   # train: the chain's last segment
        segment = (segment_stop(previous), train_settings.epochs)
    result = train_cell(backend, net, train_settings, seed, train_file, valid, cell_dir, spec,
                        init=init_weights, segment=segment)
    if marker is not None:
        write_segment_marker(marker, segment, cell_dir, provenance())
        log.info("trained epochs %d..%d", segment[0], segment[1] - 1)
        return result
    write_train_log(Path(log_csv), result.log_rows)
    save_model(model, net, result.weights, provenance(
        selection=result.selection, selected_epoch=result.selected_epoch,
        selected_row=result.log_rows[result.selected_epoch],
        init_model=str(init) if init is not None else None), delays=result.delays)
    log.info("selected epoch %d by %s", result.selected_epoch, result.selection)
    return result


def train_qat(train_file: PathLike, init: PathLike | None, model: PathLike,
              log_csv: PathLike, cell_dir: PathLike, *, hidden: int, seed: int,
              precision: str, model_section: dict[str, Any], settings: dict[str, Any],
              qat: dict[str, Any], delays: dict[str, Any] | None, holdout: float,
              provenance: Provenance, valid: PathLike | None = None) -> Any:
    """Rule `train_qat`: quantization-aware fine-tuning of the cell's float model (`init`,
    its delays clipped to the precision's delay bits, learning on within them) at
    `precision` (config.precision_tag); without a validation split, `holdout` of the
    training split selects the epoch."""
    log = logging.getLogger("neurokws.rule.train_qat")
    split = load_npz(train_file)
    delay_spec = None if delays is None else DelayTraining.from_dict(delays)
    _, delay_bits = parse_precision(precision)   # qat<bits>[d<delay bits>]
    net = with_delay_bits(network_config(
        {"model": model_section}, hidden, n_out=split.n_classes, n_in=split.n_channels,
        delays=delay_spec is not None), delay_bits)
    init_weights = init_delays = None
    if init is not None:
        _, init_weights, init_delays, _ = load_network(init, expected=net, narrow=True)
    spec = QuantTraining.from_dict(qat)
    valid_split = load_npz(valid) if valid is not None else None
    train_settings = TrainSettings.from_dict(settings)
    if valid_split is None and train_settings.select_checkpoint == "best_valid":
        split, valid_split = hold_out(split, holdout, seed)   # config.qat_settings
    result = train(net, train_settings, seed, split, Path(cell_dir), valid_split,
                   delays=delay_spec, qat=spec, init=init_weights, init_delays=init_delays)
    write_train_log(Path(log_csv), result.log_rows)
    save_model(model, net, result.weights, provenance(
        qat=result.qat.to_dict(), init_model=str(init) if init is not None else None,
        selection=result.selection,
        selection_samples=len(valid_split) if valid_split is not None else None,
        selected_epoch=result.selected_epoch, selected_row=selected_row(result)),
        delays=result.delays)
    log.info("QAT %d bits: selected epoch %d by %s", spec.bits, result.selected_epoch,
             result.selection)
    return result


def evaluate_float(model: PathLike, test: PathLike, metrics: PathLike,
                   predictions: PathLike, confusion: PathLike, *, cell: CellKey,
                   provenance: Provenance) -> dict[str, Any]:
    """Rule `evaluate_float`: the float model's test accuracy (`predictions` per sample,
    the `confusion` matrix) and the cell's record (`metrics`): accuracies, the selected
    epoch, the learned delays' statistics, the hidden layer's activity."""
    log = logging.getLogger("neurokws.rule.evaluate_float")
    net, weights, delays, model_prov = load_network(model)
    result = evaluate(net, weights, load_npz(test), delays=delays)   # binned block by block
    write_csv(predictions, result.predictions_frame())
    write_csv(confusion, confusion_frame(result.confusion(net.n_out)), index=True)
    selected = model_prov.get("selected_row") or {}   # none in a model made elsewhere
    data = record(
        cell, test_accuracy=result.accuracy, n_test=len(result.labels),
        train_accuracy=selected.get("train_accuracy"),
        valid_accuracy=selected.get("valid_accuracy"),
        selected_epoch=model_prov.get("selected_epoch"), selection=model_prov.get("selection"),
        max_delay=None if delays is None else delays.max_delay,
        **({} if delays is None else delays.stats(net)),
        fine_tuned_from=model_prov.get("init_model"),   # the delay-free twin, if any
        hidden_spikes_per_neuron_per_sample=float(result.hidden_spikes_per_sample.mean())
        / net.n_hidden,
        provenance=provenance())
    write_json(metrics, data)
    log.info("test accuracy %.4f on %d samples", result.accuracy, len(result.labels))
    return data
