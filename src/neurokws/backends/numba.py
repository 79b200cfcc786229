"""The numba backend: epochs of our event-driven Eventprop engine (neurokws.model.engine)
for the training loop (neurokws.train.loop.train), learned delays and quantization-aware
training included; `train` is the loop with this backend."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from neurokws.config import QuantTraining, TrainSettings
from neurokws.data.formats.events import EventSplit
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.train import loop
from neurokws.train.checkpoint import TrainState
from neurokws.train.delays import DelayTraining, clamp_delays, round_delays
from neurokws.train.evaluate import evaluate
from neurokws.train.loop import DELAY_ADAM, EpochData, EpochOutcome, TrainResult
from neurokws.train.optimizer import Adam
from neurokws.train.qat import clamp_shadow, fake_quantize, quanta
from neurokws.train.schedule import LearningRateSchedule


def train(net: NetworkConfig, settings: TrainSettings, seed: int, train_split: EventSplit,
          out_dir: Path, valid_split: EventSplit | None = None, *,
          delays: DelayTraining | None = None, qat: QuantTraining | None = None,
          init: Weights | None = None, segment: tuple[int, int] | None = None,
          init_delays: Delays | None = None) -> TrainResult | None:
    """neurokws.train.loop.train with the numba backend (the same arguments)."""
    return loop.train(net, settings, seed, train_split, out_dir, valid_split,
                      backend=NumbaBackend(net, settings, delays), delays=delays, qat=qat,
                      init=init, segment=segment, init_delays=init_delays)


class NumbaBackend:
    """Epochs of our event-driven numba Eventprop engine (neurokws.model.engine)."""

    supports_qat = True

    def __init__(self, net: NetworkConfig, settings: TrainSettings,
                 delays: DelayTraining | None = None):
        self.net, self.settings, self.delays = net, settings, delays

    def identity(self) -> dict[str, Any]:
        return {} if self.delays is None else {"delays": self.delays.to_dict()}

    @contextlib.contextmanager
    def session(self, state: TrainState, train_split: EventSplit, valid: EventSplit | None,
                qat: QuantTraining | None = None) -> Iterator[_NumbaSession]:
        s = self.settings
        optimizer = Adam(s.adam_beta1, s.adam_beta2, s.adam_eps)
        if state.optimizer:
            optimizer.load_state(state.optimizer)
        learned = None
        if self.delays is not None:
            # The delays' own Adam (mlGeNN's delay_optimiser), same betas and eps.
            delay_adam = Adam(s.adam_beta1, s.adam_beta2, s.adam_eps)
            if DELAY_ADAM + "step_count" in state.optimizer:
                delay_adam.load_state(state.optimizer, DELAY_ADAM, Delays.NAMES)
            floats = Delays(*(np.array(a, np.float32, copy=True)
                              for a in state.delays.arrays().values()))
            learned = _LearnedDelays(self.net, self.delays, floats, delay_adam)
        yield _NumbaSession(self.net, s, state.weights.copy(), optimizer, valid, learned, qat)


@dataclass
class _LearnedDelays:
    net: NetworkConfig  # its max_delay_in/_rec bound the delays
    spec: DelayTraining
    floats: Delays      # float delays, updated in place
    adam: Adam

    def rounded(self) -> Delays:
        return round_delays(self.floats, self.net)

    def step(self, grads: Delays) -> None:
        self.adam.step(self.floats, grads, self.spec.lr)
        clamp_delays(self.floats, self.net)


class _NumbaSession:
    def __init__(self, net: NetworkConfig, settings: TrainSettings, weights: Weights,
                 optimizer: Adam, valid: EventSplit | None,
                 delays: _LearnedDelays | None = None, qat: QuantTraining | None = None):
        self.net, self.settings, self.weights = net, settings, weights
        self.optimizer, self.valid, self.delays, self.qat = optimizer, valid, delays, qat
        self.reg = RegConfig(nu_upper=settings.nu_upper, lambda_upper=settings.reg_lambda_upper,
                             lambda_lower=settings.reg_lambda_lower)
        # QAT fine-tuning: the rate in weight quanta, per layer (train/qat.py quanta)
        self.lr_scale = quanta(net, qat) if qat is not None and qat.lr_quanta else None

    def run_epoch(self, epoch: int, data: EpochData,
                  schedule: LearningRateSchedule) -> EpochOutcome:
        """One pass over the shuffled epoch, binned block by block; every batch contributes
        its gradient."""
        net, settings, weights = self.net, self.settings, self.weights
        start = time.perf_counter()
        spikes_per_neuron = np.zeros(net.n_hidden, dtype=np.int64)
        loss_sum = correct = 0.0
        lr = schedule.current_lr
        bar = tqdm(total=-(-len(data) // settings.batch_size), unit="batch",
                   desc=f"epoch {epoch + 1}/{settings.epochs}",
                   disable=not settings.progress_bar, leave=False)
        for block, batches in data.blocks(settings.batch_size, settings.block_batches):
            for batch in batches:
                rounded = None if self.delays is None else self.delays.rounded()
                fq = (None if self.qat is None else
                      fake_quantize(net, weights, self.qat, rounded))
                result = loss_and_grad(net if fq is None else fq.config,
                                       weights if fq is None else fq.weights, block.steps,
                                       block.channels, block.offsets, block.labels, batch,
                                       self.reg, delays=rounded)
                lr = schedule.lr_for_next_batch()
                self.optimizer.step(weights, result.grads if fq is None else
                                    fq.shadow_grads(result.grads), lr, self.lr_scale)
                if self.qat is not None and self.qat.exponents is not None:
                    clamp_shadow(weights, net, self.qat)
                if self.delays is not None:
                    self.delays.step(result.delay_grads)
                loss_sum += result.loss * len(batch)
                correct += float(np.sum(np.argmax(result.readout, axis=1)
                                        == block.labels[batch]))
                spikes_per_neuron += result.hidden_spike_counts.sum(axis=0)
                bar.update()
                bar.set_postfix(loss=f"{result.loss:.3f}", lr=f"{lr:.1e}")
        bar.close()
        silent = spikes_per_neuron == 0
        weights.w_in[:, silent] += np.float32(settings.rescue_increment)
        n = len(data)
        row = {"epoch": epoch, "loss": loss_sum / n, "train_accuracy": correct / n, "lr": lr,
               "mean_hidden_spikes": float(spikes_per_neuron.sum()) / (n * net.n_hidden),
               "max_hidden_spikes": float(spikes_per_neuron.max()) / n,
               "silent_neurons": int(silent.sum()), "n_samples": n,
               "valid_accuracy": (self._valid_accuracy() if self.valid is not None
                                  else np.nan),
               "wall_time_s": time.perf_counter() - start}
        if self.delays is None:
            return EpochOutcome(row, weights.copy(), self.optimizer.state())
        floats = Delays(*(a.copy() for a in self.delays.floats.arrays().values()))
        return EpochOutcome(row, weights.copy(), {**self.optimizer.state(),
                                                  **self.delays.adam.state(DELAY_ADAM)},
                            delays=floats)


    def _valid_accuracy(self) -> float:
        """Validation accuracy of the model this session trains (with QAT: the quantized
        one, as deployment will run it)."""
        delays = None if self.delays is None else self.delays.rounded()
        if self.qat is None:
            return evaluate(self.net, self.weights, self.valid, delays=delays).accuracy
        fq = fake_quantize(self.net, self.weights, self.qat, delays)
        return evaluate(fq.config, fq.weights, self.valid, delays=delays).accuracy
