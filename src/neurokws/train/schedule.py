"""Learning-rate schedules: the paper's exponential ease-in and EWMA plateau halving, and an
optional cosine annealing over the run's epochs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class LearningRateSchedule:
    """Ease-in from `start_lr` by `factor` per batch up to `target_lr`; then plateau halving.

    The paper eases in during epoch 0 (about 142 batches to go from 1e-6 to 1e-3); counting
    batches globally gives the same schedule for SHD/SSC and a gentle one for small datasets
    whose first epoch is shorter than that. The plateau rule compares a fast and a slow
    EWMA of training accuracy (both start at 0) after every epoch and halves the rate when
    fast <= slow and more than `patience` epochs have passed since the last change.

    `anneal` "cosine" (not the paper's) multiplies the rate of epoch e = 0..epochs-1 by
    ``(1 + cos(pi e / epochs)) / 2`` (SGDR without restarts, Loshchilov & Hutter 2017,
    arXiv 1608.03983): 1 in the first epoch, falling to about (pi / 2 / epochs)^2 in the last.
    It multiplies whatever ease-in and plateau halving give.
    """

    target_lr: float
    start_lr: float
    factor: float
    fast_alpha: float
    slow_alpha: float
    patience: int
    decay: float
    anneal: str
    epochs: int
    batches_seen: int = 0     # state: counters and averages start at zero
    epochs_done: int = 0
    fast: float = 0.0
    slow: float = 0.0
    last_change_epoch: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> LearningRateSchedule:
        """A fresh schedule from a TrainSettings (config keys ease_in_*, lr, plateau_*)."""
        return cls(target_lr=settings.lr, start_lr=settings.ease_in_start_lr,
                   factor=settings.ease_in_factor, fast_alpha=settings.plateau_fast,
                   slow_alpha=settings.plateau_slow, patience=settings.plateau_patience,
                   decay=settings.plateau_factor, anneal=settings.lr_anneal,
                   epochs=settings.epochs)

    def lr_for_next_batch(self) -> float:
        """Learning rate of the next batch (advances the ease-in counter)."""
        lr = self.current_lr
        self.batches_seen += 1
        return lr

    def _eased(self) -> float:
        """start_lr * factor ** batches_seen; inf once that overflows (after ~14,500 batches)."""
        try:
            return self.start_lr * self.factor ** self.batches_seen
        except OverflowError:
            return math.inf

    def _annealing(self) -> float:
        """The cosine factor of the next epoch (1 without annealing)."""
        if self.anneal == "none":
            return 1.0
        if self.anneal == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(self.epochs_done, self.epochs)
                                         / max(self.epochs, 1)))
        raise ValueError(f"unknown lr_anneal {self.anneal!r}; use none or cosine")

    def end_epoch(self, epoch: int, train_accuracy: float) -> bool:
        """Update the EWMAs with this epoch's accuracy; return True if the lr was decayed."""
        self.epochs_done = epoch + 1
        self.fast = self.fast_alpha * self.fast + (1.0 - self.fast_alpha) * train_accuracy
        self.slow = self.slow_alpha * self.slow + (1.0 - self.slow_alpha) * train_accuracy
        if self.fast <= self.slow and epoch - self.last_change_epoch > self.patience:
            self.target_lr *= self.decay
            self.last_change_epoch = epoch
            return True
        return False

    @property
    def current_lr(self) -> float:
        """The rate the next batch would get, without advancing."""
        return min(self.target_lr, self._eased()) * self._annealing()

    def state(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> LearningRateSchedule:
        return cls(**state)
