"""mlGeNN callbacks of the mlGeNN backend: learning-rate schedule, epoch statistics, the
silent-neuron rescue, and taps on the Eventprop gradient and the readout.

Imports ml_genn at module level: import this module only after genn_env.require().
mlGeNN shallow-copies callback objects, so results live in a shared `Tally`, never in plain
attributes that the callback reassigns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ml_genn.callbacks import Callback

from neurokws.backends.mlgenn_net import GennNetwork
from neurokws.train.schedule import LearningRateSchedule


@dataclass
class Tally:
    """Results a callback accumulates (shared between mlGeNN's copy and ours)."""

    loss_sum: float = 0.0
    correct: int = 0
    spikes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    last_lr: float = float("nan")
    n_silent: int = 0


DELAY_UPDATE = "CUGradientLearnDelay"   # mlGeNN 2.3's name of a delay optimiser's update


class ScheduleLR(Callback):
    """Drive the optimiser's alpha from our LearningRateSchedule, one step per applied update.

    mlGeNN pipelines the backward pass: the update applied at the end of batch b > 0 is the
    gradient of batch b - 1, and batch 0 of every epoch applies none. So the schedule advances
    only for batches b > 0, and the k-th applied update gets the same rate as in our engine.
    """

    def __init__(self, schedule: LearningRateSchedule):
        self.schedule = schedule
        self.tally = Tally(last_lr=schedule.current_lr)
        self._optimisers: list[Any] = []

    def set_params(self, compiled_network: Any, **kwargs: Any) -> None:
        # The weights' optimiser only: learned delays keep their own fixed rate (mlGeNN
        # copies the optimisers it is given, so the delays' is known by its updates' names).
        self._optimisers = [o for o, updates in compiled_network.optimisers
                            if not all(u.name.startswith(DELAY_UPDATE) for u in updates)]

    def on_batch_begin(self, batch: int) -> None:
        if batch > 0:
            self.tally.last_lr = self.schedule.lr_for_next_batch()
            for optimiser in self._optimisers:
                optimiser.alpha = self.tally.last_lr


class EpochStats(Callback):
    """Online loss/accuracy from each batch's readout, and hidden spike counts per neuron."""

    def __init__(self, gnet: GennNetwork, labels: np.ndarray, batch_size: int, n_hidden: int):
        self.gnet = gnet
        self.labels = np.asarray(labels, dtype=np.int64)
        self.batch_size = batch_size
        self.tally = Tally(spikes=np.zeros(n_hidden, dtype=np.int64))
        self._compiled: Any = None

    def set_params(self, compiled_network: Any, **kwargs: Any) -> None:
        self._compiled = compiled_network

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        labels = self.labels[batch * self.batch_size:(batch + 1) * self.batch_size]
        readout = np.asarray(self._compiled.get_readout(self.gnet.output),
                             dtype=np.float64)[:len(labels)]
        shifted = readout - readout.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.tally.loss_sum += float(-log_p[np.arange(len(labels)), labels].sum())
        self.tally.correct += int(np.sum(np.argmax(readout, axis=1) == labels))
        model = self._compiled.genn_model
        model.pull_recording_buffers_from_device()
        pop = self._compiled.neuron_populations[self.gnet.hidden]
        for _, ids in pop.spike_recording_data[:len(labels)]:
            self.tally.spikes += np.bincount(np.asarray(ids, dtype=np.int64),
                                             minlength=self.tally.spikes.shape[0])


class SilentRescue(Callback):
    """At epoch end, add `increment` to all input weights of hidden neurons silent all epoch."""

    def __init__(self, gnet: GennNetwork, stats: EpochStats, increment: float):
        self.gnet = gnet
        self.stats = stats
        self.increment = np.float32(increment)
        self.tally = Tally()
        self._compiled: Any = None

    def set_params(self, compiled_network: Any, **kwargs: Any) -> None:
        self._compiled = compiled_network

    def on_epoch_end(self, epoch: int, metrics: Any) -> None:
        silent = self.stats.tally.spikes == 0
        self.tally.n_silent = int(silent.sum())
        if self.tally.n_silent == 0:
            return
        var = self._compiled.connection_populations[self.gnet.connections["w_in"]].vars["g"]
        var.pull_from_device()
        w_in = np.array(var.view, dtype=np.float32).reshape(-1, silent.shape[0])
        w_in[:, silent] += self.increment
        var.view[:] = w_in.ravel()
        var.push_to_device()


class ReadoutTap(Callback):
    """Keep every batch's readout (B, C) and, per example, hidden spike counts (N,), whether
    it spiked at or after `last_time` (ms), and optionally its spike trains (times ms, ids)."""

    def __init__(self, gnet: GennNetwork, n_hidden: int, record_spikes: bool,
                 keep_trains: bool = False, last_time: float = np.inf):
        self.gnet = gnet
        self.n_hidden = n_hidden
        self.record_spikes = record_spikes
        self.keep_trains = keep_trains
        self.last_time = last_time
        self.readouts: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.late: list[bool] = []
        self.spike_trains: list[tuple[np.ndarray, np.ndarray]] = []
        self._compiled: Any = None

    def set_params(self, compiled_network: Any, **kwargs: Any) -> None:
        self._compiled = compiled_network

    def on_batch_end(self, batch: int, metrics: Any) -> None:
        self.readouts.append(np.array(self._compiled.get_readout(self.gnet.output),
                                      dtype=np.float64))
        if not self.record_spikes:
            return
        self._compiled.genn_model.pull_recording_buffers_from_device()
        pop = self._compiled.neuron_populations[self.gnet.hidden]
        for times, ids in pop.spike_recording_data:
            ids = np.asarray(ids, dtype=np.int64)
            self.counts.append(np.bincount(ids, minlength=self.n_hidden))
            self.late.append(bool(np.any(np.asarray(times) >= self.last_time)))
            if self.keep_trains:
                self.spike_trains.append((np.array(times), ids))


class GradientTap(Callback):
    """Copy the raw Eventprop gradients at the end of batch `batch`'s last timestep
    (weights under their Weights names, learned delays' DelayGradient under their Delays
    names).

    That is after the backward pass of batch - 1 has finished and before the optimiser
    (which, at batch size 1, zeroes the gradient) runs at the end of the batch.
    """

    def __init__(self, gnet: GennNetwork, batch: int, n_steps: int):
        self.gnet = gnet
        self.batch = batch
        self.n_steps = n_steps
        self.raw: dict[str, np.ndarray] = {}
        self._current = -1
        self._compiled: Any = None

    def set_params(self, compiled_network: Any, **kwargs: Any) -> None:
        self._compiled = compiled_network

    def on_batch_begin(self, batch: int) -> None:
        self._current = batch

    def on_timestep_end(self, timestep: int) -> None:
        if self._current != self.batch or timestep != self.n_steps - 1:
            return
        taps = [(name, conn, "Gradient") for name, conn in self.gnet.connections.items()]
        taps += [(name, conn, "DelayGradient") for name, conn in self.gnet.delayed.items()]
        for name, conn, var_name in taps:
            var = self._compiled.connection_populations[conn].vars[var_name]
            var.pull_from_device()
            self.raw[name] = np.array(var.view, dtype=np.float64).ravel()
