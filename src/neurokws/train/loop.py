"""The training loop: one for every backend. A backend supplies the epoch, the loop the rest.

The loop owns the run's identity (resume hash), the initial state (paper initialisation,
learning-rate schedule), resuming from `checkpoints/last.npz`, the per-epoch seeded
augmentation and shuffling, the plateau schedule, checkpoint selection and the epoch log.
A backend (`EpochBackend`) opens a session on a state and runs one epoch at a time on the
data and order the loop hands it: our numba engine (`neurokws.backends.numba.NumbaBackend`)
or mlGeNN (`neurokws.backends.mlgenn.MlgennBackend`); `train` runs the backend it is given.
Training schedule and its sources: docs/model.md#training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from neurokws.config import QuantTraining, TrainSettings
from neurokws.data.augment import EpochPlan, plan_epoch
from neurokws.data.formats.binning import BinnedSplit, bin_events
from neurokws.data.formats.events import EventSplit
from neurokws.model.init import init_weights
from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.train.checkpoint import (
    TrainState,
    resume_or_none,
    resume_segment,
    save_checkpoint,
)
from neurokws.train.delays import DelayTraining, init_delays, round_delays
from neurokws.train.evaluate import evaluate
from neurokws.train.qat import fake_quantize, fix_scale
from neurokws.train.schedule import LearningRateSchedule
from neurokws.utils.atomic import write_csv, write_npz
from neurokws.utils.provenance import config_hash

log = logging.getLogger(__name__)

LOG_COLUMNS = ["epoch", "loss", "train_accuracy", "valid_accuracy", "lr",
               "mean_hidden_spikes", "max_hidden_spikes", "silent_neurons", "n_samples",
               "wall_time_s"]


@dataclass
class TrainResult:
    """What a finished run hands to the caller: the selected weights and the epoch log."""

    weights: Weights
    selected_epoch: int
    selection: str
    log_rows: list[dict[str, Any]]
    delays: Delays | None = None   # the selected epoch's integer delays, when learned
    qat: QuantTraining | None = None   # QAT as run (fine-tuning: with the scales it held)


@dataclass
class EpochOutcome:
    """One epoch's log row and the state after it."""

    row: dict[str, Any]
    weights: Weights
    optimizer: dict[str, np.ndarray]
    delays: Delays | None = None   # float delays after the epoch, when learned


@dataclass(frozen=True)
class EpochData:
    """One epoch's training samples: the augmentation plan and the shuffled order.

    `blocks` bins `block_batches` batches at a time (memory bounded by the block, not the
    epoch); `binned` bins the whole epoch at once. Both give every sample the same spikes.
    """

    plan: EpochPlan
    order: np.ndarray
    net: NetworkConfig

    def __len__(self) -> int:
        return len(self.order)

    def blocks(self, batch_size: int, block_batches: int | None
               ) -> Iterator[tuple[BinnedSplit, list[np.ndarray]]]:
        """(binned block, its batches as indices into the block) in epoch order."""
        per_block = len(self.order) if block_batches is None else batch_size * block_batches
        for start in range(0, len(self.order), max(per_block, 1)):
            samples = self.order[start:start + per_block]
            block = bin_events(self.plan.events(samples), self.net.dt, self.net.n_steps)
            local = np.arange(len(samples), dtype=np.int64)
            yield block, [local[i:i + batch_size] for i in range(0, len(samples), batch_size)]

    def binned(self) -> BinnedSplit:
        """The whole epoch binned, in plan order (index it with `order`)."""
        return bin_events(self.plan.events(), self.net.dt, self.net.n_steps)


class EpochSession(Protocol):
    """A backend's live training state (e.g. a compiled GeNN model)."""

    def run_epoch(self, epoch: int, data: EpochData,
                  schedule: LearningRateSchedule) -> EpochOutcome:
        """Train on the epoch's samples in batches; rescue silent neurons; validate."""
        ...


class EpochBackend(Protocol):
    """How epochs are run (numba engine, mlGeNN)."""

    supports_qat: bool   # whether its sessions run quantization-aware training

    def identity(self) -> dict[str, Any]:
        """What, beyond net/settings/seed/data (and QAT), shapes the run (part of the resume
        hash)."""
        ...

    def session(self, state: TrainState, train_split: EventSplit, valid: EventSplit | None,
                qat: QuantTraining | None = None
                ) -> contextlib.AbstractContextManager[EpochSession]:
        """A session continuing from `state` (weights and optimizer moments); with `qat`,
        training quantization-aware at its (settled) scales."""
        ...


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of one epoch: a pure function of (seed, epoch), so resumes are exact."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), 0x5EED]))


def epoch_data(split: EventSplit, settings: TrainSettings, net: NetworkConfig,
               rng: np.random.Generator) -> EpochData:
    """One epoch: the augmentation draws (blends, shifts), then the shuffle, from `rng`."""
    plan = plan_epoch(split, rng, settings.augmentations, net.n_steps, net.dt,
                      shift_max=settings.shift_max, blend_n_new=settings.blend_n_new)
    return EpochData(plan, rng.permutation(len(plan)).astype(np.int64), net)


def resume_hash(net: NetworkConfig, settings: TrainSettings, seed: int,
                train_split: EventSplit, identity: dict[str, Any]) -> str:
    """Identity of a run for resuming: everything that shapes the trajectory of the weights.

    Checkpoint selection, progress bar and block size (which changes memory, not numbers)
    are left out, and so is the epoch budget, so that a finished run can be extended to
    more epochs by resuming it, except under lr_anneal cosine: there the budget sets every
    epoch's rate (the checkpointed schedule would give the added epochs rate 0), so a
    changed budget starts the run afresh, with the bits of a fresh run.
    """
    ignored = {"select_checkpoint", "progress_bar", "block_batches"}
    if settings.lr_anneal != "cosine":
        ignored.add("epochs")
    trajectory = {k: v for k, v in settings.to_dict().items() if k not in ignored}
    data = {"n_samples": len(train_split), "n_events": int(train_split.n_events),
            "labels_sum": int(np.sum(train_split.labels, dtype=np.int64))}
    return config_hash({"net": net.to_dict(), "settings": trajectory, "seed": int(seed),
                        "data": data, "run_config": identity})


def selection_mode(settings: TrainSettings, has_valid: bool) -> str:
    """Resolve `auto` to best_valid where a validation split exists, else best_train."""
    mode = settings.select_checkpoint
    if mode == "auto":
        return "best_valid" if has_valid else "best_train"
    if mode == "best_valid" and not has_valid:
        raise ValueError("select_checkpoint is best_valid but this dataset has no valid split")
    return mode


def fresh_state(net: NetworkConfig, settings: TrainSettings, seed: int,
                run_hash: str, delays: DelayTraining | None = None,
                init: Weights | None = None,
                start_delays: Delays | None = None) -> TrainState:
    """Epoch 0: the paper's initialisation drawn from `seed` (or the given `init` weights,
    e.g. a float model to fine-tune) and a new schedule (and the initial delays, from their
    own stream of `seed`, or `start_delays`, e.g. the fine-tuned model's)."""
    weights = (init_weights(net, np.random.default_rng(int(seed))) if init is None else
               init.astype(np.float32).copy())
    if delays is None:
        floats = None
    elif start_delays is None:
        floats = init_delays(net, delays, seed)
    else:
        floats = Delays(*(np.array(a, np.float32) for a in start_delays.arrays().values()))
    return TrainState(epoch=0, weights=weights,
                      optimizer={}, schedule=LearningRateSchedule.from_settings(settings).state(),
                      run_hash=run_hash, delays=floats)


def train(net: NetworkConfig, settings: TrainSettings, seed: int, train_split: EventSplit,
          out_dir: Path, valid_split: EventSplit | None = None, *,
          backend: EpochBackend, delays: DelayTraining | None = None,
          qat: QuantTraining | None = None, init: Weights | None = None,
          segment: tuple[int, int] | None = None,
          init_delays: Delays | None = None) -> TrainResult | None:
    """Train one cell with `backend`'s epochs (neurokws.backends: `numba.train` gives it the
    numba engine); checkpoint every epoch into out_dir/checkpoints and resume from there.
    With `delays`, synaptic delays are learned with the weights (train/delays.py; numba and
    mlGeNN backends). With `qat`, the forward pass runs the weights as deployment will
    quantize them (train/qat.py; numba backend); `init` starts from given weights (and
    `init_delays`, integer or float steps, from given delays: QAT of a model with delays).

    `segment` (first, stop): train epochs first..stop - 1 only (a job of a chain under a
    partition's time limit): after epoch 0 it continues from the checkpoint the segment
    before left, which must be this run's (train.checkpoint.resume_segment); a segment that
    ends before the last epoch returns None (its checkpoint is its result). Resuming is
    bit-exact, so a chain ends with the bits of one unsegmented run."""
    if delays is not None and backend.identity().get("delays") != delays.to_dict():
        raise ValueError(f"the training backend was not set up to learn delays {delays}: "
                         "give it the same DelayTraining")
    if qat is not None and not backend.supports_qat:
        raise ValueError("quantization-aware training runs in the numba engine only "
                         "(mlGeNN's weight quantization, genn-team/ml_genn PR #88, is unmerged)")
    if init_delays is not None and (delays is None or init is None):
        raise ValueError("starting delays are given without delay training settings and "
                         "starting weights: give DelayTraining and init as well")
    if qat is not None and net.has_delays and (init is None or init_delays is None):
        raise ValueError("quantization-aware training of a model with delays fine-tunes a "
                         "trained one: give its weights (init) and delays (init_delays)")
    if init is not None:
        init.check(net, source="initial weights")
    start = None if init_delays is None else round_delays(
        Delays(*(np.asarray(a, np.float32) for a in init_delays.arrays().values())), net)
    if start is not None:
        start.check(net, source="initial delays", maxima=True)
    mode = selection_mode(settings, valid_split is not None)
    finer = False   # fine-tuning starts at finer scales that beat PTQ's (search_scale)
    if qat is not None and init is not None and qat.exponents is None:
        # fine-tuning: PTQ's scales, held (train/qat.py), or finer ones chosen on purpose
        qat = fix_scale(net, qat, init, start)
        if qat.scale_search and mode == "best_valid":
            ptq_exponents, qat = qat.exponents, search_scale(net, qat, init, start,
                                                             valid_split)
            finer = qat.exponents != ptq_exponents
    if qat is not None and qat.lr_quanta and qat.exponents is None:
        raise ValueError("a QAT rate in weight quanta needs fixed scales: fine-tune a float "
                         "model (training.qat.init: float)")
    if net.has_delays != (delays is not None):
        raise ValueError(f"the model's max delays are {net.delay_maxima} but delay training "
                         f"settings are {delays}: a model with delays learns them (give "
                         "DelayTraining), one without has none")
    ckpt_dir = Path(out_dir) / "checkpoints"
    identity = backend.identity()
    if qat is not None:   # its scales as settled above
        identity = {**identity, "qat": qat.to_dict()}
    if init is not None:   # the starting weights (and delays) shape the trajectory
        arrays = {**init.arrays(), **({} if init_delays is None else init_delays.arrays())}
        identity = {**identity, "init": config_hash(
            {k: a.astype(np.float32).tobytes().hex() for k, a in arrays.items()})}
    run_hash = resume_hash(net, settings, seed, train_split, identity)
    first, stop = (0, settings.epochs) if segment is None else segment
    stop = min(stop, settings.epochs)
    if first > 0:
        state = resume_segment(ckpt_dir / "last.npz", run_hash, first)
    else:
        state = resume_or_none(ckpt_dir / "last.npz", run_hash)
    if state is None:
        state = fresh_state(net, settings, seed, run_hash, delays, init, init_delays)
        if qat is not None and init is not None and mode == "best_valid":
            select_start(state, net, qat, valid_split, ckpt_dir, beat_ptq=finer)
    else:
        log.info("resuming %s after epoch %d", out_dir, state.epoch)
    if state.epoch < stop:
        schedule = LearningRateSchedule.from_state(state.schedule)
        with backend.session(state, train_split, valid_split, qat) as session:
            for epoch in range(state.epoch, stop):
                data = epoch_data(train_split, settings, net, epoch_rng(seed, epoch))
                outcome = session.run_epoch(epoch, data, schedule)
                finish_epoch(state, outcome, schedule, mode, ckpt_dir)
    if stop < settings.epochs:
        return None
    with np.load(ckpt_dir / "best.npz") as best:
        selected = Weights(*(np.array(best[k]) for k in Weights.NAMES))
        chosen = (None if delays is None else
                  round_delays(Delays(*(np.array(best[f"delay_{k}"]) for k in Delays.NAMES)),
                               net))
    return TrainResult(weights=selected, selected_epoch=state.best_epoch, selection=mode,
                       log_rows=state.log_rows, delays=chosen, qat=qat)


def search_scale(net: NetworkConfig, qat: QuantTraining, weights: Weights,
                 delays: Delays | None, valid: EventSplit) -> QuantTraining:
    """Fine-tuning's scales chosen on purpose (docs/quantization.md#scale-search): besides
    PTQ's exponents (`qat.exponents`, fix_scale), each layer's up to qat.scale_search powers
    of two lower, i.e. a finer weight step that clips the largest weights (at 2 bits the
    percentile's step rounds most weights to 0). The pair whose deployed starting weights
    are most accurate on `valid` is kept where it beats PTQ's accuracy p by more than
    qat.margin_se standard errors sqrt(p (1 - p) / n), else PTQ's; ties go to the
    coarser step. Held for the whole run, as PTQ's would be."""
    def held_out(spec: QuantTraining) -> float:
        fq = fake_quantize(net, weights, spec, delays)
        return evaluate(fq.config, fq.weights, valid, delays=delays).accuracy

    p = held_out(qat)
    best, bar = qat, p + qat.margin_se * math.sqrt(p * (1.0 - p) / max(len(valid), 1))
    hidden, output = qat.exponents
    tried = {(hidden, output): p}
    for lower_hidden in range(qat.scale_search + 1):
        for lower_output in range(qat.scale_search + 1):
            exponents = (hidden - lower_hidden, output - lower_output)
            if exponents in tried:
                continue
            spec = dataclasses.replace(qat, exponents=exponents)
            tried[exponents] = held_out(spec)
            if tried[exponents] > bar:
                best, bar = spec, tried[exponents]
    log.info("QAT %d bits: scale exponents %s on the selection split %s; fine-tuning holds "
             "%s", qat.bits, list(tried), [round(a, 4) for a in tried.values()],
             best.exponents)
    return best


def select_start(state: TrainState, net: NetworkConfig, qat: QuantTraining,
                 valid: EventSplit, ckpt_dir: Path, beat_ptq: bool = False) -> None:
    """QAT fine-tuning's candidate before its first epoch (epoch -1): the starting weights,
    deployed with the scales fine-tuning holds, which are post-training quantization's
    integers. An epoch is selected only where its deployed model does better on `valid`,
    so fine-tuning never hands on a model that loses to PTQ there; to replace PTQ's, by
    more than qat.margin_se standard errors of PTQ's accuracy p on n samples,
    sqrt(p (1 - p) / n) (a gain of a few samples is noise where PTQ is as good as the
    float model). `beat_ptq`: the start is at finer scales that already beat PTQ's by that
    margin (search_scale), and an epoch need only do better than the start (the margin
    guards against PTQ once, not again against each model that cleared it)."""
    rounded = None if state.delays is None else round_delays(state.delays, net)
    fq = fake_quantize(net, state.weights, qat, rounded)
    p = evaluate(fq.config, fq.weights, valid, delays=rounded).accuracy
    state.best_metric = p if beat_ptq else p + qat.margin_se * math.sqrt(
        p * (1.0 - p) / max(len(valid), 1))
    state.best_epoch = -1
    extra = ({} if state.delays is None else
             {f"delay_{k}": a for k, a in state.delays.arrays().items()})
    write_npz(ckpt_dir / "best.npz", **state.weights.arrays(), **extra, epoch=np.array(-1))
    log.info("QAT: the starting model deployed at %d bits: %.4f on the selection split "
             "(an epoch must reach %.4f to replace it)", qat.bits, p, state.best_metric)


def finish_epoch(state: TrainState, outcome: EpochOutcome, schedule: LearningRateSchedule,
                 mode: str, ckpt_dir: Path) -> None:
    """End of an epoch: plateau step, log row, best checkpoint, last checkpoint."""
    row, weights = outcome.row, outcome.weights
    epoch = row["epoch"]
    schedule.end_epoch(epoch, row["train_accuracy"])
    state.log_rows.append(row)
    state.epoch = epoch + 1
    metric = {"best_valid": row["valid_accuracy"], "best_train": row["train_accuracy"],
              "last": float(epoch)}[mode]
    if metric > state.best_metric:
        state.best_metric, state.best_epoch = float(metric), epoch
        extra = ({} if outcome.delays is None else
                 {f"delay_{k}": a for k, a in outcome.delays.arrays().items()})
        write_npz(ckpt_dir / "best.npz", **weights.arrays(), **extra, epoch=np.array(epoch))
    state.weights, state.optimizer, state.schedule = weights, outcome.optimizer, schedule.state()
    state.delays = outcome.delays
    save_checkpoint(ckpt_dir / "last.npz", state)
    log.info("epoch %d: %s", epoch, row)


DELAY_ADAM = "adam_delay_"   # checkpoint key prefix of the delays' optimizer state


def selected_row(result: TrainResult) -> dict[str, Any]:
    """The log row of the selected epoch; for QAT's starting model (epoch -1, select_start)
    a row naming it."""
    if result.selected_epoch < 0:
        return {"epoch": -1, "selected": "the starting model (post-training quantization)"}
    return next(r for r in result.log_rows if r["epoch"] == result.selected_epoch)


def write_train_log(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write the per-epoch log as CSV with stable columns."""
    import pandas as pd

    write_csv(path, pd.DataFrame(rows, columns=LOG_COLUMNS))
